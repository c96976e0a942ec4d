#include "s3cryptfs/format/chunk_codec.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "s3cryptfs/crypto/hash.h"

#include "format_support.h"

namespace s3cryptfs::format {
namespace {
std::string chunkName(uint64_t index) {
  return "chunk " + std::to_string(index);
}
}  // namespace

FileCipher::FileCipher(ObjectHeader header, ChunkLayout layout, crypto::Aead aead,
                       RandomSource& random)
    : header_(header), layout_(layout), aead_(std::move(aead)), random_(&random) {
  Bytes encoded = encodeObjectHeader(header_);
  std::copy(encoded.begin(), encoded.end(), aad_prefix_.begin());
}

Result<FileCipher> FileCipher::createNew(const VolumeKeys& keys, crypto::Cipher cipher,
                                         ChunkLayout layout, RandomSource& random) {
  FileId file_id{};
  S3C_RETURN_IF_ERROR(random.fill(file_id));
  return createWithFileId(keys, cipher, layout, file_id, random);
}

Result<FileCipher> FileCipher::createWithFileId(const VolumeKeys& keys, crypto::Cipher cipher,
                                                ChunkLayout layout, const FileId& file_id,
                                                RandomSource& random) {
  S3C_ASSIGN_OR_RETURN(SecureBuffer file_key, keys.fileKey(file_id));
  ObjectHeader header;
  header.cipher = cipher;
  header.chunk_size = layout.chunkSize();
  header.key_version = keys.version();
  header.file_id = file_id;
  S3C_ASSIGN_OR_RETURN(header.key_commitment, keyCommitment(file_key));
  S3C_ASSIGN_OR_RETURN(crypto::Aead aead, crypto::Aead::create(cipher, file_key));
  return FileCipher(header, layout, std::move(aead), random);
}

Result<FileCipher> FileCipher::open(const KeyRing& keys, ByteSpan object, RandomSource& random,
                                    ChunkSizePolicy policy) {
  S3C_ASSIGN_OR_RETURN(ObjectHeader header, decodeObjectHeader(object, policy));
  auto found = keys.find(header.key_version);
  if (!found)
    return detail::corrupt("header names volume key version " + std::to_string(header.key_version) +
                           ", which the volume does not have");
  S3C_ASSIGN_OR_RETURN(SecureBuffer file_key, (*found)->fileKey(header.file_id));
  S3C_ASSIGN_OR_RETURN(KeyCommitment commitment, keyCommitment(file_key));
  if (!crypto::constantTimeEquals(commitment, header.key_commitment))
    return detail::corrupt(
        "header key commitment does not match: the object was not written with this volume's "
        "key, or its header was altered");
  ChunkLayout layout = policy == ChunkSizePolicy::kAnyForTesting
                           ? ChunkLayout::createForTesting(header.chunk_size)
                           : *ChunkLayout::create(header.chunk_size);
  S3C_ASSIGN_OR_RETURN(crypto::Aead aead, crypto::Aead::create(header.cipher, file_key));
  return FileCipher(header, layout, std::move(aead), random);
}

void FileCipher::setAad(uint64_t index, bool final, uint8_t* aad) const {
  std::memcpy(aad, aad_prefix_.data(), kObjectHeaderSize);
  for (int i = 0; i < 8; ++i)
    aad[kObjectHeaderSize + i] = static_cast<uint8_t>(index >> (8 * i));
  aad[kObjectHeaderSize + 8] = final ? 1 : 0;
}

Status FileCipher::sealChunk(uint64_t index, bool final, ByteSpan plaintext,
                             MutableByteSpan out) const {
  if (plaintext.size() > layout_.chunkSize() ||
      (!final && plaintext.size() != layout_.chunkSize()) || (plaintext.empty() && index != 0))
    return detail::invalid(chunkName(index) + ": " + std::to_string(plaintext.size()) +
                           " bytes is not a valid " + (final ? "final" : "non-final") +
                           " chunk size");
  if (out.size() != plaintext.size() + kChunkOverhead)
    return detail::invalid(chunkName(index) + ": output buffer has the wrong size");
  // A fresh random nonce per seal: chunks are rewritten in place under the same file key, so a
  // counter would need state we do not have (FORMAT.md §4.3 gives the limit this implies).
  S3C_RETURN_IF_ERROR(random_->fill(out.first(kChunkNonceSize)));
  std::array<uint8_t, kChunkAadSize> aad{};
  setAad(index, final, aad.data());
  return aead_.seal(out.first(kChunkNonceSize), aad, plaintext, out.subspan(kChunkNonceSize));
}

Result<Bytes> FileCipher::sealChunk(uint64_t index, bool final, ByteSpan plaintext) const {
  Bytes out(plaintext.size() + kChunkOverhead);
  S3C_RETURN_IF_ERROR(sealChunk(index, final, plaintext, out));
  return out;
}

Status FileCipher::openChunk(uint64_t index, bool final, ByteSpan sealed,
                             MutableByteSpan out) const {
  const std::string name = chunkName(index);
  if (sealed.size() < kChunkOverhead)
    return detail::corrupt(name + " is " + std::to_string(sealed.size()) +
                           " bytes, shorter than a nonce and a tag");
  if (sealed.size() > layout_.cipherChunkSize() ||
      (!final && sealed.size() != layout_.cipherChunkSize()) ||
      (final && sealed.size() == kChunkOverhead && index != 0))
    return detail::corrupt(name + " has an impossible size of " + std::to_string(sealed.size()) +
                           " bytes");
  if (out.size() != sealed.size() - kChunkOverhead)
    return detail::invalid(name + ": output buffer has the wrong size");
  ByteSpan nonce = sealed.first(kChunkNonceSize);
  ByteSpan body = sealed.subspan(kChunkNonceSize);
  std::array<uint8_t, kChunkAadSize> aad{};
  setAad(index, final, aad.data());
  Status opened = aead_.open(nonce, aad, body, out);
  if (opened) return opened;
  if (opened.error().kind() != ErrorKind::kCorrupt) return opened;
  // Only on failure: find out whether the chunk is genuine but sealed with the other final flag,
  // which names the attack (a cut-off object, or data appended after the real end).
  setAad(index, !final, aad.data());
  if (aead_.open(nonce, aad, body, out)) {
    std::fill(out.begin(), out.end(), uint8_t{0});
    return detail::corrupt(final ? name + " is not the final chunk: the object was truncated"
                                 : name +
                                       " is sealed as the final chunk but more data follows "
                                       "it: the object was extended");
  }
  return detail::corrupt(name +
                         " does not authenticate: damaged, moved from another position or "
                         "object, or sealed under another key");
}

Result<Bytes> FileCipher::openChunk(uint64_t index, bool final, ByteSpan sealed) const {
  if (sealed.size() < kChunkOverhead)
    return detail::corrupt(chunkName(index) + " is " + std::to_string(sealed.size()) +
                           " bytes, shorter than a nonce and a tag");
  Bytes out(sealed.size() - kChunkOverhead);
  S3C_RETURN_IF_ERROR(openChunk(index, final, sealed, out));
  return out;
}

Result<Bytes> FileCipher::openChunkRange(uint64_t first_chunk, ByteSpan fetched,
                                         uint64_t object_cipher_size) const {
  S3C_ASSIGN_OR_RETURN(uint64_t plain_size, layout_.plainSize(object_cipher_size));
  uint64_t last = layout_.lastChunkIndex(plain_size);
  if (first_chunk > last)
    return detail::invalid(chunkName(first_chunk) + " is past the end of the object");
  // Size the output from the fetched length, so a short fetch is reported per chunk below.
  uint64_t plain_total = 0;
  {
    uint64_t pos = 0;
    for (uint64_t i = first_chunk; i <= last && pos < fetched.size(); ++i) {
      uint64_t need = layout_.chunkPlainSize(i, plain_size) + kChunkOverhead;
      pos += need;
      if (pos <= fetched.size()) plain_total += need - kChunkOverhead;
    }
  }
  Bytes out(plain_total);
  uint64_t pos = 0;
  uint64_t written = 0;
  for (uint64_t i = first_chunk; pos < fetched.size(); ++i) {
    if (i > last)
      return detail::invalid("fetched range runs past the final chunk " + std::to_string(last));
    uint64_t plain = layout_.chunkPlainSize(i, plain_size);
    uint64_t need = plain + kChunkOverhead;
    if (fetched.size() - pos < need)
      return detail::corrupt(chunkName(i) +
                             " is cut short: " + std::to_string(fetched.size() - pos) + " of " +
                             std::to_string(need) + " bytes");
    S3C_RETURN_IF_ERROR(openChunk(i, i == last, fetched.subspan(pos, need),
                                  MutableByteSpan(out).subspan(written, plain)));
    pos += need;
    written += plain;
  }
  return out;
}

Result<Bytes> FileCipher::openRange(uint64_t offset, uint64_t length, ByteSpan fetched,
                                    uint64_t object_cipher_size) const {
  S3C_ASSIGN_OR_RETURN(uint64_t plain_size, layout_.plainSize(object_cipher_size));
  if (offset >= plain_size || length == 0) return Bytes{};
  length = std::min(length, plain_size - offset);
  ChunkSpan span = layout_.chunksFor(offset, length);
  S3C_ASSIGN_OR_RETURN(Bytes plain, openChunkRange(span.first, fetched, object_cipher_size));
  uint64_t skip = offset - layout_.chunkPlainOffset(span.first);
  if (plain.size() < skip + length)
    return detail::corrupt("fetched range holds " + std::to_string(plain.size()) +
                           " plaintext bytes, " + std::to_string(skip + length) + " needed");
  return Bytes(plain.begin() + static_cast<std::ptrdiff_t>(skip),
               plain.begin() + static_cast<std::ptrdiff_t>(skip + length));
}

Result<Bytes> sealObjectWith(const FileCipher& cipher, ByteSpan plaintext) {
  const ChunkLayout& layout = cipher.layout();
  Bytes out(layout.cipherSize(plaintext.size()));
  std::copy(cipher.headerBytes().begin(), cipher.headerBytes().end(), out.begin());
  uint64_t last = layout.lastChunkIndex(plaintext.size());
  for (uint64_t i = 0; i <= last; ++i) {
    uint64_t plain = layout.chunkPlainSize(i, plaintext.size());
    S3C_RETURN_IF_ERROR(cipher.sealChunk(
        i, i == last, plaintext.subspan(layout.chunkPlainOffset(i), plain),
        MutableByteSpan(out).subspan(layout.chunkCipherOffset(i), plain + kChunkOverhead)));
  }
  return out;
}

Result<Bytes> sealObject(const VolumeKeys& keys, const ObjectParams& params, ByteSpan plaintext,
                         RandomSource& random) {
  S3C_ASSIGN_OR_RETURN(ChunkLayout layout, ChunkLayout::create(params.chunk_size));
  S3C_ASSIGN_OR_RETURN(FileCipher cipher,
                       FileCipher::createNew(keys, params.cipher, layout, random));
  return sealObjectWith(cipher, plaintext);
}

Result<Bytes> openObject(const KeyRing& keys, ByteSpan object, ChunkSizePolicy policy) {
  S3C_ASSIGN_OR_RETURN(FileCipher cipher, FileCipher::open(keys, object, systemRandom(), policy));
  if (object.size() < kObjectHeaderSize) return detail::corrupt("object shorter than its header");
  return cipher.openChunkRange(0, object.subspan(kObjectHeaderSize), object.size());
}

}  // namespace s3cryptfs::format
