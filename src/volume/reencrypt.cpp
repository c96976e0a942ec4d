#include "s3cryptfs/volume/reencrypt.h"

#include <algorithm>

#include "s3cryptfs/core/log.h"
#include "s3cryptfs/format/attributes.h"
#include "s3cryptfs/format/chunk_codec.h"
#include "s3cryptfs/format/name_codec.h"

namespace s3cryptfs::volume {
namespace {

// FORMAT.md §6.2: block version u8, cipher u8, then the key version (u32).
constexpr size_t kBlockVersionOffset = 2;
// S3's smallest part (every part but the last).
constexpr uint64_t kMinPartBytes = uint64_t{5} << 20;

bool isOurOwnBookkeeping(std::string_view key) {
  return key == format::kVolumeDescriptorName ||
         key.rfind(std::string(format::kSidecarFolderName) + "/", 0) == 0;
}

uint32_t readU32(ByteSpan bytes, size_t offset) {
  uint32_t value = 0;
  for (size_t i = 0; i < 4; ++i)
    value |= static_cast<uint32_t>(bytes[offset + i]) << (8 * i);
  return value;
}

// The key version an attribute block is sealed under (inline in the metadata, or its sidecar).
Result<uint32_t> attributeBlockVersion(const Volume& volume, std::string_view key,
                                       const store::Metadata& metadata) {
  auto it = metadata.find(std::string(format::kAttributeMetadataName));
  if (it == metadata.end()) return Error(ErrorKind::kNotFound, "no attribute block");
  Bytes block;
  if (VolumeObjects::usesSidecar(metadata)) {
    S3C_ASSIGN_OR_RETURN(
        store::GetResult sidecar,
        volume.store().get(volume.objects().sidecarKeyOf(key, metadata), std::nullopt));
    block = std::move(sidecar.body);
  } else if (!fromBase64(it->second, block)) {
    return Error(ErrorKind::kCorrupt, "attribute block of " + std::string(key) + " is not base64");
  }
  if (block.size() < kBlockVersionOffset + 4) {
    return Error(ErrorKind::kCorrupt, "attribute block of " + std::string(key) + " is too short");
  }
  return readU32(block, kBlockVersionOffset);
}

class Reencryptor {
 public:
  Reencryptor(const Volume& volume, const ReencryptOptions& options)
      : volume_(volume),
        options_(options),
        store_(volume.store()),
        newest_(*volume.keyRing().newest()) {}

  Result<ReencryptProgress> run() {
    store::ListOptions list;
    S3C_ASSIGN_OR_RETURN(store::ListPage all, store::listAll(store_, list));
    for (const store::ObjectInfo& info : all.objects) {
      progress_.total_objects++;
      progress_.total_bytes += info.size;
    }
    for (const store::ObjectInfo& info : all.objects) {
      if (!options_.resume_after.empty() && info.key <= options_.resume_after) {
        progress_.objects_done++;
        progress_.bytes_done += info.size;
        continue;
      }
      if (!isOurOwnBookkeeping(info.key)) {
        if (auto done = one(info.key); !done) {
          return done.error().withContext("reencrypt stopped at object " + info.key + " (" +
                                          std::to_string(progress_.objects_done) + " of " +
                                          std::to_string(progress_.total_objects) + " done)");
        }
      }
      progress_.objects_done++;
      progress_.bytes_done += info.size;
      progress_.last_key = info.key;
      if (options_.on_object && !options_.on_object(progress_)) break;
    }
    return progress_;
  }

 private:
  Status one(const std::string& key) {
    auto head = store_.head(key);
    if (!head) {
      if (head.error().kind() == ErrorKind::kNotFound) return ok();  // deleted meanwhile
      return head.error();
    }
    auto attributes = volume_.objects().openFromMetadata(key, head->metadata);
    if (!attributes) {
      if (attributes.error().kind() == ErrorKind::kNotFound) {
        progress_.foreign++;
        return ok();
      }
      return attributes.error();
    }
    S3C_ASSIGN_OR_RETURN(uint32_t block_version,
                         attributeBlockVersion(volume_, key, head->metadata));
    const bool has_content = attributes->kind != format::NodeKind::kDirectory;
    const bool content_old = has_content && attributes->content_key_version < newest_.version();
    if (!content_old && block_version >= newest_.version()) return ok();
    Status written = has_content ? rewriteContent(key, *head, *attributes)
                                 : rewriteMarker(key, *head, *attributes);
    if (!written && written.error().kind() == ErrorKind::kPreconditionFailed) {
      log::warn("reencrypt: {} changed while it was rewritten; left for a rerun", key);
      progress_.conflicts++;
      return ok();
    }
    if (!written) return written;
    progress_.objects_rewritten++;
    // The new version's block went to a sidecar of its own (a fresh tag); the old version's
    // sidecar is nobody's now. A failed delete leaves a harmless orphan (FORMAT.md §5.4).
    if (std::string old_sidecar = volume_.objects().sidecarKeyOf(key, head->metadata);
        !old_sidecar.empty()) {
      if (auto removed = store_.remove(old_sidecar); !removed) {
        log::warn("reencrypt: the old attribute sidecar of {} stays: {}", key,
                  removed.error().describe());
      }
    }
    return ok();
  }

  store::PutOptions conditionalPut(const store::ObjectInfo& head, store::Metadata metadata) const {
    store::PutOptions put;
    put.metadata = std::move(metadata);
    if (store_.capabilities().conditional_put_if_match) put.condition.if_match = head.etag;
    return put;
  }

  Status rewriteMarker(const std::string& key, const store::ObjectInfo& head,
                       const format::Attributes& attributes) {
    S3C_ASSIGN_OR_RETURN(store::Metadata metadata,
                         volume_.objects().sealToMetadata(key, attributes));
    auto put = store_.put(key, ByteSpan(), conditionalPut(head, std::move(metadata)));
    if (!put) return put.error();
    return ok();
  }

  Status rewriteContent(const std::string& key, const store::ObjectInfo& head,
                        format::Attributes attributes) {
    S3C_ASSIGN_OR_RETURN(store::GetResult header_bytes,
                         store_.get(key, store::ByteRange{0, format::kObjectHeaderSize}));
    if (header_bytes.info.etag != head.etag) {
      return Error(ErrorKind::kPreconditionFailed, key + " changed");
    }
    S3C_ASSIGN_OR_RETURN(format::FileCipher old_cipher,
                         volume_.objects().cipherForHeader(header_bytes.body));
    const format::ChunkLayout layout = old_cipher.layout();
    S3C_ASSIGN_OR_RETURN(format::FileCipher new_cipher,
                         format::FileCipher::createWithFileId(newest_, old_cipher.header().cipher,
                                                              layout, old_cipher.header().file_id));
    S3C_ASSIGN_OR_RETURN(uint64_t plain_size, layout.plainSize(head.size));
    attributes.content_key_version = newest_.version();
    S3C_ASSIGN_OR_RETURN(store::Metadata metadata,
                         volume_.objects().sealToMetadata(key, attributes));

    const uint64_t chunks = layout.chunkCount(plain_size);
    // Whole chunks per part, and every part but the last at least S3's 5 MiB minimum.
    const uint64_t min_part_chunks =
        (kMinPartBytes + layout.cipherChunkSize() - 1) / layout.cipherChunkSize();
    const uint64_t per_part =
        std::max(min_part_chunks, options_.part_bytes / layout.cipherChunkSize());
    if (chunks <= per_part) {
      S3C_ASSIGN_OR_RETURN(Bytes body, resealed(key, head, old_cipher, new_cipher, {0, chunks},
                                                plain_size, /*with_header=*/true));
      auto put = store_.put(key, body, conditionalPut(head, std::move(metadata)));
      if (!put) return put.error();
      return ok();
    }
    store::PutOptions create;
    create.metadata = std::move(metadata);
    S3C_ASSIGN_OR_RETURN(std::string upload, store_.createMultipart(key, create));
    Status uploaded = uploadParts(key, head, old_cipher, new_cipher, plain_size, per_part, upload);
    if (!uploaded) {
      (void)store_.abortMultipart(key, upload);
      return uploaded;
    }
    return ok();
  }

  Status uploadParts(const std::string& key, const store::ObjectInfo& head,
                     const format::FileCipher& old_cipher, const format::FileCipher& new_cipher,
                     uint64_t plain_size, uint64_t per_part, const std::string& upload) {
    const uint64_t chunks = old_cipher.layout().chunkCount(plain_size);
    std::vector<store::PartInfo> parts;
    for (uint64_t first = 0; first < chunks; first += per_part) {
      format::ChunkSpan span{first, std::min(per_part, chunks - first)};
      S3C_ASSIGN_OR_RETURN(Bytes body, resealed(key, head, old_cipher, new_cipher, span, plain_size,
                                                /*with_header=*/first == 0));
      S3C_ASSIGN_OR_RETURN(
          store::PartInfo part,
          store_.uploadPart(key, upload, static_cast<uint32_t>(parts.size() + 1), body));
      parts.push_back(std::move(part));
    }
    store::WriteCondition condition;
    if (store_.capabilities().conditional_put_if_match) condition.if_match = head.etag;
    auto completed = store_.completeMultipart(key, upload, parts, condition);
    if (!completed && completed.error().kind() == ErrorKind::kUnsupported && condition.if_match) {
      // The server cannot make a completion conditional (Ceph RGW 16.2): check the ETag with a
      // HEAD, then complete unconditionally, a window of one round trip (docs/OPERATIONS.md).
      auto current = store_.head(key);
      if (!current || current->etag != head.etag) {
        return Error(ErrorKind::kPreconditionFailed, key + " changed");
      }
      completed = store_.completeMultipart(key, upload, parts, {});
    }
    if (!completed) return completed.error();
    return ok();
  }

  // The chunks of `span` opened with the old key and sealed with the new one (after the new
  // header when with_header).
  Result<Bytes> resealed(const std::string& key, const store::ObjectInfo& head,
                         const format::FileCipher& old_cipher, const format::FileCipher& new_cipher,
                         format::ChunkSpan span, uint64_t plain_size, bool with_header) {
    const format::ChunkLayout layout = old_cipher.layout();
    format::ByteRange range = layout.cipherRange(span, plain_size);
    S3C_ASSIGN_OR_RETURN(store::GetResult fetched,
                         store_.get(key, store::ByteRange{range.offset, range.length}));
    if (fetched.info.etag != head.etag) return Error(ErrorKind::kPreconditionFailed, key);
    S3C_ASSIGN_OR_RETURN(Bytes plain,
                         old_cipher.openChunkRange(span.first, fetched.body, head.size));
    Bytes out;
    if (with_header) {
      ByteSpan header = new_cipher.headerBytes();
      out.assign(header.begin(), header.end());
    }
    const uint64_t last = layout.lastChunkIndex(plain_size);
    size_t offset = 0;
    for (uint64_t index = span.first; index < span.first + span.count; ++index) {
      const uint32_t size = layout.chunkPlainSize(index, plain_size);
      S3C_ASSIGN_OR_RETURN(
          Bytes sealed,
          new_cipher.sealChunk(index, index == last, ByteSpan(plain.data() + offset, size)));
      out.insert(out.end(), sealed.begin(), sealed.end());
      offset += size;
    }
    std::fill(plain.begin(), plain.end(), uint8_t{0});  // plaintext does not linger
    return out;
  }

  const Volume& volume_;
  const ReencryptOptions& options_;
  store::ObjectStore& store_;
  const format::VolumeKeys& newest_;
  ReencryptProgress progress_;
};

}  // namespace

Result<ReencryptProgress> reencryptVolume(const Volume& volume, const ReencryptOptions& options) {
  return Reencryptor(volume, options).run();
}

}  // namespace s3cryptfs::volume
