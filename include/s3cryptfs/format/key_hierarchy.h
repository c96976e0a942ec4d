#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string_view>

#include "s3cryptfs/core/result.h"
#include "s3cryptfs/core/secure_buffer.h"

namespace s3cryptfs::format {

inline constexpr size_t kVolumeKeySize = 32;
inline constexpr size_t kFileIdSize = 16;
inline constexpr size_t kKeyCommitmentSize = 32;

using FileId = std::array<uint8_t, kFileIdSize>;
using KeyCommitment = std::array<uint8_t, kKeyCommitmentSize>;

// HKDF-SHA256 info labels (FORMAT.md §2). Stored in the format: never change them for v1.
inline constexpr std::string_view kContentKeyLabel = "s3cryptfs v1 content";
inline constexpr std::string_view kNameKeyLabel = "s3cryptfs v1 names aes-256-siv";
inline constexpr std::string_view kMetadataKeyLabel = "s3cryptfs v1 attributes";
inline constexpr std::string_view kDescriptorMacKeyLabel = "s3cryptfs v1 descriptor mac";
inline constexpr std::string_view kKeyArchiveKeyLabel = "s3cryptfs v1 key archive";
inline constexpr std::string_view kFileKeyLabel = "s3cryptfs v1 file key";
inline constexpr std::string_view kKeyCommitmentLabel = "s3cryptfs v1 key commitment";
inline constexpr std::string_view kAttributeBlockKeyLabel = "s3cryptfs v1 attribute block key";

// The subkeys of one volume key version. Derived once at unlock; never stored.
class VolumeKeys {
 public:
  // volume_key must be kVolumeKeySize bytes; version starts at 1.
  static Result<VolumeKeys> derive(uint32_t version, const SecureBuffer& volume_key);

  uint32_t version() const { return version_; }
  // The root secret itself: needed only to archive it under a newer version (rotate).
  const SecureBuffer& volumeKey() const { return volume_key_; }
  const SecureBuffer& contentKey() const { return content_key_; }
  const SecureBuffer& nameKey() const { return name_key_; }  // 64 bytes, AES-256-SIV
  const SecureBuffer& metadataKey() const { return metadata_key_; }
  const SecureBuffer& descriptorMacKey() const { return descriptor_mac_key_; }
  const SecureBuffer& keyArchiveKey() const { return key_archive_key_; }

  // The per-file content key: HKDF(content key, salt = file id, info = kFileKeyLabel).
  Result<SecureBuffer> fileKey(const FileId& file_id) const;

  VolumeKeys clone() const;

 private:
  VolumeKeys() = default;
  uint32_t version_ = 0;
  SecureBuffer volume_key_;
  SecureBuffer content_key_;
  SecureBuffer name_key_;
  SecureBuffer metadata_key_;
  SecureBuffer descriptor_mac_key_;
  SecureBuffer key_archive_key_;
};

// Commits an object header to its per-file key (FORMAT.md §2.3): a GCM or Poly1305 ciphertext can
// be valid under two keys; the commitment cannot.
Result<KeyCommitment> keyCommitment(const SecureBuffer& file_key);

// Every unlocked key version of a volume, by version; the newest is used for new writes.
class KeyRing {
 public:
  KeyRing() = default;
  // kAlreadyExists if the version is already present.
  Status add(VolumeKeys keys);
  // kNotFound (an object written under a key this ring does not hold) is reported as kCorrupt by
  // the codecs, since a valid volume never references an unknown version.
  Result<const VolumeKeys*> find(uint32_t version) const;
  // nullptr when empty.
  const VolumeKeys* newest() const;
  bool empty() const { return keys_.empty(); }
  const std::map<uint32_t, VolumeKeys>& all() const { return keys_; }

 private:
  std::map<uint32_t, VolumeKeys> keys_;
};

}  // namespace s3cryptfs::format
