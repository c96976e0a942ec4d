#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "s3cryptfs/keys/key_protector.h"

namespace s3cryptfs::keys {

inline constexpr std::string_view kRecoveryProtectorType = "recovery";

// One decoded recovery share. Text form (what is printed and typed back): 40 bytes
//   threshold k | index x | volume tag (2) | set id (2) | share value (32) | check (2)
// in Crockford base32, 16 groups of 4 characters joined by '-'. The volume tag is the first two
// bytes of SHA-256("s3cryptfs recovery volume v1" || volume id hex), so a share of another
// volume is named as such; the check is the first two bytes of SHA-256("s3cryptfs recovery
// share v1" || volume id hex || the first 38 bytes), so a mistyped character is caught before
// any reconstruction. Decoding ignores case, spaces and dashes, and reads O as 0 and I, L as 1.
struct RecoveryShare {
  uint8_t threshold = 0;
  uint8_t index = 0;
  uint16_t set_id = 0;  // which share set (a new one per wrap), so old shares are named as such
  SecureBuffer value;   // 32 bytes
};

inline constexpr size_t kRecoveryShareValueSize = 32;

// The text is a secret: it comes back in a SecureBuffer.
Result<SecureBuffer> encodeRecoveryShare(const RecoveryShare& share,
                                         std::string_view volume_id_hex);
// kInvalidArgument: wrong length or characters, checksum mismatch (mistyped), another volume.
Result<RecoveryShare> decodeRecoveryShare(std::string_view text, std::string_view volume_id_hex);

// Reads share texts for an unlock; the argument is the threshold k from the wrapped copy.
using ShareSource = std::function<Result<std::vector<SecureBuffer>>(uint8_t threshold)>;
// One share per line; blank lines and lines starting with '#' are skipped.
ShareSource sharesFromFile(std::string path);
// Prompts "Recovery share i of k" on /dev/tty (echo off) until k shares are read.
ShareSource sharesFromTerminal();
// Fixed texts (tests, and callers that collected them otherwise).
ShareSource sharesFromList(std::vector<SecureBuffer> texts);

// k-of-n recovery shares. wrap draws a random 32-byte recovery secret, splits it with Shamir
// (see shamir.h) and stores only AES-256-GCM(HKDF(secret, "s3cryptfs recovery wrap v1"),
// volume key) with params "k", "n", "set" (hex): the shares themselves are never stored.
// After wrap, takeShares() hands the n share texts to the caller, who must show them once.
class RecoveryProtector final : public KeyProtector {
 public:
  // For wrap: 1 <= threshold <= count <= 255 (checked by wrap: kInvalidArgument); source, if
  // given, serves a later unwrap.
  RecoveryProtector(uint8_t threshold, uint8_t count, ShareSource source = {});
  // For unwrap.
  explicit RecoveryProtector(ShareSource source);

  std::string type() const override { return std::string(kRecoveryProtectorType); }
  Result<WrappedKey> wrap(const SecureBuffer& volume_key, const KeyContext& context) override;
  // Fewer than k distinct shares is kInvalidArgument; a share of another volume or set, or a
  // mistyped one, is kInvalidArgument naming which share; k valid shares that still do not
  // unwrap are kPermissionDenied.
  Result<SecureBuffer> unwrap(const WrappedKey& wrapped, const KeyContext& context) override;

  // The share texts of the last wrap, in index order; empty afterwards.
  std::vector<SecureBuffer> takeShares();

 private:
  uint8_t threshold_ = 0;
  uint8_t count_ = 0;
  ShareSource source_;
  std::vector<SecureBuffer> shares_;
};

}  // namespace s3cryptfs::keys
