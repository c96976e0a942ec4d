#include "s3cryptfs/store/in_memory_object_store.h"

#include <algorithm>
#include <tuple>

#include "store_support.h"

namespace s3cryptfs::store {

using support::nowUnix;
using support::randomHex128;
using support::unquoteEtag;

InMemoryObjectStore::InMemoryObjectStore(InMemoryStoreOptions options) : options_(options) {}

ObjectInfo InMemoryObjectStore::infoOf(const std::string& key, const Object& object) {
  ObjectInfo info;
  info.key = key;
  info.size = object.body->size();
  info.etag = object.etag;
  info.last_modified_unix = object.last_modified_unix;
  info.metadata = object.metadata;
  return info;
}

namespace {

Error unsupported(std::string_view what) {
  return Error(ErrorKind::kUnsupported, std::string(what) + " is turned off on this mem:// store");
}

}  // namespace

Status InMemoryObjectStore::checkSupported(const WriteCondition& condition) const {
  if (condition.if_none_match && !options_.capabilities.conditional_put_if_none_match) {
    return unsupported("If-None-Match");
  }
  if (condition.if_match && !options_.capabilities.conditional_put_if_match) {
    return unsupported("If-Match");
  }
  return ok();
}

Status InMemoryObjectStore::checkCondition(const std::string& key,
                                           const WriteCondition& condition) const {
  auto it = objects_.find(key);
  if (condition.if_none_match && it != objects_.end()) {
    return support::preconditionFailed(key, "exists (If-None-Match: *)");
  }
  if (condition.if_match) {
    if (it == objects_.end()) return support::preconditionFailed(key, "missing (If-Match)");
    if (it->second.etag != unquoteEtag(*condition.if_match)) {
      return support::preconditionFailed(key, "ETag differs (If-Match)");
    }
  }
  return ok();
}

ObjectInfo InMemoryObjectStore::storeLocked(const std::string& key,
                                            std::shared_ptr<const Bytes> body, Metadata metadata,
                                            std::string etag) {
  Object& object = objects_[key];
  object.body = std::move(body);
  object.metadata = std::move(metadata);
  object.etag = std::move(etag);
  object.last_modified_unix = nowUnix();
  return infoOf(key, object);
}

Result<GetResult> InMemoryObjectStore::get(std::string_view key, std::optional<ByteRange> range) {
  S3C_RETURN_IF_ERROR(support::validateKey(key));
  std::shared_ptr<const Bytes> body;
  GetResult result;
  {
    std::lock_guard lock(mutex_);
    auto it = objects_.find(key);
    if (it == objects_.end()) return support::notFound(key);
    result.info = infoOf(it->first, it->second);
    body = it->second.body;
  }
  S3C_ASSIGN_OR_RETURN(support::Slice slice, support::resolveRange(range, body->size(), key));
  result.body.assign(body->begin() + static_cast<ptrdiff_t>(slice.begin),
                     body->begin() + static_cast<ptrdiff_t>(slice.end));
  return result;
}

Result<ObjectInfo> InMemoryObjectStore::head(std::string_view key) {
  S3C_RETURN_IF_ERROR(support::validateKey(key));
  std::lock_guard lock(mutex_);
  auto it = objects_.find(key);
  if (it == objects_.end()) return support::notFound(key);
  return infoOf(it->first, it->second);
}

Result<ObjectInfo> InMemoryObjectStore::put(std::string_view key, ByteSpan body,
                                            const PutOptions& options) {
  S3C_RETURN_IF_ERROR(support::validateKey(key));
  S3C_RETURN_IF_ERROR(support::validateMetadata(options.metadata));
  S3C_RETURN_IF_ERROR(checkSupported(options.condition));
  auto copy = std::make_shared<const Bytes>(body.begin(), body.end());
  std::string name(key);
  std::lock_guard lock(mutex_);
  S3C_RETURN_IF_ERROR(checkCondition(name, options.condition));
  return storeLocked(name, std::move(copy), options.metadata, randomHex128());
}

Status InMemoryObjectStore::remove(std::string_view key) {
  S3C_RETURN_IF_ERROR(support::validateKey(key));
  std::lock_guard lock(mutex_);
  auto it = objects_.find(key);
  if (it != objects_.end()) objects_.erase(it);
  return ok();
}

Result<std::vector<DeleteFailure>> InMemoryObjectStore::removeMany(
    const std::vector<std::string>& keys) {
  if (keys.size() > 1000) {
    return Error(ErrorKind::kInvalidArgument, "more than 1000 keys in one batch delete");
  }
  std::vector<DeleteFailure> failures;
  for (const auto& key : keys) {
    Status status = remove(key);
    if (!status) failures.push_back({key, status.error()});
  }
  return failures;
}

Result<ListPage> InMemoryObjectStore::list(const ListOptions& options) {
  S3C_ASSIGN_OR_RETURN(support::PageBuilder builder, support::PageBuilder::create(options));
  std::lock_guard lock(mutex_);
  const std::string& start = std::max(builder.prefix(), builder.startAfter());
  for (auto it = objects_.lower_bound(start); it != objects_.end(); ++it) {
    if (it->first.compare(0, builder.prefix().size(), builder.prefix()) != 0) break;
    ObjectInfo info = infoOf(it->first, it->second);
    if (!builder.addObject(info)) break;
  }
  return std::move(builder).finish();
}

Result<ObjectInfo> InMemoryObjectStore::copy(std::string_view source_key, std::string_view dest_key,
                                             const CopyOptions& options) {
  S3C_RETURN_IF_ERROR(support::validateKey(source_key));
  S3C_RETURN_IF_ERROR(support::validateKey(dest_key));
  if (options.replace_metadata) {
    S3C_RETURN_IF_ERROR(support::validateMetadata(*options.replace_metadata));
  }
  S3C_RETURN_IF_ERROR(checkSupported(options.condition));
  if (source_key == dest_key && !options_.capabilities.copy_onto_itself) {
    return unsupported("copy onto itself");
  }
  if (source_key == dest_key && !options.replace_metadata) {
    return Error(ErrorKind::kInvalidArgument,
                 "copying " + std::string(source_key) + " onto itself without REPLACE metadata")
        .setService("InvalidRequest", 400);
  }
  std::lock_guard lock(mutex_);
  auto it = objects_.find(source_key);
  if (it == objects_.end()) return support::notFound(source_key);
  if (options.source_if_match && it->second.etag != unquoteEtag(*options.source_if_match)) {
    return support::preconditionFailed(source_key,
                                       "source ETag differs (x-amz-copy-source-if-match)");
  }
  std::string dest(dest_key);
  S3C_RETURN_IF_ERROR(checkCondition(dest, options.condition));
  Metadata metadata = options.replace_metadata ? *options.replace_metadata : it->second.metadata;
  std::shared_ptr<const Bytes> body = it->second.body;
  return storeLocked(dest, std::move(body), std::move(metadata), randomHex128());
}

Result<std::string> InMemoryObjectStore::createMultipart(std::string_view key,
                                                         const PutOptions& options) {
  S3C_RETURN_IF_ERROR(support::validateKey(key));
  S3C_RETURN_IF_ERROR(support::validateMetadata(options.metadata));
  std::string upload_id = randomHex128();
  std::lock_guard lock(mutex_);
  Upload& upload = uploads_[upload_id];
  upload.key = std::string(key);
  upload.metadata = options.metadata;
  upload.initiated_unix = nowUnix();
  return upload_id;
}

Result<PartInfo> InMemoryObjectStore::storePart(std::string_view key, std::string_view upload_id,
                                                uint32_t part_number, Bytes body) {
  auto shared = std::make_shared<const Bytes>(std::move(body));
  std::lock_guard lock(mutex_);
  auto it = uploads_.find(upload_id);
  if (it == uploads_.end() || it->second.key != key) return support::noSuchUpload(upload_id);
  Part& part = it->second.parts[part_number];
  part.body = std::move(shared);
  part.etag = randomHex128();
  return PartInfo{part_number, part.etag, part.body->size()};
}

Result<PartInfo> InMemoryObjectStore::uploadPart(std::string_view key, std::string_view upload_id,
                                                 uint32_t part_number, ByteSpan body) {
  S3C_RETURN_IF_ERROR(support::validateKey(key));
  S3C_RETURN_IF_ERROR(support::validatePartNumber(part_number));
  return storePart(key, upload_id, part_number, Bytes(body.begin(), body.end()));
}

Result<PartInfo> InMemoryObjectStore::uploadPartCopy(std::string_view key,
                                                     std::string_view upload_id,
                                                     uint32_t part_number,
                                                     std::string_view source_key, ByteRange range) {
  if (!options_.capabilities.upload_part_copy) return unsupported("UploadPartCopy");
  S3C_RETURN_IF_ERROR(support::validateKey(key));
  S3C_RETURN_IF_ERROR(support::validatePartNumber(part_number));
  S3C_ASSIGN_OR_RETURN(GetResult source, get(source_key, range));
  return storePart(key, upload_id, part_number, std::move(source.body));
}

Result<ObjectInfo> InMemoryObjectStore::completeMultipart(std::string_view key,
                                                          std::string_view upload_id,
                                                          const std::vector<PartInfo>& parts,
                                                          const WriteCondition& condition) {
  S3C_RETURN_IF_ERROR(support::validateKey(key));
  S3C_RETURN_IF_ERROR(checkSupported(condition));
  std::lock_guard lock(mutex_);
  auto it = uploads_.find(upload_id);
  if (it == uploads_.end() || it->second.key != key) return support::noSuchUpload(upload_id);
  Upload& upload = it->second;
  std::vector<support::UploadedPart> uploaded;
  uint64_t total = 0;
  for (const auto& [number, part] : upload.parts) {
    uploaded.push_back({number, part.etag, part.body->size()});
  }
  S3C_RETURN_IF_ERROR(support::validateCompletion(parts, uploaded, options_.min_part_size));
  std::string name(key);
  S3C_RETURN_IF_ERROR(checkCondition(name, condition));
  for (const PartInfo& part : parts)
    total += upload.parts[part.part_number].body->size();
  auto body = std::make_shared<Bytes>();
  body->reserve(total);
  for (const PartInfo& part : parts) {
    const Bytes& bytes = *upload.parts[part.part_number].body;
    body->insert(body->end(), bytes.begin(), bytes.end());
  }
  Metadata metadata = std::move(upload.metadata);
  uploads_.erase(it);
  return storeLocked(name, std::move(body), std::move(metadata),
                     randomHex128() + "-" + std::to_string(parts.size()));
}

Status InMemoryObjectStore::abortMultipart(std::string_view key, std::string_view upload_id) {
  if (!options_.capabilities.abort_multipart) return unsupported("AbortMultipartUpload");
  S3C_RETURN_IF_ERROR(support::validateKey(key));
  std::lock_guard lock(mutex_);
  auto it = uploads_.find(upload_id);
  if (it == uploads_.end() || it->second.key != key) return support::noSuchUpload(upload_id);
  uploads_.erase(it);
  return ok();
}

Result<std::vector<MultipartUploadInfo>> InMemoryObjectStore::listMultipartUploads(
    std::string_view prefix) {
  if (!options_.capabilities.list_multipart_uploads) return unsupported("ListMultipartUploads");
  std::vector<MultipartUploadInfo> out;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [id, upload] : uploads_) {
      if (upload.key.compare(0, prefix.size(), prefix) == 0) {
        out.push_back({upload.key, id, upload.initiated_unix});
      }
    }
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return std::tie(a.key, a.initiated_unix, a.upload_id) <
           std::tie(b.key, b.initiated_unix, b.upload_id);
  });
  return out;
}

size_t InMemoryObjectStore::objectCount() const {
  std::lock_guard lock(mutex_);
  return objects_.size();
}

uint64_t InMemoryObjectStore::totalBytes() const {
  std::lock_guard lock(mutex_);
  uint64_t total = 0;
  for (const auto& [key, object] : objects_)
    total += object.body->size();
  return total;
}

}  // namespace s3cryptfs::store
