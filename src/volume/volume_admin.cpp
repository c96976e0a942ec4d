#include "s3cryptfs/volume/volume_admin.h"

#include <chrono>

#include "s3cryptfs/core/log.h"
#include "s3cryptfs/crypto/random.h"

#include "slot_wrapping.h"

namespace s3cryptfs::volume {
namespace {

using detail::contextFor;

const format::VolumeKeys& newestKeys(const Volume& volume) {
  return *volume.keyRing().newest();  // an opened volume always has its newest key
}

Error changedUnderneath(const Volume& volume) {
  return Error(ErrorKind::kPreconditionFailed,
               "the volume descriptor at " + volume.store().describe() +
                   " was changed by someone else since it was read; nothing was written: run "
                   "the command again");
}

// Encodes `changed` under `keys` and writes it where the descriptor still is the one the
// volume was opened from.
Status commit(const Volume& volume, const format::VolumeDescriptor& changed,
              const format::VolumeKeys& keys) {
  S3C_ASSIGN_OR_RETURN(Bytes encoded, format::encodeVolumeDescriptor(changed, keys));
  store::ObjectStore& store = volume.store();
  const std::string key = format::volumeDescriptorKey("");
  store::PutOptions options;
  if (store.capabilities().conditional_put_if_match) {
    options.condition.if_match = volume.descriptorEtag();
  } else {
    // Best effort where the server ignores If-Match: a HEAD just before the write narrows the
    // window to the two requests (docs/STORES.md lists such servers).
    auto current = store.head(key);
    if (!current) return current.error().withContext("reading the volume descriptor");
    if (current->etag != volume.descriptorEtag()) return changedUnderneath(volume);
    log::warn("{} has no conditional writes: the descriptor change is checked by HEAD only",
              store.describe());
  }
  auto written = store.put(key, encoded, options);
  if (!written) {
    if (written.error().kind() == ErrorKind::kPreconditionFailed) return changedUnderneath(volume);
    return written.error().withContext("writing the volume descriptor");
  }
  return ok();
}

const format::ProtectorSlot* findSlot(const format::VolumeDescriptor& descriptor,
                                      std::string_view id) {
  for (const format::ProtectorSlot& slot : descriptor.newest().slots) {
    if (slot.id == id) return &slot;
  }
  return nullptr;
}

}  // namespace

Status addProtector(const Volume& volume, const NamedProtector& named) {
  format::VolumeDescriptor changed = volume.descriptor();
  const format::VolumeKeys& keys = newestKeys(volume);
  if (named.protector != nullptr) {
    std::string id = named.slot_id.empty() ? named.protector->type() : named.slot_id;
    if (findSlot(changed, id) != nullptr) {
      return Error(ErrorKind::kAlreadyExists,
                   "the volume already has a slot '" + id + "'; name the new one (ID=SPEC)");
    }
  }
  S3C_ASSIGN_OR_RETURN(
      std::vector<format::ProtectorSlot> slots,
      detail::wrapIntoSlots(changed, {&named, 1}, keys.volumeKey(), keys.version()));
  S3C_RETURN_IF_ERROR(format::addSlot(changed, std::move(slots.front())));
  return commit(volume, changed, keys);
}

Status removeProtector(const Volume& volume, std::string_view slot_id) {
  format::VolumeDescriptor changed = volume.descriptor();
  S3C_RETURN_IF_ERROR(format::removeSlot(changed, slot_id));
  return commit(volume, changed, newestKeys(volume));
}

Status rewrapSlot(const Volume& volume, std::string_view slot_id, keys::KeyProtector& protector) {
  format::VolumeDescriptor changed = volume.descriptor();
  const format::ProtectorSlot* slot = findSlot(changed, slot_id);
  if (slot == nullptr) {
    return Error(ErrorKind::kNotFound, "the volume has no slot '" + std::string(slot_id) + "'");
  }
  if (slot->type != protector.type()) {
    return Error(ErrorKind::kInvalidArgument,
                 "slot '" + slot->id + "' is a " + slot->type + " slot, not " + protector.type());
  }
  const uint32_t version = changed.newest().version;
  keys::WrappedKey current{slot->type, slot->params, slot->wrapped_key};
  auto rewrapped = protector.rewrap(current, contextFor(changed, version));
  if (!rewrapped) return rewrapped.error().withContext("rewrap of slot '" + slot->id + "'");
  format::ProtectorSlot replacement{slot->id, rewrapped->type, std::move(rewrapped->params),
                                    std::move(rewrapped->wrapped)};
  S3C_RETURN_IF_ERROR(format::replaceSlot(changed, std::move(replacement)));
  return commit(volume, changed, newestKeys(volume));
}

Result<uint32_t> rotateVolumeKey(const Volume& volume, std::span<const NamedProtector> protectors) {
  if (protectors.empty()) {
    return Error(ErrorKind::kInvalidArgument, "the new key version needs at least one protector");
  }
  const format::VolumeDescriptor& current = volume.descriptor();
  const uint32_t version = current.newest().version + 1;
  S3C_ASSIGN_OR_RETURN(SecureBuffer new_key, crypto::randomKey(format::kVolumeKeySize));
  S3C_ASSIGN_OR_RETURN(std::vector<format::ProtectorSlot> slots,
                       detail::wrapIntoSlots(current, protectors, new_key, version));
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  S3C_ASSIGN_OR_RETURN(
      format::VolumeDescriptor changed,
      format::addKeyVersion(current, volume.keyRing(), new_key, std::move(slots), now));
  S3C_ASSIGN_OR_RETURN(format::VolumeKeys keys, format::VolumeKeys::derive(version, new_key));
  S3C_RETURN_IF_ERROR(commit(volume, changed, keys));
  log::info("rotated the volume key of {} to version {}", volume.store().describe(), version);
  return version;
}

}  // namespace s3cryptfs::volume
