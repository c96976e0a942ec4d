#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "s3cryptfs/core/bytes.h"
#include "s3cryptfs/core/result.h"
#include "s3cryptfs/core/secure_buffer.h"
#include "s3cryptfs/crypto/aead.h"
#include "s3cryptfs/format/chunk_layout.h"
#include "s3cryptfs/format/key_hierarchy.h"
#include "s3cryptfs/format/name_codec.h"
#include "s3cryptfs/format/random_source.h"

namespace s3cryptfs::format {

inline constexpr std::array<uint8_t, 8> kDescriptorMagic = {'s', '3', 'c', 'r', 'y', 'p', 't', 'v'};
inline constexpr size_t kVolumeIdSize = 16;
inline constexpr size_t kDescriptorMacSize = 32;
inline constexpr size_t kMaxDescriptorBytes = 1024 * 1024;
inline constexpr std::string_view kArchivedKeyAadLabel = "s3cryptfs v1 archived key";

using VolumeId = std::array<uint8_t, kVolumeIdSize>;

// One wrapped copy of a volume key, made by a key protector (keys module). The format only
// stores it; what `params` and `wrapped_key` mean is the protector type's business.
struct ProtectorSlot {
  std::string id;    // unique within the descriptor, e.g. "laptop-passphrase"
  std::string type;  // "keyfile", "passphrase", "vault-transit", "kmip", "awskms", "pkcs11", ...
  std::map<std::string, std::string> params;  // e.g. scrypt n/r/p/salt, KMS key id
  Bytes wrapped_key;
  friend bool operator==(const ProtectorSlot&, const ProtectorSlot&) = default;
};

// One volume key version. Only the newest version has protector slots; every older key is kept
// sealed under the newest key (archived_key), so unlocking needs one unwrap however many rotations
// there were, and rewrapping or adding a protector touches one blob.
struct KeyVersionEntry {
  uint32_t version = 0;
  int64_t created_unix_seconds = 0;
  std::vector<ProtectorSlot> slots;  // newest version only
  Bytes archived_key;                // older versions only
  friend bool operator==(const KeyVersionEntry&, const KeyVersionEntry&) = default;
};

struct VolumeDescriptor {
  uint16_t format_version = 1;
  uint32_t feature_flags = 0;  // none defined in v1; unknown bits are kUnsupported
  crypto::Cipher cipher = crypto::Cipher::kAes256Gcm;
  uint32_t chunk_size = kDefaultChunkSize;
  NameMode name_mode = NameMode::kEncrypted;
  VolumeId volume_id{};
  int64_t created_unix_seconds = 0;
  // The key version whose name key encrypts names; fixed at init, since changing it renames
  // every object.
  uint32_t name_key_version = 1;
  std::vector<KeyVersionEntry> key_versions;  // ascending, newest last

  const KeyVersionEntry& newest() const { return key_versions.back(); }
  friend bool operator==(const VolumeDescriptor&, const VolumeDescriptor&) = default;
};

// Encodes and MACs with newest.descriptorMacKey(); newest.version() must be the descriptor's
// newest version. kInvalidArgument for a descriptor that breaks the structural rules.
Result<Bytes> encodeVolumeDescriptor(const VolumeDescriptor& descriptor, const VolumeKeys& newest);
// Parses without any key, so the protector slots can be used to unwrap the newest key.
// Nothing in the result is authentic until verifyVolumeDescriptor succeeds.
Result<VolumeDescriptor> decodeVolumeDescriptor(ByteSpan encoded);
// Checks the MAC with the newest key (right after unwrapping it). kCorrupt on mismatch.
Status verifyVolumeDescriptor(ByteSpan encoded, const VolumeKeys& newest);

// Key archive: older volume keys sealed under the newest key.
Result<Bytes> sealArchivedKey(const VolumeKeys& newest, const VolumeId& volume_id,
                              crypto::Cipher cipher, uint32_t archived_version,
                              const SecureBuffer& archived_key,
                              RandomSource& random = systemRandom());
Result<SecureBuffer> openArchivedKey(const VolumeKeys& newest, const VolumeId& volume_id,
                                     crypto::Cipher cipher, uint32_t archived_version,
                                     ByteSpan sealed);
// All key versions, given the (verified) descriptor and the unwrapped newest volume key.
Result<KeyRing> unlockKeyRing(const VolumeDescriptor& descriptor, const SecureBuffer& newest_key);

// Rotation: a new newest version with the given slots (the new key wrapped by every protector);
// every older key, taken from `ring`, is re-archived under the new key. ring must hold every
// version of the descriptor.
Result<VolumeDescriptor> addKeyVersion(const VolumeDescriptor& descriptor, const KeyRing& ring,
                                       const SecureBuffer& new_key,
                                       std::vector<ProtectorSlot> new_slots,
                                       int64_t now_unix_seconds,
                                       RandomSource& random = systemRandom());
// Replaces the slot with replacement.id in the newest version (rewrap); kNotFound if absent.
Status replaceSlot(VolumeDescriptor& descriptor, ProtectorSlot replacement);
// kAlreadyExists for a duplicate id.
Status addSlot(VolumeDescriptor& descriptor, ProtectorSlot slot);
// kNotFound if absent; kInvalidArgument for the last slot (the volume would be unopenable).
Status removeSlot(VolumeDescriptor& descriptor, std::string_view id);

}  // namespace s3cryptfs::format
