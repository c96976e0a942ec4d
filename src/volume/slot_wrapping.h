#pragma once

// Wrapping a volume key into descriptor slots, for init, key add and rotate.
#include <span>
#include <vector>

#include "s3cryptfs/core/result.h"
#include "s3cryptfs/core/secure_buffer.h"
#include "s3cryptfs/format/volume_descriptor.h"
#include "s3cryptfs/volume/volume.h"

namespace s3cryptfs::volume::detail {

keys::KeyContext contextFor(const format::VolumeDescriptor& descriptor, uint32_t version);

// One slot per protector, each holding `key` (key version `version` of `descriptor`'s volume)
// wrapped by it; slot ids are the names given, else the protector types. kInvalidArgument for a
// missing protector or two slots with one id; a protector's error names its type.
Result<std::vector<format::ProtectorSlot>> wrapIntoSlots(const format::VolumeDescriptor& descriptor,
                                                         std::span<const NamedProtector> protectors,
                                                         const SecureBuffer& key, uint32_t version);

}  // namespace s3cryptfs::volume::detail
