#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "s3cryptfs/core/result.h"
#include "s3cryptfs/crypto/aead.h"
#include "s3cryptfs/format/chunk_layout.h"
#include "s3cryptfs/format/name_codec.h"
#include "s3cryptfs/format/volume_descriptor.h"
#include "s3cryptfs/keys/key_protector.h"
#include "s3cryptfs/store/object_store.h"
#include "s3cryptfs/volume/volume_objects.h"

namespace s3cryptfs::volume {

// serviceCode() of the error Volume::open returns when no candidate unlocked the volume.
inline constexpr std::string_view kUnlockFailedCode = "s3cryptfs:unlock";

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
  // kNotFound "no s3cryptfs volume at <uri>", kCorrupt for a descriptor that fails its MAC,
  // kUnsupported for a newer format. When no candidate unlocks: serviceCode() is
  // kUnlockFailedCode, the message has one clause per candidate tried, and the kind is the one
  // all their failures had (kTransient: a key service unreachable, kInvalidArgument: a secret
  // that cannot be read, ...), else kPermissionDenied. Nothing in the store is modified.
  static Result<std::shared_ptr<Volume>> open(std::shared_ptr<store::ObjectStore> store,
                                              std::span<const NamedProtector> candidates);

  // The descriptor as stored, decoded but NOT authenticated (no key needed): for listing the
  // protector slots and choosing which protectors to build. kNotFound where there is no volume.
  static Result<format::VolumeDescriptor> peekDescriptor(store::ObjectStore& store);

  virtual const format::VolumeDescriptor& descriptor() const = 0;
  // The ETag of the descriptor object this volume was opened from: descriptor changes are
  // conditional on it (If-Match), so two admins never overwrite each other's change.
  virtual const std::string& descriptorEtag() const = 0;
  virtual store::ObjectStore& store() const = 0;
  virtual std::shared_ptr<store::ObjectStore> sharedStore() const = 0;
  // Every unlocked key version (newest for new writes).
  virtual const format::KeyRing& keyRing() const = 0;
  // Paths, names, attribute blocks and ciphers of this volume's objects.
  virtual const VolumeObjects& objects() const = 0;
};

}  // namespace s3cryptfs::volume
