#include "slot_wrapping.h"

namespace s3cryptfs::volume::detail {

keys::KeyContext contextFor(const format::VolumeDescriptor& descriptor, uint32_t version) {
  return keys::KeyContext{toHex(descriptor.volume_id), version};
}

Result<std::vector<format::ProtectorSlot>> wrapIntoSlots(const format::VolumeDescriptor& descriptor,
                                                         std::span<const NamedProtector> protectors,
                                                         const SecureBuffer& key,
                                                         uint32_t version) {
  std::vector<format::ProtectorSlot> slots;
  for (const NamedProtector& named : protectors) {
    if (named.protector == nullptr) {
      return Error(ErrorKind::kInvalidArgument, "a key protector is missing");
    }
    const std::string id = named.slot_id.empty() ? named.protector->type() : named.slot_id;
    for (const format::ProtectorSlot& other : slots) {
      if (other.id == id) {
        return Error(ErrorKind::kInvalidArgument,
                     "two protectors share the slot id '" + id + "'; name them (ID=SPEC)");
      }
    }
    auto wrapped = named.protector->wrap(key, contextFor(descriptor, version));
    if (!wrapped) return wrapped.error().withContext("protector " + named.protector->type());
    slots.push_back(format::ProtectorSlot{id, wrapped->type, std::move(wrapped->params),
                                          std::move(wrapped->wrapped)});
  }
  return slots;
}

}  // namespace s3cryptfs::volume::detail
