#!/usr/bin/env bash
# PyKMIP 0.10 server (Debian python3-pykmip) on 127.0.0.1 with mutual TLS, all state in DIR.
#
#   pykmip.sh start DIR [--timeout SECONDS]
#   pykmip.sh stop DIR
#
# start generates, with openssl, a test CA, a server certificate for 127.0.0.1, two client
# certificates signed by that CA (clientAuth; PyKMIP takes the client's identity from the
# subject CN, and each object belongs to the identity that created it) and an unrelated CA
# (for "wrong CA" tests), writes the server's config, starts it on a free port and writes
# DIR/env once it accepts TLS connections:
#   S3C_PYKMIP_HOST, _PORT, _CA, _CERT, _KEY (client "s3cryptfs-test"),
#   _OTHER_CERT, _OTHER_KEY (client "s3cryptfs-other"), _WRONG_CA
# PyKMIP ignores SIGTERM: stop sends SIGINT, then SIGKILL after 10 s.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
S3C_SERVER_NAME=pykmip
. "$here/lib.sh"

usage() { echo "usage: $0 start DIR [--timeout S] | stop DIR" >&2; exit 2; }
[ $# -ge 2 ] || usage
cmd=$1; dir=$(s3c_abs "$2"); shift 2

server_bin=/usr/bin/pykmip-server
comm=pykmip-server

stop() {
  if [ -f "$dir/pids" ]; then
    local name pid c deadline
    while read -r name pid c; do
      [ -n "$pid" ] || continue
      s3c_pid_matches "$pid" "$c" || continue
      kill -INT "$pid" 2>/dev/null || true
      deadline=$(( $(date +%s) + 10 ))
      while s3c_pid_matches "$pid" "$c" && [ "$(date +%s)" -lt $deadline ]; do sleep 0.05; done
    done <"$dir/pids"
  fi
  s3c_stop_pids "$dir" 1  # SIGKILL whatever ignored SIGINT
  s3c_release_ports "$dir"
  rm -rf "$dir/env" "$dir/db" "$dir/pki"
}

# make_cert NAME CN EXT CA_NAME: key and certificate NAME signed by CA_NAME, in DIR/pki.
make_cert() {
  local name=$1 cn=$2 ext=$3 ca=$4 p=$dir/pki
  openssl req -new -newkey rsa:2048 -nodes -keyout "$p/$name.key" -subj "/CN=$cn" \
      -out "$p/$name.csr" 2>/dev/null
  printf '%s\n' "$ext" >"$p/$name.ext"
  openssl x509 -req -in "$p/$name.csr" -CA "$p/$ca.crt" -CAkey "$p/$ca.key" -CAcreateserial \
      -days 2 -sha256 -extfile "$p/$name.ext" -out "$p/$name.crt" 2>/dev/null
  chmod 600 "$p/$name.key"
}

make_ca() {
  local name=$1 cn=$2 p=$dir/pki
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$p/$name.key" -subj "/CN=$cn" -days 2 \
      -sha256 -addext basicConstraints=critical,CA:TRUE -addext keyUsage=keyCertSign,cRLSign \
      -out "$p/$name.crt" 2>/dev/null
  chmod 600 "$p/$name.key"
}

# wait_tls PORT PID TIMEOUT_S: a TLS handshake with the test client certificate succeeds.
wait_tls() {
  local port=$1 pid=$2 timeout=$3 p=$dir/pki
  local deadline=$(( $(date +%s) + timeout ))
  while :; do
    s3c_alive "$pid" || { s3c_log "pykmip-server died:"; tail -n 30 "$dir/log/pykmip.log" >&2; return 1; }
    if timeout 3 openssl s_client -connect "127.0.0.1:$port" -CAfile "$p/ca.crt" \
        -cert "$p/client.crt" -key "$p/client.key" -tls1_2 -verify_return_error \
        </dev/null >/dev/null 2>&1; then
      return 0
    fi
    if [ "$(date +%s)" -ge $deadline ]; then
      s3c_log "no TLS on port $port after ${timeout}s:"; tail -n 30 "$dir/log/pykmip.log" >&2
      return 1
    fi
    sleep 0.1
  done
}

start() {
  local timeout=30
  while [ $# -gt 0 ]; do
    case $1 in
      --timeout) timeout=${2:?}; shift 2 ;;
      *) usage ;;
    esac
  done
  [ -x "$server_bin" ] || s3c_die "$server_bin not found (apt install python3-pykmip)"
  [ -f "$dir/pids" ] && { s3c_log "$dir/pids exists: stopping the previous instance first"; stop; }
  local t0; t0=$(s3c_now_ms)
  mkdir -p "$dir/log" "$dir/pki" "$dir/db" "$dir/policies"
  : >"$dir/log/pykmip.log"
  make_ca ca "s3cryptfs test KMIP CA"
  make_ca wrong-ca "s3cryptfs unrelated CA"
  make_cert server 127.0.0.1 "$(printf '%s\n' 'subjectAltName=IP:127.0.0.1,DNS:localhost' \
      'extendedKeyUsage=serverAuth' 'keyUsage=digitalSignature,keyEncipherment')" ca
  make_cert client s3cryptfs-test "$(printf '%s\n' 'extendedKeyUsage=clientAuth' \
      'keyUsage=digitalSignature,keyEncipherment')" ca
  make_cert other s3cryptfs-other "$(printf '%s\n' 'extendedKeyUsage=clientAuth' \
      'keyUsage=digitalSignature,keyEncipherment')" ca
  local port; port=$(s3c_free_port); echo "$port" >>"$dir/ports"
  cat >"$dir/server.conf" <<CONF
[server]
hostname=127.0.0.1
port=$port
certificate_path=$dir/pki/server.crt
key_path=$dir/pki/server.key
ca_path=$dir/pki/ca.crt
auth_suite=TLS1.2
policy_path=$dir/policies
enable_tls_client_auth=True
logging_level=INFO
database_path=$dir/db/pykmip.db
CONF
  s3c_spawn "$dir" pykmip "$comm" "$dir/log/pykmip.out" "$server_bin" \
      -f "$dir/server.conf" -l "$dir/log/pykmip.log"
  wait_tls "$port" "$S3C_SPAWNED_PID" "$timeout" || s3c_die "pykmip-server did not come up"
  s3c_publish_ready "$dir" "$t0" "127.0.0.1:$port" "pid $S3C_SPAWNED_PID" <<ENV
S3C_PYKMIP_HOST=127.0.0.1
S3C_PYKMIP_PORT=$port
S3C_PYKMIP_CA=$dir/pki/ca.crt
S3C_PYKMIP_CERT=$dir/pki/client.crt
S3C_PYKMIP_KEY=$dir/pki/client.key
S3C_PYKMIP_OTHER_CERT=$dir/pki/other.crt
S3C_PYKMIP_OTHER_KEY=$dir/pki/other.key
S3C_PYKMIP_WRONG_CA=$dir/pki/wrong-ca.crt
ENV
}

s3c_main "$cmd" "$@"
