#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>

#include "s3cryptfs/store/object_store.h"

namespace s3cryptfs::store {

// The operations of ObjectStore, for choosing which ones fail. kAny matches every one.
enum class StoreOp : uint8_t {
  kGet,
  kHead,
  kPut,
  kRemove,
  kRemoveMany,
  kList,
  kCopy,
  kCreateMultipart,
  kUploadPart,
  kUploadPartCopy,
  kCompleteMultipart,
  kAbortMultipart,
  kListMultipartUploads,
  kAny,
};
inline constexpr size_t kStoreOpCount = static_cast<size_t>(StoreOp::kAny);
std::string_view storeOpName(StoreOp op);

// What an injected failure looks like.
struct Fault {
  enum class Type : uint8_t {
    kTransient,        // a 5xx: ErrorKind::kTransient, service code "InternalError", HTTP 500
    kThrottled,        // SlowDown: ErrorKind::kThrottled, HTTP 503
    kConnectionReset,  // ErrorKind::kTransient with ECONNRESET and no HTTP status
    kCustom,           // custom_kind below (e.g. kPermissionDenied to test non-retryable paths)
  };
  Type type = Type::kTransient;
  // Perform the operation on the inner store first, then report the failure anyway: a lost
  // response. For reads this only wastes work; for writes the caller cannot tell what happened.
  bool after_doing = false;
  ErrorKind custom_kind = ErrorKind::kIo;

  static Fault transient() { return {}; }
  static Fault throttled() { return {Type::kThrottled}; }
  static Fault connectionReset() { return {Type::kConnectionReset}; }
  static Fault lostResponse() { return {Type::kTransient, true}; }
  static Fault of(ErrorKind kind) { return {Type::kCustom, false, kind}; }
  Error toError(StoreOp op) const;
};

// A decorator failing chosen operations on a schedule (the Nth call, the next K calls) or at a
// seeded random rate, and adding latency. Rules apply per operation or to kAny. Thread-safe;
// the rules can change while other threads use the store.
class FaultInjectingObjectStore final : public ObjectStore {
 public:
  using SleepFunction = std::function<void(std::chrono::milliseconds)>;

  explicit FaultInjectingObjectStore(std::shared_ptr<ObjectStore> inner, uint64_t seed = 1);

  // Fails the n-th call (1 = the next one) of `op` counted from now.
  void failNth(StoreOp op, uint64_t n, Fault fault = Fault::transient());
  // Fails the next `count` calls of `op`.
  void failNext(StoreOp op, uint64_t count, Fault fault = Fault::transient());
  // Fails each call of `op` with probability `rate` (0..1), drawn from the seeded generator.
  void setFailureRate(StoreOp op, double rate, Fault fault = Fault::transient());
  // Adds fixed + uniform(0, random_up_to) latency before each call of `op`.
  void setLatency(StoreOp op, std::chrono::milliseconds fixed,
                  std::chrono::milliseconds random_up_to = std::chrono::milliseconds(0));
  // Replaces the real sleep used for latency (tests record instead of waiting).
  void setSleepFunction(SleepFunction sleep);
  // Removes every rule; counters stay.
  void clear();

  uint64_t injectedFailures() const { return injected_.load(); }
  uint64_t calls(StoreOp op) const;
  // Body bytes sent by put and uploadPart calls (what a client uploads; part copies send none).
  uint64_t bytesSent() const { return bytes_sent_.load(); }

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
  std::string describe() const override { return "faulty(" + inner_->describe() + ")"; }

 private:
  struct Rules {
    uint64_t fail_at_call = 0;  // absolute call number of this op to fail; 0: none
    Fault nth_fault;
    uint64_t fail_next = 0;
    Fault next_fault;
    double rate = 0.0;
    Fault rate_fault;
    std::chrono::milliseconds latency{0};
    std::chrono::milliseconds latency_jitter{0};
  };
  // Decides the fate of one call: nullopt to pass through, or the fault to inject.
  std::optional<Fault> enter(StoreOp op);
  std::optional<Fault> decideLocked(Rules& rules, uint64_t call);
  template <class Call>
  auto run(StoreOp op, Call&& call) -> decltype(call());

  std::shared_ptr<ObjectStore> inner_;
  mutable std::mutex mutex_;
  std::mt19937_64 random_;  // seeded by the caller: faults must be reproducible
  std::array<Rules, kStoreOpCount + 1> rules_{};
  std::array<uint64_t, kStoreOpCount> calls_{};
  SleepFunction sleep_;
  std::atomic<uint64_t> injected_{0};
  std::atomic<uint64_t> bytes_sent_{0};
};

}  // namespace s3cryptfs::store
