#!/usr/bin/env bash
# moto (S3 + KMS mock, no signature check) on 127.0.0.1, all state in DIR.
#
#   moto.sh start DIR [--timeout SECONDS]
#   moto.sh stop DIR
#
# start writes DIR/env (S3C_MOTO_ENDPOINT, _ACCESS_KEY, _SECRET_KEY, _BUCKET, _REGION) once the
# server answers and the bucket exists, and DIR/pids. The same endpoint serves AWS KMS.
# moto keeps everything in memory (its RSS grows with the data stored).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
S3C_SERVER_NAME=moto
. "$here/lib.sh"

usage() { echo "usage: $0 start DIR [--timeout S] | stop DIR" >&2; exit 2; }
[ $# -ge 2 ] || usage
cmd=$1; dir=$(s3c_abs "$2"); shift 2

stop() {
  s3c_stop_pids "$dir" 10
  s3c_release_ports "$dir"
  rm -f "$dir/env"
}

# The pyenv shim (a bash script) would be the PID we record: resolve the real script.
find_moto() {
  local m
  if command -v pyenv >/dev/null 2>&1 && m=$(pyenv which moto_server 2>/dev/null) && [ -x "$m" ]; then
    echo "$m"; return 0
  fi
  m=$(command -v moto_server) || s3c_die "moto_server not found (pyenv python with moto[server])"
  echo "$m"
}

start() {
  local timeout=30
  while [ $# -gt 0 ]; do
    case $1 in
      --timeout) timeout=${2:?}; shift 2 ;;
      *) usage ;;
    esac
  done
  [ -f "$dir/pids" ] && { s3c_log "$dir/pids exists: stopping the previous instance first"; stop; }
  local moto; moto=$(find_moto)
  local t0; t0=$(s3c_now_ms)
  local deadline=$(( $(date +%s) + timeout ))
  mkdir -p "$dir/log"
  : >"$dir/log/moto.log"
  local port
  for _ in 1 2 3; do
    port=$(s3c_free_port); echo "$port" >>"$dir/ports"
    # The script's interpreter line names the Python; /proc/PID/comm is then "moto_server".
    s3c_spawn "$dir" moto moto_server "$dir/log/moto.log" "$moto" -H 127.0.0.1 -p "$port"
    local left=$(( deadline - $(date +%s) )); [ $left -gt 1 ] || left=1
    if s3c_wait_http "http://127.0.0.1:$port/moto-api/" "$S3C_SPAWNED_PID" "$left" "$dir/log/moto.log"; then
      break
    fi
    # Lost a race for the port? Retry on another one while time is left.
    s3c_stop_pids "$dir" 5
    grep -qi 'address already in use' "$dir/log/moto.log" && [ "$(date +%s)" -lt $deadline ] && continue
    s3c_die "moto_server did not come up"
  done
  local endpoint="http://127.0.0.1:$port"
  local ak=s3c-moto-access sk=s3c-moto-secret bucket=s3c-test region=us-east-1
  s3c_signed_put_bucket "$endpoint" "$ak" "$sk" "$region" "$bucket" || s3c_die "cannot create bucket"
  s3c_publish_ready "$dir" "$t0" "$endpoint" "pid $S3C_SPAWNED_PID" <<ENV
S3C_MOTO_ENDPOINT=$endpoint
S3C_MOTO_ACCESS_KEY=$ak
S3C_MOTO_SECRET_KEY=$sk
S3C_MOTO_BUCKET=$bucket
S3C_MOTO_REGION=$region
S3C_MOTO_KMS_ENDPOINT=$endpoint
ENV
}

s3c_main "$cmd" "$@"
