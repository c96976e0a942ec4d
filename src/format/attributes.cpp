#include "s3cryptfs/format/attributes.h"

#include <string>

#include "s3cryptfs/crypto/kdf.h"

#include "format_support.h"

namespace s3cryptfs::format {
namespace {

constexpr uint8_t kAttributeLayoutVersion = 1;
constexpr uint8_t kSealedBlockVersion = 1;
constexpr size_t kSaltSize = 16;
constexpr size_t kSealedPrefixSize = 1 + 1 + 4 + kSaltSize;  // version, cipher, key version, salt

uint64_t zigzag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
int64_t unzigzag(uint64_t v) {
  return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1);
}

Status validate(const Attributes& a) {
  if (a.kind != NodeKind::kFile && a.kind != NodeKind::kDirectory && a.kind != NodeKind::kSymlink)
    return detail::invalid("unknown node kind " + std::to_string(static_cast<int>(a.kind)));
  if (a.kind == NodeKind::kDirectory && a.content_key_version != 0)
    return detail::invalid("a directory has no content key version");
  if (a.kind != NodeKind::kDirectory && a.content_key_version == 0)
    return detail::invalid("a file or symlink needs its content key version");
  if (a.kind != NodeKind::kSymlink && !a.symlink_target.empty())
    return detail::invalid("only a symlink has a target");
  if (a.kind == NodeKind::kSymlink && a.symlink_target.empty())
    return detail::invalid("a symlink needs a target");
  if (a.symlink_target.size() > kMaxSymlinkTargetBytes)
    return Error(ErrorKind::kNameTooLong, "symlink target longer than 4095 bytes");
  for (const auto& [name, value] : a.xattrs) {
    if (name.empty() || name.size() > kMaxXattrNameBytes)
      return Error(ErrorKind::kNameTooLong, "xattr name must be 1..255 bytes");
    if (value.size() > kMaxXattrValueBytes)
      return detail::invalid("xattr value longer than 64 KiB");
  }
  return ok();
}

Bytes sealedAad(ByteSpan prefix, std::string_view relative_key) {
  Bytes aad;
  aad.reserve(kAttributeAadLabel.size() + 1 + prefix.size() + relative_key.size());
  detail::putBytes(aad, kAttributeAadLabel);
  aad.push_back(0);
  detail::putBytes(aad, prefix);
  detail::putBytes(aad, relative_key);
  return aad;
}

Result<crypto::Aead> blockAead(const VolumeKeys& keys, crypto::Cipher cipher, ByteSpan salt) {
  // One key per block (random salt), so the nonce can be fixed: the metadata key may seal far
  // more blocks than random 96-bit nonces allow under a single key.
  S3C_ASSIGN_OR_RETURN(SecureBuffer key,
                       crypto::hkdfSha256(keys.metadataKey(), salt,
                                          asBytes(kAttributeBlockKeyLabel), crypto::kAeadKeySize));
  return crypto::Aead::create(cipher, key);
}

constexpr std::array<uint8_t, crypto::kAeadNonceSize> kZeroNonce{};

}  // namespace

Result<Bytes> encodeAttributes(const Attributes& a) {
  S3C_RETURN_IF_ERROR(validate(a));
  Bytes out;
  out.push_back(kAttributeLayoutVersion);
  out.push_back(static_cast<uint8_t>(a.kind));
  detail::putVarint(out, a.mode);
  detail::putVarint(out, a.uid);
  detail::putVarint(out, a.gid);
  detail::putVarint(out, zigzag(a.atime_ns));
  detail::putVarint(out, zigzag(a.mtime_ns));
  detail::putVarint(out, zigzag(a.ctime_ns));
  detail::putVarint(out, a.size);
  detail::putVarint(out, a.content_key_version);
  detail::putBytes(out, a.file_id);
  detail::putVarint(out, a.symlink_target.size());
  detail::putBytes(out, a.symlink_target);
  detail::putVarint(out, a.xattrs.size());
  for (const auto& [name, value] : a.xattrs) {
    detail::putVarint(out, name.size());
    detail::putBytes(out, name);
    detail::putVarint(out, value.size());
    detail::putBytes(out, value);
  }
  return out;
}

Result<Attributes> decodeAttributes(ByteSpan bytes) {
  detail::Reader r(bytes);
  uint8_t version = r.u8();
  if (r.ok() && version != kAttributeLayoutVersion)
    return detail::unsupported("attribute layout version " + std::to_string(version));
  Attributes a;
  a.kind = static_cast<NodeKind>(r.u8());
  auto u32 = [&r]() {
    uint64_t v = r.varint();
    if (v > UINT32_MAX) r.fail();
    return static_cast<uint32_t>(v);
  };
  a.mode = u32();
  a.uid = u32();
  a.gid = u32();
  a.atime_ns = unzigzag(r.varint());
  a.mtime_ns = unzigzag(r.varint());
  a.ctime_ns = unzigzag(r.varint());
  a.size = r.varint();
  a.content_key_version = u32();
  ByteSpan id = r.take(kFileIdSize);
  if (r.ok()) std::copy(id.begin(), id.end(), a.file_id.begin());
  uint64_t target_size = r.varint();
  if (target_size > kMaxSymlinkTargetBytes) r.fail();
  a.symlink_target = std::string(asChars(r.take(target_size)));
  uint64_t count = r.varint();
  for (uint64_t i = 0; r.ok() && i < count; ++i) {
    uint64_t name_size = r.varint();
    if (name_size > kMaxXattrNameBytes) r.fail();
    std::string name(asChars(r.take(name_size)));
    uint64_t value_size = r.varint();
    if (value_size > kMaxXattrValueBytes) r.fail();
    ByteSpan value = r.take(value_size);
    // Strictly ascending names: one encoding per attribute set.
    if (!r.ok() || (!a.xattrs.empty() && name <= a.xattrs.rbegin()->first)) {
      r.fail();
      break;
    }
    a.xattrs.emplace(std::move(name), Bytes(value.begin(), value.end()));
  }
  if (!r.atEnd()) return detail::corrupt("attribute block is malformed");
  Status valid = validate(a);
  if (!valid) return detail::corrupt("attribute block is invalid: " + valid.error().message());
  return a;
}

Result<Bytes> sealAttributes(const VolumeKeys& keys, crypto::Cipher cipher,
                             std::string_view relative_key, const Attributes& attributes,
                             RandomSource& random) {
  S3C_ASSIGN_OR_RETURN(Bytes plain, encodeAttributes(attributes));
  Bytes out;
  out.reserve(kSealedPrefixSize + plain.size() + crypto::kAeadTagSize);
  out.push_back(kSealedBlockVersion);
  out.push_back(static_cast<uint8_t>(cipher));
  putU32(out, keys.version());
  out.resize(kSealedPrefixSize);
  S3C_RETURN_IF_ERROR(random.fill(MutableByteSpan(out).subspan(6, kSaltSize)));
  S3C_ASSIGN_OR_RETURN(crypto::Aead aead, blockAead(keys, cipher, ByteSpan(out).subspan(6)));
  Bytes aad = sealedAad(out, relative_key);
  out.resize(kSealedPrefixSize + plain.size() + crypto::kAeadTagSize);
  S3C_RETURN_IF_ERROR(
      aead.seal(kZeroNonce, aad, plain, MutableByteSpan(out).subspan(kSealedPrefixSize)));
  secureZero(plain.data(), plain.size());
  return out;
}

Result<Attributes> openAttributes(const KeyRing& keys, std::string_view relative_key,
                                  ByteSpan sealed) {
  if (sealed.size() < kSealedPrefixSize + crypto::kAeadTagSize)
    return detail::corrupt("attribute block is truncated");
  if (sealed[0] != kSealedBlockVersion)
    return detail::unsupported("attribute block version " + std::to_string(sealed[0]));
  uint8_t cipher_id = sealed[1];
  if (cipher_id != static_cast<uint8_t>(crypto::Cipher::kAes256Gcm) &&
      cipher_id != static_cast<uint8_t>(crypto::Cipher::kChaCha20Poly1305))
    return detail::unsupported("attribute block cipher id " + std::to_string(cipher_id));
  uint32_t version = getU32(sealed.data() + 2);
  auto found = keys.find(version);
  if (!found)
    return detail::corrupt("attribute block names volume key version " + std::to_string(version) +
                           ", which the volume does not have");
  S3C_ASSIGN_OR_RETURN(crypto::Aead aead, blockAead(**found, static_cast<crypto::Cipher>(cipher_id),
                                                    sealed.subspan(6, kSaltSize)));
  Bytes aad = sealedAad(sealed.first(kSealedPrefixSize), relative_key);
  ByteSpan body = sealed.subspan(kSealedPrefixSize);
  Bytes plain(body.size() - crypto::kAeadTagSize);
  Status opened = aead.open(kZeroNonce, aad, body, plain);
  if (!opened)
    return detail::corrupt(
        "attribute block does not authenticate: damaged, or copied from another object key");
  auto decoded = decodeAttributes(plain);
  secureZero(plain.data(), plain.size());
  return decoded;
}

Result<std::string> sealAttributesText(const VolumeKeys& keys, crypto::Cipher cipher,
                                       std::string_view relative_key, const Attributes& attributes,
                                       RandomSource& random) {
  S3C_ASSIGN_OR_RETURN(Bytes sealed,
                       sealAttributes(keys, cipher, relative_key, attributes, random));
  return toBase64(sealed);
}

Result<Attributes> openAttributesText(const KeyRing& keys, std::string_view relative_key,
                                      std::string_view text) {
  Bytes sealed;
  if (!fromBase64(text, sealed)) return detail::corrupt("attribute block is not valid base64");
  return openAttributes(keys, relative_key, sealed);
}

Status checkContentBinding(const Attributes& attributes, const ObjectHeader& header,
                           uint64_t object_cipher_size) {
  if (attributes.kind == NodeKind::kDirectory)
    return detail::corrupt("attributes describe a directory, not content");
  if (attributes.file_id != header.file_id)
    return detail::corrupt("attributes belong to another file id than the content header");
  if (attributes.content_key_version != header.key_version)
    return detail::corrupt("attributes name key version " +
                           std::to_string(attributes.content_key_version) + ", content header " +
                           std::to_string(header.key_version));
  ChunkLayout layout = ChunkLayout::createForTesting(header.chunk_size);
  S3C_ASSIGN_OR_RETURN(uint64_t plain, layout.plainSize(object_cipher_size));
  if (plain != attributes.size)
    return detail::corrupt("content is " + std::to_string(plain) + " bytes, attributes say " +
                           std::to_string(attributes.size));
  return ok();
}

std::optional<std::string> sidecarTagOf(std::string_view metadata_value) {
  if (metadata_value == kSidecarMarker) return std::string();
  if (!metadata_value.starts_with(kSidecarTagPrefix)) return std::nullopt;
  std::string_view tag = metadata_value.substr(kSidecarTagPrefix.size());
  if (tag.size() != kSidecarTagChars) return std::nullopt;
  for (char c : tag) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return std::nullopt;
  }
  return std::string(tag);
}

}  // namespace s3cryptfs::format
