#include "s3cryptfs/volume/volume_objects.h"

#include <utility>

#include "s3cryptfs/crypto/random.h"

namespace s3cryptfs::volume {

namespace {

format::NameCodec codecFor(const format::VolumeDescriptor& descriptor,
                           const format::KeyRing& ring) {
  if (descriptor.name_mode == format::NameMode::kPlaintext) return format::NameCodec::plaintext();
  auto keys = ring.find(descriptor.name_key_version);
  // unlockKeyRing holds every version of the descriptor, name_key_version included (the
  // descriptor rules require it), so this cannot fail for an opened volume.
  if (!keys) std::abort();
  return format::NameCodec::encrypted(**keys);
}

format::ChunkLayout layoutFor(const format::VolumeDescriptor& descriptor) {
  auto layout = format::ChunkLayout::create(descriptor.chunk_size);
  if (!layout) std::abort();  // the descriptor decoder refuses invalid chunk sizes
  return *layout;
}

}  // namespace

VolumeObjects::VolumeObjects(const format::VolumeDescriptor& descriptor,
                             const format::KeyRing& ring, store::ObjectStore& store)
    : cipher_(descriptor.cipher),
      layout_(layoutFor(descriptor)),
      ring_(ring),
      names_(codecFor(descriptor, ring)),
      store_(store) {}

Result<std::string> VolumeObjects::objectKey(std::string_view path) const {
  return names_.objectKey("", path);
}

Result<std::string> VolumeObjects::listingPrefix(std::string_view dir_path) const {
  return names_.directoryPrefix("", dir_path);
}

Result<std::string> VolumeObjects::directoryMarkerKey(std::string_view dir_path) const {
  return names_.directoryMarkerKey("", dir_path);
}

Result<std::string> VolumeObjects::decodeChildName(std::string_view dir_path,
                                                   std::string_view listed) const {
  S3C_ASSIGN_OR_RETURN(std::string prefix, listingPrefix(dir_path));
  if (listed.substr(0, prefix.size()) != prefix) {
    return Error(ErrorKind::kCorrupt, "key is outside the listed directory");
  }
  std::string_view child = listed.substr(prefix.size());
  if (!child.empty() && child.back() == '/') child.remove_suffix(1);
  if (child.empty() || child.find('/') != std::string_view::npos) {
    return Error(ErrorKind::kCorrupt, "not a child name");
  }
  if (format::isReservedName(child)) return Error(ErrorKind::kNotFound, "reserved name");
  return names_.decodeName(dir_path, child);
}

Result<std::string> VolumeObjects::pathOfKey(std::string_view key) const {
  std::string path;
  while (!key.empty()) {
    auto slash = key.find('/');
    std::string_view component = key.substr(0, slash);
    S3C_ASSIGN_OR_RETURN(std::string name, names_.decodeName(path.empty() ? "/" : path, component));
    path += "/" + name;
    key = slash == std::string_view::npos ? std::string_view() : key.substr(slash + 1);
  }
  if (path.empty()) return Error(ErrorKind::kCorrupt, "empty object key");
  return path;
}

Result<store::Metadata> VolumeObjects::sealToMetadata(std::string_view key,
                                                      const format::Attributes& attributes) const {
  const format::VolumeKeys* newest = ring_.newest();
  S3C_ASSIGN_OR_RETURN(std::string text,
                       format::sealAttributesText(*newest, cipher_, key, attributes));
  if (format::fitsInMetadata(text)) {
    store::Metadata metadata;
    metadata[std::string(format::kAttributeMetadataName)] = std::move(text);
    return metadata;
  }
  S3C_ASSIGN_OR_RETURN(std::string tag, newSidecarTag());
  S3C_RETURN_IF_ERROR(writeSidecar(key, tag, attributes));
  return sidecarMetadata(tag);
}

Result<std::string> VolumeObjects::newSidecarTag() {
  S3C_ASSIGN_OR_RETURN(Bytes random, crypto::randomBytes(format::kSidecarTagChars / 2));
  return toHex(random);
}

store::Metadata VolumeObjects::sidecarMetadata(std::string_view tag) {
  store::Metadata metadata;
  metadata[std::string(format::kAttributeMetadataName)] =
      std::string(format::kSidecarTagPrefix) + std::string(tag);
  return metadata;
}

Status VolumeObjects::writeSidecar(std::string_view key, std::string_view tag,
                                   const format::Attributes& attributes) const {
  S3C_ASSIGN_OR_RETURN(Bytes sealed,
                       format::sealAttributes(*ring_.newest(), cipher_, key, attributes));
  S3C_RETURN_IF_ERROR(store_.put(sidecarKey(key, tag), sealed, store::PutOptions{}));
  return ok();
}

Result<format::Attributes> VolumeObjects::openFromMetadata(std::string_view key,
                                                           const store::Metadata& metadata) const {
  auto entry = metadata.find(std::string(format::kAttributeMetadataName));
  if (entry == metadata.end()) {
    return Error(ErrorKind::kNotFound, "object has no s3cryptfs attribute block");
  }
  std::optional<std::string> tag = format::sidecarTagOf(entry->second);
  if (!tag) return format::openAttributesText(ring_, key, entry->second);
  auto sidecar = store_.get(sidecarKey(key, *tag), std::nullopt);
  if (!sidecar) {
    if (sidecar.error().kind() == ErrorKind::kNotFound) {
      return Error(ErrorKind::kCorrupt, "the attribute sidecar of the object is missing");
    }
    return sidecar.error();
  }
  return format::openAttributes(ring_, key, sidecar->body);
}

bool VolumeObjects::usesSidecar(const store::Metadata& metadata) {
  auto entry = metadata.find(std::string(format::kAttributeMetadataName));
  return entry != metadata.end() && format::sidecarTagOf(entry->second).has_value();
}

std::string VolumeObjects::sidecarKeyOf(std::string_view key,
                                        const store::Metadata& metadata) const {
  auto entry = metadata.find(std::string(format::kAttributeMetadataName));
  if (entry == metadata.end()) return {};
  std::optional<std::string> tag = format::sidecarTagOf(entry->second);
  return tag ? sidecarKey(key, *tag) : std::string();
}

std::string VolumeObjects::sidecarKey(std::string_view key, std::string_view tag) const {
  return tag.empty() ? format::attributeSidecarKey("", key)
                     : format::attributeSidecarKey("", key, tag);
}

Result<format::FileCipher> VolumeObjects::newFileCipher() const {
  return format::FileCipher::createNew(*ring_.newest(), cipher_, layout_);
}

Result<format::FileCipher> VolumeObjects::newFileCipher(const format::FileId& file_id) const {
  return format::FileCipher::createWithFileId(*ring_.newest(), cipher_, layout_, file_id);
}

Result<format::FileCipher> VolumeObjects::cipherForHeader(ByteSpan header) const {
  return format::FileCipher::open(ring_, header);
}

}  // namespace s3cryptfs::volume
