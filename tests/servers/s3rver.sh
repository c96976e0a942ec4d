#!/usr/bin/env bash
# s3rver 3.7.1 (a limited S3-compatible server, files on disk) on 127.0.0.1, state in DIR.
#
#   s3rver.sh start DIR [--timeout SECONDS]
#   s3rver.sh stop DIR
#
# start writes DIR/env (S3C_S3RVER_ENDPOINT, _ACCESS_KEY, _SECRET_KEY, _BUCKET, _REGION) once the
# server answers and the bucket (created by --configure-bucket) is there, and DIR/pids.
# Node runs with --openssl-legacy-provider: without it, paged listings fail with 500 on Node 17+.
# s3rver knows one account only: access key S3RVER, secret S3RVER; it checks the access key id
# but not SigV4 signatures.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
S3C_SERVER_NAME=s3rver
. "$here/lib.sh"

usage() { echo "usage: $0 start DIR [--timeout S] | stop DIR" >&2; exit 2; }
[ $# -ge 2 ] || usage
cmd=$1; dir=$(s3c_abs "$2"); shift 2

tools=${S3CRYPTFS_TOOLS:-/opt/s3cryptfs-tools}
cli=$tools/node_modules/s3rver/bin/s3rver.js

stop() {
  s3c_stop_pids "$dir" 10
  s3c_release_ports "$dir"
  rm -rf "$dir/data" "$dir/env"
}

start() {
  local timeout=30
  while [ $# -gt 0 ]; do
    case $1 in
      --timeout) timeout=${2:?}; shift 2 ;;
      *) usage ;;
    esac
  done
  [ -f "$cli" ] || s3c_die "$cli not found (run packaging/setup-debian.sh)"
  local node; node=$(command -v node) || s3c_die "node not found"
  [ -f "$dir/pids" ] && { s3c_log "$dir/pids exists: stopping the previous instance first"; stop; }
  local t0; t0=$(s3c_now_ms)
  local deadline=$(( $(date +%s) + timeout ))
  mkdir -p "$dir/log"
  rm -rf "$dir/data"; mkdir -p "$dir/data"
  : >"$dir/log/s3rver.log"
  local bucket=s3c-test port
  for _ in 1 2 3; do
    port=$(s3c_free_port); echo "$port" >>"$dir/ports"
    s3c_spawn "$dir" s3rver node "$dir/log/s3rver.log" "$node" --openssl-legacy-provider "$cli" \
        --address 127.0.0.1 --port "$port" --directory "$dir/data" --silent \
        --configure-bucket "$bucket"
    local left=$(( deadline - $(date +%s) )); [ $left -gt 1 ] || left=1
    if s3c_wait_http "http://127.0.0.1:$port/" "$S3C_SPAWNED_PID" "$left" "$dir/log/s3rver.log"; then
      break
    fi
    s3c_stop_pids "$dir" 5
    grep -qi 'EADDRINUSE' "$dir/log/s3rver.log" && [ "$(date +%s)" -lt $deadline ] && continue
    s3c_die "s3rver did not come up"
  done
  local endpoint="http://127.0.0.1:$port"
  local ak=S3RVER sk=S3RVER region=us-east-1
  # The bucket comes from --configure-bucket; a signed listing confirms it is there.
  s3c_signed_check_bucket "$endpoint" "$ak" "$sk" "$region" "$bucket" || s3c_die "bucket $bucket missing"
  s3c_publish_ready "$dir" "$t0" "$endpoint" "pid $S3C_SPAWNED_PID" <<ENV
S3C_S3RVER_ENDPOINT=$endpoint
S3C_S3RVER_ACCESS_KEY=$ak
S3C_S3RVER_SECRET_KEY=$sk
S3C_S3RVER_BUCKET=$bucket
S3C_S3RVER_REGION=$region
ENV
}

s3c_main "$cmd" "$@"
