#!/bin/bash
# Single-node Ceph (1 mon, 1 memstore OSD, no mgr, cephx) + radosgw (S3) on 127.0.0.1:${RGW_PORT:-7480}.
# Needs: apt-get install --no-install-recommends radosgw ceph-mon ceph-osd curl
# usage: ceph-s3.sh start DIR | ceph-s3.sh stop DIR      (DIR is wiped on start; data lives in RAM, at most
# CEPH_MEMSTORE_BYTES, 4 GiB by default)
set -euo pipefail
cmd=$1; D=$(realpath -m "$2"); PORT=${RGW_PORT:-7480}; MONPORT=${MON_PORT:-6789}
AK=${S3_ACCESS_KEY:-PIPEACCESSKEY}; SK=${S3_SECRET_KEY:-PIPESECRETKEY0123456789}
stop() {
  for p in rgw osd mon; do
    [ -f "$D/$p.pid" ] || continue
    pid=$(cat "$D/$p.pid"); kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    rm -f "$D/$p.pid"
  done
}
fail() { echo "ceph-s3: $*; logs in $D/log" >&2; stop; exit 1; }
wait_for() { local what=$1; shift; for _ in $(seq 1 150); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done; fail "$what not ready after 30 s"; }
[ "$cmd" = stop ] && { stop; exit 0; }
rm -rf "$D"; mkdir -p "$D"/{run,log,mon,osd/ceph-0,rgw}
FSID=$(cat /proc/sys/kernel/random/uuid)
cat > "$D/ceph.conf" <<EOF
[global]
fsid = $FSID
mon host = v1:127.0.0.1:$MONPORT
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind msgr2 = false
ms bind ipv6 = false
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
mon allow pool size one = true
mon warn on pool no redundancy = false
mon data avail warn = 1
mon data avail crit = 0
osd crush chooseleaf type = 0
osd objectstore = memstore
memstore device bytes = ${CEPH_MEMSTORE_BYTES:-4294967296}
run dir = $D/run
admin socket = $D/run/\$cluster-\$name.asok
log file = $D/log/\$cluster-\$name.log
keyring = $D/keyring
mon data = $D/mon/\$cluster-\$id
osd data = $D/osd/\$cluster-\$id
[client.rgw.gw]
rgw frontends = beast endpoint=127.0.0.1:$PORT
rgw data = $D/rgw
# memstore keeps every byte in RAM: reclaim the data of deleted objects within seconds, not after rgw's default 2 h.
rgw gc obj min wait = 0
rgw gc processor period = 5
EOF
C=(ceph -c "$D/ceph.conf" --connect-timeout 5)
K="$D/keyring"   # one keyring for every daemon; ceph-mon --mkfs imports all of it
ceph-authtool --create-keyring "$K" --gen-key -n mon. --cap mon 'allow *' >/dev/null
ceph-authtool "$K" --gen-key -n client.admin --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' >/dev/null
ceph-authtool "$K" --gen-key -n osd.0 --cap mon 'allow profile osd' --cap osd 'allow *' --cap mgr 'allow profile osd' >/dev/null
ceph-authtool "$K" --gen-key -n client.rgw.gw --cap mon 'allow rw' --cap osd 'allow rwx' --cap mgr 'allow rw' >/dev/null
monmaptool --create --addv a "[v1:127.0.0.1:$MONPORT]" --fsid "$FSID" "$D/monmap" >/dev/null
ceph-mon -c "$D/ceph.conf" --mkfs -i a --monmap "$D/monmap" --keyring "$K"
nohup ceph-mon -c "$D/ceph.conf" -i a -f >"$D/log/mon.out" 2>&1 & echo $! >"$D/mon.pid"
wait_for "ceph-mon" "${C[@]}" mon stat
OSD_UUID=$(cat /proc/sys/kernel/random/uuid)
"${C[@]}" osd new "$OSD_UUID" >/dev/null
ceph-osd -c "$D/ceph.conf" -i 0 --mkfs --osd-uuid "$OSD_UUID" >"$D/log/osd-mkfs.out" 2>&1 || fail "osd mkfs failed"
nohup ceph-osd -c "$D/ceph.conf" -i 0 -f >"$D/log/osd.out" 2>&1 & echo $! >"$D/osd.pid"
osd_up() { kill -0 "$(cat "$D/osd.pid")" && "${C[@]}" osd stat | grep -q "1 up"; }
wait_for "ceph-osd" osd_up
nohup radosgw -c "$D/ceph.conf" -n client.rgw.gw -f >"$D/log/rgw.out" 2>&1 & echo $! >"$D/rgw.pid"
wait_for "radosgw" curl -sf -o /dev/null "http://127.0.0.1:$PORT/"
timeout 60 radosgw-admin -c "$D/ceph.conf" user create --uid=pipe --display-name=pipe \
  --access-key="$AK" --secret-key="$SK" >/dev/null || fail "radosgw-admin user create failed"
echo "radosgw ready on http://127.0.0.1:$PORT (pids: mon $(cat "$D/mon.pid") osd $(cat "$D/osd.pid") rgw $(cat "$D/rgw.pid"))"
