#!/bin/bash
# Apache httpd + mod_dav_fs on 127.0.0.1:${DAV_PORT:-8081}, Basic auth pipe/pipepass, document root DIR/dav; and a
# plain read-only HTTP area without auth at /public (files under DIR/http, with index pages), for HTTP remotes.
# Needs (as root): apt-get install --no-install-recommends apache2   (policy-rc.d keeps the system apache off)
# usage: dav-apache.sh start DIR | stop DIR
set -euo pipefail
cmd=$1; D=$(realpath -m "$2"); PORT=${DAV_PORT:-8081}
if [ "$cmd" = stop ]; then
  [ -f "$D/httpd.pid" ] && { pid=$(cat "$D/httpd.pid"); kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done; rm -f "$D/httpd.pid"; }
  exit 0
fi
rm -rf "$D"; mkdir -p "$D"/{dav,http,run,log}
htpasswd -bcm "$D/htpasswd" pipe pipepass 2>/dev/null   # apr1-MD5: bcrypt (-B) costs ~2-3 ms per request
chown www-data:www-data "$D/dav" "$D/run"; chmod 755 "$D"
M=/usr/lib/apache2/modules
cat > "$D/httpd.conf" <<EOF
ServerRoot /etc/apache2
ServerName 127.0.0.1
Listen 127.0.0.1:$PORT
PidFile $D/run/httpd-own.pid
ErrorLog $D/log/error.log
User www-data
Group www-data
LoadModule mpm_event_module $M/mod_mpm_event.so
LoadModule authz_core_module $M/mod_authz_core.so
LoadModule authz_user_module $M/mod_authz_user.so
LoadModule authn_core_module $M/mod_authn_core.so
LoadModule authn_file_module $M/mod_authn_file.so
LoadModule auth_basic_module $M/mod_auth_basic.so
LoadModule dav_module $M/mod_dav.so
LoadModule dav_fs_module $M/mod_dav_fs.so
LoadModule alias_module $M/mod_alias.so
LoadModule autoindex_module $M/mod_autoindex.so
StartServers 1
ServerLimit 2
ThreadsPerChild 25
MaxRequestWorkers 50
DavLockDB $D/run/DavLock
LimitRequestBody 0
DocumentRoot $D/dav
<Directory />
  Require all denied
</Directory>
<Directory $D/dav>
  Dav On
  AuthType Basic
  AuthName pipe
  AuthUserFile $D/htpasswd
  Require valid-user
</Directory>
Alias /public $D/http
<Directory $D/http>
  Options +Indexes
  Require all granted
</Directory>
EOF
/usr/sbin/apache2 -t -f "$D/httpd.conf" 2>/dev/null
nohup /usr/sbin/apache2 -f "$D/httpd.conf" -DFOREGROUND >"$D/log/stdout.log" 2>&1 & echo $! >"$D/httpd.pid"
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break; sleep 0.05; done
echo "apache WebDAV ready on http://127.0.0.1:$PORT (pid $(cat "$D/httpd.pid"))"
