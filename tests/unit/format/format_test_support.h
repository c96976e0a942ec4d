#pragma once

// Deterministic keys and randomness for the format tests and the golden fixtures.
#include <cstdint>
#include <string>

#include <gtest/gtest.h>

#include "s3cryptfs/core/bytes.h"
#include "s3cryptfs/core/secure_buffer.h"
#include "s3cryptfs/crypto/hash.h"
#include "s3cryptfs/format/key_hierarchy.h"
#include "s3cryptfs/format/random_source.h"

namespace s3cryptfs::format::testing {

// SHA-256(seed || counter) blocks: reproducible, and different seeds never share output.
class DeterministicRandom final : public RandomSource {
 public:
  explicit DeterministicRandom(std::string seed) : seed_(std::move(seed)) {}
  Status fill(MutableByteSpan out) override {
    for (uint8_t& b : out) {
      if (used_ == block_.size()) {
        Bytes input = toBytes(seed_);
        putU64(input, counter_++);
        block_ = crypto::sha256(input);
        used_ = 0;
      }
      b = block_[used_++];
    }
    return ok();
  }

 private:
  std::string seed_;
  uint64_t counter_ = 0;
  crypto::Sha256Digest block_{};
  size_t used_ = 32;
};

// The volume key of FORMAT.md's test vectors: bytes 00 01 02 ... 1f.
inline SecureBuffer testVolumeKey(uint8_t offset = 0) {
  SecureBuffer key(kVolumeKeySize);
  for (size_t i = 0; i < key.size(); ++i)
    key.data()[i] = static_cast<uint8_t>(i + offset);
  return key;
}

inline VolumeKeys testKeys(uint32_t version = 1, uint8_t offset = 0) {
  auto keys = VolumeKeys::derive(version, testVolumeKey(offset));
  EXPECT_TRUE(keys.has_value());
  return std::move(keys).value();
}

inline KeyRing testRing(uint32_t version = 1, uint8_t offset = 0) {
  KeyRing ring;
  EXPECT_TRUE(ring.add(testKeys(version, offset)));
  return ring;
}

// Plaintext of the golden objects: byte i is (i * 31 + 7) mod 256.
inline Bytes testPlaintext(size_t size) {
  Bytes out(size);
  for (size_t i = 0; i < size; ++i)
    out[i] = static_cast<uint8_t>(i * 31 + 7);
  return out;
}

inline std::string hexOf(const SecureBuffer& b) {
  return toHex(b.span());
}

}  // namespace s3cryptfs::format::testing
