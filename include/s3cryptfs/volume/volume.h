#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "s3cryptfs/core/result.h"
#include "s3cryptfs/crypto/aead.h"
#include "s3cryptfs/format/chunk_layout.h"
#include "s3cryptfs/format/name_codec.h"
#include "s3cryptfs/format/volume_descriptor.h"
#include "s3cryptfs/keys/key_protector.h"
#include "s3cryptfs/store/object_store.h"
#include "s3cryptfs/volume/volume_objects.h"

namespace s3cryptfs::volume {

// Parameters fixed at `init` and stored in the descriptor.
struct CreateOptions {
  crypto::Cipher cipher = crypto::Cipher::kAes256Gcm;
  uint32_t chunk_size = format::kDefaultChunkSize;
  format::NameMode name_mode = format::NameMode::kEncrypted;
};

// A protector offered to create or open a volume. slot_id names the descriptor slot: at create it
// is the new slot's id (empty: the protector type); at open, empty means "any slot of my type".
struct NamedProtector {
  std::string slot_id;
  keys::KeyProtector* protector = nullptr;
};

// An opened volume: its descriptor, its unlocked key ring (in locked memory, zeroised when the
// last reference goes) and the store it lives in. The fs module builds on this; the key
// protectors plug in through NamedProtector only, so a new KMS never changes the filesystem.
class Volume {
 public:
  virtual ~Volume() = default;

  // `s3cryptfs init`: a random volume key, the descriptor, one slot per protector. Refuses with
  // kAlreadyExists where a descriptor exists (nothing is written then).
  static Result<std::shared_ptr<Volume>> create(std::shared_ptr<store::ObjectStore> store,
                                                std::span<const NamedProtector> protectors,
                                                const CreateOptions& options);

  // Mount time: reads and verifies the descriptor and tries the candidates in order on the
  // newest key version's slots; the first that unwraps wins. Errors, each one clear line:
  // kNotFound "no s3cryptfs volume at <uri>", kPermissionDenied "<what> does not unlock this
  // volume" (one clause per candidate tried), kCorrupt for a descriptor that fails its MAC,
  // kUnsupported for a newer format. Nothing in the store is modified.
  static Result<std::shared_ptr<Volume>> open(std::shared_ptr<store::ObjectStore> store,
                                              std::span<const NamedProtector> candidates);

  virtual const format::VolumeDescriptor& descriptor() const = 0;
  virtual store::ObjectStore& store() const = 0;
  virtual std::shared_ptr<store::ObjectStore> sharedStore() const = 0;
  // Every unlocked key version (newest for new writes).
  virtual const format::KeyRing& keyRing() const = 0;
  // Paths, names, attribute blocks and ciphers of this volume's objects.
  virtual const VolumeObjects& objects() const = 0;
};

}  // namespace s3cryptfs::volume
