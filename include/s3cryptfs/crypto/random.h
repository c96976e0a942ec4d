#pragma once

#include "s3cryptfs/core/bytes.h"
#include "s3cryptfs/core/result.h"
#include "s3cryptfs/core/secure_buffer.h"

namespace s3cryptfs::crypto {

// Cryptographically secure random bytes (OpenSSL RAND_bytes). Failure is kInternal.
Status fillRandom(MutableByteSpan out);
Result<Bytes> randomBytes(size_t n);
Result<SecureBuffer> randomKey(size_t n);

}  // namespace s3cryptfs::crypto
