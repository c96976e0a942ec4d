#pragma once

#include <vector>

#include "s3cryptfs/core/bytes.h"
#include "s3cryptfs/core/result.h"
#include "s3cryptfs/core/secure_buffer.h"

namespace s3cryptfs::crypto {

inline constexpr size_t kSivKeySize = 64;  // AES-256-SIV (RFC 5297): two 256-bit keys
inline constexpr size_t kSivTagSize = 16;

// Deterministic authenticated encryption (RFC 5297, through OpenSSL's "AES-256-SIV"):
// equal (associated data, plaintext) give equal output. Used for names.
// Output is tag(16) || ciphertext.
Result<Bytes> sivSeal(const SecureBuffer& key, const std::vector<ByteSpan>& associated_data,
                      ByteSpan plaintext);
// kCorrupt when the tag does not verify.
Result<Bytes> sivOpen(const SecureBuffer& key, const std::vector<ByteSpan>& associated_data,
                      ByteSpan sealed);

}  // namespace s3cryptfs::crypto
