#pragma once

#include <cstdint>
#include <vector>

#include "s3cryptfs/core/result.h"

namespace s3cryptfs::format {

// Byte-exact sizes of the content format (FORMAT.md §4): a 64-byte header, then chunks of
// nonce(12) || ciphertext || tag(16).
inline constexpr uint64_t kObjectHeaderSize = 64;
inline constexpr uint64_t kChunkNonceSize = 12;
inline constexpr uint64_t kChunkTagSize = 16;
inline constexpr uint64_t kChunkOverhead = kChunkNonceSize + kChunkTagSize;

inline constexpr uint32_t kDefaultChunkSize = 64 * 1024;
inline constexpr uint32_t kMinChunkSize = 4 * 1024;
inline constexpr uint32_t kMaxChunkSize = 4 * 1024 * 1024;

// True for the chunk sizes a volume may use: powers of two in [kMinChunkSize, kMaxChunkSize].
bool isValidChunkSize(uint32_t chunk_size);

struct ByteRange {
  uint64_t offset = 0;
  uint64_t length = 0;
  uint64_t end() const { return offset + length; }
  friend bool operator==(const ByteRange&, const ByteRange&) = default;
};

// One chunk's share of a plaintext byte range.
struct ChunkRef {
  uint64_t index = 0;
  uint32_t offset_in_chunk = 0;  // first plaintext byte wanted inside the chunk
  uint32_t length = 0;           // plaintext bytes wanted from the chunk
  friend bool operator==(const ChunkRef&, const ChunkRef&) = default;
};

// A run of chunks [first, first + count).
struct ChunkSpan {
  uint64_t first = 0;
  uint64_t count = 0;
  friend bool operator==(const ChunkSpan&, const ChunkSpan&) = default;
};

// Pure offset arithmetic for one chunk size. Every object has at least one chunk; the last one is
// the final chunk, which is empty only for an empty file, so a file cut back to its header (or to
// any chunk boundary) has an impossible size or a last chunk not sealed as final.
class ChunkLayout {
 public:
  // kInvalidArgument unless isValidChunkSize(chunk_size).
  static Result<ChunkLayout> create(uint32_t chunk_size);
  // Any chunk size >= 1, so tests can cover every boundary with tiny chunks. Not for volumes.
  static ChunkLayout createForTesting(uint32_t chunk_size);

  uint32_t chunkSize() const { return chunk_size_; }
  uint64_t cipherChunkSize() const { return chunk_size_ + kChunkOverhead; }

  // max(1, ceil(plain_size / chunkSize)).
  uint64_t chunkCount(uint64_t plain_size) const;
  uint64_t lastChunkIndex(uint64_t plain_size) const { return chunkCount(plain_size) - 1; }
  // header + plain_size + chunkCount * overhead.
  uint64_t cipherSize(uint64_t plain_size) const;
  // The inverse of cipherSize; kCorrupt for a size no object can have (shorter than a header
  // and one empty chunk, a last chunk shorter than the overhead, or an empty chunk after a full
  // one).
  Result<uint64_t> plainSize(uint64_t cipher_size) const;

  uint64_t chunkPlainOffset(uint64_t index) const { return index * chunk_size_; }
  uint64_t chunkCipherOffset(uint64_t index) const {
    return kObjectHeaderSize + index * cipherChunkSize();
  }
  // Plaintext bytes in chunk `index` of a file of plain_size bytes (0 past the end).
  uint32_t chunkPlainSize(uint64_t index, uint64_t plain_size) const;
  // Cipher range of chunks [span.first, span.first + span.count) of a file of plain_size bytes,
  // clipped to the object.
  ByteRange cipherRange(ChunkSpan span, uint64_t plain_size) const;
  // The chunk that holds plaintext offset `offset`.
  uint64_t chunkIndexOf(uint64_t plain_offset) const { return plain_offset / chunk_size_; }
  // The chunks a plaintext range touches. Empty for length 0.
  std::vector<ChunkRef> split(uint64_t offset, uint64_t length) const;
  // The chunks a plaintext range touches, as a span (count 0 for length 0).
  ChunkSpan chunksFor(uint64_t offset, uint64_t length) const;

  // Multipart uploads: part k (1-based) holds chunks [(k-1)*n, k*n), n = chunks_per_part; part 1
  // also holds the header. Parts therefore start on chunk boundaries.
  uint64_t partCount(uint64_t plain_size, uint64_t chunks_per_part) const;
  ChunkSpan partChunks(uint64_t part_number, uint64_t chunks_per_part, uint64_t plain_size) const;
  ByteRange partCipherRange(uint64_t part_number, uint64_t chunks_per_part,
                            uint64_t plain_size) const;
  // The fewest whole chunks per part that make a non-last part at least min_part_bytes long
  // (S3: 5 MiB).
  uint64_t minChunksPerPart(uint64_t min_part_bytes) const;

 private:
  explicit ChunkLayout(uint32_t chunk_size) : chunk_size_(chunk_size) {}
  uint32_t chunk_size_;
};

}  // namespace s3cryptfs::format
