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
# shellcheck source=packaging/quickstart-lib.sh
. "$root/packaging/quickstart-lib.sh"
demo="$(realpath -m "${1:-$PWD/demo}")"

qs_require_root quickstart.sh
qs_build

qs_fresh_demo
source="dir://$demo/store"
options="staging_dir=$demo/staging,log_file=$demo/s3cryptfs.log"
trap qs_unmount EXIT

step "A key file and a new volume in $demo/store"
qs_create_volume

step "Mounting it on $demo/mnt (returns once the mount is ready)"
qs_mount
grep -F " $demo/mnt " /proc/self/mounts

step "Writing through the mount"
qs_write_files "Hello from s3cryptfs: this line is stored encrypted."
ln -s hello.txt "$demo/mnt/greeting"
ls -lR "$demo/mnt"
echo "--- cat $demo/mnt/hello.txt"
cat "$demo/mnt/hello.txt"

step "What the store folder holds: encrypted names, encrypted content"
qs_unmount
(cd "$demo/store" && find . -path ./.s3c-store -prune -o -type f -print | sort)
first_object="$(cd "$demo/store" && find . -path ./.s3c-store -prune -o -type f -size +100c -print | head -1)"
echo "--- the last bytes of $first_object (the local store keeps a small header of ETag and"
echo "    encrypted attributes, then the object: header and AEAD-sealed chunks):"
tail -c 128 "$demo/store/$first_object" | xxd
in_store() { grep -rqF --exclude-dir=.s3c-store -- "$1" "$demo/store"; }
qs_check_absent "the store" in_store hello.txt projects numbers.txt "Hello from s3cryptfs"

qs_remount_and_show
trap - EXIT

step "Done"
cat <<EOT
The volume is in $demo/store, its key in $demo/volume.key (keep a copy: without it the data is
gone). Mount it again with:
  $s3cryptfs mount $source $demo/mnt --key-file $demo/volume.key
and unmount with: fusermount3 -u $demo/mnt   (docs/OPERATIONS.md has fstab, systemd, signals).
EOT
