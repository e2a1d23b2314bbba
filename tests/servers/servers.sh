#!/bin/bash
# Starts (or stops) every server the remote tests use, on loopback: Ceph radosgw (S3), OpenSSH (SFTP), Apache with
# mod_dav (WebDAV) and a read-only HTTP area in the same Apache. `start DIR` prints `export ...` lines the tests
# read (see tests/helpers/servers.ts); `stop DIR` stops exactly the daemons `start` recorded under DIR.
# Ports: RGW_PORT (7480), MON_PORT (6789), SSH_PORT (2222), DAV_PORT (8081). Needs root and the Debian packages
# radosgw ceph-mon ceph-osd curl openssh-server apache2 (.ci/run installs them).
set -euo pipefail
cmd=$1; D=$(realpath -m "$2"); HERE=$(cd "$(dirname "$0")" && pwd)
if [ "$cmd" = stop ]; then
  bash "$HERE/dav-apache.sh" stop "$D/dav" || true
  bash "$HERE/sftp-server.sh" stop "$D/sftp" || true
  bash "$HERE/ceph-s3.sh" stop "$D/ceph" || true
  exit 0
fi
# Apache runs as www-data and must reach DIR/dav through DIR (mktemp makes directories only root can enter).
mkdir -p "$D" && chmod 755 "$D"
bash "$HERE/ceph-s3.sh" start "$D/ceph" >&2
bash "$HERE/sftp-server.sh" start "$D/sftp" >&2
bash "$HERE/dav-apache.sh" start "$D/dav" >&2
cat <<ENV
export PIPE_TEST_S3_ENDPOINT=http://127.0.0.1:${RGW_PORT:-7480}
export PIPE_TEST_S3_ACCESS_KEY=${S3_ACCESS_KEY:-PIPEACCESSKEY}
export PIPE_TEST_S3_SECRET_KEY=${S3_SECRET_KEY:-PIPESECRETKEY0123456789}
export PIPE_TEST_SFTP=127.0.0.1:${SSH_PORT:-2222}
export PIPE_TEST_SFTP_KEY=$D/sftp/client_key
export PIPE_TEST_SFTP_ROOT=$D/sftp/remote
export PIPE_TEST_DAV=http://127.0.0.1:${DAV_PORT:-8081}
export PIPE_TEST_HTTP=http://127.0.0.1:${DAV_PORT:-8081}/public
export PIPE_TEST_HTTP_ROOT=$D/dav/http
ENV
