#!/usr/bin/env bash
# Compares our seal/open throughput per core (s3cryptfs_crypto_bench, one thread) with
# `openssl speed -evp` on the same chunk sizes, in one table: the raw AEAD wrapper (crypto
# module) and the format layer's chunk codec (format module: header-bound AAD, fresh nonce per
# chunk), each as a percentage of openssl's figure. Builds nothing: build the
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

ours=$("$bench" --json --min-time "$seconds")

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

printf '%-18s %6s %9s %9s %9s %9s %9s %7s %7s\n' cipher chunk "aead-seal" "aead-open" \
  "fmt-seal" "fmt-open" "openssl" "seal %" "open %"
for cipher in "${ciphers[@]}"; do
  for size in "${sizes[@]}"; do
    aseal=$(our_value "aead/seal/$cipher/$size")
    aopen=$(our_value "aead/open/$cipher/$size")
    fseal=$(our_value "format/seal/$cipher/$size")
    fopen=$(our_value "format/open/$cipher/$size")
    reference=$(openssl_value "$cipher" "$size")
    awk -v c="$cipher" -v n="$size" -v as="${aseal:-0}" -v ao="${aopen:-0}" -v s="${fseal:-0}" \
        -v o="${fopen:-0}" -v r="${reference:-0}" 'BEGIN {
      chunk = (n >= 1048576) ? sprintf("%dMiB", n / 1048576) : sprintf("%dKiB", n / 1024)
      sp = (r > 0) ? sprintf("%.0f%%", 100 * s / r) : "n/a"
      op = (r > 0) ? sprintf("%.0f%%", 100 * o / r) : "n/a"
      printf "%-18s %6s %9.1f %9.1f %9.1f %9.1f %9.1f %7s %7s\n", c, chunk, as, ao, s, o, r, sp, op
    }'
  done
done
echo "MB/s = 10^6 bytes per second of plaintext, one core; seal %/open % = format layer vs openssl"
