#!/usr/bin/env bash
# Code rules CI enforces before building: formatting, and each third-party library confined to
# the one module that owns it (see docs/ARCHITECTURE.md).
set -euo pipefail
cd "$(dirname "$0")/.."
fail=0

mapfile -t sources < <(git ls-files -- '*.h' '*.cpp' 2>/dev/null || find include src tests bench -name '*.h' -o -name '*.cpp')
if [ "${#sources[@]}" -gt 0 ]; then
  if ! clang-format --dry-run --Werror "${sources[@]}" 2>/tmp/s3c-format.log; then
    echo "lint: files not formatted (run clang-format -i):"; grep -o '^[^:]*' /tmp/s3c-format.log | sort -u | head -20
    fail=1
  fi
fi

confined() {  # confined PATTERN ALLOWED_DIR...
  local pattern="$1"; shift
  local hits
  hits=$(grep -rlE "$pattern" include src 2>/dev/null | grep -vE "^($(IFS='|'; echo "$*"))" || true)
  if [ -n "$hits" ]; then
    echo "lint: '$pattern' outside $*:"; echo "$hits"; fail=1
  fi
}
confined '#include <openssl/' src/crypto/
confined '#include <curl/' src/http/
confined '#include <tinyxml2' src/s3/
confined '#include <yaml-cpp/' src/config/
confined '#include <fuse' src/fuse/
confined '#include <spdlog/' include/s3cryptfs/core/log.h src/core/log.cpp

if grep -rnE 'std::cout|printf\(' src --include='*.cpp' | grep -vE '^src/(app|cli)/' | grep -v 'snprintf' ; then
  echo "lint: console output outside src/app and src/cli"; fail=1
fi
# bench/run is Python for Debian's /usr/bin/python3: it must at least compile.
if [ -x /usr/bin/python3 ] && ! /usr/bin/python3 -c 'import ast, sys; ast.parse(open(sys.argv[1]).read())' bench/run; then
  echo "lint: bench/run does not parse"; fail=1
fi
[ "$fail" -eq 0 ] && echo "lint: ok"
exit "$fail"
