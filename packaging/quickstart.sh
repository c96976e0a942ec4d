#!/usr/bin/env bash
# The main job, from a fresh Debian 12 machine (as root): installs what is missing, builds the
# s3cryptfs binary (Release), creates an encrypted volume in a plain folder with a fresh key
# file, mounts it, writes files through the mount, shows the plaintext there and the ciphertext
# objects in the store folder (names encrypted, content unreadable), remounts to show the data
# persisted, and unmounts.
#
# Usage: bash packaging/quickstart.sh [DEMO_DIR]     (default: ./demo, recreated each run)
# Against a local S3 server instead: bash packaging/quickstart-s3.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
demo="$(realpath -m "${1:-$PWD/demo}")"
build="${S3C_BUILD_DIR:-$root/build-release}"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

if [ "$(id -u)" -ne 0 ]; then
  echo "quickstart.sh: run as root (it installs packages and mounts with FUSE)" >&2
  exit 1
fi

step "Installing the Debian packages (skipped when present)"
bash "$root/packaging/setup-debian.sh"

step "Building s3cryptfs (Release) in $build"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DS3C_BUILD_TESTS=OFF \
  -DS3C_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" -j "${S3C_JOBS:-$(nproc)}" --target s3cryptfs
s3cryptfs="$build/src/app/s3cryptfs"

# A fresh demo folder; never delete through a live mount.
if grep -qF " $demo/mnt " /proc/self/mounts; then fusermount3 -u "$demo/mnt"; fi
rm -rf "$demo"
mkdir -p "$demo/mnt"
source="dir://$demo/store"
options="staging_dir=$demo/staging,log_file=$demo/s3cryptfs.log"

unmount() {
  if grep -qF " $demo/mnt " /proc/self/mounts; then
    fusermount3 -u "$demo/mnt"
    # The daemon uploads what is dirty, then exits.
    for _ in $(seq 100); do pgrep -f "mount $source " >/dev/null || break; sleep 0.1; done
  fi
}
trap unmount EXIT

step "A key file and a new volume in $demo/store"
"$s3cryptfs" keygen "$demo/volume.key"
"$s3cryptfs" init "$source" --key-file "$demo/volume.key"

step "Mounting it on $demo/mnt (returns once the mount is ready)"
"$s3cryptfs" mount "$source" "$demo/mnt" --key-file "$demo/volume.key" -o "$options"
grep -F " $demo/mnt " /proc/self/mounts

step "Writing through the mount"
echo "Hello from s3cryptfs: this line is stored encrypted." > "$demo/mnt/hello.txt"
mkdir "$demo/mnt/projects"
seq 1 20000 > "$demo/mnt/projects/numbers.txt"
ln -s hello.txt "$demo/mnt/greeting"
ls -lR "$demo/mnt"
echo "--- cat $demo/mnt/hello.txt"
cat "$demo/mnt/hello.txt"

step "What the store folder holds: encrypted names, encrypted content"
unmount
(cd "$demo/store" && find . -path ./.s3c-store -prune -o -type f -print | sort)
first_object="$(cd "$demo/store" && find . -path ./.s3c-store -prune -o -type f -size +100c -print | head -1)"
echo "--- the last bytes of $first_object (the local store keeps a small header of ETag and"
echo "    encrypted attributes, then the object: header and AEAD-sealed chunks):"
tail -c 128 "$demo/store/$first_object" | xxd
for word in hello.txt projects numbers.txt "Hello from s3cryptfs"; do
  if grep -rqF --exclude-dir=.s3c-store "$word" "$demo/store"; then
    echo "FOUND plaintext '$word' in the store: this must never happen" >&2
    exit 1
  fi
  echo "plaintext '$word': not in the store"
done

step "Mounting again: the files are back"
"$s3cryptfs" mount "$source" "$demo/mnt" --key-file "$demo/volume.key" -o "$options"
cat "$demo/mnt/hello.txt"
tail -1 "$demo/mnt/projects/numbers.txt"
unmount
trap - EXIT

step "Done"
cat <<EOT
The volume is in $demo/store, its key in $demo/volume.key (keep a copy: without it the data is
gone). Mount it again with:
  $s3cryptfs mount $source $demo/mnt --key-file $demo/volume.key
and unmount with: fusermount3 -u $demo/mnt   (docs/OPERATIONS.md has fstab, systemd, signals).
EOT
