#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>

#include "s3cryptfs/store/object_store.h"

namespace s3cryptfs::store {

// The metadata entry RetryingObjectStore adds to conditional writes to recognise its own
// earlier success after a lost response (see RetryingObjectStore).
inline constexpr std::string_view kWriteIdMetadata = "s3c-write-id";

struct RetryOptions {
  uint32_t max_attempts = 5;  // attempts in all, the first included; 1 disables retries
  std::chrono::milliseconds base_delay{50};
  std::chrono::milliseconds max_delay{5000};
  uint64_t seed = 0;  // jitter generator seed; 0 picks a random one
  // Tag conditional puts, conditional copies with REPLACE metadata and multipart uploads with
  // kWriteIdMetadata so an ambiguous retry can be resolved. Off: such retries report
  // kPreconditionFailed / kNotFound as the server says.
  bool tag_conditional_writes = true;
  // Replaces the real sleep (unit tests record the delays instead of waiting).
  std::function<void(std::chrono::milliseconds)> sleep;
};

// A decorator retrying kTransient and kThrottled errors with exponential backoff and full
// jitter: before retry n (1-based) it sleeps uniform(0, min(max_delay, base_delay * 2^(n-1))).
// Every other error is returned at once.
//
// Lost responses and conditional writes: a write whose response was lost (timeout, reset) may
// have succeeded. Unconditional puts, deletes and part uploads are idempotent and simply
// retried. A conditional write that is retried after such an error may then fail with
// kPreconditionFailed (or, for completeMultipart, kNotFound: the upload is gone) because of our
// own earlier success. The rule: the first attempt of a conditional put, of a conditional copy
// with REPLACE metadata, and every createMultipart carry a random write id in the metadata
// entry kWriteIdMetadata; when a retried attempt fails that way, we HEAD the key and, if it
// carries our write id, report success with the HEAD's ObjectInfo. Otherwise the failure
// stands. A conditional copy without REPLACE metadata cannot be tagged: its precondition failure
// after a lost response is returned with a message saying it may be our own.
class RetryingObjectStore final : public ObjectStore {
 public:
  explicit RetryingObjectStore(std::shared_ptr<ObjectStore> inner, RetryOptions options = {});

  // Retries done so far (attempts beyond the first), for metrics.
  uint64_t retries() const { return retries_.load(std::memory_order_relaxed); }
  // The upper bound of the sleep before retry n (1-based).
  static std::chrono::milliseconds backoffCap(const RetryOptions& options, uint32_t retry);

  Result<GetResult> get(std::string_view key, std::optional<ByteRange> range) override;
  Result<ObjectInfo> head(std::string_view key) override;
  Result<ObjectInfo> put(std::string_view key, ByteSpan body, const PutOptions& options) override;
  Status remove(std::string_view key) override;
  Result<std::vector<DeleteFailure>> removeMany(const std::vector<std::string>& keys) override;
  Result<ListPage> list(const ListOptions& options) override;
  Result<ObjectInfo> copy(std::string_view source_key, std::string_view dest_key,
                          const CopyOptions& options) override;
  Result<std::string> createMultipart(std::string_view key, const PutOptions& options) override;
  Result<PartInfo> uploadPart(std::string_view key, std::string_view upload_id,
                              uint32_t part_number, ByteSpan body) override;
  Result<PartInfo> uploadPartCopy(std::string_view key, std::string_view upload_id,
                                  uint32_t part_number, std::string_view source_key,
                                  ByteRange range) override;
  Result<ObjectInfo> completeMultipart(std::string_view key, std::string_view upload_id,
                                       const std::vector<PartInfo>& parts,
                                       const WriteCondition& condition) override;
  Status abortMultipart(std::string_view key, std::string_view upload_id) override;
  Result<std::vector<MultipartUploadInfo>> listMultipartUploads(std::string_view prefix) override;
  Capabilities capabilities() const override { return inner_->capabilities(); }
  std::string describe() const override { return inner_->describe(); }

 private:
  // Runs `call` until it succeeds, fails for good, or attempts run out. `*had_retryable` tells
  // whether an attempt failed retryably (so a later failure may hide our own success).
  template <class Call>
  auto withRetries(std::string_view what, Call&& call, bool* had_retryable = nullptr)
      -> decltype(call());
  void backoff(uint32_t retry);
  // After an ambiguous failure: the object under `key` if it carries `write_id`.
  std::optional<ObjectInfo> ownEarlierWrite(std::string_view key, const std::string& write_id);

  std::shared_ptr<ObjectStore> inner_;
  RetryOptions options_;
  std::mutex mutex_;        // guards random_ and upload_write_ids_
  std::mt19937_64 random_;  // jitter only: not a security use
  std::map<std::string, std::string, std::less<>> upload_write_ids_;  // upload id -> write id
  std::atomic<uint64_t> retries_{0};
};

}  // namespace s3cryptfs::store
