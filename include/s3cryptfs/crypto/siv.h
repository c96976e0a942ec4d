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
// The key is 64 bytes; 32 (AES-128-SIV) and 48 (AES-192-SIV) are accepted as well, which is what
// RFC 5297's test vectors use. At most 126 associated data components (the RFC 5297 limit); an
// empty component is legal and differs from an absent one. An empty plaintext is kInvalidArgument
// (OpenSSL 3.0 cannot compute SIV for it; names are never empty).
Result<Bytes> sivSeal(const SecureBuffer& key, const std::vector<ByteSpan>& associated_data,
                      ByteSpan plaintext);
// kCorrupt when the tag does not verify, or sealed is no longer than a tag.
Result<Bytes> sivOpen(const SecureBuffer& key, const std::vector<ByteSpan>& associated_data,
                      ByteSpan sealed);

}  // namespace s3cryptfs::crypto
