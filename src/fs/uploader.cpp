#include "uploader.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "s3cryptfs/core/log.h"

namespace s3cryptfs::fs {

namespace {
Error baseChanged(const std::string& key) {
  return Error(ErrorKind::kPreconditionFailed,
               "object " + key + " was changed by another writer while we uploaded");
}
}  // namespace

uint64_t Uploader::chunksPerPart(const format::ChunkLayout& layout, uint64_t size) const {
  // S3 allows 10 000 parts: very big files get bigger parts.
  uint64_t chunks = layout.chunkCount(size);
  return std::max(
      {uint64_t{1}, part_bytes_ / layout.chunkSize(), (chunks + kMaxParts - 1) / kMaxParts});
}

bool Uploader::allStaged(const UploadSource& source) {
  const auto& layout = source.cipher->layout();
  return source.dirty->size() == layout.chunkCount(source.size);
}

Status Uploader::appendChunks(const UploadSource& source, uint64_t first, uint64_t count,
                              Bytes& out) const {
  const auto& layout = source.cipher->layout();
  uint64_t index = first;
  const uint64_t end = first + count;
  while (index < end) {
    if (source.dirty->contains(index)) {
      uint64_t length = layout.chunkPlainSize(index, source.size) + format::kChunkOverhead;
      size_t at = out.size();
      out.resize(at + length);
      S3C_RETURN_IF_ERROR(source.staging->read(layout.chunkCipherOffset(index),
                                               MutableByteSpan(out.data() + at, length)));
      ++index;
      continue;
    }
    // A run of unchanged chunks: one ranged read of the base.
    uint64_t run_end = index;
    while (run_end < end && !source.dirty->contains(run_end))
      ++run_end;
    format::ByteRange range = layout.cipherRange({index, run_end - index}, source.size);
    auto got = store_.get(source.base_key, store::ByteRange{range.offset, range.length});
    if (!got) {
      if (got.error().kind() == ErrorKind::kNotFound) return baseChanged(source.base_key);
      return got.error();
    }
    if (got->info.etag != source.base_etag || got->body.size() != range.length) {
      return baseChanged(source.base_key);
    }
    out.insert(out.end(), got->body.begin(), got->body.end());
    index = run_end;
  }
  return ok();
}

Result<Bytes> Uploader::assemble(const UploadSource& source) const {
  const auto& layout = source.cipher->layout();
  Bytes body;
  body.reserve(layout.cipherSize(source.size));
  ByteSpan header = source.cipher->headerBytes();
  body.insert(body.end(), header.begin(), header.end());
  S3C_RETURN_IF_ERROR(appendChunks(source, 0, layout.chunkCount(source.size), body));
  return body;
}

Result<store::ObjectInfo> Uploader::upload(const UploadSource& source,
                                           const UploadTarget& target) const {
  const auto& layout = source.cipher->layout();
  uint64_t per_part = chunksPerPart(layout, source.size);
  if (layout.partCount(source.size, per_part) <= 1) {
    S3C_ASSIGN_OR_RETURN(Bytes body, assemble(source));
    store::PutOptions options{target.metadata, target.condition};
    return store_.put(target.key, body, options);
  }
  return uploadMultipart(source, target, per_part);
}

Result<store::ObjectInfo> Uploader::uploadMultipart(const UploadSource& source,
                                                    const UploadTarget& target,
                                                    uint64_t per_part) const {
  const auto& layout = source.cipher->layout();
  const uint64_t parts = layout.partCount(source.size, per_part);
  store::PutOptions options{target.metadata, {}};
  S3C_ASSIGN_OR_RETURN(std::string upload_id, store_.createMultipart(target.key, options));
  const bool can_copy =
      store_.capabilities().upload_part_copy && !source.base_key.empty() &&
      source.base_key == target.key;  // copies only from the version this one replaces

  std::vector<store::PartInfo> done(parts);
  std::atomic<uint64_t> next{1};
  std::mutex error_mutex;
  std::optional<Error> first_error;
  auto worker = [&] {
    for (;;) {
      {
        std::lock_guard lock(error_mutex);
        if (first_error) return;
      }
      uint64_t part = next.fetch_add(1);
      if (part > parts) return;
      format::ChunkSpan span = layout.partChunks(part, per_part, source.size);
      bool clean = true;
      for (uint64_t i = span.first; i < span.first + span.count && clean; ++i) {
        clean = !source.dirty->contains(i);
      }
      Result<store::PartInfo> uploaded = Error(ErrorKind::kInternal, "part not uploaded");
      if (clean && can_copy) {
        format::ByteRange range = layout.partCipherRange(part, per_part, source.size);
        uploaded =
            store_.uploadPartCopy(target.key, upload_id, static_cast<uint32_t>(part),
                                  source.base_key, store::ByteRange{range.offset, range.length});
      } else {
        Bytes body;
        if (part == 1) {
          ByteSpan header = source.cipher->headerBytes();
          body.insert(body.end(), header.begin(), header.end());
        }
        Status appended = appendChunks(source, span.first, span.count, body);
        if (!appended) {
          uploaded = appended.error();
        } else {
          uploaded = store_.uploadPart(target.key, upload_id, static_cast<uint32_t>(part), body);
        }
      }
      if (!uploaded) {
        std::lock_guard lock(error_mutex);
        if (!first_error) first_error = uploaded.error();
        return;
      }
      done[part - 1] = *uploaded;
    }
  };
  std::vector<std::thread> threads;
  uint64_t thread_count = std::min<uint64_t>(std::max<uint32_t>(1, concurrency_), parts);
  for (uint64_t t = 1; t < thread_count; ++t)
    threads.emplace_back(worker);
  worker();
  for (auto& thread : threads)
    thread.join();
  if (first_error) {
    (void)store_.abortMultipart(target.key, upload_id);
    return *first_error;
  }
  auto completed = store_.completeMultipart(target.key, upload_id, done, target.condition);
  if (!completed && completed.error().kind() == ErrorKind::kUnsupported &&
      (target.condition.if_match || target.condition.if_none_match)) {
    // The server cannot make the completion conditional (Ceph RGW 16.2): check the version
    // ourselves, then complete unconditionally. This leaves a window of one round trip in which
    // another writer's upload can be overwritten (docs/SEMANTICS.md).
    static std::once_flag logged;
    std::call_once(logged, [&] {
      log::warn(
          "{} cannot make multipart completions conditional; checking versions with HEAD "
          "before completing instead",
          store_.describe());
    });
    auto current = store_.head(target.key);
    bool unchanged = target.condition.if_match
                         ? current && current->etag == *target.condition.if_match
                         : !current && current.error().kind() == ErrorKind::kNotFound;
    if (!unchanged) {
      (void)store_.abortMultipart(target.key, upload_id);
      return baseChanged(target.key);
    }
    completed = store_.completeMultipart(target.key, upload_id, done, {});
  }
  if (!completed) {
    (void)store_.abortMultipart(target.key, upload_id);
    if (completed.error().kind() == ErrorKind::kNotFound && target.condition.if_match) {
      return baseChanged(target.key);
    }
  }
  return completed;
}

}  // namespace s3cryptfs::fs
