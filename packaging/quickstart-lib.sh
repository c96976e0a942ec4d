# The steps both quick starts share (sourced by quickstart.sh and quickstart-s3.sh, not run).
# The caller sets `root` (the source tree) before sourcing, and `demo`, `source` and `options`
# before the volume steps.
#
# S3C_BINARY=/path/to/s3cryptfs skips installing packages and building, and uses that binary
# (the tests run both quick starts so, with the binary under test).

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# qs_require_root NAME: the quick starts install packages and mount with FUSE.
qs_require_root() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "$1: run as root (it installs packages and mounts with FUSE)" >&2
    exit 1
  fi
}

# qs_build: installs the Debian packages and builds the binary (Release) in $S3C_BUILD_DIR
# (default build-release), unless S3C_BINARY names one. Sets `s3cryptfs`.
qs_build() {
  if [ -n "${S3C_BINARY:-}" ]; then
    s3cryptfs="$S3C_BINARY"
    step "Using $s3cryptfs"
    return
  fi
  local build="${S3C_BUILD_DIR:-$root/build-release}"
  step "Installing the Debian packages (skipped when present)"
  bash "$root/packaging/setup-debian.sh"
  step "Building s3cryptfs (Release) in $build"
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DS3C_BUILD_TESTS=OFF \
    -DS3C_BUILD_BENCH=OFF >/dev/null
  cmake --build "$build" -j "${S3C_JOBS:-$(nproc)}" --target s3cryptfs
  s3cryptfs="$build/src/app/s3cryptfs"
}

qs_mounted() { grep -qF " $demo/mnt " /proc/self/mounts; }

# qs_unmount: unmounts $demo/mnt if mounted and waits (10 s at most) for the daemon, which
# uploads what is dirty first, to exit.
qs_unmount() {
  if qs_mounted; then
    fusermount3 -u "$demo/mnt"
    for _ in $(seq 100); do pgrep -f "mount $source " >/dev/null || break; sleep 0.1; done
  fi
}

# qs_fresh_demo: an empty $demo with a mount point; never deletes through a live mount.
qs_fresh_demo() {
  if qs_mounted; then fusermount3 -u "$demo/mnt"; fi
  rm -rf "$demo"
  mkdir -p "$demo/mnt"
}

# qs_create_volume [INIT OPTIONS...]: a fresh key file and a new volume at $source.
qs_create_volume() {
  "$s3cryptfs" keygen "$demo/volume.key"
  "$s3cryptfs" init "$source" --key-file "$demo/volume.key" "$@"
}

qs_mount() {
  "$s3cryptfs" mount "$source" "$demo/mnt" --key-file "$demo/volume.key" -o "$options"
}

# qs_write_files GREETING: a file, a folder with a bigger file, shown through the mount.
qs_write_files() {
  echo "$1" >"$demo/mnt/hello.txt"
  mkdir "$demo/mnt/projects"
  seq 1 20000 >"$demo/mnt/projects/numbers.txt"
}

# qs_check_absent WHAT FOUND WORD...: fails if `FOUND WORD` (a command) finds any WORD in WHAT
# (plaintext in the store).
qs_check_absent() {
  local what=$1 found=$2 word; shift 2
  for word in "$@"; do
    if "$found" "$word"; then
      echo "FOUND plaintext '$word' in $what: this must never happen" >&2
      exit 1
    fi
    echo "plaintext '$word': not in $what"
  done
}

# qs_remount_and_show: mounts again and shows the files came back.
qs_remount_and_show() {
  step "Mounting again: the files are back"
  qs_mount
  cat "$demo/mnt/hello.txt"
  tail -1 "$demo/mnt/projects/numbers.txt"
  qs_unmount
}
