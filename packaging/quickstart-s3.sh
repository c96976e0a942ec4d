#!/usr/bin/env bash
# The quick start against a local S3 server: starts Ceph RGW (or s3rver) on 127.0.0.1 with the
# test harness scripts, creates an encrypted volume under a prefix of its bucket, mounts it,
# writes through the mount, lists the bucket to show only ciphertext objects, remounts, unmounts
# and stops the server.
#
# Usage: bash packaging/quickstart-s3.sh [ceph|s3rver] [DEMO_DIR]   (default: ceph, ./demo-s3)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
server="${1:-ceph}"
demo="$(realpath -m "${2:-$PWD/demo-s3}")"
build="${S3C_BUILD_DIR:-$root/build-release}"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

case "$server" in
  ceph) script=ceph-rgw.sh; var=CEPH ;;
  s3rver) script=s3rver.sh; var=S3RVER ;;
  *) echo "quickstart-s3.sh: server must be ceph or s3rver" >&2; exit 2 ;;
esac
if [ "$(id -u)" -ne 0 ]; then
  echo "quickstart-s3.sh: run as root (it installs packages and mounts with FUSE)" >&2
  exit 1
fi

step "Installing the Debian packages (skipped when present)"
bash "$root/packaging/setup-debian.sh"

step "Building s3cryptfs (Release) in $build"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DS3C_BUILD_TESTS=OFF \
  -DS3C_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" -j "${S3C_JOBS:-$(nproc)}" --target s3cryptfs
s3cryptfs="$build/src/app/s3cryptfs"

if grep -qF " $demo/mnt " /proc/self/mounts; then fusermount3 -u "$demo/mnt"; fi
[ -f "$demo/server/pids" ] && bash "$root/tests/servers/$script" stop "$demo/server" >/dev/null
rm -rf "$demo"
mkdir -p "$demo/mnt"

step "Starting $server on 127.0.0.1"
bash "$root/tests/servers/$script" start "$demo/server"
# shellcheck disable=SC1091
. "$demo/server/env"
endpoint_var="S3C_${var}_ENDPOINT"; access_var="S3C_${var}_ACCESS_KEY"
secret_var="S3C_${var}_SECRET_KEY"; bucket_var="S3C_${var}_BUCKET"
endpoint="${!endpoint_var}"; bucket="${!bucket_var}"
export AWS_ACCESS_KEY_ID="${!access_var}" AWS_SECRET_ACCESS_KEY="${!secret_var}"
export AWS_REGION=us-east-1
source="s3://$bucket/quickstart/"
options="endpoint=$endpoint,staging_dir=$demo/staging,log_file=$demo/s3cryptfs.log"

finish() {
  if grep -qF " $demo/mnt " /proc/self/mounts; then
    fusermount3 -u "$demo/mnt"
    for _ in $(seq 100); do pgrep -f "mount $source " >/dev/null || break; sleep 0.1; done
  fi
}
stop_server() { finish; bash "$root/tests/servers/$script" stop "$demo/server" >/dev/null || true; }
trap stop_server EXIT

list_bucket() {
  curl -s --aws-sigv4 "aws:amz:us-east-1:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
    -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "$endpoint/$bucket?list-type=2&prefix=quickstart%2F"
}

step "A key file and a new volume at $source ($endpoint)"
"$s3cryptfs" keygen "$demo/volume.key"
"$s3cryptfs" init "$source" --key-file "$demo/volume.key" -o "endpoint=$endpoint"

step "Mounting it on $demo/mnt"
"$s3cryptfs" mount "$source" "$demo/mnt" --key-file "$demo/volume.key" -o "$options"

step "Writing through the mount"
echo "Hello from s3cryptfs on S3: stored encrypted." > "$demo/mnt/hello.txt"
mkdir "$demo/mnt/projects"
seq 1 20000 > "$demo/mnt/projects/numbers.txt"
ls -lR "$demo/mnt"
cat "$demo/mnt/hello.txt"
finish

step "The bucket's object keys under quickstart/ (names are encrypted)"
listing="$(list_bucket)"
keys="$(echo "$listing" | grep -o '<Key>[^<]*</Key>' | sed 's/<[^>]*>//g' || true)"
if [ -z "$keys" ]; then
  echo "could not list the bucket: $listing" >&2
  exit 1
fi
echo "$keys"
for word in hello.txt projects numbers.txt; do
  if echo "$listing" | grep -qF "$word"; then
    echo "FOUND plaintext name '$word' in the bucket: this must never happen" >&2
    exit 1
  fi
  echo "plaintext name '$word': not in the bucket"
done

step "Mounting again: the files are back"
"$s3cryptfs" mount "$source" "$demo/mnt" --key-file "$demo/volume.key" -o "$options"
cat "$demo/mnt/hello.txt"
tail -1 "$demo/mnt/projects/numbers.txt"
finish

step "Done (stopping $server)"
