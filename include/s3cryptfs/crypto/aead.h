#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "s3cryptfs/core/bytes.h"
#include "s3cryptfs/core/result.h"
#include "s3cryptfs/core/secure_buffer.h"

namespace s3cryptfs::crypto {

// Values are stored in our format: never renumber.
enum class Cipher : uint8_t {
  kAes256Gcm = 1,
  kChaCha20Poly1305 = 2,
};

std::string_view cipherName(Cipher cipher);  // "aes-256-gcm", "chacha20-poly1305"
Result<Cipher> parseCipher(std::string_view name);

inline constexpr size_t kAeadKeySize = 32;
inline constexpr size_t kAeadNonceSize = 12;
inline constexpr size_t kAeadTagSize = 16;

// An AEAD with its key set. seal/open are const and safe to call from many threads at once.
// The key is expanded once: calls reuse initialised cipher contexts from a pool owned by the
// Aead (one per concurrent caller), all freed and cleansed with it. Output may alias the input
// exactly (in place) but must not overlap it otherwise (kInvalidArgument).
class Aead {
 public:
  // key must be kAeadKeySize bytes.
  static Result<Aead> create(Cipher cipher, const SecureBuffer& key);
  ~Aead();
  Aead(Aead&&) noexcept;
  Aead& operator=(Aead&&) noexcept;
  Aead(const Aead&) = delete;
  Aead& operator=(const Aead&) = delete;

  Cipher cipher() const;

  // out.size() must be plaintext.size() + kAeadTagSize; writes ciphertext || tag.
  Status seal(ByteSpan nonce, ByteSpan aad, ByteSpan plaintext, MutableByteSpan out) const;
  // sealed = ciphertext || tag; out.size() must be sealed.size() - kAeadTagSize.
  // An authentication failure is ErrorKind::kCorrupt; out is zeroed then. sealed shorter than a
  // tag is kCorrupt too (it is damaged data); a wrong nonce or out size is kInvalidArgument.
  Status open(ByteSpan nonce, ByteSpan aad, ByteSpan sealed, MutableByteSpan out) const;

 private:
  struct Impl;
  explicit Aead(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace s3cryptfs::crypto
