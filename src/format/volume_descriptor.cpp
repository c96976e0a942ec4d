#include "s3cryptfs/format/volume_descriptor.h"

#include <algorithm>
#include <optional>
#include <set>
#include <string>

#include "s3cryptfs/crypto/hash.h"

#include "format_support.h"

namespace s3cryptfs::format {
namespace {

constexpr size_t kMaxFieldBytes = size_t{64} * 1024;

bool knownCipher(uint8_t id) {
  return id == static_cast<uint8_t>(crypto::Cipher::kAes256Gcm) ||
         id == static_cast<uint8_t>(crypto::Cipher::kChaCha20Poly1305);
}

void putField(Bytes& out, ByteSpan bytes) {
  putU32(out, static_cast<uint32_t>(bytes.size()));
  detail::putBytes(out, bytes);
}

// The rules every descriptor obeys; nullopt when it does. Shared by encode (a caller's bug:
// kInvalidArgument) and decode (bucket data: kCorrupt).
std::optional<std::string> structureProblem(const VolumeDescriptor& d) {
  if (!isValidChunkSize(d.chunk_size)) return "chunk size " + std::to_string(d.chunk_size);
  if (d.key_versions.empty()) return "no key versions";
  uint32_t previous = 0;
  bool has_name_key_version = false;
  for (size_t i = 0; i < d.key_versions.size(); ++i) {
    const KeyVersionEntry& entry = d.key_versions[i];
    if (entry.version <= previous) return "key versions are not strictly ascending from 1";
    previous = entry.version;
    if (entry.version == d.name_key_version) has_name_key_version = true;
    bool newest = i + 1 == d.key_versions.size();
    if (newest && (entry.slots.empty() || !entry.archived_key.empty()))
      return "the newest key version must have protector slots and no archived key";
    if (!newest && (!entry.slots.empty() || entry.archived_key.empty()))
      return "key version " + std::to_string(entry.version) +
             " must be archived and have no protector slots";
    if (entry.archived_key.size() > kMaxFieldBytes) return "archived key too long";
    std::set<std::string> ids;
    for (const ProtectorSlot& slot : entry.slots) {
      if (slot.id.empty() || slot.type.empty() || slot.wrapped_key.empty())
        return "a protector slot lacks its id, type or wrapped key";
      if (!ids.insert(slot.id).second) return "duplicate protector id \"" + slot.id + "\"";
      if (slot.id.size() > kMaxFieldBytes || slot.type.size() > kMaxFieldBytes ||
          slot.wrapped_key.size() > kMaxFieldBytes)
        return "protector slot field too long";
      for (const auto& [key, value] : slot.params)
        if (key.empty() || key.size() > kMaxFieldBytes || value.size() > kMaxFieldBytes)
          return "protector parameter name empty or too long";
    }
  }
  if (!has_name_key_version)
    return "name key version " + std::to_string(d.name_key_version) + " is not a key version";
  return std::nullopt;
}

Bytes encodeBody(const VolumeDescriptor& d) {
  Bytes out;
  out.insert(out.end(), kDescriptorMagic.begin(), kDescriptorMagic.end());
  putU16(out, d.format_version);
  putU32(out, d.feature_flags);
  out.push_back(static_cast<uint8_t>(d.cipher));
  out.push_back(static_cast<uint8_t>(d.name_mode));
  putU32(out, d.chunk_size);
  detail::putBytes(out, d.volume_id);
  putU64(out, static_cast<uint64_t>(d.created_unix_seconds));
  putU32(out, d.name_key_version);
  putU32(out, static_cast<uint32_t>(d.key_versions.size()));
  for (const KeyVersionEntry& entry : d.key_versions) {
    putU32(out, entry.version);
    putU64(out, static_cast<uint64_t>(entry.created_unix_seconds));
    putU32(out, static_cast<uint32_t>(entry.slots.size()));
    for (const ProtectorSlot& slot : entry.slots) {
      putField(out, asBytes(slot.id));
      putField(out, asBytes(slot.type));
      putU32(out, static_cast<uint32_t>(slot.params.size()));
      for (const auto& [key, value] : slot.params) {
        putField(out, asBytes(key));
        putField(out, asBytes(value));
      }
      putField(out, slot.wrapped_key);
    }
    putField(out, entry.archived_key);
  }
  return out;
}

std::string readString(detail::Reader& r) {
  uint32_t size = r.u32();
  if (size > kMaxFieldBytes) r.fail();
  return std::string(asChars(r.take(size)));
}
Bytes readBytes(detail::Reader& r) {
  uint32_t size = r.u32();
  if (size > kMaxFieldBytes) r.fail();
  ByteSpan b = r.take(size);
  return Bytes(b.begin(), b.end());
}

Bytes archiveAad(const VolumeId& volume_id, uint32_t archived_version, uint32_t sealing_version) {
  Bytes aad;
  detail::putBytes(aad, kArchivedKeyAadLabel);
  aad.push_back(0);
  detail::putBytes(aad, volume_id);
  putU32(aad, archived_version);
  putU32(aad, sealing_version);
  return aad;
}

crypto::Sha256Digest macOf(const VolumeKeys& keys, ByteSpan body) {
  return crypto::hmacSha256(keys.descriptorMacKey().span(), body);
}

}  // namespace

Result<Bytes> encodeVolumeDescriptor(const VolumeDescriptor& d, const VolumeKeys& newest) {
  if (d.format_version != 1 || d.feature_flags != 0)
    return detail::invalid("this build writes descriptor format 1 without feature flags");
  if (auto problem = structureProblem(d)) return detail::invalid("volume descriptor: " + *problem);
  if (newest.version() != d.newest().version)
    return detail::invalid("the descriptor must be MACed with its newest key version " +
                           std::to_string(d.newest().version));
  Bytes out = encodeBody(d);
  crypto::Sha256Digest mac = macOf(newest, out);
  out.insert(out.end(), mac.begin(), mac.end());
  if (out.size() > kMaxDescriptorBytes) return detail::invalid("volume descriptor too large");
  return out;
}

Result<VolumeDescriptor> decodeVolumeDescriptor(ByteSpan encoded) {
  if (encoded.size() > kMaxDescriptorBytes) return detail::corrupt("volume descriptor too large");
  if (encoded.size() < kDescriptorMagic.size() + kDescriptorMacSize ||
      !std::equal(kDescriptorMagic.begin(), kDescriptorMagic.end(), encoded.begin()))
    return detail::corrupt("not an s3cryptfs volume descriptor (bad magic)");
  detail::Reader r(encoded.first(encoded.size() - kDescriptorMacSize));
  r.take(kDescriptorMagic.size());
  VolumeDescriptor d;
  d.format_version = r.u16();
  if (r.ok() && d.format_version != 1)
    return detail::unsupported("volume format version " + std::to_string(d.format_version) +
                               " is not supported (this build reads version 1)");
  d.feature_flags = r.u32();
  if (r.ok() && d.feature_flags != 0)
    return detail::unsupported("volume uses unknown feature flags " +
                               std::to_string(d.feature_flags) + "; refusing to open it");
  uint8_t cipher = r.u8();
  if (r.ok() && !knownCipher(cipher))
    return detail::unsupported("volume cipher id " + std::to_string(cipher) + " is not supported");
  d.cipher = static_cast<crypto::Cipher>(cipher);
  uint8_t name_mode = r.u8();
  if (r.ok() && name_mode > 1)
    return detail::unsupported("volume name mode " + std::to_string(name_mode) +
                               " is not supported");
  d.name_mode = static_cast<NameMode>(name_mode);
  d.chunk_size = r.u32();
  ByteSpan id = r.take(kVolumeIdSize);
  if (r.ok()) std::copy(id.begin(), id.end(), d.volume_id.begin());
  d.created_unix_seconds = static_cast<int64_t>(r.u64());
  d.name_key_version = r.u32();
  uint32_t versions = r.u32();
  for (uint32_t v = 0; r.ok() && v < versions; ++v) {
    KeyVersionEntry entry;
    entry.version = r.u32();
    entry.created_unix_seconds = static_cast<int64_t>(r.u64());
    uint32_t slots = r.u32();
    for (uint32_t s = 0; r.ok() && s < slots; ++s) {
      ProtectorSlot slot;
      slot.id = readString(r);
      slot.type = readString(r);
      uint32_t params = r.u32();
      for (uint32_t p = 0; r.ok() && p < params; ++p) {
        std::string key = readString(r);
        std::string value = readString(r);
        // Strictly ascending keys: one encoding per descriptor.
        if (!slot.params.empty() && key <= slot.params.rbegin()->first) r.fail();
        slot.params.emplace(std::move(key), std::move(value));
      }
      slot.wrapped_key = readBytes(r);
      entry.slots.push_back(std::move(slot));
    }
    entry.archived_key = readBytes(r);
    d.key_versions.push_back(std::move(entry));
  }
  if (!r.atEnd()) return detail::corrupt("volume descriptor is malformed");
  if (auto problem = structureProblem(d)) return detail::corrupt("volume descriptor: " + *problem);
  return d;
}

Status verifyVolumeDescriptor(ByteSpan encoded, const VolumeKeys& newest) {
  S3C_ASSIGN_OR_RETURN(VolumeDescriptor d, decodeVolumeDescriptor(encoded));
  if (d.newest().version != newest.version())
    return detail::invalid("descriptor's newest key version is " +
                           std::to_string(d.newest().version) + ", the key given is version " +
                           std::to_string(newest.version()));
  ByteSpan body = encoded.first(encoded.size() - kDescriptorMacSize);
  crypto::Sha256Digest mac = macOf(newest, body);
  if (!crypto::constantTimeEquals(mac, encoded.last(kDescriptorMacSize)))
    return detail::corrupt("volume descriptor MAC does not verify: it was edited or damaged");
  return ok();
}

Result<Bytes> sealArchivedKey(const VolumeKeys& newest, const VolumeId& volume_id,
                              crypto::Cipher cipher, uint32_t archived_version,
                              const SecureBuffer& archived_key, RandomSource& random) {
  if (archived_key.size() != kVolumeKeySize) return detail::invalid("volume key must be 32 bytes");
  if (archived_version >= newest.version())
    return detail::invalid("only an older key version can be archived");
  S3C_ASSIGN_OR_RETURN(crypto::Aead aead, crypto::Aead::create(cipher, newest.keyArchiveKey()));
  Bytes out(crypto::kAeadNonceSize + kVolumeKeySize + crypto::kAeadTagSize);
  MutableByteSpan span(out);
  S3C_RETURN_IF_ERROR(random.fill(span.first(crypto::kAeadNonceSize)));
  Bytes aad = archiveAad(volume_id, archived_version, newest.version());
  S3C_RETURN_IF_ERROR(aead.seal(span.first(crypto::kAeadNonceSize), aad, archived_key.span(),
                                span.subspan(crypto::kAeadNonceSize)));
  return out;
}

Result<SecureBuffer> openArchivedKey(const VolumeKeys& newest, const VolumeId& volume_id,
                                     crypto::Cipher cipher, uint32_t archived_version,
                                     ByteSpan sealed) {
  if (sealed.size() != crypto::kAeadNonceSize + kVolumeKeySize + crypto::kAeadTagSize)
    return detail::corrupt("archived key " + std::to_string(archived_version) +
                           " has the wrong size");
  S3C_ASSIGN_OR_RETURN(crypto::Aead aead, crypto::Aead::create(cipher, newest.keyArchiveKey()));
  SecureBuffer key(kVolumeKeySize);
  Bytes aad = archiveAad(volume_id, archived_version, newest.version());
  Status opened = aead.open(sealed.first(crypto::kAeadNonceSize), aad,
                            sealed.subspan(crypto::kAeadNonceSize), key.mutableSpan());
  if (!opened)
    return detail::corrupt("archived key version " + std::to_string(archived_version) +
                           " does not authenticate under key version " +
                           std::to_string(newest.version()));
  return key;
}

Result<KeyRing> unlockKeyRing(const VolumeDescriptor& d, const SecureBuffer& newest_key) {
  if (d.key_versions.empty()) return detail::invalid("descriptor has no key versions");
  S3C_ASSIGN_OR_RETURN(VolumeKeys newest, VolumeKeys::derive(d.newest().version, newest_key));
  KeyRing ring;
  for (const KeyVersionEntry& entry : d.key_versions) {
    if (entry.version == newest.version()) continue;
    S3C_ASSIGN_OR_RETURN(SecureBuffer key, openArchivedKey(newest, d.volume_id, d.cipher,
                                                           entry.version, entry.archived_key));
    S3C_ASSIGN_OR_RETURN(VolumeKeys keys, VolumeKeys::derive(entry.version, key));
    S3C_RETURN_IF_ERROR(ring.add(std::move(keys)));
  }
  S3C_RETURN_IF_ERROR(ring.add(std::move(newest)));
  return ring;
}

Result<VolumeDescriptor> addKeyVersion(const VolumeDescriptor& d, const KeyRing& ring,
                                       const SecureBuffer& new_key,
                                       std::vector<ProtectorSlot> new_slots,
                                       int64_t now_unix_seconds, RandomSource& random) {
  if (d.key_versions.empty()) return detail::invalid("descriptor has no key versions");
  if (new_slots.empty()) return detail::invalid("the new key version needs protector slots");
  uint32_t version = d.newest().version + 1;
  S3C_ASSIGN_OR_RETURN(VolumeKeys new_keys, VolumeKeys::derive(version, new_key));
  VolumeDescriptor out = d;
  for (KeyVersionEntry& entry : out.key_versions) {
    auto old = ring.find(entry.version);
    if (!old) return old.error();
    S3C_ASSIGN_OR_RETURN(entry.archived_key,
                         sealArchivedKey(new_keys, d.volume_id, d.cipher, entry.version,
                                         (*old)->volumeKey(), random));
    entry.slots.clear();
  }
  out.key_versions.push_back({version, now_unix_seconds, std::move(new_slots), {}});
  if (auto problem = structureProblem(out)) return detail::invalid("rotate: " + *problem);
  return out;
}

Status replaceSlot(VolumeDescriptor& d, ProtectorSlot replacement) {
  if (d.key_versions.empty()) return detail::invalid("descriptor has no key versions");
  for (ProtectorSlot& slot : d.key_versions.back().slots) {
    if (slot.id == replacement.id) {
      slot = std::move(replacement);
      return ok();
    }
  }
  return Error(ErrorKind::kNotFound, "no protector \"" + replacement.id + "\"");
}

Status addSlot(VolumeDescriptor& d, ProtectorSlot slot) {
  if (d.key_versions.empty()) return detail::invalid("descriptor has no key versions");
  auto& slots = d.key_versions.back().slots;
  for (const ProtectorSlot& existing : slots)
    if (existing.id == slot.id)
      return Error(ErrorKind::kAlreadyExists, "protector \"" + slot.id + "\" already exists");
  slots.push_back(std::move(slot));
  return ok();
}

Status removeSlot(VolumeDescriptor& d, std::string_view id) {
  if (d.key_versions.empty()) return detail::invalid("descriptor has no key versions");
  auto& slots = d.key_versions.back().slots;
  auto it =
      std::find_if(slots.begin(), slots.end(), [&](const ProtectorSlot& s) { return s.id == id; });
  if (it == slots.end())
    return Error(ErrorKind::kNotFound, "no protector \"" + std::string(id) + "\"");
  if (slots.size() == 1)
    return detail::invalid("refusing to remove the last protector: the volume would be lost");
  slots.erase(it);
  return ok();
}

}  // namespace s3cryptfs::format
