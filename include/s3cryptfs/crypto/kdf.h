#pragma once

#include <cstdint>
#include <string_view>

#include "s3cryptfs/core/bytes.h"
#include "s3cryptfs/core/result.h"
#include "s3cryptfs/core/secure_buffer.h"

namespace s3cryptfs::crypto {

// HKDF-SHA256 (RFC 5869), extract and expand. An empty salt means HashLen zero bytes (RFC 5869
// §2.2). kInvalidArgument for an empty input key or a length outside 1..8160.
Result<SecureBuffer> hkdfSha256(const SecureBuffer& input_key, ByteSpan salt, ByteSpan info,
                                size_t length);

struct ScryptParams {
  uint64_t n = uint64_t{1} << 17;  // CPU/memory cost; 128 MiB with r = 8
  uint32_t r = 8;
  uint32_t p = 1;
};
// scrypt (RFC 7914). kInvalidArgument for parameters OpenSSL refuses, including any needing more
// than OpenSSL's default memory cap (about 1 GiB): the parameters come from the bucket before
// anything authenticates them.
Result<SecureBuffer> scrypt(ByteSpan passphrase, ByteSpan salt, const ScryptParams& params,
                            size_t length);

}  // namespace s3cryptfs::crypto
