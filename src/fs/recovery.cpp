#include "volume_filesystem_impl.h"

namespace s3cryptfs::fs {

// ===================================================================== journal recovery

// A kill in the middle of a write(2) of a chunk can leave it half written. Each staged chunk is
// checked; a torn one is replaced by the base version's chunk where that one is valid at this
// position (the write that tore it never returned, so the old bytes are a correct outcome), and
// otherwise uploaded as it is, so only reads of that chunk fail (EIO), and logged.
void VolumeFilesystem::dropTornChunks(const JournalRecord& record, const format::FileCipher& cipher,
                                      const StagingFile& staging, std::set<uint64_t>& dirty) {
  std::optional<uint64_t> base_size;
  bool base_checked = false;
  const uint64_t last = layout_.lastChunkIndex(record.size);
  for (auto it = dirty.begin(); it != dirty.end();) {
    uint64_t i = *it;
    uint64_t length = layout_.chunkPlainSize(i, record.size);
    Bytes sealed(length + format::kChunkOverhead);
    bool intact = staging.read(layout_.chunkCipherOffset(i), sealed) &&
                  cipher.openChunk(i, i == last, sealed).has_value();
    if (intact) {
      ++it;
      continue;
    }
    if (!base_checked && !record.base_etag.empty()) {
      base_checked = true;
      auto head = store_.head(record.key);
      // Its chunks are valid here only under the same file id (not after a truncation to 0).
      auto attrs = head ? objects_.openFromMetadata(record.key, head->metadata)
                        : Result<format::Attributes>(head.error());
      if (head && head->etag == record.base_etag && attrs &&
          attrs->file_id == cipher.header().file_id) {
        auto plain = layout_.plainSize(head->size);
        if (plain) base_size = *plain;
      }
    }
    bool base_has_it = base_size && i < layout_.chunkCount(*base_size) &&
                       layout_.chunkPlainSize(i, *base_size) == length &&
                       (i == layout_.lastChunkIndex(*base_size)) == (i == last);
    log::error("object {}: staged chunk {} was torn by the crash; {}", record.key, i,
               base_has_it ? "the previous version of the chunk is kept"
                           : "it is uploaded as it is and will read as an error");
    it = base_has_it ? dirty.erase(it) : std::next(it);
  }
}

Status VolumeFilesystem::recoverJournals() {
  if (options_.staging_dir.empty()) return ok();
  for (const std::string& journal : StagingFile::listJournals(options_.staging_dir)) {
    auto staging = StagingFile::adopt(journal);
    if (!staging) {
      log::error("staging journal {}: {}", journal, staging.error().describe());
      continue;
    }
    auto record = (*staging)->readJournal();
    if (!record) {
      log::error("staging journal {} is damaged and was left in place: {}", journal,
                 record.error().describe());
      continue;
    }
    auto cipher = objects_.cipherForHeader(record->header);
    auto attrs =
        format::openAttributesText(objects_.keyRing(), record->key, record->attributes_text);
    if (!cipher || !attrs) {
      log::error("staging journal {} does not belong to this volume; left in place", journal);
      continue;
    }
    std::set<uint64_t> dirty(record->chunks.begin(), record->chunks.end());
    // Chunks of parts already sent may have no staging space any more: they are not checked
    // and not sent again (those parts complete from the upload).
    MultipartProgress progress{record->upload_id, record->chunks_per_part, {}};
    for (const store::PartInfo& part : record->parts) {
      progress.parts[part.part_number] = part;
      format::ChunkSpan span =
          layout_.partChunks(part.part_number, record->chunks_per_part, record->size);
      for (uint64_t c = span.first; c < span.first + span.count; ++c)
        dirty.erase(c);
    }
    dropTornChunks(*record, *cipher, **staging, dirty);
    UploadSource source;
    source.cipher = &*cipher;
    source.size = record->size;
    source.dirty = &dirty;
    source.staging = staging->get();
    source.base_key = record->key;
    source.base_etag = record->base_etag;
    Result<store::ObjectInfo> uploaded = Error(ErrorKind::kInternal, "not uploaded");
    if (!record->upload_id.empty()) {
      uploaded = resumeUpload(*record, source, *attrs, progress);
    } else {
      auto metadata = ErrnoMappingStore::map(objects_.sealToMetadata(record->key, *attrs));
      if (!metadata) {
        log::error("staging journal {}: {}", journal, metadata.error().describe());
        continue;
      }
      uploaded = uploader_.upload(
          source, UploadTarget{record->key, *metadata, replaceCondition(record->base_etag)});
    }
    if (uploaded) {
      log::info("recovered unflushed writes of object {} from the staging journal", record->key);
      (*staging)->discard();
      continue;
    }
    if (!record->upload_id.empty()) {
      log::error(
          "object {}: the upload started before the crash could not be completed, staging "
          "journal {} left in place: {}",
          record->key, journal, uploaded.error().describe());
      continue;
    }
    bool lost = isLostRace(uploaded.error()) || uploaded.error().kind() == ErrorKind::kNotFound;
    if (!lost) {
      log::error("object {}: recovery upload failed, kept for the next mount: {}", record->key,
                 uploaded.error().describe());
      continue;
    }
    // The object changed (or went) since: keep ours next to it under a conflict name.
    auto path = objects_.pathOfKey(record->key);
    if (!path || !Uploader::allStaged(source)) {
      log::error(
          "object {} changed since the crash and the staged changes cannot be "
          "completed; staging journal {} left in place",
          record->key, journal);
      continue;
    }
    auto conflict_key = conflictKeyFor(*path);
    if (!conflict_key) continue;
    auto conflict_metadata = ErrnoMappingStore::map(objects_.sealToMetadata(*conflict_key, *attrs));
    if (!conflict_metadata) continue;
    UploadTarget conflict{*conflict_key, *conflict_metadata, {}};
    conflict.condition.if_none_match = caps_.conditional_put_if_none_match;
    auto saved = uploader_.upload(source, conflict);
    if (!saved) {
      log::error("object {}: conflict copy failed, kept for the next mount: {}", record->key,
                 saved.error().describe());
      continue;
    }
    log::warn("object {} changed since the crash; the recovered version is kept as {}", record->key,
              *conflict_key);
    (*staging)->discard();
  }
  return ok();
}

// Completes a multipart upload a killed daemon had started (its journal names the parts sent):
// the remaining parts from staging or the base, the sidecar of that version, then the
// completion, conditional on the base as the live path is.
Result<store::ObjectInfo> VolumeFilesystem::resumeUpload(const JournalRecord& record,
                                                         const UploadSource& source,
                                                         const format::Attributes& attrs,
                                                         const MultipartProgress& progress) {
  std::string old_sidecar;
  if (!record.base_etag.empty()) {
    auto base = store_.head(record.key);
    if (base && base->etag == record.base_etag) {
      old_sidecar = objects_.sidecarKeyOf(record.key, base->metadata);
    }
  }
  S3C_RETURN_IF_ERROR(
      ErrnoMappingStore::map(objects_.writeSidecar(record.key, record.sidecar_tag, attrs)));
  UploadTarget target{record.key, volume::VolumeObjects::sidecarMetadata(record.sidecar_tag),
                      replaceCondition(record.base_etag)};
  auto done = uploader_.finish(source, target, progress);
  std::string sidecar = objects_.sidecarKey(record.key, record.sidecar_tag);
  if (!done) {
    (void)store_.remove(sidecar);
    return done;
  }
  if (!old_sidecar.empty() && old_sidecar != sidecar) (void)store_.remove(old_sidecar);
  return done;
}

}  // namespace s3cryptfs::fs
