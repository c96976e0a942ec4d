#include "s3cryptfs/format/chunk_layout.h"

#include <algorithm>
#include <string>

#include "format_support.h"

namespace s3cryptfs::format {

bool isValidChunkSize(uint32_t chunk_size) {
  return chunk_size >= kMinChunkSize && chunk_size <= kMaxChunkSize &&
         (chunk_size & (chunk_size - 1)) == 0;
}

Result<ChunkLayout> ChunkLayout::create(uint32_t chunk_size) {
  if (!isValidChunkSize(chunk_size))
    return detail::invalid("chunk size " + std::to_string(chunk_size) +
                           " is not a power of two between 4 KiB and 4 MiB");
  return ChunkLayout(chunk_size);
}

ChunkLayout ChunkLayout::createForTesting(uint32_t chunk_size) {
  return ChunkLayout(std::max<uint32_t>(chunk_size, 1));
}

uint64_t ChunkLayout::chunkCount(uint64_t plain_size) const {
  if (plain_size == 0) return 1;
  return (plain_size - 1) / chunk_size_ + 1;
}

uint64_t ChunkLayout::cipherSize(uint64_t plain_size) const {
  return kObjectHeaderSize + plain_size + chunkCount(plain_size) * kChunkOverhead;
}

Result<uint64_t> ChunkLayout::plainSize(uint64_t cipher_size) const {
  if (cipher_size < kObjectHeaderSize + kChunkOverhead)
    return detail::corrupt("object of " + std::to_string(cipher_size) +
                           " bytes is shorter than a header and one chunk");
  uint64_t body = cipher_size - kObjectHeaderSize;
  uint64_t full = cipherChunkSize();
  uint64_t chunks = (body - 1) / full + 1;     // body > 0 here
  uint64_t last = body - (chunks - 1) * full;  // 1..full
  if (last < kChunkOverhead)
    return detail::corrupt("object of " + std::to_string(cipher_size) + " bytes ends in a " +
                           std::to_string(last) + "-byte partial chunk");
  if (last == kChunkOverhead && chunks > 1)
    return detail::corrupt("object of " + std::to_string(cipher_size) +
                           " bytes ends in an empty chunk after a full one");
  return (chunks - 1) * chunk_size_ + (last - kChunkOverhead);
}

uint32_t ChunkLayout::chunkPlainSize(uint64_t index, uint64_t plain_size) const {
  uint64_t start = chunkPlainOffset(index);
  if (start >= plain_size) return 0;
  return static_cast<uint32_t>(std::min<uint64_t>(chunk_size_, plain_size - start));
}

ByteRange ChunkLayout::cipherRange(ChunkSpan span, uint64_t plain_size) const {
  uint64_t total = cipherSize(plain_size);
  uint64_t start = std::min(chunkCipherOffset(span.first), total);
  uint64_t end = std::min(chunkCipherOffset(span.first + span.count), total);
  return {start, end - start};
}

std::vector<ChunkRef> ChunkLayout::split(uint64_t offset, uint64_t length) const {
  std::vector<ChunkRef> refs;
  uint64_t end = offset + length;
  while (offset < end) {
    uint64_t index = offset / chunk_size_;
    uint64_t in_chunk = offset - index * chunk_size_;
    uint64_t take = std::min<uint64_t>(chunk_size_ - in_chunk, end - offset);
    refs.push_back({index, static_cast<uint32_t>(in_chunk), static_cast<uint32_t>(take)});
    offset += take;
  }
  return refs;
}

ChunkSpan ChunkLayout::chunksFor(uint64_t offset, uint64_t length) const {
  if (length == 0) return {offset / chunk_size_, 0};
  uint64_t first = offset / chunk_size_;
  uint64_t last = (offset + length - 1) / chunk_size_;
  return {first, last - first + 1};
}

uint64_t ChunkLayout::partCount(uint64_t plain_size, uint64_t chunks_per_part) const {
  if (chunks_per_part == 0) return 0;
  return (chunkCount(plain_size) - 1) / chunks_per_part + 1;
}

ChunkSpan ChunkLayout::partChunks(uint64_t part_number, uint64_t chunks_per_part,
                                  uint64_t plain_size) const {
  if (part_number == 0 || chunks_per_part == 0) return {};
  uint64_t count = chunkCount(plain_size);
  uint64_t first = (part_number - 1) * chunks_per_part;
  if (first >= count) return {first, 0};
  return {first, std::min(chunks_per_part, count - first)};
}

ByteRange ChunkLayout::partCipherRange(uint64_t part_number, uint64_t chunks_per_part,
                                       uint64_t plain_size) const {
  ChunkSpan span = partChunks(part_number, chunks_per_part, plain_size);
  if (span.count == 0) return {cipherSize(plain_size), 0};
  ByteRange range = cipherRange(span, plain_size);
  // Part 1 starts at byte 0: it carries the header in front of chunk 0.
  if (part_number == 1) return {0, range.end()};
  return range;
}

uint64_t ChunkLayout::minChunksPerPart(uint64_t min_part_bytes) const {
  if (min_part_bytes == 0) return 1;
  // Part 1 is the smallest non-last part relative to its chunk count only by the header it adds,
  // so the bound is set by the other parts: n whole cipher chunks.
  return (min_part_bytes - 1) / cipherChunkSize() + 1;
}

}  // namespace s3cryptfs::format
