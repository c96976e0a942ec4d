#include "s3cryptfs/crypto/random.h"

#include <algorithm>
#include <climits>

#include <openssl/rand.h>

#include "openssl_support.h"

namespace s3cryptfs::crypto {

Status fillRandom(MutableByteSpan out) {
  // RAND_bytes takes an int length.
  constexpr size_t kMaxRequest = size_t{1} << 30;
  while (!out.empty()) {
    size_t n = std::min(out.size(), kMaxRequest);
    if (RAND_bytes(out.data(), static_cast<int>(n)) != 1) {
      return detail::opensslError(ErrorKind::kInternal, "RAND_bytes failed");
    }
    out = out.subspan(n);
  }
  return ok();
}

Result<Bytes> randomBytes(size_t n) {
  Bytes out(n);
  S3C_RETURN_IF_ERROR(fillRandom(out));
  return out;
}

Result<SecureBuffer> randomKey(size_t n) {
  SecureBuffer key(n);
  S3C_RETURN_IF_ERROR(fillRandom(key.mutableSpan()));
  return key;
}

}  // namespace s3cryptfs::crypto
