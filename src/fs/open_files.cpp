#include "volume_filesystem_impl.h"

namespace s3cryptfs::fs {

// ===================================================================== open files

Result<VolumeFilesystem::FilePtr> VolumeFilesystem::attachFile(const NodePtr& node) {
  {
    std::lock_guard lock(table_mutex_);
    if (node->file != nullptr) {
      ++node->open_handles;
      return node->file;
    }
    node->attrs_known = node->attrs_known && Clock::now() - node->fetched < options_.metadata_ttl;
  }
  // Close-to-open: an open sees the newest version (one HEAD unless the TTL says it is fresh).
  S3C_RETURN_IF_ERROR(refreshNode(node));
  std::lock_guard lock(table_mutex_);
  if (node->file != nullptr) {
    ++node->open_handles;
    return node->file;
  }
  auto file = std::make_shared<OpenFile>();
  file->remote_etag = node->etag;
  file->remote_size = node->attrs.size;
  file->size = node->attrs.size;
  node->file = file;
  ++node->open_handles;
  return file;
}

void VolumeFilesystem::detachFile(const NodePtr& node, bool keep_staged) {
  std::lock_guard lock(table_mutex_);
  if (node->open_handles > 0) --node->open_handles;
  if (node->open_handles == 0) {
    // Data whose upload failed stays attached ("parked"): the next open continues from it and
    // the next flush or syncAll retries, rather than showing the old version until a remount.
    if (keep_staged) return;
    node->file = nullptr;
    node->fetched = Clock::now();
    maybeEraseLocked(node->ino);
  }
}

Result<HandleId> VolumeFilesystem::open(InodeId ino, int flags) {
  std::shared_lock ns(namespace_mutex_);
  S3C_ASSIGN_OR_RETURN(NodePtr node, nodeOf(ino));
  S3C_RETURN_IF_ERROR(refreshNode(node));
  {
    std::lock_guard lock(table_mutex_);
    if (node->isDir()) return Error(ErrorKind::kIsDirectory, "is a directory");
    if (node->attrs.kind == format::NodeKind::kSymlink) {
      return errnoError(ErrorKind::kInvalidArgument, ELOOP, "is a symlink");
    }
  }
  S3C_ASSIGN_OR_RETURN(FilePtr file, attachFile(node));
  if ((flags & O_TRUNC) != 0 && (flags & O_ACCMODE) != O_RDONLY) {
    std::lock_guard file_lock(file->mutex);
    if (file->size != 0 || file->dirty.empty()) {
      Status truncated = resizeLocked(*file, node, 0);
      if (truncated) truncated = journalLocked(*file, node);
      if (!truncated) {
        detachFile(node);
        return truncated.error();
      }
      setSizeAttrs(node, 0, true);
    }
  }
  std::lock_guard lock(table_mutex_);
  HandleId id = next_handle_++;
  handles_[id] = Handle{node, flags};
  return id;
}

Status VolumeFilesystem::ensureCipher(OpenFile& file, const NodePtr& node,
                                      uint64_t prefetch_chunks) {
  if (file.cipher) return ok();
  S3C_ASSIGN_OR_RETURN(bool read, readHeader(file, node, prefetch_chunks, false));
  if (read) return ok();
  S3C_RETURN_IF_ERROR(readHeader(file, node, prefetch_chunks, true));
  return ok();
}

Result<bool> VolumeFilesystem::readHeader(OpenFile& file, const NodePtr& node,
                                          uint64_t prefetch_chunks, bool retried) {
  std::string path;
  format::Attributes attrs;
  {
    std::lock_guard lock(table_mutex_);
    path = pathLocked(*node);
    attrs = node->attrs;
  }
  attrs.size = file.remote_size;  // the header belongs to the remote version
  S3C_ASSIGN_OR_RETURN(std::string key, objects_.objectKey(path));
  uint64_t chunks = std::min(prefetch_chunks, layout_.chunkCount(file.remote_size));
  uint64_t length = chunks == 0 ? format::kObjectHeaderSize
                                : layout_.cipherRange({0, chunks}, file.remote_size).end();
  auto got = store_.get(key, store::ByteRange{0, length});
  if (!got) return got.error().withContext("reading the header of " + key);
  if (got->info.etag != file.remote_etag) {
    if (!file.dirty.empty() || retried) {
      return Error(ErrorKind::kPreconditionFailed,
                   "object " + key + " was replaced by another writer while open");
    }
    // Another writer replaced it since our attributes were cached (within the TTL): nothing
    // of the old version was read yet, so this open simply takes the new one (close-to-open).
    S3C_RETURN_IF_ERROR(refreshNode(node, true));
    std::lock_guard lock(table_mutex_);
    file.remote_etag = node->etag;
    file.remote_size = node->attrs.size;
    file.size = node->attrs.size;
    return false;
  }
  auto cipher = objects_.cipherForHeader(got->body);
  if (!cipher) {
    log::error("object {}: header does not open: {}", key, cipher.error().describe());
    return cipher.error().withContext("object " + key);
  }
  if (auto bound = format::checkContentBinding(attrs, cipher->header(), got->info.size); !bound) {
    log::error("object {}: content does not belong to its attributes: {}", key,
               bound.error().describe());
    return bound.error().withContext("object " + key);
  }
  file.cipher = std::make_shared<const format::FileCipher>(std::move(cipher).value());
  if (chunks > 0 && got->body.size() == length) {
    ByteSpan fetched(got->body.data() + format::kObjectHeaderSize,
                     got->body.size() - format::kObjectHeaderSize);
    uint64_t at = 0;
    for (uint64_t i = 0; i < chunks; ++i) {
      uint64_t sealed = layout_.chunkPlainSize(i, file.remote_size) + format::kChunkOverhead;
      bool final = i == layout_.lastChunkIndex(file.remote_size);
      auto opened = file.cipher->openChunk(i, final, fetched.subspan(at, sealed));
      if (!opened) break;  // the read that follows fetches it again and reports it
      cache_.insert(cacheKey(file, i), std::make_shared<const Bytes>(std::move(opened).value()));
      at += sealed;
    }
  }
  return true;
}

Status VolumeFilesystem::fetchRemote(OpenFile& file, const std::string& key, uint64_t first,
                                     uint64_t count, uint64_t required) {
  return fetchChunks(viewOf(file, first, count), key, first, count, required);
}

Status VolumeFilesystem::fetchChunks(const RemoteView& view, const std::string& key, uint64_t first,
                                     uint64_t count, uint64_t required) {
  FetchPlan plan = planFetch(view, first, count, required);
  return runFetch(view, key, plan, first + required);
}

VolumeFilesystem::FetchPlan VolumeFilesystem::planFetch(const RemoteView& view, uint64_t first,
                                                        uint64_t count, uint64_t required) {
  // Clean chunks below the remote size that are neither cached nor being fetched by another
  // reader are claimed, as runs of at most kChunksPerFetch chunks; the required ones others
  // are fetching are to be waited for.
  FetchPlan plan;
  uint64_t remote_chunks = layout_.chunkCount(view.size);
  uint64_t end = std::min(first + count, remote_chunks);
  for (uint64_t i = first; i < end; ++i) {
    if (view.skip.contains(i)) continue;
    std::string chunk_key = cacheKey(*view.cipher, view.etag, i);
    if (cache_.find(chunk_key) != nullptr) continue;
    if (!inflight_.tryClaim(chunk_key)) {
      if (i < first + required) plan.awaited.push_back(std::move(chunk_key));
      continue;
    }
    plan.claimed.push_back(std::move(chunk_key));
    if (!plan.runs.empty() && plan.runs.back().first + plan.runs.back().count == i &&
        plan.runs.back().count < kChunksPerFetch) {
      ++plan.runs.back().count;
    } else {
      plan.runs.push_back({i, 1});
    }
  }
  return plan;
}

Status VolumeFilesystem::runFetch(const RemoteView& view, const std::string& key,
                                  const FetchPlan& plan, uint64_t required_end) {
  // The claimed runs, several in parallel; then the chunks others were fetching.
  const std::vector<format::ChunkSpan>& runs = plan.runs;
  if (runs.empty()) {
    inflight_.waitFor(plan.awaited, kInflightWait);
    return ok();
  }
  // Per run: the index of the chunk that failed, and why.
  std::vector<std::optional<std::pair<uint64_t, Error>>> errors(runs.size());
  parallelFor(runs.size(), kFetchConcurrency, [&](size_t r) {
    format::ChunkSpan run = runs[r];
    format::ByteRange range = layout_.cipherRange(run, view.size);
    auto got = store_.get(key, store::ByteRange{range.offset, range.length});
    if (!got) {
      errors[r] = {run.first, got.error().withContext("reading " + key)};
      return;
    }
    if (got->info.etag != view.etag) {
      errors[r] = {run.first,
                   Error(ErrorKind::kPreconditionFailed,
                         "object " + key + " was replaced by another writer while open")};
      return;
    }
    // Chunks are opened one by one so a damaged chunk fails only itself.
    uint64_t at = 0;
    for (uint64_t i = run.first; i < run.first + run.count; ++i) {
      uint64_t plain = layout_.chunkPlainSize(i, view.size);
      uint64_t sealed = plain + format::kChunkOverhead;
      if (at + sealed > got->body.size()) {
        errors[r] = {i, Error(ErrorKind::kCorrupt, "object " + key + " is shorter than its size")};
        return;
      }
      bool final = layout_.cipherSize(view.size) == layout_.chunkCipherOffset(i) + sealed;
      auto opened = view.cipher->openChunk(i, final, ByteSpan(got->body.data() + at, sealed));
      at += sealed;
      if (!opened) {
        log::error("object {}: {}", key, opened.error().message());
        errors[r] = {i, opened.error().withContext("object " + key)};
        return;  // the chunks before it are cached
      }
      cache_.insert(cacheKey(*view.cipher, view.etag, i),
                    std::make_shared<const Bytes>(std::move(opened).value()));
    }
  });
  // Released before waiting for the others: two readers each waiting for the other's chunks
  // must not both hold theirs.
  inflight_.release(plan.claimed);
  for (auto& error : errors) {
    if (error && error->first < required_end) return error->second;
  }
  inflight_.waitFor(plan.awaited, kInflightWait);
  return ok();
}

Result<std::shared_ptr<const Bytes>> VolumeFilesystem::chunkPlain(OpenFile& file,
                                                                  const std::string& key,
                                                                  uint64_t index) {
  uint64_t length = layout_.chunkPlainSize(index, file.size);
  if (file.dirty.contains(index)) {
    Bytes sealed(length + format::kChunkOverhead);
    S3C_RETURN_IF_ERROR(file.staging->read(layout_.chunkCipherOffset(index), sealed));
    bool final = index == layout_.lastChunkIndex(file.size);
    auto opened = file.cipher->openChunk(index, final, sealed);
    if (!opened) {
      log::error("staging file {}: {}", file.staging->dataPath(), opened.error().message());
      return opened.error();
    }
    return std::make_shared<const Bytes>(std::move(opened).value());
  }
  if (length == 0 && (index > 0 || file.size == 0) &&
      index >= layout_.chunkCount(file.remote_size)) {
    return std::make_shared<const Bytes>();
  }
  if (auto cached = cache_.find(cacheKey(file, index))) return cached;
  S3C_RETURN_IF_ERROR(fetchRemote(file, key, index, 1, 1));
  if (auto cached = cache_.find(cacheKey(file, index))) return cached;
  // Fetched but already evicted (a tiny cache): fetch once more into a private buffer.
  format::ByteRange range = layout_.cipherRange({index, 1}, file.remote_size);
  S3C_ASSIGN_OR_RETURN(store::GetResult got,
                       store_.get(key, store::ByteRange{range.offset, range.length}));
  S3C_ASSIGN_OR_RETURN(Bytes plain, file.cipher->openChunkRange(
                                        index, got.body, layout_.cipherSize(file.remote_size)));
  return std::make_shared<const Bytes>(std::move(plain));
}

Status VolumeFilesystem::stageChunk(OpenFile& file, uint64_t index, ByteSpan plain) {
  if (file.staging == nullptr) {
    S3C_ASSIGN_OR_RETURN(file.staging, StagingFile::create(options_.staging_dir));
  }
  bool final = index == layout_.lastChunkIndex(file.size);
  S3C_ASSIGN_OR_RETURN(Bytes sealed, file.cipher->sealChunk(index, final, plain));
  S3C_RETURN_IF_ERROR(file.staging->write(layout_.chunkCipherOffset(index), sealed));
  file.dirty.insert(index);
  return ok();
}

// Rewrites chunks [first, last] for a file that is becoming new_size bytes long, applying
// `patch` at plaintext offset patch_offset. Each chunk is read (unless the patch covers it),
// resized to its length under new_size (zeros past the old end), patched and sealed once.
Status VolumeFilesystem::rewriteChunks(OpenFile& file, const std::string& key, uint64_t new_size,
                                       uint64_t first, uint64_t last, uint64_t patch_offset,
                                       ByteSpan patch) {
  const uint64_t old_size = file.size;
  if (file.remote_size > 0 || !file.dirty.empty()) {
    // Prefetch the clean chunks this write needs in one go (parallel ranged GETs): only those
    // below the current size (past it, or after a truncation to 0 under a new file id, the
    // remote chunks are not this file's content).
    bool any_clean = false;
    for (uint64_t i = first; i <= last && !any_clean; ++i) {
      any_clean = !file.dirty.contains(i) && i < layout_.chunkCount(file.remote_size) &&
                  layout_.chunkPlainOffset(i) < old_size;
    }
    if (any_clean) {
      S3C_RETURN_IF_ERROR(fetchRemote(file, key, first, last - first + 1, last - first + 1));
    }
  }
  // Space for every chunk is reserved before the first is staged: a full staging folder then
  // fails the whole write, with no chunk half-overwritten and no chunk sealed for a size the
  // file does not get (ENOSPC, and the file stays as it was before the write).
  if (file.staging == nullptr) {
    S3C_ASSIGN_OR_RETURN(file.staging, StagingFile::create(options_.staging_dir));
  }
  format::ByteRange span = layout_.cipherRange({first, last - first + 1}, new_size);
  S3C_RETURN_IF_ERROR(file.staging->reserve(span.offset, span.length));
  for (uint64_t i = first; i <= last; ++i) {
    uint64_t chunk_start = layout_.chunkPlainOffset(i);
    uint64_t new_length = layout_.chunkPlainSize(i, new_size);
    uint64_t patch_from = std::max(chunk_start, patch_offset);
    uint64_t patch_to = std::min(chunk_start + new_length, patch_offset + patch.size());
    bool covered = patch_from == chunk_start && patch_to == chunk_start + new_length;
    Bytes plain;
    if (!covered && chunk_start < old_size) {
      S3C_ASSIGN_OR_RETURN(auto current, chunkPlain(file, key, i));
      plain = *current;
    }
    plain.resize(new_length, 0);
    if (patch_from < patch_to) {
      std::memcpy(plain.data() + (patch_from - chunk_start),
                  patch.data() + (patch_from - patch_offset), patch_to - patch_from);
    }
    uint64_t saved = file.size;
    file.size = new_size;  // stageChunk seals the final flag for the new size
    Status staged = stageChunk(file, i, plain);
    file.size = saved;
    S3C_RETURN_IF_ERROR(staged);
  }
  return ok();
}

Status VolumeFilesystem::resizeLocked(OpenFile& file, const NodePtr& node, uint64_t new_size) {
  if (new_size == 0) dropStreamLocked(file);
  if (file.stream && (new_size < file.size || outgrowsStreamLocked(file, new_size))) {
    // Cutting into parts already sent (their staging space is gone): complete them first.
    S3C_RETURN_IF_ERROR(uploadLocked(file, node));
    if (!file.cipher) return lostWhileOpenError();
  }
  if (new_size == 0) {
    // A rewrite from scratch gets a new file id, which resets its nonce budget (FORMAT §4.3).
    S3C_ASSIGN_OR_RETURN(format::FileCipher cipher, objects_.newFileCipher());
    file.cipher = std::make_shared<const format::FileCipher>(std::move(cipher));
    file.dirty.clear();
    file.size = 0;
    return stageChunk(file, 0, {});
  }
  S3C_RETURN_IF_ERROR(ensureCipher(file, node));
  S3C_ASSIGN_OR_RETURN(std::string key, keyOf(node));
  if (new_size == file.size) return ok();
  uint64_t new_last = layout_.lastChunkIndex(new_size);
  if (new_size < file.size) {
    // Chunks past the new end are dropped; the new last chunk is cut and sealed as final.
    for (auto it = file.dirty.upper_bound(new_last); it != file.dirty.end();) {
      it = file.dirty.erase(it);
    }
    S3C_RETURN_IF_ERROR(rewriteChunks(file, key, new_size, new_last, new_last, 0, {}));
  } else {
    // Growing by more than a few parts (a big hole): a part at a time, each streamed out before
    // the next is staged, so the hole needs no more staging space than a sequential write.
    // (Such a growth that fails half way leaves the file grown by the parts done.)
    const uint64_t step = partBytesFor(file, new_size);
    while (new_size - file.size > 2 * step) {
      uint64_t to = (file.size / step + 1) * step;
      uint64_t from_chunk = layout_.lastChunkIndex(file.size);
      uint64_t to_chunk = layout_.lastChunkIndex(to);
      S3C_RETURN_IF_ERROR(rewriteChunks(file, key, to, from_chunk, to_chunk, 0, {}));
      file.size = to;
      setSizeAttrs(node, to, false);
      S3C_RETURN_IF_ERROR(journalLocked(file, node));
      S3C_RETURN_IF_ERROR(streamPartsLocked(file, node, from_chunk, to_chunk));
    }
    uint64_t old_last = layout_.lastChunkIndex(file.size);
    S3C_RETURN_IF_ERROR(rewriteChunks(file, key, new_size, old_last, new_last, 0, {}));
  }
  file.size = new_size;
  return ok();
}

Status VolumeFilesystem::journalLocked(OpenFile& file, const NodePtr& node) {
  if (file.staging == nullptr || file.unlinked || file.dirty.empty()) return ok();
  JournalRecord record;
  format::Attributes attrs;
  {
    std::lock_guard lock(table_mutex_);
    record.key = objects_.objectKey(pathLocked(*node)).value_or(std::string());
    attrs = node->attrs;
  }
  if (record.key.empty()) return Error(ErrorKind::kInternal, "file without an object key");
  attrs.size = file.size;
  attrs.content_key_version = file.cipher->header().key_version;
  attrs.file_id = file.cipher->header().file_id;
  record.base_etag = file.remote_etag;
  record.size = file.size;
  ByteSpan header = file.cipher->headerBytes();
  record.header.assign(header.begin(), header.end());
  const format::VolumeKeys* newest = objects_.keyRing().newest();
  S3C_ASSIGN_OR_RETURN(
      record.attributes_text,
      format::sealAttributesText(*newest, volume_->descriptor().cipher, record.key, attrs));
  record.chunks.assign(file.dirty.begin(), file.dirty.end());
  if (file.stream) {
    record.upload_id = file.stream->progress.upload_id;
    record.chunks_per_part = file.stream->progress.chunks_per_part;
    record.sidecar_tag = file.stream->sidecar_tag;
    for (const auto& [number, part] : file.stream->progress.parts)
      record.parts.push_back(part);
  }
  return file.staging->writeJournal(record);
}

Result<size_t> VolumeFilesystem::read(HandleId handle, uint64_t offset, MutableByteSpan out) {
  S3C_ASSIGN_OR_RETURN(auto opened, openFileOf(handle, O_WRONLY, "not open for reading"));
  auto& [h, file] = opened;
  // Three steps so that readers of one file fetch in parallel: decide what to fetch (locked),
  // fetch and open it into the cache (unlocked), copy out (locked; whatever changed meanwhile,
  // a write or an upload, is then read from staging or fetched again).
  std::string key;
  RemoteView view;
  format::ChunkSpan span;
  uint64_t window = 0;
  uint64_t ahead_from = 0;
  {
    std::lock_guard file_lock(file->mutex);
    if (offset >= file->size || out.empty()) return size_t{0};
    uint64_t length = std::min<uint64_t>(out.size(), file->size - offset);
    span = layout_.chunksFor(offset, length);
    if (touchesSentPartsLocked(*file, span.first, span.first + span.count - 1)) {
      S3C_RETURN_IF_ERROR(uploadLocked(*file, h.node));
      if (!file->cipher) return lostWhileOpenError();
    }
    S3C_RETURN_IF_ERROR(
        ensureCipher(*file, h.node, span.first == 0 ? std::max<uint64_t>(span.count, 4) : 0));
    S3C_ASSIGN_OR_RETURN(key, keyOf(h.node));
    // Readahead: sequential reads double the window up to kMaxReadaheadBytes. It is fetched
    // in batches (when less than half a window is left ahead), so each fetch is big enough to
    // run as several parallel ranges instead of a trickle of two-chunk GETs.
    window = span.count;
    uint64_t span_end = span.first + span.count;
    ahead_from = span_end;
    // Sequential within a slack: the kernel sends a file's reads in parallel, so they may
    // arrive a little out of order.
    bool sequential = offset != 0 && file->next_sequential != 0 &&
                      offset + kSequentialSlack >= file->next_sequential &&
                      offset <= file->next_sequential + kSequentialSlack;
    if (sequential) {
      uint64_t max_chunks = std::max<uint64_t>(1, kMaxReadaheadBytes / layout_.chunkSize());
      file->readahead_chunks =
          std::min(max_chunks, std::max<uint64_t>(4, file->readahead_chunks * 2));
      if (span_end + file->readahead_chunks / 2 >= file->prefetched_until) {
        // From where the last window ended: windows do not overlap.
        ahead_from = std::max(span_end, file->prefetched_until);
        window = span.count + file->readahead_chunks;
        file->prefetched_until = span.first + window;
      }
    } else {
      file->readahead_chunks = 0;
      file->prefetched_until = 0;
    }
    file->next_sequential =
        sequential ? std::max(file->next_sequential, offset + length) : offset + length;
    view = viewOf(*file, span.first, window);
  }
  // The chunks of this read now; the readahead after them in the background, so the reader
  // consumes one window while the next is fetched (here, after this read's chunks, when the
  // background is busy: a window is never skipped).
  S3C_RETURN_IF_ERROR(fetchChunks(view, key, span.first, span.count, span.count));
  uint64_t ahead_to = span.first + window;
  if (ahead_to > ahead_from) {
    // Claimed here, fetched there: the reads that follow wait for these chunks instead of
    // racing the background thread to fetch them one by one.
    auto plan = std::make_shared<FetchPlan>(planFetch(view, ahead_from, ahead_to - ahead_from, 0));
    auto fetchAhead = [this, view, key, plan] { (void)runFetch(view, key, *plan, 0); };
    if (!plan->runs.empty() && !readahead_.post(fetchAhead)) fetchAhead();
  }
  std::lock_guard file_lock(file->mutex);
  if (offset >= file->size) return size_t{0};  // truncated meanwhile
  S3C_ASSIGN_OR_RETURN(key, keyOf(h.node));    // renamed meanwhile
  uint64_t length = std::min<uint64_t>(out.size(), file->size - offset);
  size_t done = 0;
  for (const format::ChunkRef& ref : layout_.split(offset, length)) {
    S3C_ASSIGN_OR_RETURN(auto plain, chunkPlain(*file, key, ref.index));
    if (plain->size() < ref.offset_in_chunk + ref.length) {
      return Error(ErrorKind::kCorrupt, "object " + key + ": chunk " + std::to_string(ref.index) +
                                            " is shorter than the file size says");
    }
    std::memcpy(out.data() + done, plain->data() + ref.offset_in_chunk, ref.length);
    done += ref.length;
  }
  return done;
}

Result<size_t> VolumeFilesystem::write(HandleId handle, uint64_t offset, ByteSpan data) {
  S3C_ASSIGN_OR_RETURN(auto opened, openFileOf(handle, O_RDONLY, "not open for writing"));
  auto& [h, file] = opened;
  std::lock_guard file_lock(file->mutex);
  if ((h.flags & O_APPEND) != 0) offset = file->size;
  if (data.empty()) return size_t{0};
  uint64_t end = offset + data.size();
  uint64_t new_size = std::max(file->size, end);
  uint64_t first = layout_.chunkIndexOf(offset);
  uint64_t last = layout_.chunkIndexOf(end - 1);
  // Growing the file also rewrites the old last chunk (no longer final, padded) and any gap.
  if (new_size > file->size) first = std::min(first, layout_.lastChunkIndex(file->size));
  if (touchesSentPartsLocked(*file, first, last) || outgrowsStreamLocked(*file, new_size)) {
    // A write into a part already sent: the upload completes first, and this write then
    // rewrites that part of the new version (sent again, the rest copied server-side).
    S3C_RETURN_IF_ERROR(uploadLocked(*file, h.node));
    if (!file->cipher) return lostWhileOpenError();
  }
  S3C_RETURN_IF_ERROR(ensureCipher(*file, h.node));
  if (offset > file->size && offset - file->size > 2 * partBytesFor(*file, new_size)) {
    // A write far past the end: the hole first, streamed a part at a time (resizeLocked).
    S3C_RETURN_IF_ERROR(resizeLocked(*file, h.node, offset));
    first = std::min(layout_.chunkIndexOf(offset), layout_.lastChunkIndex(file->size));
  }
  S3C_ASSIGN_OR_RETURN(std::string key, keyOf(h.node));
  size_t dirty_before = file->dirty.size();
  S3C_RETURN_IF_ERROR(rewriteChunks(*file, key, new_size, first, last, offset, data));
  bool grew = new_size != file->size;
  file->size = new_size;
  setSizeAttrs(h.node, new_size, true);
  if (grew || file->dirty.size() != dirty_before) S3C_RETURN_IF_ERROR(journalLocked(*file, h.node));
  S3C_RETURN_IF_ERROR(streamPartsLocked(*file, h.node, first, last));
  return data.size();
}

Status VolumeFilesystem::saveConflict(const NodePtr& node, const std::string& key,
                                      const format::FileCipher& cipher, const UploadSource& source,
                                      std::optional<Bytes> body) {
  std::string path;
  format::Attributes attrs;
  {
    std::lock_guard lock(table_mutex_);
    attrs = node->attrs;
    path = pathLocked(*node);
  }
  attrs.size = source.size;
  attrs.content_key_version = cipher.header().key_version;
  attrs.file_id = cipher.header().file_id;
  S3C_ASSIGN_OR_RETURN(std::string conflict_key, conflictKeyFor(path));
  S3C_ASSIGN_OR_RETURN(store::Metadata metadata,
                       ErrnoMappingStore::map(objects_.sealToMetadata(conflict_key, attrs)));
  if (body) {
    S3C_RETURN_IF_ERROR(putNew(conflict_key, *body, metadata));
  } else if (Uploader::allStaged(source)) {
    UploadTarget target{conflict_key, metadata, {}};
    target.condition.if_none_match = caps_.conditional_put_if_none_match;
    S3C_RETURN_IF_ERROR(uploader_.upload(source, target));
  } else {
    log::error(
        "inode {}: object {} was replaced by another writer and our unchanged parts "
        "went with it; our changes stay in staging file {}",
        node->ino, key, source.staging ? source.staging->dataPath() : "-");
    return Error(ErrorKind::kPreconditionFailed,
                 "lost a race with another writer; the changes stay staged");
  }
  log::warn("inode {}: object {} was replaced by another writer; our version is kept as {}",
            node->ino, key, conflict_key);
  return ok();
}

Status VolumeFilesystem::uploadLocked(OpenFile& file, const NodePtr& node) {
  if (file.unlinked || file.dirty.empty()) return ok();
  format::Attributes attrs;
  std::string old_sidecar;
  {
    std::lock_guard lock(table_mutex_);
    attrs = node->attrs;
    old_sidecar = node->sidecar_key;
  }
  S3C_ASSIGN_OR_RETURN(std::string key, keyOf(node));
  attrs.size = file.size;
  attrs.content_key_version = file.cipher->header().key_version;
  attrs.file_id = file.cipher->header().file_id;
  UploadSource source;
  source.cipher = file.cipher.get();
  source.size = file.size;
  source.dirty = &file.dirty;
  source.staging = file.staging.get();
  source.base_key = key;
  source.base_etag = file.remote_etag;
  const store::WriteCondition condition = replaceCondition(file.remote_etag);
  UploadStats stats;
  Result<store::ObjectInfo> uploaded = Error(ErrorKind::kInternal, "not uploaded");
  std::string sidecar;
  if (file.stream) {
    // Whatever fails here, nothing is dropped: the parts sent stay in the upload, the rest in
    // staging, both named by the journal.
    uploaded = finishStreamLocked(file, node, source, attrs, condition, stats);
    if (!uploaded) return uploaded.error().withContext("uploading " + key);
    sidecar = objects_.sidecarKey(key, file.stream->sidecar_tag);
    file.stream.reset();
  } else {
    S3C_ASSIGN_OR_RETURN(store::Metadata metadata,
                         ErrnoMappingStore::map(objects_.sealToMetadata(key, attrs)));
    sidecar = objects_.sidecarKeyOf(key, metadata);
    UploadTarget target{key, metadata, condition};
    std::optional<Bytes> body;
    if (layout_.partCount(file.size, uploader_.chunksPerPart(layout_, file.size)) <= 1) {
      auto assembled = uploader_.assemble(source);
      if (assembled) {
        body = std::move(assembled).value();
        uploaded = store_.put(key, *body, store::PutOptions{metadata, target.condition});
      } else {
        uploaded = assembled.error();
      }
    } else {
      uploaded = uploader_.upload(source, target, &stats);
    }
    if (!uploaded) {
      if (!sidecar.empty()) (void)store_.remove(sidecar);
      bool lost = isLostRace(uploaded.error()) ||
                  (uploaded.error().kind() == ErrorKind::kNotFound && target.condition.if_match);
      if (!lost) return uploaded.error().withContext("uploading " + key);
      S3C_RETURN_IF_ERROR(saveConflict(node, key, *file.cipher, source, std::move(body)));
      // Ours is safe under the conflict name; from now on this file shows the winner's version.
      file.staging->discard();
      file.staging.reset();
      file.dirty.clear();
      file.cipher.reset();
      std::lock_guard lock(table_mutex_);
      node->attrs_known = false;
      node->fetched = {};
      file.remote_etag.clear();
      return ok();
    }
  }
  if (stats.parts_sent + stats.parts_copied > 1) {
    log::info("object {}: {} parts sent ({} bytes), {} copied server-side", key, stats.parts_sent,
              stats.bytes_sent, stats.parts_copied);
  }
  if (!old_sidecar.empty() && old_sidecar != sidecar) (void)store_.remove(old_sidecar);
  file.staging->discard();
  file.staging.reset();
  file.dirty.clear();
  file.remote_etag = uploaded->etag;
  file.remote_size = file.size;
  std::lock_guard lock(table_mutex_);
  node->etag = uploaded->etag;
  node->attrs.size = file.size;
  node->attrs.content_key_version = attrs.content_key_version;
  node->attrs.file_id = attrs.file_id;
  node->sidecar_key = sidecar;
  node->fetched = Clock::now();
  return ok();
}

Status VolumeFilesystem::flushNode(const NodePtr& node) {
  FilePtr file;
  {
    std::lock_guard lock(table_mutex_);
    file = node->file;
  }
  if (file == nullptr) return ok();
  std::lock_guard file_lock(file->mutex);
  Status uploaded = uploadLocked(*file, node);
  if (!uploaded) {
    log::error("inode {}: upload failed, data kept in staging: {}", node->ino,
               uploaded.error().describe());
  }
  // After a lost race the open file follows the winner's version.
  if (uploaded && !file->cipher) {
    auto refreshed = refreshNode(node, true);
    std::lock_guard lock(table_mutex_);
    if (refreshed) {
      file->remote_etag = node->etag;
      file->remote_size = node->attrs.size;
      file->size = node->attrs.size;
    }
  }
  if (uploaded) {
    // A parked file (closed while its upload failed) is done now.
    std::lock_guard lock(table_mutex_);
    if (node->open_handles == 0 && node->file == file) {
      node->file = nullptr;
      node->fetched = Clock::now();
      maybeEraseLocked(node->ino);
    }
  }
  return uploaded;
}

Status VolumeFilesystem::flush(HandleId handle) {
  S3C_ASSIGN_OR_RETURN(Handle h, handleOf(handle));
  std::shared_lock ns(namespace_mutex_);
  return flushNode(h.node);
}

Status VolumeFilesystem::release(HandleId handle) {
  S3C_ASSIGN_OR_RETURN(Handle h, handleOf(handle));
  Status uploaded = ok();
  {
    std::shared_lock ns(namespace_mutex_);
    uploaded = flushNode(h.node);
    FilePtr file;
    bool last = false;
    bool keep = false;
    {
      std::lock_guard lock(table_mutex_);
      handles_.erase(handle);
      file = h.node->file;
      last = h.node->open_handles == 1 && file != nullptr;
    }
    if (last) {
      // Last handle: an unlinked file's staged copy goes with it.
      std::lock_guard file_lock(file->mutex);
      if (file->unlinked && file->staging) {
        dropStreamLocked(*file);
        file->staging->discard();
        file->staging.reset();
        file->dirty.clear();
      }
      keep = !file->dirty.empty();
    }
    detachFile(h.node, keep);
  }
  return uploaded;
}

}  // namespace s3cryptfs::fs
