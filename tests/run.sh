#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: installs what is missing, checks the
# code rules, builds Release and ASan+UBSan, and runs every test under both (servers included).
# Usage: bash tests/run.sh [--quick]   (--quick: Release only, for a fast local loop)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

quick=0
[ "${1:-}" = "--quick" ] && quick=1

if [ "$(id -u)" -eq 0 ]; then
  bash packaging/setup-debian.sh
else
  sudo bash packaging/setup-debian.sh
fi

jobs="${S3C_JOBS:-$(nproc)}"
bash tests/lint.sh

run_suite() {
  local dir="$1"; shift
  cmake -S . -B "$dir" -G Ninja -DS3C_WERROR=ON "$@" >/dev/null
  cmake --build "$dir" -j "$jobs"
  # Each test is its own process; the 'servers' fixture starts the S3 servers once per run.
  ctest --test-dir "$dir" --output-on-failure -j "$jobs" --timeout 900
}

start=$(date +%s)
echo "== Release build and tests"
run_suite build-ci-release -DCMAKE_BUILD_TYPE=Release
if [ "$quick" -eq 0 ]; then
  echo "== ASan+UBSan build and tests"
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
  run_suite build-ci-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DS3C_SANITIZE=address,undefined \
    -DS3C_BUILD_BENCH=OFF
fi
echo "== all suites passed in $(( $(date +%s) - start )) s"
