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

Result<store::ObjectInfo> Uploader::upload(const UploadSource& source, const UploadTarget& target,
                                           UploadStats* stats) const {
  const auto& layout = source.cipher->layout();
  uint64_t per_part = chunksPerPart(layout, source.size);
  if (layout.partCount(source.size, per_part) <= 1) {
    S3C_ASSIGN_OR_RETURN(Bytes body, assemble(source));
    if (stats != nullptr) {
      ++stats->parts_sent;
      stats->bytes_sent += body.size();
    }
    store::PutOptions options{target.metadata, target.condition};
    return store_.put(target.key, body, options);
  }
  MultipartProgress progress;
  progress.chunks_per_part = per_part;
  S3C_ASSIGN_OR_RETURN(progress.upload_id, begin(target.key, target.metadata));
  auto done = finish(source, target, progress, stats);
  if (!done) abort(target.key, progress.upload_id);
  return done;
}

Result<std::string> Uploader::begin(const std::string& key, const store::Metadata& metadata) const {
  // Conditions apply to the completion, not to the creation.
  return store_.createMultipart(key, store::PutOptions{metadata, {}});
}

Result<store::PartInfo> Uploader::sendPart(const UploadSource& source, const std::string& key,
                                           const std::string& upload_id, uint64_t per_part,
                                           uint64_t part, UploadStats* stats) const {
  const auto& layout = source.cipher->layout();
  format::ChunkSpan span = layout.partChunks(part, per_part, source.size);
  bool clean = true;
  for (uint64_t i = span.first; i < span.first + span.count && clean; ++i) {
    clean = !source.dirty->contains(i);
  }
  // Copies only from the version this one replaces (same key, same file id).
  const bool can_copy =
      store_.capabilities().upload_part_copy && !source.base_key.empty() && source.base_key == key;
  if (clean && can_copy) {
    format::ByteRange range = layout.partCipherRange(part, per_part, source.size);
    auto copied =
        store_.uploadPartCopy(key, upload_id, static_cast<uint32_t>(part), source.base_key,
                              store::ByteRange{range.offset, range.length});
    if (copied && stats != nullptr) ++stats->parts_copied;
    return copied;
  }
  Bytes body;
  if (part == 1) {
    ByteSpan header = source.cipher->headerBytes();
    body.insert(body.end(), header.begin(), header.end());
  }
  S3C_RETURN_IF_ERROR(appendChunks(source, span.first, span.count, body));
  auto sent = store_.uploadPart(key, upload_id, static_cast<uint32_t>(part), body);
  if (sent && stats != nullptr) {
    ++stats->parts_sent;
    stats->bytes_sent += body.size();
  }
  return sent;
}

Result<store::ObjectInfo> Uploader::finish(const UploadSource& source, const UploadTarget& target,
                                           const MultipartProgress& progress,
                                           UploadStats* stats) const {
  const auto& layout = source.cipher->layout();
  const uint64_t per_part = progress.chunks_per_part;
  const uint64_t parts = layout.partCount(source.size, per_part);
  if (parts > kMaxParts) {
    return Error(ErrorKind::kInvalidArgument, EFBIG,
                 "object " + target.key + " needs more than 10000 parts");
  }
  std::vector<uint64_t> missing;
  std::vector<store::PartInfo> done(parts);
  for (uint64_t part = 1; part <= parts; ++part) {
    auto sent = progress.parts.find(static_cast<uint32_t>(part));
    if (sent == progress.parts.end()) {
      missing.push_back(part);
    } else {
      done[part - 1] = sent->second;
    }
  }
  std::atomic<size_t> next{0};
  std::mutex mutex;  // guards first_error and *stats
  std::optional<Error> first_error;
  auto worker = [&] {
    UploadStats mine;
    for (;;) {
      {
        std::lock_guard lock(mutex);
        if (first_error) break;
      }
      size_t at = next.fetch_add(1);
      if (at >= missing.size()) break;
      uint64_t part = missing[at];
      auto sent = sendPart(source, target.key, progress.upload_id, per_part, part, &mine);
      if (!sent) {
        std::lock_guard lock(mutex);
        if (!first_error) first_error = sent.error();
        break;
      }
      done[part - 1] = *sent;
    }
    std::lock_guard lock(mutex);
    if (stats != nullptr) {
      stats->parts_sent += mine.parts_sent;
      stats->bytes_sent += mine.bytes_sent;
      stats->parts_copied += mine.parts_copied;
    }
  };
  std::vector<std::thread> threads;
  uint64_t thread_count =
      std::min<uint64_t>(std::max<uint32_t>(1, concurrency_), std::max<size_t>(1, missing.size()));
  for (uint64_t t = 1; t < thread_count; ++t)
    threads.emplace_back(worker);
  worker();
  for (auto& thread : threads)
    thread.join();
  if (first_error) return *first_error;
  return complete(target, progress.upload_id, done);
}

Result<store::ObjectInfo> Uploader::complete(const UploadTarget& target,
                                             const std::string& upload_id,
                                             const std::vector<store::PartInfo>& done) const {
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
    if (!unchanged) return baseChanged(target.key);
    completed = store_.completeMultipart(target.key, upload_id, done, {});
  }
  if (!completed && completed.error().kind() == ErrorKind::kNotFound && target.condition.if_match) {
    return baseChanged(target.key);
  }
  return completed;
}

}  // namespace s3cryptfs::fs
