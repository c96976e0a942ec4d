#include "volume_filesystem_impl.h"

namespace s3cryptfs::fs {

// ===================================================================== streaming multipart uploads

// Why: without this a big file's staging holds all of it until close, and close then uploads
// all of it. With it, staging holds at most the parts in flight plus the part being filled,
// and close sends only the tail.

bool VolumeFilesystem::touchesSentPartsLocked(const OpenFile& file, uint64_t first,
                                              uint64_t last) const {
  if (!file.stream) return false;
  const uint64_t per_part = file.stream->progress.chunks_per_part;
  for (uint64_t part = first / per_part + 1; part <= last / per_part + 1; ++part) {
    if (file.stream->progress.parts.contains(static_cast<uint32_t>(part)) ||
        file.stream->in_flight.contains(part)) {
      return true;
    }
  }
  return false;
}

bool VolumeFilesystem::outgrowsStreamLocked(const OpenFile& file, uint64_t new_size) const {
  return file.stream &&
         layout_.partCount(new_size, file.stream->progress.chunks_per_part) > Uploader::kMaxParts;
}

Status VolumeFilesystem::collectPartsLocked(OpenFile& file, const NodePtr& node, bool wait) {
  if (!file.stream) return ok();
  PartStream& stream = *file.stream;
  std::vector<uint64_t> sent;
  for (auto it = stream.in_flight.begin(); it != stream.in_flight.end();) {
    if (!wait && it->second.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
      ++it;
      continue;
    }
    Result<store::PartInfo> part = it->second.get();
    if (part) {
      stream.progress.parts[static_cast<uint32_t>(it->first)] = *part;
      ++stream.sent.parts_sent;
      stream.sent.bytes_sent += part->size;
      sent.push_back(it->first);
    } else {
      // Its chunks are still staged: the completion sends the part again.
      log::warn("object {}: part {} failed, to be sent again at close: {}", stream.key, it->first,
                part.error().describe());
    }
    it = stream.in_flight.erase(it);
  }
  if (sent.empty()) return ok();
  // The journal names the parts before their staging space goes: a kill in between leaves data
  // that is both staged and sent, never data that is neither.
  S3C_RETURN_IF_ERROR(journalLocked(file, node));
  const uint64_t per_part = stream.progress.chunks_per_part;
  for (uint64_t part : sent) {
    // The file-system blocks a part shares with a neighbour are freed once both are sent.
    auto is_sent = [&](uint64_t p) {
      return p >= 1 && stream.progress.parts.contains(static_cast<uint32_t>(p));
    };
    uint64_t from = is_sent(part - 1) ? part - 1 : part;
    uint64_t to = is_sent(part + 1) ? part + 1 : part;
    format::ChunkSpan span{(from - 1) * per_part, (to - from + 1) * per_part};
    format::ByteRange range = layout_.cipherRange(span, file.size);
    if (Status released = file.staging->release(range.offset, range.length); !released) {
      log::warn("object {}: {}", stream.key, released.error().describe());
    }
  }
  return ok();
}

Status VolumeFilesystem::startStreamLocked(OpenFile& file, const NodePtr& node,
                                           uint64_t chunks_per_part) {
  auto stream = std::make_unique<PartStream>();
  S3C_ASSIGN_OR_RETURN(stream->key, keyOf(node));
  S3C_ASSIGN_OR_RETURN(stream->sidecar_tag,
                       ErrnoMappingStore::map(volume::VolumeObjects::newSidecarTag()));
  stream->progress.chunks_per_part = chunks_per_part;
  S3C_ASSIGN_OR_RETURN(
      stream->progress.upload_id,
      uploader_.begin(stream->key, volume::VolumeObjects::sidecarMetadata(stream->sidecar_tag)));
  file.stream = std::move(stream);
  return journalLocked(file, node);
}

Status VolumeFilesystem::streamPartsLocked(OpenFile& file, const NodePtr& node, uint64_t first,
                                           uint64_t last) {
  if (file.unlinked || file.staging == nullptr) return ok();
  S3C_RETURN_IF_ERROR(collectPartsLocked(file, node, false));
  // A new stream's parts are sized for four times the current size: a file that outgrows
  // 10 000 parts completes and starts over (outgrowsStreamLocked), and the headroom makes that
  // happen a logarithmic number of times, not once per few parts past 10 000.
  const uint64_t per_part = file.stream ? file.stream->progress.chunks_per_part
                                        : uploader_.chunksPerPart(layout_, 4 * file.size);
  // Small enough for one PUT: nothing to stream (yet).
  if (layout_.partCount(file.size, per_part) <= 1) return ok();
  const uint64_t last_chunk = layout_.lastChunkIndex(file.size);
  for (uint64_t part = first / per_part + 1; part <= last / per_part + 1; ++part) {
    format::ChunkSpan span{(part - 1) * per_part, per_part};
    // A part is final once the file extends past it (no chunk of it is the final chunk, so
    // sequential appends never touch it again) and all of it is staged.
    if (span.first + span.count > last_chunk) break;
    if (file.stream && (file.stream->progress.parts.contains(static_cast<uint32_t>(part)) ||
                        file.stream->in_flight.contains(part))) {
      continue;
    }
    auto from = file.dirty.lower_bound(span.first);
    auto to = file.dirty.lower_bound(span.first + span.count);
    if (static_cast<uint64_t>(std::distance(from, to)) != span.count) continue;
    if (!file.stream) S3C_RETURN_IF_ERROR(startStreamLocked(file, node, per_part));
    PartStream& stream = *file.stream;
    // Bounded: at most upload_concurrency parts in flight; the writer waits for the oldest.
    while (stream.in_flight.size() >= std::max<uint32_t>(1, uploader_.concurrency())) {
      stream.in_flight.begin()->second.wait();
      S3C_RETURN_IF_ERROR(collectPartsLocked(file, node, false));
    }
    auto chunks = std::make_shared<std::set<uint64_t>>(from, to);
    stream.in_flight[part] =
        std::async(std::launch::async,
                   [this, cipher = file.cipher, chunks, staging = file.staging.get(),
                    size = file.size, key = stream.key, id = stream.progress.upload_id, per_part,
                    part]() -> Result<store::PartInfo> {
                     UploadSource source;
                     source.cipher = cipher.get();
                     source.size = size;
                     source.dirty = chunks.get();
                     source.staging = staging;
                     return uploader_.sendPart(source, key, id, per_part, part);
                   });
  }
  return ok();
}

void VolumeFilesystem::dropStreamLocked(OpenFile& file) {
  if (!file.stream) return;
  for (auto& [part, future] : file.stream->in_flight)
    future.wait();
  uploader_.abort(file.stream->key, file.stream->progress.upload_id);
  file.stream.reset();
}

Result<store::ObjectInfo> VolumeFilesystem::finishStreamLocked(OpenFile& file, const NodePtr& node,
                                                               const UploadSource& source,
                                                               const format::Attributes& attrs,
                                                               store::WriteCondition condition,
                                                               UploadStats& stats) {
  S3C_RETURN_IF_ERROR(collectPartsLocked(file, node, true));
  PartStream& stream = *file.stream;
  stats = stream.sent;
  if (source.base_key != stream.key) {
    return Error(ErrorKind::kInternal, "object " + stream.key + " moved while it was uploaded");
  }
  // The sidecar of this version, then the completion: a kill in between leaves the old object
  // current and an orphaned sidecar, which no object points at.
  S3C_RETURN_IF_ERROR(
      ErrnoMappingStore::map(objects_.writeSidecar(stream.key, stream.sidecar_tag, attrs)));
  UploadTarget target{stream.key, volume::VolumeObjects::sidecarMetadata(stream.sidecar_tag),
                      condition};
  auto done = uploader_.finish(source, target, stream.progress, &stats);
  if (!done && isLostRace(done.error()) && Uploader::allStaged(source)) {
    // Our parts exist only in this upload (their staging space was released), and an upload
    // can complete only under its own key: the winner's version moves aside to a conflict name
    // and ours takes the name (docs/SEMANTICS.md). Only when no part is copied from the base:
    // a copy would now read the winner's bytes.
    std::string aside;
    S3C_ASSIGN_OR_RETURN(target.condition, keepWinnerAside(stream.key, aside));
    done = uploader_.finish(source, target, stream.progress, &stats);
    if (done) {
      log::warn("object {} was replaced by another writer while we uploaded; theirs is kept as {}",
                stream.key, aside.empty() ? "nothing (it was deleted)" : aside);
    }
  }
  if (!done) (void)store_.remove(objects_.sidecarKey(stream.key, stream.sidecar_tag));
  return done;
}

Result<store::WriteCondition> VolumeFilesystem::keepWinnerAside(const std::string& key,
                                                                std::string& aside) {
  S3C_ASSIGN_OR_RETURN(std::string path, ErrnoMappingStore::map(objects_.pathOfKey(key)));
  S3C_ASSIGN_OR_RETURN(aside, conflictKeyFor(path));
  auto copied = copyResealed(key, aside);
  if (!copied && copied.error().kind() == ErrorKind::kNotFound) {
    aside.clear();  // the other writer deleted it: nothing to keep, the name is free
    return replaceCondition("");
  }
  S3C_RETURN_IF_ERROR(copied);
  return replaceCondition(copied->etag);
}

Result<std::string> VolumeFilesystem::conflictKeyFor(const std::string& path) {
  S3C_ASSIGN_OR_RETURN(Bytes suffix, crypto::randomBytes(3));
  return objects_.objectKey(path + ".conflict-" + std::to_string(nowNs() / 1000000000) + "-" +
                            toHex(suffix));
}

}  // namespace s3cryptfs::fs
