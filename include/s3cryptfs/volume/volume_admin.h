#pragma once

// Changes to an opened volume's descriptor: adding and removing protectors, rewrapping a slot,
// rotating the volume key (FORMAT.md §7.3). Each change is one conditional write of the
// descriptor (If-Match the ETag it was opened with), so two admins never overwrite each other:
// the loser gets kPreconditionFailed and runs the command again. Nothing else is written.
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "s3cryptfs/core/result.h"
#include "s3cryptfs/core/secure_buffer.h"
#include "s3cryptfs/volume/volume.h"

namespace s3cryptfs::volume {

// A new slot wrapping the newest volume key. Its id is named.slot_id, else the protector type;
// kAlreadyExists when the id is taken.
Status addProtector(const Volume& volume, const NamedProtector& named);

// kNotFound for an unknown slot; kInvalidArgument for the last one (the volume would be lost).
Status removeProtector(const Volume& volume, std::string_view slot_id);

// The slot's copy rewrapped by its key service (KeyProtector::rewrap): the same volume key,
// the service's newest key version; no data is rewritten.
Status rewrapSlot(const Volume& volume, std::string_view slot_id, keys::KeyProtector& protector);

// A new volume key version, wrapped by each protector (one slot each); every older key is
// archived under it. New writes use it; old objects stay readable. Returns the new version.
// The caller must reopen the volume to use the new key.
Result<uint32_t> rotateVolumeKey(const Volume& volume, std::span<const NamedProtector> protectors);

}  // namespace s3cryptfs::volume
