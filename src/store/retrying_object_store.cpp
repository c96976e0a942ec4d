#include "s3cryptfs/store/retrying_object_store.h"

#include <algorithm>
#include <thread>

#include "s3cryptfs/core/log.h"
#include "s3cryptfs/core/metrics.h"

#include "store_support.h"

namespace s3cryptfs::store {
namespace {

uint64_t seedOf(const RetryOptions& options) {
  if (options.seed != 0) return options.seed;
  std::random_device device;
  return (static_cast<uint64_t>(device()) << 32) ^ device();
}

}  // namespace

RetryingObjectStore::RetryingObjectStore(std::shared_ptr<ObjectStore> inner, RetryOptions options)
    : inner_(std::move(inner)), options_(std::move(options)), random_(seedOf(options_)) {
  if (options_.max_attempts == 0) options_.max_attempts = 1;
  if (!options_.sleep) {
    options_.sleep = [](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); };
  }
}

std::chrono::milliseconds RetryingObjectStore::backoffCap(const RetryOptions& options,
                                                          uint32_t retry) {
  int64_t cap = options.base_delay.count();
  for (uint32_t i = 1; i < retry && cap < options.max_delay.count(); ++i)
    cap *= 2;
  return std::chrono::milliseconds(std::min(cap, options.max_delay.count()));
}

void RetryingObjectStore::backoff(uint32_t retry) {
  int64_t cap = backoffCap(options_, retry).count();
  int64_t delay = 0;
  {
    std::lock_guard lock(mutex_);
    delay = std::uniform_int_distribution<int64_t>(0, std::max<int64_t>(cap, 0))(random_);
  }
  retries_.fetch_add(1, std::memory_order_relaxed);
  static metrics::Counter& retried = metrics::counter(
      "s3cryptfs_store_retries_total", "Store requests repeated after a retryable failure.");
  retried.add();
  options_.sleep(std::chrono::milliseconds(delay));
}

template <class Call>
auto RetryingObjectStore::withRetries(std::string_view what, Call&& call, bool* had_retryable)
    -> decltype(call()) {
  for (uint32_t attempt = 1;; ++attempt) {
    auto result = call();
    if (result.has_value() || !result.error().retryable() || attempt >= options_.max_attempts) {
      if (!result.has_value() && result.error().retryable()) {
        log::warn("{} on {} failed after {} attempts: {}", what, inner_->describe(), attempt,
                  result.error().describe());
      }
      return result;
    }
    if (had_retryable != nullptr) *had_retryable = true;
    log::debug("{} on {}: {} (attempt {}), retrying", what, inner_->describe(),
               result.error().describe(), attempt);
    backoff(attempt);
  }
}

std::optional<ObjectInfo> RetryingObjectStore::ownEarlierWrite(std::string_view key,
                                                               const std::string& write_id) {
  auto current = withRetries("head", [&] { return inner_->head(key); });
  if (!current) return std::nullopt;
  auto it = current->metadata.find(std::string(kWriteIdMetadata));
  if (it == current->metadata.end() || it->second != write_id) return std::nullopt;
  log::info("conditional write of {} on {}: a lost response hid our own success", std::string(key),
            inner_->describe());
  return std::move(current).value();
}

Result<GetResult> RetryingObjectStore::get(std::string_view key, std::optional<ByteRange> range) {
  return withRetries("get", [&] { return inner_->get(key, range); });
}

Result<ObjectInfo> RetryingObjectStore::head(std::string_view key) {
  return withRetries("head", [&] { return inner_->head(key); });
}

Result<ObjectInfo> RetryingObjectStore::put(std::string_view key, ByteSpan body,
                                            const PutOptions& options) {
  bool conditional = options.condition.if_none_match || options.condition.if_match.has_value();
  if (!conditional || !options_.tag_conditional_writes) {
    return withRetries("put", [&] { return inner_->put(key, body, options); });
  }
  PutOptions tagged = options;
  std::string write_id = support::randomHex128();
  tagged.metadata[std::string(kWriteIdMetadata)] = write_id;
  bool ambiguous = false;
  auto result = withRetries(
      "put", [&] { return inner_->put(key, body, tagged); }, &ambiguous);
  if (!result && ambiguous && result.error().kind() == ErrorKind::kPreconditionFailed) {
    if (auto own = ownEarlierWrite(key, write_id)) return *own;
  }
  return result;
}

Status RetryingObjectStore::remove(std::string_view key) {
  return withRetries("remove", [&] { return inner_->remove(key); });
}

Result<std::vector<DeleteFailure>> RetryingObjectStore::removeMany(
    const std::vector<std::string>& keys) {
  return withRetries("removeMany", [&] { return inner_->removeMany(keys); });
}

Result<ListPage> RetryingObjectStore::list(const ListOptions& options) {
  return withRetries("list", [&] { return inner_->list(options); });
}

Result<ObjectInfo> RetryingObjectStore::copy(std::string_view source_key, std::string_view dest_key,
                                             const CopyOptions& options) {
  bool conditional = options.condition.if_none_match || options.condition.if_match.has_value();
  if (!conditional) {
    return withRetries("copy", [&] { return inner_->copy(source_key, dest_key, options); });
  }
  CopyOptions tagged = options;
  std::string write_id;
  if (tagged.replace_metadata && options_.tag_conditional_writes) {
    write_id = support::randomHex128();
    (*tagged.replace_metadata)[std::string(kWriteIdMetadata)] = write_id;
  }
  bool ambiguous = false;
  auto result = withRetries(
      "copy", [&] { return inner_->copy(source_key, dest_key, tagged); }, &ambiguous);
  if (!result && ambiguous && result.error().kind() == ErrorKind::kPreconditionFailed) {
    if (!write_id.empty()) {
      if (auto own = ownEarlierWrite(dest_key, write_id)) return *own;
    }
    return result.error().withContext("after a lost response (the write may be our own)");
  }
  return result;
}

Result<std::string> RetryingObjectStore::createMultipart(std::string_view key,
                                                         const PutOptions& options) {
  if (!options_.tag_conditional_writes) {
    return withRetries("createMultipart", [&] { return inner_->createMultipart(key, options); });
  }
  PutOptions tagged = options;
  std::string write_id = support::randomHex128();
  tagged.metadata[std::string(kWriteIdMetadata)] = write_id;
  // A lost response here leaves an orphan upload; it costs storage until aborted, nothing else.
  auto upload_id =
      withRetries("createMultipart", [&] { return inner_->createMultipart(key, tagged); });
  if (upload_id) {
    std::lock_guard lock(mutex_);
    upload_write_ids_[*upload_id] = write_id;
  }
  return upload_id;
}

Result<PartInfo> RetryingObjectStore::uploadPart(std::string_view key, std::string_view upload_id,
                                                 uint32_t part_number, ByteSpan body) {
  return withRetries("uploadPart",
                     [&] { return inner_->uploadPart(key, upload_id, part_number, body); });
}

Result<PartInfo> RetryingObjectStore::uploadPartCopy(std::string_view key,
                                                     std::string_view upload_id,
                                                     uint32_t part_number,
                                                     std::string_view source_key, ByteRange range) {
  return withRetries("uploadPartCopy", [&] {
    return inner_->uploadPartCopy(key, upload_id, part_number, source_key, range);
  });
}

Result<ObjectInfo> RetryingObjectStore::completeMultipart(std::string_view key,
                                                          std::string_view upload_id,
                                                          const std::vector<PartInfo>& parts,
                                                          const WriteCondition& condition) {
  bool ambiguous = false;
  auto result = withRetries(
      "completeMultipart",
      [&] { return inner_->completeMultipart(key, upload_id, parts, condition); }, &ambiguous);
  std::string write_id;
  {
    std::lock_guard lock(mutex_);
    auto it = upload_write_ids_.find(upload_id);
    if (it != upload_write_ids_.end()) {
      write_id = it->second;
      // Keep the id while the caller may still retry a failure of its own; drop it otherwise.
      if (result || !result.error().retryable()) upload_write_ids_.erase(it);
    }
  }
  if (!result && ambiguous && !write_id.empty() &&
      (result.error().kind() == ErrorKind::kPreconditionFailed ||
       result.error().kind() == ErrorKind::kNotFound)) {
    if (auto own = ownEarlierWrite(key, write_id)) return *own;
  }
  return result;
}

Status RetryingObjectStore::abortMultipart(std::string_view key, std::string_view upload_id) {
  {
    std::lock_guard lock(mutex_);
    auto it = upload_write_ids_.find(upload_id);
    if (it != upload_write_ids_.end()) upload_write_ids_.erase(it);
  }
  return withRetries("abortMultipart", [&] { return inner_->abortMultipart(key, upload_id); });
}

Result<std::vector<MultipartUploadInfo>> RetryingObjectStore::listMultipartUploads(
    std::string_view prefix) {
  return withRetries("listMultipartUploads", [&] { return inner_->listMultipartUploads(prefix); });
}

}  // namespace s3cryptfs::store
