// Copies of objects over CopyObject's limit (5 GiB on AWS): a multipart upload whose parts are
// server-side copies of ranges of the source (UploadPartCopy), so no byte passes through us.
// Used by copy() for renames and metadata rewrites of big files.

#include <algorithm>

#include "s3cryptfs/core/log.h"
#include "s3cryptfs/s3/s3_object_store.h"

namespace s3cryptfs::s3 {
namespace {

constexpr uint64_t kMinPartBytes = uint64_t{5} << 20;  // S3's minimum for all parts but the last
constexpr uint64_t kMaxPartBytes = uint64_t{5} << 30;  // and its maximum
constexpr uint64_t kMaxParts = 10000;

uint64_t partBytesFor(uint64_t configured, uint64_t size) {
  uint64_t needed = (size + kMaxParts - 1) / kMaxParts;
  return std::clamp(std::max(configured, needed), kMinPartBytes, kMaxPartBytes);
}

}  // namespace

Result<store::ObjectInfo> S3ObjectStore::copyInParts(std::string_view source_key,
                                                     std::string_view dest_key,
                                                     const store::CopyOptions& options,
                                                     const store::ObjectInfo& source) {
  const std::string where = "multipart copy s3://" + config_.bucket + "/" + fullKey(source_key) +
                            " -> " + fullKey(dest_key) + " (" + std::to_string(source.size) +
                            " bytes)";
  S3C_RETURN_IF_ERROR(checkWriteCondition(options.condition,
                                          conditionalWriteSupport().complete_conditions,
                                          "CompleteMultipartUpload", dest_key));
  store::PutOptions create;
  create.metadata = options.replace_metadata ? *options.replace_metadata : source.metadata;
  S3C_ASSIGN_OR_RETURN(std::string upload_id, createMultipart(dest_key, create));
  auto abandon = [&](Error error) {
    if (capabilities().abort_multipart) (void)abortUnchecked(dest_key, upload_id);
    return error.withContext(where);
  };

  const uint64_t part_bytes = partBytesFor(config_.copy_part_bytes, source.size);
  std::vector<store::PartInfo> parts;
  for (uint64_t offset = 0; offset < source.size; offset += part_bytes) {
    store::ByteRange range{offset, std::min(part_bytes, source.size - offset)};
    auto part =
        uploadPartCopyUnchecked(dest_key, upload_id, static_cast<uint32_t>(parts.size() + 1),
                                source_key, range, source.etag);
    if (!part) return abandon(std::move(part).error());
    parts.push_back(std::move(*part));
  }
  http::Headers conditions;
  addWriteConditionHeaders(conditions, options.condition);
  auto done = completeWithHeaders(dest_key, upload_id, parts, conditions);
  if (!done) return abandon(std::move(done).error());
  done->size = source.size;
  done->metadata = create.metadata;
  log::debug("{}: {} parts", where, parts.size());
  return done;
}

}  // namespace s3cryptfs::s3
