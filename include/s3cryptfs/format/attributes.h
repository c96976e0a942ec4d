#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "s3cryptfs/core/bytes.h"
#include "s3cryptfs/core/result.h"
#include "s3cryptfs/crypto/aead.h"
#include "s3cryptfs/format/key_hierarchy.h"
#include "s3cryptfs/format/object_header.h"
#include "s3cryptfs/format/random_source.h"

namespace s3cryptfs::format {

// Values are stored: never renumber.
enum class NodeKind : uint8_t { kFile = 1, kDirectory = 2, kSymlink = 3 };

// The encrypted metadata of one file, directory or symlink (FORMAT.md §6).
struct Attributes {
  NodeKind kind = NodeKind::kFile;
  uint32_t mode = 0;  // permission bits and file type bits as in st_mode
  uint32_t uid = 0;
  uint32_t gid = 0;
  int64_t atime_ns = 0;  // nanoseconds since the Unix epoch
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;
  uint64_t size = 0;  // plaintext size of the content
  // The content object this block describes (binds metadata to content). Zero for directories.
  uint32_t content_key_version = 0;
  FileId file_id{};
  std::string symlink_target;  // only for kSymlink
  std::map<std::string, Bytes> xattrs;
  friend bool operator==(const Attributes&, const Attributes&) = default;
};

inline constexpr std::string_view kAttributeAadLabel = "s3cryptfs v1 attributes";
// The user metadata entry (x-amz-meta-s3c-attr) the sealed block is stored in; its value is the
// block in base64, or kSidecarMarker when the block lives in the sidecar object.
inline constexpr std::string_view kAttributeMetadataName = "s3c-attr";
inline constexpr std::string_view kSidecarMarker = "sidecar";
// "sidecar:" + a tag of kSidecarTagChars lower-case hex digits: the block is in the sidecar of
// that version (attributeSidecarKey with the tag). What every new sidecar is written as.
inline constexpr std::string_view kSidecarTagPrefix = "sidecar:";
inline constexpr size_t kSidecarTagChars = 16;
// The tag of a metadata value: "" for the untagged kSidecarMarker, nullopt when the value names
// no sidecar (an inline block) or is a malformed reference.
std::optional<std::string> sidecarTagOf(std::string_view metadata_value);
// S3 allows 2 KiB of user metadata (names + values); this leaves room for other entries.
inline constexpr size_t kMaxInlineAttributeChars = 1800;
inline constexpr size_t kMaxXattrNameBytes = 255;
inline constexpr size_t kMaxXattrValueBytes = 64 * 1024;
inline constexpr size_t kMaxSymlinkTargetBytes = 4095;

// The plaintext serialisation (canonical; decode refuses anything else with kCorrupt).
Result<Bytes> encodeAttributes(const Attributes& attributes);
Result<Attributes> decodeAttributes(ByteSpan bytes);

// Seals under keys (its version is recorded) for the object stored at relative_key (the key
// without the volume prefix), so a block copied under another key does not open. Returns the
// binary sealed block.
Result<Bytes> sealAttributes(const VolumeKeys& keys, crypto::Cipher cipher,
                             std::string_view relative_key, const Attributes& attributes,
                             RandomSource& random = systemRandom());
Result<Attributes> openAttributes(const KeyRing& keys, std::string_view relative_key,
                                  ByteSpan sealed);
// The same, as the base64 text stored in user metadata.
Result<std::string> sealAttributesText(const VolumeKeys& keys, crypto::Cipher cipher,
                                       std::string_view relative_key, const Attributes& attributes,
                                       RandomSource& random = systemRandom());
Result<Attributes> openAttributesText(const KeyRing& keys, std::string_view relative_key,
                                      std::string_view text);
// Whether the base64 text fits in user metadata; if not, store the binary block in the sidecar
// (attributeSidecarKey) and kSidecarMarker in the metadata entry.
inline bool fitsInMetadata(std::string_view text) {
  return text.size() <= kMaxInlineAttributeChars;
}

// Checks that attributes describe the content object with this header and cipher size:
// same file id, same key version, same plaintext size. kCorrupt otherwise.
Status checkContentBinding(const Attributes& attributes, const ObjectHeader& header,
                           uint64_t object_cipher_size);

}  // namespace s3cryptfs::format
