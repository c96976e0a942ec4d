#!/usr/bin/env bash
# Installs, on Debian 12, every package the build, the tests and the benchmarks need.
# Idempotent: packages already present are skipped by apt; s3rver is installed once into
# a folder of its own (S3CRYPTFS_TOOLS, default /opt/s3cryptfs-tools).
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
  echo "setup-debian.sh: run as root (it calls apt-get)" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive

build_packages=(
  build-essential cmake ninja-build pkg-config git ccache
  libfuse3-dev fuse3 libcurl4-openssl-dev libssl-dev libtinyxml2-dev libspdlog-dev
  libyaml-cpp-dev libgtest-dev libgmock-dev nlohmann-json3-dev libcli11-dev
  libcpp-httplib-dev clang-format clang-tidy
  libp11-kit-dev
)
test_packages=(
  ceph-mon ceph-osd radosgw ceph-common
  python3-pykmip softhsm2 opensc
  curl openssl attr psmisc procps util-linux xxd
  strace  # the durability test watches the daemon's fsync calls
)
# The machine image may ship its own Node.js (whose npm conflicts with Debian's npm package):
# take Debian's only where there is none.
command -v npm >/dev/null 2>&1 || test_packages+=(nodejs npm)
bench_packages=(
  s3fs rclone gocryptfs fio hyperfine time python3-matplotlib
)

wanted=("${build_packages[@]}" "${test_packages[@]}" "${bench_packages[@]}")
missing=()
for p in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

tools="${S3CRYPTFS_TOOLS:-/opt/s3cryptfs-tools}"
if [ ! -x "$tools/node_modules/.bin/s3rver" ]; then
  mkdir -p "$tools"
  (cd "$tools" && npm install --no-audit --no-fund --loglevel=error s3rver@3.7.1)
fi
echo "setup-debian.sh: all packages present"
