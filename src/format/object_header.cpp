#include "s3cryptfs/format/object_header.h"

#include <algorithm>
#include <cstdio>
#include <string>

#include "format_support.h"

namespace s3cryptfs::format {

Bytes encodeObjectHeader(const ObjectHeader& header) {
  Bytes out;
  out.reserve(kObjectHeaderSize);
  out.insert(out.end(), kObjectMagic.begin(), kObjectMagic.end());
  putU16(out, header.format_version);
  out.push_back(static_cast<uint8_t>(header.cipher));
  out.push_back(header.flags);
  putU32(out, header.chunk_size);
  putU32(out, header.key_version);
  out.insert(out.end(), header.file_id.begin(), header.file_id.end());
  out.insert(out.end(), header.key_commitment.begin(), header.key_commitment.end());
  return out;
}

Result<ObjectHeader> decodeObjectHeader(ByteSpan bytes, ChunkSizePolicy policy) {
  if (bytes.size() < kObjectHeaderSize)
    return detail::corrupt("object header truncated: " + std::to_string(bytes.size()) +
                           " of 64 bytes");
  if (!std::equal(kObjectMagic.begin(), kObjectMagic.end(), bytes.begin()))
    return detail::corrupt("not an s3cryptfs object (bad magic)");
  ObjectHeader header;
  header.format_version = getU16(bytes.data() + 4);
  if (header.format_version != kFormatVersion)
    return detail::unsupported("object format version " + std::to_string(header.format_version) +
                               " is not supported (this build reads version 1)");
  uint8_t cipher = bytes[6];
  if (cipher != static_cast<uint8_t>(crypto::Cipher::kAes256Gcm) &&
      cipher != static_cast<uint8_t>(crypto::Cipher::kChaCha20Poly1305))
    return detail::unsupported("object cipher id " + std::to_string(cipher) + " is not supported");
  header.cipher = static_cast<crypto::Cipher>(cipher);
  header.flags = bytes[7];
  if (header.flags != 0)
    return detail::unsupported("object header flags " + std::to_string(header.flags) +
                               " are not supported");
  header.chunk_size = getU32(bytes.data() + 8);
  bool chunk_ok = policy == ChunkSizePolicy::kAnyForTesting ? header.chunk_size > 0
                                                            : isValidChunkSize(header.chunk_size);
  if (!chunk_ok)
    return detail::corrupt("object chunk size " + std::to_string(header.chunk_size) +
                           " is invalid");
  header.key_version = getU32(bytes.data() + 12);
  if (header.key_version == 0) return detail::corrupt("object key version 0 is invalid");
  std::copy_n(bytes.begin() + 16, kFileIdSize, header.file_id.begin());
  std::copy_n(bytes.begin() + 32, kKeyCommitmentSize, header.key_commitment.begin());
  return header;
}

}  // namespace s3cryptfs::format
