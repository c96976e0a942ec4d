#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "s3cryptfs/core/bytes.h"
#include "s3cryptfs/core/result.h"
#include "s3cryptfs/format/attributes.h"
#include "s3cryptfs/format/chunk_codec.h"
#include "s3cryptfs/format/key_hierarchy.h"
#include "s3cryptfs/format/name_codec.h"
#include "s3cryptfs/format/volume_descriptor.h"
#include "s3cryptfs/store/object_store.h"

namespace s3cryptfs::volume {

// How the filesystem turns paths, attributes and content into objects of one volume (FORMAT.md
// §5, §6). Pure mapping plus the sidecar I/O of big attribute blocks; thread-safe. The store the
// volume was opened on already applies the bucket prefix, so object keys here are relative keys.
class VolumeObjects {
 public:
  VolumeObjects(const format::VolumeDescriptor& descriptor, const format::KeyRing& ring,
                store::ObjectStore& store);

  const format::KeyRing& keyRing() const { return ring_; }
  const format::NameCodec& names() const { return names_; }
  format::ChunkLayout layout() const { return layout_; }

  // "/a/b" → object key; the root has none (kInvalidArgument).
  Result<std::string> objectKey(std::string_view path) const;
  // The prefix a directory's children are listed under ("" for the root).
  Result<std::string> listingPrefix(std::string_view dir_path) const;
  Result<std::string> directoryMarkerKey(std::string_view dir_path) const;
  // The plaintext name of a key (or common prefix, trailing '/' allowed) listed under
  // listingPrefix(dir_path). kCorrupt for anything that is not ours (a foreign object, a
  // damaged or moved name): the caller logs it once and skips it. Reserved names (§5.4) are
  // kNotFound, so the caller skips them silently.
  Result<std::string> decodeChildName(std::string_view dir_path, std::string_view listed) const;

  // The plaintext path of an object key of this volume (each component decoded under its
  // parent). kCorrupt for a key that is not ours.
  Result<std::string> pathOfKey(std::string_view key) const;

  // The user metadata that stores `attributes` for the object at `key`: the sealed block inline,
  // or, when too big, "sidecar:<fresh tag>" after the block was written to that version's
  // sidecar object (the caller removes the previous version's sidecar once the object is in).
  Result<store::Metadata> sealToMetadata(std::string_view key,
                                         const format::Attributes& attributes) const;
  // For an object whose attributes are known only at the end (a multipart upload started before
  // the file is complete): a fresh tag, the metadata that points at its sidecar, and the write
  // of the block to that sidecar, done just before the upload completes.
  static Result<std::string> newSidecarTag();
  static store::Metadata sidecarMetadata(std::string_view tag);
  Status writeSidecar(std::string_view key, std::string_view tag,
                      const format::Attributes& attributes) const;
  // The attribute block of the object at `key` from its user metadata (reading the sidecar
  // when the metadata says so). kCorrupt for a block that does not open for this key,
  // kNotFound when the metadata holds no block at all (not our object).
  Result<format::Attributes> openFromMetadata(std::string_view key,
                                              const store::Metadata& metadata) const;
  // Whether this metadata points at a sidecar object (which must move and go with its owner).
  static bool usesSidecar(const store::Metadata& metadata);
  // The key of the sidecar this metadata of the object at `key` points at; "" for none.
  std::string sidecarKeyOf(std::string_view key, const store::Metadata& metadata) const;
  std::string sidecarKey(std::string_view key, std::string_view tag = {}) const;

  // A cipher for a brand-new content object (fresh file id, newest key, volume cipher and chunk
  // size), or for a rewrite keeping an existing file id.
  Result<format::FileCipher> newFileCipher() const;
  Result<format::FileCipher> newFileCipher(const format::FileId& file_id) const;
  // The cipher of an existing object from its first kObjectHeaderSize bytes (key commitment
  // checked).
  Result<format::FileCipher> cipherForHeader(ByteSpan header) const;

 private:
  crypto::Cipher cipher_;
  format::ChunkLayout layout_;
  const format::KeyRing& ring_;
  format::NameCodec names_;
  store::ObjectStore& store_;
};

}  // namespace s3cryptfs::volume
