#pragma once

#include <cstdint>

#include "s3cryptfs/core/bytes.h"
#include "s3cryptfs/core/result.h"
#include "s3cryptfs/crypto/aead.h"
#include "s3cryptfs/format/chunk_layout.h"
#include "s3cryptfs/format/key_hierarchy.h"
#include "s3cryptfs/format/object_header.h"
#include "s3cryptfs/format/random_source.h"

namespace s3cryptfs::format {

// Size of the associated data of one chunk: header(64) || chunk index (u64) || final flag (u8).
inline constexpr size_t kChunkAadSize = kObjectHeaderSize + 8 + 1;

// Seals and opens the chunks of one object. The per-file key is derived once here, so sealing or
// opening a chunk costs one AEAD call and nothing else. seal/open are const and thread-safe if the
// RandomSource is (systemRandom() is).
class FileCipher {
 public:
  // A new object: fresh random file id, key commitment for keys.version().
  static Result<FileCipher> createNew(const VolumeKeys& keys, crypto::Cipher cipher,
                                      ChunkLayout layout, RandomSource& random = systemRandom());
  // A new object that keeps an existing file id (a rewrite keeps it so unchanged chunks stay
  // valid). kInvalidArgument if layout's chunk size does not fit a header.
  static Result<FileCipher> createWithFileId(const VolumeKeys& keys, crypto::Cipher cipher,
                                             ChunkLayout layout, const FileId& file_id,
                                             RandomSource& random = systemRandom());
  // An existing object: decodes the header (first kObjectHeaderSize bytes of `object`), finds its
  // key version in the ring and checks the key commitment. kCorrupt on any mismatch.
  static Result<FileCipher> open(const KeyRing& keys, ByteSpan object,
                                 RandomSource& random = systemRandom(),
                                 ChunkSizePolicy policy = ChunkSizePolicy::kVolume);

  FileCipher(FileCipher&&) noexcept = default;
  FileCipher& operator=(FileCipher&&) noexcept = default;

  const ObjectHeader& header() const { return header_; }
  // The header as stored (kObjectHeaderSize bytes).
  ByteSpan headerBytes() const { return {aad_prefix_.data(), kObjectHeaderSize}; }
  const ChunkLayout& layout() const { return layout_; }

  // Seals chunk `index`. A non-final chunk must hold exactly chunkSize bytes; the final chunk
  // 1..chunkSize bytes, or 0 when it is chunk 0 (the empty file). out.size() must be
  // plaintext.size() + kChunkOverhead. kInvalidArgument otherwise.
  Status sealChunk(uint64_t index, bool final, ByteSpan plaintext, MutableByteSpan out) const;
  Result<Bytes> sealChunk(uint64_t index, bool final, ByteSpan plaintext) const;
  // Opens chunk `index`; out.size() must be sealed.size() - kChunkOverhead. A chunk that does not
  // authenticate as (this object, index, final) is kCorrupt naming the index.
  Status openChunk(uint64_t index, bool final, ByteSpan sealed, MutableByteSpan out) const;
  Result<Bytes> openChunk(uint64_t index, bool final, ByteSpan sealed) const;

  // Opens whole chunks [first_chunk, ...) fetched as one cipher range starting at
  // chunkCipherOffset(first_chunk), of an object whose total size is object_cipher_size (from
  // HEAD or a listing). The final chunk is recognised from object_cipher_size. Returns their
  // plaintext, concatenated.
  Result<Bytes> openChunkRange(uint64_t first_chunk, ByteSpan fetched,
                               uint64_t object_cipher_size) const;
  // A plaintext byte range [offset, offset + length), clipped at the end of the file. `fetched`
  // is the cipher range layout().cipherRange(layout().chunksFor(offset, clipped length), size).
  Result<Bytes> openRange(uint64_t offset, uint64_t length, ByteSpan fetched,
                          uint64_t object_cipher_size) const;

 private:
  FileCipher(ObjectHeader header, ChunkLayout layout, crypto::Aead aead, RandomSource& random);
  void setAad(uint64_t index, bool final, uint8_t* aad) const;

  ObjectHeader header_;
  ChunkLayout layout_;
  crypto::Aead aead_;
  RandomSource* random_;
  std::array<uint8_t, kChunkAadSize> aad_prefix_{};  // header bytes, then room for index/flag
};

struct ObjectParams {
  crypto::Cipher cipher = crypto::Cipher::kAes256Gcm;
  uint32_t chunk_size = kDefaultChunkSize;
};

// Whole objects, for small files, symlinks and the offline `cat` tool. sealObject writes under
// the given key version with a fresh file id.
Result<Bytes> sealObject(const VolumeKeys& keys, const ObjectParams& params, ByteSpan plaintext,
                         RandomSource& random = systemRandom());
// Seals a whole object with an existing FileCipher (a chosen file id, or a test layout).
Result<Bytes> sealObjectWith(const FileCipher& cipher, ByteSpan plaintext);
// Authenticates every chunk; kCorrupt naming the first chunk that fails.
Result<Bytes> openObject(const KeyRing& keys, ByteSpan object,
                         ChunkSizePolicy policy = ChunkSizePolicy::kVolume);

}  // namespace s3cryptfs::format
