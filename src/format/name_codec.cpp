#include "s3cryptfs/format/name_codec.h"

#include <array>
#include <string>

#include "s3cryptfs/crypto/hash.h"
#include "s3cryptfs/crypto/siv.h"

#include "format_support.h"

namespace s3cryptfs::format {
namespace {

constexpr char kBase64Url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr size_t kNamePadBlock = 16;
constexpr uint8_t kNotBase64Url = 0xff;
constexpr std::array<uint8_t, 256> kBase64UrlValues = [] {
  std::array<uint8_t, 256> table{};
  table.fill(kNotBase64Url);
  for (uint8_t i = 0; i < 64; ++i)
    table[static_cast<uint8_t>(kBase64Url[i])] = i;
  return table;
}();

std::string base64UrlEncode(ByteSpan bytes) {
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  uint32_t acc = 0;
  int bits = 0;
  for (uint8_t b : bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kBase64Url[(acc >> bits) & 63]);
    }
  }
  if (bits > 0) out.push_back(kBase64Url[(acc << (6 - bits)) & 63]);
  return out;
}

// Canonical only: no padding, no stray bits in the last character. Otherwise two keys would
// decode to the same name and a directory would list it twice.
bool base64UrlDecode(std::string_view text, Bytes& out) {
  if (text.size() % 4 == 1) return false;
  out.clear();
  out.reserve(text.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    uint8_t v = kBase64UrlValues[static_cast<uint8_t>(c)];
    if (v == kNotBase64Url) return false;
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<uint8_t>(acc >> bits));
    }
  }
  return (acc & ((1u << bits) - 1)) == 0;
}

Status checkComponent(std::string_view name) {
  if (name.empty() || name == "." || name == "..")
    return detail::invalid("\"" + std::string(name) + "\" is not a valid file name");
  if (name.find('/') != std::string_view::npos || name.find('\0') != std::string_view::npos)
    return detail::invalid("a file name must not contain '/' or NUL");
  if (name.size() > kMaxNameBytes)
    return Error(ErrorKind::kNameTooLong, "file name of " + std::to_string(name.size()) +
                                              " bytes exceeds " + std::to_string(kMaxNameBytes));
  return ok();
}

Status checkPrefix(std::string_view prefix) {
  if (!prefix.empty() && prefix.back() != '/')
    return detail::invalid("volume prefix must be empty or end with '/'");
  return ok();
}

}  // namespace

bool isReservedName(std::string_view component) {
  return component.substr(0, kReservedPrefix.size()) == kReservedPrefix;
}

Status checkObjectKeyLength(std::string_view key) {
  if (key.size() > kMaxObjectKeyBytes)
    return Error(ErrorKind::kNameTooLong, "object key of " + std::to_string(key.size()) +
                                              " bytes exceeds the store's limit of 1024");
  return ok();
}

std::string volumeDescriptorKey(std::string_view prefix) {
  return std::string(prefix) + std::string(kVolumeDescriptorName);
}

std::string attributeSidecarKey(std::string_view prefix, std::string_view relative_key) {
  // Keyed by a hash so the sidecar key has a fixed length whatever the owner's key is.
  crypto::Sha256Digest digest = crypto::sha256(asBytes(relative_key));
  return std::string(prefix) + std::string(kSidecarFolderName) + "/" + toHex(digest);
}

std::string attributeSidecarKey(std::string_view prefix, std::string_view relative_key,
                                std::string_view tag) {
  return attributeSidecarKey(prefix, relative_key) + "." + std::string(tag);
}

Result<std::vector<std::string_view>> splitPath(std::string_view path) {
  if (path.empty() || path.front() != '/')
    return detail::invalid("path \"" + std::string(path) + "\" is not absolute");
  std::vector<std::string_view> parts;
  if (path == "/") return parts;
  size_t pos = 1;
  while (true) {
    size_t slash = path.find('/', pos);
    std::string_view part = path.substr(pos, slash == std::string_view::npos ? slash : slash - pos);
    if (part.empty() || part == "." || part == "..")
      return detail::invalid("path \"" + std::string(path) + "\" is not canonical");
    parts.push_back(part);
    if (slash == std::string_view::npos) break;
    pos = slash + 1;
  }
  return parts;
}

NameCodec NameCodec::encrypted(const VolumeKeys& keys) {
  return NameCodec(NameMode::kEncrypted, keys.nameKey().clone());
}

NameCodec NameCodec::plaintext() {
  return NameCodec(NameMode::kPlaintext, SecureBuffer());
}

Result<std::string> NameCodec::encodeName(std::string_view parent_path,
                                          std::string_view name) const {
  S3C_RETURN_IF_ERROR(splitPath(parent_path));
  S3C_RETURN_IF_ERROR(checkComponent(name));
  if (mode_ == NameMode::kPlaintext) {
    if (isReservedName(name))
      return detail::invalid("names starting with \".s3cryptfs\" are reserved");
    return std::string(name);
  }
  // Pad to a multiple of 16 (0x80 then zeros) so the key reveals the length only to within 16.
  size_t padded = (name.size() / kNamePadBlock + 1) * kNamePadBlock;
  Bytes plain(padded, 0);
  std::copy(name.begin(), name.end(), plain.begin());
  plain[name.size()] = 0x80;
  S3C_ASSIGN_OR_RETURN(
      Bytes sealed,
      crypto::sivSeal(key_, {asBytes(kNameDomainLabel), asBytes(parent_path)}, plain));
  return base64UrlEncode(sealed);
}

Result<std::string> NameCodec::decodeName(std::string_view parent_path,
                                          std::string_view encoded) const {
  S3C_RETURN_IF_ERROR(splitPath(parent_path));
  if (mode_ == NameMode::kPlaintext) {
    if (isReservedName(encoded)) return detail::corrupt("reserved name, not a file");
    Status valid = checkComponent(encoded);
    if (!valid) return detail::corrupt("not a valid file name: " + valid.error().message());
    return std::string(encoded);
  }
  Bytes sealed;
  if (!base64UrlDecode(encoded, sealed))
    return detail::corrupt("name is not canonical base64url: not written by this volume");
  if (sealed.size() < crypto::kSivTagSize + kNamePadBlock ||
      (sealed.size() - crypto::kSivTagSize) % kNamePadBlock != 0)
    return detail::corrupt("name has an impossible length: not written by this volume");
  auto opened = crypto::sivOpen(key_, {asBytes(kNameDomainLabel), asBytes(parent_path)}, sealed);
  if (!opened)
    return detail::corrupt(
        "name does not authenticate under this directory: foreign, damaged "
        "or moved from another directory");
  Bytes& plain = *opened;
  size_t end = plain.size();
  while (end > 0 && plain[end - 1] == 0)
    --end;
  if (end == 0 || plain[end - 1] != 0x80 || plain.size() - end >= kNamePadBlock)
    return detail::corrupt("name has invalid padding");
  std::string name(plain.begin(), plain.begin() + static_cast<std::ptrdiff_t>(end - 1));
  Status valid = checkComponent(name);
  if (!valid) return detail::corrupt("decrypted name is invalid: " + valid.error().message());
  return name;
}

Result<std::string> NameCodec::objectKey(std::string_view prefix, std::string_view path) const {
  S3C_RETURN_IF_ERROR(checkPrefix(prefix));
  S3C_ASSIGN_OR_RETURN(std::vector<std::string_view> parts, splitPath(path));
  if (parts.empty()) return detail::invalid("the root directory has no object key");
  std::string key(prefix);
  std::string parent = "/";
  for (size_t i = 0; i < parts.size(); ++i) {
    S3C_ASSIGN_OR_RETURN(std::string encoded, encodeName(parent, parts[i]));
    if (i > 0) key.push_back('/');
    key += encoded;
    // Stop early: a deep path can be far over the limit.
    S3C_RETURN_IF_ERROR(checkObjectKeyLength(key));
    if (parent.size() > 1) parent.push_back('/');
    parent.append(parts[i]);
  }
  return key;
}

Result<std::string> NameCodec::directoryPrefix(std::string_view prefix,
                                               std::string_view dir_path) const {
  S3C_RETURN_IF_ERROR(checkPrefix(prefix));
  if (dir_path == "/") return std::string(prefix);
  S3C_ASSIGN_OR_RETURN(std::string key, objectKey(prefix, dir_path));
  key.push_back('/');
  S3C_RETURN_IF_ERROR(checkObjectKeyLength(key));
  return key;
}

Result<std::string> NameCodec::directoryMarkerKey(std::string_view prefix,
                                                  std::string_view dir_path) const {
  S3C_ASSIGN_OR_RETURN(std::string key, directoryPrefix(prefix, dir_path));
  key += kDirectoryMarkerName;
  S3C_RETURN_IF_ERROR(checkObjectKeyLength(key));
  return key;
}

}  // namespace s3cryptfs::format
