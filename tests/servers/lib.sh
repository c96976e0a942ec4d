# Shared helpers for the test-server scripts (sourced, not executed).
# Every server script keeps all its state in one directory DIR:
#   DIR/env   shell KEY=value lines (sourceable), written last, only once the server is ready
#   DIR/pids  "NAME PID COMM" lines: exactly the processes this script started
#   DIR/*.log logs

s3c_log() { printf '%s [%s] %s\n' "$(date -u +%H:%M:%S)" "${S3C_SERVER_NAME:-servers}" "$*" >&2; }
s3c_die() { s3c_log "ERROR: $*"; exit 1; }

# s3c_free_port: prints a TCP port free on 127.0.0.1. Picks at random in 20000-32767 (below the
# kernel's ephemeral range, so outgoing connections do not take it later, and away from Ceph's
# 6800-7300 OSD range), checks nobody listens there, and reserves it for this machine with a
# lock directory so parallel starts (several engineers, all.sh starting three servers at once)
# do not pick the same port. Locks older than 10 minutes are stale.
S3C_PORT_LOCKS="${TMPDIR:-/tmp}/s3cryptfs-port-locks"
s3c_free_port() {
  mkdir -p "$S3C_PORT_LOCKS" 2>/dev/null || true
  find "$S3C_PORT_LOCKS" -mindepth 1 -maxdepth 1 -mmin +10 -exec rmdir {} + 2>/dev/null || true
  local port i
  for i in $(seq 1 200); do
    port=$(( 20000 + (RANDOM * 32768 + RANDOM) % 12768 ))
    if command -v ss >/dev/null 2>&1; then
      ss -Htan "( sport = :$port )" 2>/dev/null | grep -q . && continue
    else
      # No iproute2: a successful connect means someone listens there.
      (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && continue
    fi
    mkdir "$S3C_PORT_LOCKS/$port" 2>/dev/null || continue
    echo "$port"
    return 0
  done
  s3c_die "no free port found"
}

# s3c_spawn DIR NAME COMM LOGFILE CMD...: starts CMD detached (own session, stdin from /dev/null,
# output to LOGFILE) and records "NAME PID COMM" in DIR/pids; COMM is the process name the
# server has once exec'ed (/proc/PID/comm, 15 chars max), used by stop to never signal a reused
# PID. Sets S3C_SPAWNED_PID.
s3c_spawn() {
  local dir=$1 name=$2 comm=$3 logfile=$4; shift 4
  # Without job control a background child is not a process-group leader, so setsid execs
  # in place: $! is the PID of the server itself.
  setsid "$@" </dev/null >>"$logfile" 2>&1 &
  S3C_SPAWNED_PID=$!
  echo "$name $S3C_SPAWNED_PID $comm" >>"$dir/pids"
  local i cur
  for i in $(seq 1 100); do
    cur=$(cat "/proc/$S3C_SPAWNED_PID/comm" 2>/dev/null) || break
    [ "$cur" = "$comm" ] && return 0
    sleep 0.02
  done
  s3c_log "warning: pid $S3C_SPAWNED_PID is '${cur:-gone}', expected '$comm'"
}

s3c_alive() { kill -0 "$1" 2>/dev/null; }

# s3c_pid_matches PID COMM: true while PID is still the process we started (not a reused PID).
s3c_pid_matches() {
  local pid=$1 comm=$2 cur
  cur=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
  [ -z "$comm" ] || [ "$cur" = "$comm" ]
}

# s3c_stop_pids DIR [TIMEOUT_S]: stops the PIDs of DIR/pids one at a time, last started first
# (radosgw before the OSD before the mon: radosgw can hang in shutdown when the cluster goes
# away under it): SIGTERM, wait up to TIMEOUT_S, then SIGKILL. Only PIDs whose /proc/PID/comm
# still is the recorded name are signalled. Idempotent: a missing pids file or dead PIDs are fine.
s3c_stop_pids() {
  local dir=$1 timeout=${2:-15}
  [ -f "$dir/pids" ] || return 0
  local -a pids=() comms=() names=()
  local name pid comm
  while read -r name pid comm; do
    [ -n "$pid" ] || continue
    names=("$name" "${names[@]}"); pids=("$pid" "${pids[@]}"); comms=("$comm" "${comms[@]}")
  done <"$dir/pids"
  local i deadline
  for i in "${!pids[@]}"; do
    s3c_pid_matches "${pids[$i]}" "${comms[$i]}" || continue
    kill -TERM "${pids[$i]}" 2>/dev/null || true
    deadline=$(( $(date +%s) + timeout ))
    while s3c_pid_matches "${pids[$i]}" "${comms[$i]}"; do
      if [ "$(date +%s)" -ge $deadline ]; then
        s3c_log "${names[$i]} (pid ${pids[$i]}) ignored SIGTERM for ${timeout}s: SIGKILL"
        kill -KILL "${pids[$i]}" 2>/dev/null || true
        sleep 0.2
        break
      fi
      sleep 0.05
    done
  done
  rm -f "$dir/pids"
}

# s3c_release_ports DIR: frees the port locks this DIR took (listed in DIR/ports).
s3c_release_ports() {
  local dir=$1 p
  [ -f "$dir/ports" ] || return 0
  # A lock already removed as stale (older than 10 minutes) is fine: never fail here, or
  # set -e would end stop before the data is removed.
  while read -r p; do [ -n "$p" ] && { rmdir "$S3C_PORT_LOCKS/$p" 2>/dev/null || true; }; done <"$dir/ports"
  rm -f "$dir/ports"
}

# s3c_wait_http URL PID TIMEOUT_S LOG...: waits until URL answers any HTTP status while PID
# lives; on failure prints the tail of each existing LOG.
s3c_wait_http() {
  local url=$1 pid=$2 timeout=$3; shift 3
  local deadline=$(( $(date +%s) + timeout )) code f
  while :; do
    if ! s3c_alive "$pid"; then
      s3c_log "process $pid died; last log lines:"
      for f in "$@"; do [ -s "$f" ] && { echo "==> $f <==" >&2; tail -n 30 "$f" >&2; }; done
      return 1
    fi
    code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$url" 2>/dev/null || true)
    [ -n "$code" ] && [ "$code" != 000 ] && return 0
    if [ "$(date +%s)" -ge $deadline ]; then
      s3c_log "$url not answering after ${timeout}s; last log lines:"
      for f in "$@"; do [ -s "$f" ] && { echo "==> $f <==" >&2; tail -n 30 "$f" >&2; }; done
      return 1
    fi
    sleep 0.1
  done
}

# s3c_random_hex N: N random hex characters.
s3c_random_hex() { openssl rand -hex "$(( ($1 + 1) / 2 ))" | cut -c1-"$1"; }

# s3c_now_ms: wall clock in milliseconds.
s3c_now_ms() { date +%s%3N; }

# s3c_signed_put_bucket ENDPOINT ACCESS SECRET REGION BUCKET: creates a bucket with a SigV4 request.
# Succeeds on 200 and on "already owned by you".
s3c_signed_put_bucket() {
  local endpoint=$1 ak=$2 sk=$3 region=$4 bucket=$5 out code
  out=$(mktemp)
  code=$(curl -s -o "$out" -w '%{http_code}' -m 30 -X PUT \
      --aws-sigv4 "aws:amz:$region:s3" --user "$ak:$sk" \
      -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "$endpoint/$bucket" || true)
  if [ "$code" = 200 ] || grep -q BucketAlreadyOwnedByYou "$out"; then rm -f "$out"; return 0; fi
  s3c_log "create bucket $bucket at $endpoint: HTTP $code: $(head -c 500 "$out")"
  rm -f "$out"
  return 1
}

# s3c_usage_dir: resolves DIR to an absolute path.
s3c_abs() { mkdir -p "$1" && (cd "$1" && pwd); }

# s3c_signed_check_bucket ENDPOINT ACCESS SECRET REGION BUCKET: a signed ListObjects of BUCKET
# answers 200.
s3c_signed_check_bucket() {
  local endpoint=$1 ak=$2 sk=$3 region=$4 bucket=$5 out code
  out=$(mktemp)
  code=$(curl -s -o "$out" -w '%{http_code}' -m 30 \
      --aws-sigv4 "aws:amz:$region:s3" --user "$ak:$sk" \
      -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "$endpoint/$bucket?max-keys=1" || true)
  if [ "$code" = 200 ]; then rm -f "$out"; return 0; fi
  s3c_log "list bucket $bucket at $endpoint: HTTP $code: $(head -c 500 "$out")"
  rm -f "$out"
  return 1
}

# s3c_publish_ready DIR T0 WHERE [DETAIL]: the env lines on stdin become DIR/env in one rename
# (tests poll for it, so it must never be seen half-written), the start-up time goes to
# DIR/startup_ms, and one log line says the server is ready.
s3c_publish_ready() {
  local dir=$1 t0=$2 where=$3 detail=${4:-} t1
  cat >"$dir/env.tmp"
  mv "$dir/env.tmp" "$dir/env"
  t1=$(s3c_now_ms)
  echo "$(( t1 - t0 ))" >"$dir/startup_ms"
  s3c_log "ready at $where in $(( t1 - t0 )) ms${detail:+ ($detail)}"
}

# s3c_main CMD ARGS...: runs the calling script's start or stop (functions it defines). A failed
# start stops whatever it had started (the logs stay in DIR/log).
s3c_main() {
  case $1 in
    start)
      shift
      trap 'if [ $? -ne 0 ]; then stop; fi' EXIT
      start "$@" ;;
    stop) stop ;;
    *) usage ;;
  esac
}
