#pragma once

#include <array>
#include <cstdint>

#include "s3cryptfs/core/bytes.h"
#include "s3cryptfs/core/result.h"
#include "s3cryptfs/crypto/aead.h"
#include "s3cryptfs/format/chunk_layout.h"
#include "s3cryptfs/format/key_hierarchy.h"

namespace s3cryptfs::format {

inline constexpr uint16_t kFormatVersion = 1;
inline constexpr std::array<uint8_t, 4> kObjectMagic = {'s', '3', 'c', 'f'};

// Which chunk sizes a decoder accepts. Only tests use kAnyForTesting (tiny chunks make exhaustive
// tamper tests cheap); volumes always decode with kVolume.
enum class ChunkSizePolicy : uint8_t { kVolume, kAnyForTesting };

// The 64-byte header of every content object (FORMAT.md §3). It never changes while the file
// keeps its file id, so unchanged chunks stay valid across rewrites.
struct ObjectHeader {
  uint16_t format_version = kFormatVersion;
  crypto::Cipher cipher = crypto::Cipher::kAes256Gcm;
  uint8_t flags = 0;  // none defined in v1
  uint32_t chunk_size = kDefaultChunkSize;
  uint32_t key_version = 0;
  FileId file_id{};
  KeyCommitment key_commitment{};
  friend bool operator==(const ObjectHeader&, const ObjectHeader&) = default;
};

Bytes encodeObjectHeader(const ObjectHeader& header);
// Strict: kCorrupt for a short buffer, a wrong magic, key version 0 or a chunk size the policy
// refuses; kUnsupported for an unknown format version, cipher or flag. Reads only the first
// kObjectHeaderSize bytes, so a whole object may be passed.
Result<ObjectHeader> decodeObjectHeader(ByteSpan bytes,
                                        ChunkSizePolicy policy = ChunkSizePolicy::kVolume);

}  // namespace s3cryptfs::format
