#!/usr/bin/env bash
# Compares our AEAD seal/open throughput (s3cryptfs_crypto_bench, one thread) with
# `openssl speed -evp` on the same chunk sizes, in one table. Builds nothing: build the
# benchmark first, in Release, e.g.
#   cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
#   cmake --build build --target s3cryptfs_crypto_bench
# usage: bench/crypto_vs_openssl.sh [path/to/s3cryptfs_crypto_bench] [seconds per measurement]
# Both sides count CPU time of one core (openssl speed: user time), so a busy machine lowers
# neither figure much; the ratio is what to read.
set -euo pipefail

bench="${1:-build/bench/micro/s3cryptfs_crypto_bench}"
seconds="${2:-1}"
ciphers=(aes-256-gcm chacha20-poly1305)
sizes=(16384 65536 262144 1048576)

if [ ! -x "$bench" ]; then
  echo "crypto_vs_openssl: no benchmark binary at $bench (build s3cryptfs_crypto_bench first)" >&2
  exit 2
fi
command -v openssl >/dev/null || { echo "crypto_vs_openssl: openssl not found" >&2; exit 2; }

ours=$("$bench" --json --filter aead/ --min-time "$seconds")

# value of the {name, value, unit} record named $1, one record per line in --json output
our_value() {
  awk -v name="\"$1\"" 'index($0, "\"name\": " name ",") { sub(/.*"value": /, ""); sub(/,.*/, ""); print }' <<<"$ours"
}

# openssl speed -mr prints "+F:<n>:<cipher>:<bytes per second>". The best of three runs, as our
# benchmark reports the best of three: a neighbour's load only ever slows a run down.
openssl_value() {
  for _ in 1 2 3; do
    openssl speed -evp "$1" -bytes "$2" -seconds "$seconds" -mr 2>/dev/null
  done | awk -F: '/^\+F:/ && $NF > best { best = $NF } END { printf "%.1f\n", best / 1e6 }'
}

printf '%-18s %9s %12s %12s %12s %8s %8s\n' cipher chunk "seal MB/s" "open MB/s" "openssl MB/s" "seal %" "open %"
for cipher in "${ciphers[@]}"; do
  for size in "${sizes[@]}"; do
    seal=$(our_value "aead/seal/$cipher/$size")
    open=$(our_value "aead/open/$cipher/$size")
    reference=$(openssl_value "$cipher" "$size")
    awk -v c="$cipher" -v n="$size" -v s="${seal:-0}" -v o="${open:-0}" -v r="${reference:-0}" 'BEGIN {
      chunk = (n >= 1048576) ? sprintf("%dMiB", n / 1048576) : sprintf("%dKiB", n / 1024)
      sp = (r > 0) ? sprintf("%.0f%%", 100 * s / r) : "n/a"
      op = (r > 0) ? sprintf("%.0f%%", 100 * o / r) : "n/a"
      printf "%-18s %9s %12.1f %12.1f %12.1f %8s %8s\n", c, chunk, s, o, r, sp, op
    }'
  done
done
