#pragma once

#include <array>
#include <cstdint>
#include <memory>

#include "s3cryptfs/core/bytes.h"
#include "s3cryptfs/core/result.h"

namespace s3cryptfs::crypto {

using Sha256Digest = std::array<uint8_t, 32>;

Sha256Digest sha256(ByteSpan data);
Sha256Digest hmacSha256(ByteSpan key, ByteSpan data);

// Incremental SHA-256 (payload hashes of large uploads).
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(ByteSpan data);
  // Returns the digest and starts over, so the object can hash the next message.
  Sha256Digest finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// MD5 digest (Content-MD5 for S3 DeleteObjects, which the API requires). Not for security.
std::array<uint8_t, 16> md5(ByteSpan data);

// Constant-time equality of the contents; different lengths are simply unequal (lengths are not
// secret).
bool constantTimeEquals(ByteSpan a, ByteSpan b);

}  // namespace s3cryptfs::crypto
