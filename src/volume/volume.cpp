#include "s3cryptfs/volume/volume.h"

#include <chrono>
#include <optional>
#include <utility>

#include "s3cryptfs/core/log.h"
#include "s3cryptfs/crypto/random.h"

#include "slot_wrapping.h"

namespace s3cryptfs::volume {

namespace {

class OpenedVolume final : public Volume {
 public:
  OpenedVolume(std::shared_ptr<store::ObjectStore> store, format::VolumeDescriptor descriptor,
               format::KeyRing ring, std::string descriptor_etag)
      : store_(std::move(store)),
        descriptor_(std::move(descriptor)),
        descriptor_etag_(std::move(descriptor_etag)),
        ring_(std::move(ring)),
        objects_(descriptor_, ring_, *store_) {}

  const format::VolumeDescriptor& descriptor() const override { return descriptor_; }
  const std::string& descriptorEtag() const override { return descriptor_etag_; }
  store::ObjectStore& store() const override { return *store_; }
  std::shared_ptr<store::ObjectStore> sharedStore() const override { return store_; }
  const format::KeyRing& keyRing() const override { return ring_; }
  const VolumeObjects& objects() const override { return objects_; }

 private:
  std::shared_ptr<store::ObjectStore> store_;
  format::VolumeDescriptor descriptor_;
  std::string descriptor_etag_;
  format::KeyRing ring_;  // declared before objects_, which keeps a reference to it
  VolumeObjects objects_;
};

using detail::contextFor;

int64_t nowUnixSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string noVolumeMessage(const store::ObjectStore& store) {
  return "no s3cryptfs volume at " + store.describe();
}

}  // namespace

Result<std::shared_ptr<Volume>> Volume::create(std::shared_ptr<store::ObjectStore> store,
                                               std::span<const NamedProtector> protectors,
                                               const CreateOptions& options) {
  if (protectors.empty()) {
    return Error(ErrorKind::kInvalidArgument, "a volume needs at least one key protector");
  }
  if (!format::isValidChunkSize(options.chunk_size)) {
    return Error(ErrorKind::kInvalidArgument, "chunk size " + std::to_string(options.chunk_size) +
                                                  " is not a power of two between 4 KiB and 4 MiB");
  }
  const std::string descriptor_key = format::volumeDescriptorKey("");
  // Refuse before asking any protector (a KMS call, a PIN prompt) when a volume is already there.
  auto existing = store->head(descriptor_key);
  if (existing) {
    return Error(ErrorKind::kAlreadyExists,
                 "an s3cryptfs volume already exists at " + store->describe());
  }
  if (existing.error().kind() != ErrorKind::kNotFound) return existing.error();

  S3C_ASSIGN_OR_RETURN(SecureBuffer volume_key, crypto::randomKey(format::kVolumeKeySize));
  format::VolumeDescriptor descriptor;
  descriptor.cipher = options.cipher;
  descriptor.chunk_size = options.chunk_size;
  descriptor.name_mode = options.name_mode;
  S3C_RETURN_IF_ERROR(crypto::fillRandom(descriptor.volume_id));
  descriptor.created_unix_seconds = nowUnixSeconds();
  descriptor.name_key_version = 1;
  format::KeyVersionEntry entry;
  entry.version = 1;
  entry.created_unix_seconds = descriptor.created_unix_seconds;
  S3C_ASSIGN_OR_RETURN(entry.slots, detail::wrapIntoSlots(descriptor, protectors, volume_key, 1));
  descriptor.key_versions.push_back(std::move(entry));

  S3C_ASSIGN_OR_RETURN(format::VolumeKeys keys, format::VolumeKeys::derive(1, volume_key));
  S3C_ASSIGN_OR_RETURN(Bytes encoded, format::encodeVolumeDescriptor(descriptor, keys));
  store::PutOptions put_options;
  // Where the server honours If-None-Match, two concurrent inits cannot both win; elsewhere
  // the HEAD above is the best we can do (documented in docs/STORES.md).
  put_options.condition.if_none_match = store->capabilities().conditional_put_if_none_match;
  auto written = store->put(descriptor_key, encoded, put_options);
  if (!written) {
    if (written.error().kind() == ErrorKind::kPreconditionFailed) {
      return Error(ErrorKind::kAlreadyExists,
                   "an s3cryptfs volume already exists at " + store->describe());
    }
    return written.error().withContext("writing the volume descriptor");
  }
  format::KeyRing ring;
  S3C_RETURN_IF_ERROR(ring.add(std::move(keys)));
  log::info("created volume {} at {}", toHex(descriptor.volume_id), store->describe());
  return std::shared_ptr<Volume>(std::make_shared<OpenedVolume>(
      std::move(store), std::move(descriptor), std::move(ring), written->etag));
}

Result<format::VolumeDescriptor> Volume::peekDescriptor(store::ObjectStore& store) {
  auto fetched = store.get(format::volumeDescriptorKey(""), std::nullopt);
  if (!fetched) {
    if (fetched.error().kind() == ErrorKind::kNotFound) {
      return Error(ErrorKind::kNotFound, noVolumeMessage(store));
    }
    return fetched.error().withContext("reading the volume descriptor");
  }
  auto decoded = format::decodeVolumeDescriptor(fetched->body);
  if (!decoded) return decoded.error().withContext("volume descriptor at " + store.describe());
  return decoded;
}

Result<std::shared_ptr<Volume>> Volume::open(std::shared_ptr<store::ObjectStore> store,
                                             std::span<const NamedProtector> candidates) {
  auto fetched = store->get(format::volumeDescriptorKey(""), std::nullopt);
  if (!fetched) {
    if (fetched.error().kind() == ErrorKind::kNotFound) {
      return Error(ErrorKind::kNotFound, noVolumeMessage(*store));
    }
    return fetched.error().withContext("reading the volume descriptor");
  }
  const Bytes& encoded = fetched->body;
  auto decoded = format::decodeVolumeDescriptor(encoded);
  if (!decoded) return decoded.error().withContext("volume descriptor at " + store->describe());
  format::VolumeDescriptor descriptor = std::move(decoded).value();
  const format::KeyVersionEntry& newest = descriptor.newest();

  std::string clauses;
  // The kind every failure had (kPermissionDenied when they differ or none was tried), so the
  // caller can tell "wrong key" from "key service unreachable" and "secret unreadable".
  std::optional<ErrorKind> common_kind;
  auto noteKind = [&common_kind](ErrorKind kind) {
    if (!common_kind) {
      common_kind = kind;
    } else if (*common_kind != kind) {
      common_kind = ErrorKind::kPermissionDenied;
    }
  };
  for (const NamedProtector& candidate : candidates) {
    if (candidate.protector == nullptr) continue;
    const std::string type = candidate.protector->type();
    bool tried = false;
    for (const format::ProtectorSlot& slot : newest.slots) {
      bool wanted = candidate.slot_id.empty() ? slot.type == type : slot.id == candidate.slot_id;
      if (!wanted || slot.type != type) continue;
      tried = true;
      keys::WrappedKey wrapped{slot.type, slot.params, slot.wrapped_key};
      auto key = candidate.protector->unwrap(wrapped, contextFor(descriptor, newest.version));
      if (!key) {
        if (!clauses.empty()) clauses += "; ";
        clauses += "slot '" + slot.id + "': " + key.error().message();
        noteKind(key.error().kind());
        if (key.error().kind() != ErrorKind::kPermissionDenied) {
          // A KMS that cannot be reached is not a wrong key: say so rather than "denied".
          log::warn("volume slot '{}' ({}): {}", slot.id, slot.type, key.error().describe());
        }
        continue;
      }
      S3C_ASSIGN_OR_RETURN(format::VolumeKeys keys,
                           format::VolumeKeys::derive(newest.version, *key));
      if (auto verified = format::verifyVolumeDescriptor(encoded, keys); !verified) {
        return Error(ErrorKind::kCorrupt, "the volume descriptor at " + store->describe() +
                                              " fails its MAC: it was modified or damaged");
      }
      S3C_ASSIGN_OR_RETURN(format::KeyRing ring, format::unlockKeyRing(descriptor, *key));
      log::info("opened volume {} at {} with slot '{}'", toHex(descriptor.volume_id),
                store->describe(), slot.id);
      return std::shared_ptr<Volume>(std::make_shared<OpenedVolume>(
          std::move(store), std::move(descriptor), std::move(ring), fetched->info.etag));
    }
    if (!tried) {
      if (!clauses.empty()) clauses += "; ";
      clauses += candidate.slot_id.empty()
                     ? "the volume has no " + type + " slot"
                     : "the volume has no " + type + " slot named '" + candidate.slot_id + "'";
      noteKind(ErrorKind::kPermissionDenied);
    }
  }
  if (clauses.empty()) clauses = "no key protector was given";
  Error failed(common_kind.value_or(ErrorKind::kPermissionDenied),
               "nothing offered unlocks the volume at " + store->describe() + ": " + clauses);
  failed.setService(std::string(kUnlockFailedCode), 0);
  return failed;
}

}  // namespace s3cryptfs::volume
