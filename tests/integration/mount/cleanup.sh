#!/usr/bin/env bash
# Removes what real-mount tests may leave behind under ROOT (their scratch root) when a test or
# the test binary crashed: mounts (lazily unmounted), every process whose command line names a
# path under ROOT (s3cryptfs daemons, strace, the quick starts' scripts and their S3 server;
# stopped by PID: SIGTERM, then SIGKILL), then the scratch folders.
# Usage: cleanup.sh ROOT      (ctest runs it before and after the mount tests)
set -uo pipefail
root="${1:?usage: cleanup.sh ROOT}"
root="$(realpath -m "$root")"
[ -d "$root" ] || exit 0

# Mount points under ROOT, deepest first (mountinfo field 5, octal escapes decoded).
mapfile -t mounts < <(awk '{print $5}' /proc/self/mountinfo | while read -r m; do
  printf '%b\n' "${m//\\/\\0}"; done | grep -F "$root/" | sort -r)
for m in "${mounts[@]}"; do
  echo "cleanup: unmounting leftover $m"
  fusermount3 -u -z "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
done

pids=()
for dir in /proc/[0-9]*; do
  pid="${dir#/proc/}"
  [ "$pid" = "$$" ] && continue
  cmd="$(tr '\0' ' ' < "$dir/cmdline" 2>/dev/null)" || continue
  case "$cmd" in
    *"$root/"*) [[ "$cmd" == *cleanup.sh* ]] || pids+=("$pid") ;;
  esac
done
if [ "${#pids[@]}" -gt 0 ]; then
  echo "cleanup: stopping leftover daemons ${pids[*]}"
  kill -TERM "${pids[@]}" 2>/dev/null || true
  for _ in $(seq 50); do
    alive=()
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive+=("$p"); done
    [ "${#alive[@]}" -eq 0 ] && break
    sleep 0.1
  done
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
fi

# Scratch folders go only when nothing is mounted under ROOT any more.
if ! awk '{print $5}' /proc/self/mountinfo | grep -qF "$root/"; then
  find "$root" -mindepth 1 -maxdepth 1 -exec rm -rf {} + 2>/dev/null || true
else
  echo "cleanup: mounts remain under $root; scratch folders kept" >&2
  exit 1
fi
exit 0
