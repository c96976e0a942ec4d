#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "s3cryptfs/core/result.h"
#include "s3cryptfs/core/secure_buffer.h"
#include "s3cryptfs/format/key_hierarchy.h"

namespace s3cryptfs::format {

// Values are stored in the volume descriptor: never renumber.
enum class NameMode : uint8_t { kEncrypted = 0, kPlaintext = 1 };

inline constexpr size_t kMaxNameBytes = 255;        // one plaintext path component
inline constexpr size_t kMaxObjectKeyBytes = 1024;  // S3's limit on a whole key
inline constexpr std::string_view kNameDomainLabel = "s3cryptfs v1 name";

// Our own objects live under names that start with this; it is outside the base64url alphabet,
// so no encrypted name can collide with it, and plaintext-names volumes refuse it as a file name.
inline constexpr std::string_view kReservedPrefix = ".s3cryptfs";
inline constexpr std::string_view kVolumeDescriptorName = ".s3cryptfs.volume";
inline constexpr std::string_view kDirectoryMarkerName = ".s3cryptfs.dir";
inline constexpr std::string_view kSidecarFolderName = ".s3cryptfs.attr";

bool isReservedName(std::string_view component);
// kNameTooLong when key.size() > kMaxObjectKeyBytes.
Status checkObjectKeyLength(std::string_view key);
// The object keys of our own objects. prefix is "" or ends with '/'.
std::string volumeDescriptorKey(std::string_view prefix);
// The sidecar holding an attribute block too big for user metadata; `relative_key` is the
// owning object's key relative to the prefix.
std::string attributeSidecarKey(std::string_view prefix, std::string_view relative_key);
// The sidecar of one version of the owner (FORMAT.md §5.4): the key above, then "." and the
// version's tag (16 lower-case hex digits), so writing a new version's block never touches the
// block of the version still current.
std::string attributeSidecarKey(std::string_view prefix, std::string_view relative_key,
                                std::string_view tag);

// Encrypts path components (FORMAT.md §5): AES-256-SIV under the name key with associated data
// [kNameDomainLabel, parent directory's plaintext path], the name padded to a multiple of 16 bytes,
// then base64url without padding. Deterministic, so lookups need no listing.
// Paths are plaintext, absolute and canonical: "/" or "/a/b" (no trailing '/', no empty, "." or
// ".." component).
class NameCodec {
 public:
  // keys must be the descriptor's name_key_version, not the newest version: names are never
  // re-keyed by rotation (FORMAT.md §2).
  static NameCodec encrypted(const VolumeKeys& keys);
  static NameCodec plaintext();
  NameCodec(NameCodec&&) noexcept = default;
  NameCodec& operator=(NameCodec&&) noexcept = default;

  NameMode mode() const { return mode_; }

  // One component. kInvalidArgument for "", ".", "..", '/' or NUL in it, a reserved name in
  // plaintext mode or a non-canonical parent; kNameTooLong above kMaxNameBytes.
  Result<std::string> encodeName(std::string_view parent_path, std::string_view name) const;
  // kCorrupt for anything this volume did not write (foreign objects, damaged names).
  Result<std::string> decodeName(std::string_view parent_path, std::string_view encoded) const;

  // prefix + encoded components joined by '/'. kNameTooLong if over kMaxObjectKeyBytes.
  // The root has no object key (kInvalidArgument).
  Result<std::string> objectKey(std::string_view prefix, std::string_view path) const;
  // The listing prefix of a directory: objectKey + '/', or prefix for the root.
  Result<std::string> directoryPrefix(std::string_view prefix, std::string_view dir_path) const;
  // directoryPrefix + kDirectoryMarkerName.
  Result<std::string> directoryMarkerKey(std::string_view prefix, std::string_view dir_path) const;

 private:
  NameCodec(NameMode mode, SecureBuffer key) : mode_(mode), key_(std::move(key)) {}
  NameMode mode_;
  SecureBuffer key_;
};

// Splits a canonical absolute path into components; kInvalidArgument if not canonical.
Result<std::vector<std::string_view>> splitPath(std::string_view path);

}  // namespace s3cryptfs::format
