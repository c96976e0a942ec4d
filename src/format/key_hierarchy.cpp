#include "s3cryptfs/format/key_hierarchy.h"

#include <string>

#include "s3cryptfs/crypto/aead.h"
#include "s3cryptfs/crypto/kdf.h"
#include "s3cryptfs/crypto/siv.h"

#include "format_support.h"

namespace s3cryptfs::format {
namespace {
Result<SecureBuffer> expand(const SecureBuffer& key, ByteSpan salt, std::string_view label,
                            size_t length) {
  return crypto::hkdfSha256(key, salt, asBytes(label), length);
}
}  // namespace

Result<VolumeKeys> VolumeKeys::derive(uint32_t version, const SecureBuffer& volume_key) {
  if (volume_key.size() != kVolumeKeySize)
    return detail::invalid("volume key must be 32 bytes, got " + std::to_string(volume_key.size()));
  if (version == 0) return detail::invalid("key versions start at 1");
  VolumeKeys keys;
  keys.version_ = version;
  keys.volume_key_ = volume_key.clone();
  // Volume-level subkeys use an empty salt: the volume key is already uniformly random, and the
  // labels alone separate the purposes (RFC 5869 §3.3).
  S3C_ASSIGN_OR_RETURN(keys.content_key_, expand(volume_key, {}, kContentKeyLabel, 32));
  S3C_ASSIGN_OR_RETURN(keys.name_key_, expand(volume_key, {}, kNameKeyLabel, crypto::kSivKeySize));
  S3C_ASSIGN_OR_RETURN(keys.metadata_key_, expand(volume_key, {}, kMetadataKeyLabel, 32));
  S3C_ASSIGN_OR_RETURN(keys.descriptor_mac_key_,
                       expand(volume_key, {}, kDescriptorMacKeyLabel, 32));
  S3C_ASSIGN_OR_RETURN(keys.key_archive_key_, expand(volume_key, {}, kKeyArchiveKeyLabel, 32));
  return keys;
}

Result<SecureBuffer> VolumeKeys::fileKey(const FileId& file_id) const {
  return expand(content_key_, file_id, kFileKeyLabel, crypto::kAeadKeySize);
}

VolumeKeys VolumeKeys::clone() const {
  VolumeKeys keys;
  keys.version_ = version_;
  keys.volume_key_ = volume_key_.clone();
  keys.content_key_ = content_key_.clone();
  keys.name_key_ = name_key_.clone();
  keys.metadata_key_ = metadata_key_.clone();
  keys.descriptor_mac_key_ = descriptor_mac_key_.clone();
  keys.key_archive_key_ = key_archive_key_.clone();
  return keys;
}

Result<KeyCommitment> keyCommitment(const SecureBuffer& file_key) {
  S3C_ASSIGN_OR_RETURN(SecureBuffer derived,
                       expand(file_key, {}, kKeyCommitmentLabel, kKeyCommitmentSize));
  KeyCommitment out{};
  std::copy(derived.span().begin(), derived.span().end(), out.begin());
  return out;
}

Status KeyRing::add(VolumeKeys keys) {
  uint32_t version = keys.version();
  auto [it, inserted] = keys_.emplace(version, std::move(keys));
  if (!inserted)
    return Error(ErrorKind::kAlreadyExists,
                 "key version " + std::to_string(version) + " is already in the key ring");
  return ok();
}

Result<const VolumeKeys*> KeyRing::find(uint32_t version) const {
  auto it = keys_.find(version);
  if (it == keys_.end())
    return Error(ErrorKind::kNotFound, "no key for volume key version " + std::to_string(version));
  return &it->second;
}

const VolumeKeys* KeyRing::newest() const {
  return keys_.empty() ? nullptr : &keys_.rbegin()->second;
}

}  // namespace s3cryptfs::format
