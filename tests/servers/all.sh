#!/usr/bin/env bash
# Starts / stops the test servers in parallel, each in a subfolder of DIR: the three S3 servers
# and the PyKMIP key server.
#
#   all.sh start DIR [--servers ceph,moto,s3rver,pykmip] [--ceph-bluestore SIZE_GB]
#   all.sh stop DIR
#
# start: DIR/ceph, DIR/moto, DIR/s3rver, DIR/pykmip hold each server's state and logs; DIR/env is the
# concatenation of their env files (written only when all came up). If one does not come up in
# time (ceph 120 s, the others 30 s), all.sh stops every server it started, prints the tail of
# the failing server's log and exits non-zero. stop is idempotent.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
S3C_SERVER_NAME=all
. "$here/lib.sh"

usage() { echo "usage: $0 start DIR [--servers ceph,moto,s3rver,pykmip] [--ceph-bluestore SIZE_GB] | stop DIR" >&2; exit 2; }
[ $# -ge 2 ] || usage
cmd=$1; dir=$(s3c_abs "$2"); shift 2

all_servers=(ceph moto s3rver pykmip)
script_of() { case $1 in ceph) echo "$here/ceph-rgw.sh" ;; *) echo "$here/$1.sh" ;; esac; }
timeout_of() { case $1 in ceph) echo 120 ;; *) echo 30 ;; esac; }

stop_all() {
  rm -f "$dir/env"
  local s pids=()
  for s in "${all_servers[@]}"; do
    if [ -d "$dir/$s" ]; then
      bash "$(script_of "$s")" stop "$dir/$s" &
      pids+=($!)
    fi
  done
  local rc=0 p
  for p in "${pids[@]}"; do wait "$p" || rc=1; done
  return $rc
}

start_all() {
  local servers=("${all_servers[@]}") bluestore=""
  while [ $# -gt 0 ]; do
    case $1 in
      --servers) IFS=, read -r -a servers <<<"${2:?}"; shift 2 ;;
      --ceph-bluestore) bluestore=${2:?}; shift 2 ;;
      *) usage ;;
    esac
  done
  stop_all || true
  local t0; t0=$(s3c_now_ms)
  declare -A job
  local s args
  for s in "${servers[@]}"; do
    case $s in ceph|moto|s3rver|pykmip) ;; *) s3c_die "unknown server '$s'" ;; esac
    mkdir -p "$dir/$s"
    args=(--timeout "$(timeout_of "$s")")
    [ "$s" = ceph ] && [ -n "$bluestore" ] && args+=(--bluestore "$bluestore")
    # Each script enforces its own deadline; timeout(1) is only a backstop against a hang.
    timeout --kill-after=10 $(( $(timeout_of "$s") + 30 )) \
        bash "$(script_of "$s")" start "$dir/$s" "${args[@]}" >"$dir/$s/start.log" 2>&1 &
    job[$s]=$!
  done
  local failed=()
  for s in "${servers[@]}"; do
    wait "${job[$s]}" || failed+=("$s")
  done
  if [ ${#failed[@]} -gt 0 ]; then
    for s in "${failed[@]}"; do
      s3c_log "$s did not come up; tail of $dir/$s/start.log:"
      tail -n 40 "$dir/$s/start.log" >&2 || true
    done
    stop_all || true
    s3c_die "failed to start: ${failed[*]} (logs in $dir/<server>/log)"
  fi
  {
    echo "# s3cryptfs test servers, started $(date -u +%FT%TZ) by tests/servers/all.sh"
    echo "S3C_TEST_SERVERS_DIR=$dir"
    for s in "${servers[@]}"; do cat "$dir/$s/env"; done
  } >"$dir/env.tmp"
  mv "$dir/env.tmp" "$dir/env"
  local t1; t1=$(s3c_now_ms)
  for s in "${servers[@]}"; do
    s3c_log "$s ready in $(cat "$dir/$s/startup_ms" 2>/dev/null || echo '?') ms"
  done
  s3c_log "all ready in $(( t1 - t0 )) ms; env in $dir/env"
}

case $cmd in
  start) start_all "$@" ;;
  stop) stop_all ;;
  *) usage ;;
esac
