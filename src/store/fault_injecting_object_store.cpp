#include "s3cryptfs/store/fault_injecting_object_store.h"

#include <algorithm>
#include <thread>

namespace s3cryptfs::store {

std::string_view storeOpName(StoreOp op) {
  switch (op) {
    case StoreOp::kGet:
      return "get";
    case StoreOp::kHead:
      return "head";
    case StoreOp::kPut:
      return "put";
    case StoreOp::kRemove:
      return "remove";
    case StoreOp::kRemoveMany:
      return "removeMany";
    case StoreOp::kList:
      return "list";
    case StoreOp::kCopy:
      return "copy";
    case StoreOp::kCreateMultipart:
      return "createMultipart";
    case StoreOp::kUploadPart:
      return "uploadPart";
    case StoreOp::kUploadPartCopy:
      return "uploadPartCopy";
    case StoreOp::kCompleteMultipart:
      return "completeMultipart";
    case StoreOp::kAbortMultipart:
      return "abortMultipart";
    case StoreOp::kListMultipartUploads:
      return "listMultipartUploads";
    case StoreOp::kAny:
      return "any";
  }
  return "unknown";
}

Error Fault::toError(StoreOp op) const {
  std::string what = "injected fault in " + std::string(storeOpName(op));
  switch (type) {
    case Type::kTransient:
      return Error(ErrorKind::kTransient, what + " (500)").setService("InternalError", 500);
    case Type::kThrottled:
      return Error(ErrorKind::kThrottled, what + " (SlowDown)").setService("SlowDown", 503);
    case Type::kConnectionReset:
      return Error(ErrorKind::kTransient, ECONNRESET, what + " (connection reset)");
    case Type::kCustom:
      return Error(custom_kind, what);
  }
  return Error(ErrorKind::kInternal, what);
}

FaultInjectingObjectStore::FaultInjectingObjectStore(std::shared_ptr<ObjectStore> inner,
                                                     uint64_t seed)
    : inner_(std::move(inner)),
      random_(seed),
      sleep_([](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); }) {}

void FaultInjectingObjectStore::failNth(StoreOp op, uint64_t n, Fault fault) {
  std::lock_guard lock(mutex_);
  uint64_t base = 0;
  if (op == StoreOp::kAny) {
    for (uint64_t c : calls_)
      base += c;
  } else {
    base = calls_[static_cast<size_t>(op)];
  }
  Rules& rules = rules_[static_cast<size_t>(op)];
  rules.fail_at_call = n == 0 ? 0 : base + n;
  rules.nth_fault = fault;
}

void FaultInjectingObjectStore::failNext(StoreOp op, uint64_t count, Fault fault) {
  std::lock_guard lock(mutex_);
  Rules& rules = rules_[static_cast<size_t>(op)];
  rules.fail_next = count;
  rules.next_fault = fault;
}

void FaultInjectingObjectStore::setFailureRate(StoreOp op, double rate, Fault fault) {
  std::lock_guard lock(mutex_);
  Rules& rules = rules_[static_cast<size_t>(op)];
  rules.rate = std::clamp(rate, 0.0, 1.0);
  rules.rate_fault = fault;
}

void FaultInjectingObjectStore::setLatency(StoreOp op, std::chrono::milliseconds fixed,
                                           std::chrono::milliseconds random_up_to) {
  std::lock_guard lock(mutex_);
  Rules& rules = rules_[static_cast<size_t>(op)];
  rules.latency = fixed;
  rules.latency_jitter = random_up_to;
}

void FaultInjectingObjectStore::setSleepFunction(SleepFunction sleep) {
  std::lock_guard lock(mutex_);
  sleep_ = std::move(sleep);
}

void FaultInjectingObjectStore::clear() {
  std::lock_guard lock(mutex_);
  rules_.fill(Rules{});
}

uint64_t FaultInjectingObjectStore::calls(StoreOp op) const {
  std::lock_guard lock(mutex_);
  if (op != StoreOp::kAny) return calls_[static_cast<size_t>(op)];
  uint64_t total = 0;
  for (uint64_t c : calls_)
    total += c;
  return total;
}

std::optional<Fault> FaultInjectingObjectStore::decideLocked(Rules& rules, uint64_t call) {
  if (rules.fail_at_call != 0 && call == rules.fail_at_call) {
    rules.fail_at_call = 0;
    return rules.nth_fault;
  }
  if (rules.fail_next > 0) {
    --rules.fail_next;
    return rules.next_fault;
  }
  if (rules.rate > 0.0) {
    // Drawn only for ops with a rate, so the sequence of faults depends only on the seed and on
    // the order of those calls.
    double draw = std::uniform_real_distribution<double>(0.0, 1.0)(random_);
    if (draw < rules.rate) return rules.rate_fault;
  }
  return std::nullopt;
}

std::optional<Fault> FaultInjectingObjectStore::enter(StoreOp op) {
  std::chrono::milliseconds delay{0};
  std::optional<Fault> fault;
  SleepFunction sleep;
  {
    std::lock_guard lock(mutex_);
    uint64_t op_call = ++calls_[static_cast<size_t>(op)];
    uint64_t any_call = 0;
    for (uint64_t c : calls_)
      any_call += c;
    Rules& own = rules_[static_cast<size_t>(op)];
    Rules& any = rules_[kStoreOpCount];
    fault = decideLocked(own, op_call);
    if (!fault) fault = decideLocked(any, any_call);
    for (const Rules* rules : {&own, &any}) {
      delay += rules->latency;
      if (rules->latency_jitter.count() > 0) {
        delay += std::chrono::milliseconds(
            std::uniform_int_distribution<int64_t>(0, rules->latency_jitter.count())(random_));
      }
    }
    if (delay.count() > 0) sleep = sleep_;
  }
  // Sleep outside the lock so latency on one call does not serialise the others.
  if (sleep) sleep(delay);
  if (fault) injected_.fetch_add(1);
  return fault;
}

template <class Call>
auto FaultInjectingObjectStore::run(StoreOp op, Call&& call) -> decltype(call()) {
  std::optional<Fault> fault = enter(op);
  if (!fault) return call();
  if (fault->after_doing) {
    auto discarded = call();
    (void)discarded;
  }
  return fault->toError(op);
}

Result<GetResult> FaultInjectingObjectStore::get(std::string_view key,
                                                 std::optional<ByteRange> range) {
  return run(StoreOp::kGet, [&] { return inner_->get(key, range); });
}

Result<ObjectInfo> FaultInjectingObjectStore::head(std::string_view key) {
  return run(StoreOp::kHead, [&] { return inner_->head(key); });
}

Result<ObjectInfo> FaultInjectingObjectStore::put(std::string_view key, ByteSpan body,
                                                  const PutOptions& options) {
  bytes_sent_ += body.size();
  return run(StoreOp::kPut, [&] { return inner_->put(key, body, options); });
}

Status FaultInjectingObjectStore::remove(std::string_view key) {
  return run(StoreOp::kRemove, [&] { return inner_->remove(key); });
}

Result<std::vector<DeleteFailure>> FaultInjectingObjectStore::removeMany(
    const std::vector<std::string>& keys) {
  return run(StoreOp::kRemoveMany, [&] { return inner_->removeMany(keys); });
}

Result<ListPage> FaultInjectingObjectStore::list(const ListOptions& options) {
  return run(StoreOp::kList, [&] { return inner_->list(options); });
}

Result<ObjectInfo> FaultInjectingObjectStore::copy(std::string_view source_key,
                                                   std::string_view dest_key,
                                                   const CopyOptions& options) {
  return run(StoreOp::kCopy, [&] { return inner_->copy(source_key, dest_key, options); });
}

Result<std::string> FaultInjectingObjectStore::createMultipart(std::string_view key,
                                                               const PutOptions& options) {
  return run(StoreOp::kCreateMultipart, [&] { return inner_->createMultipart(key, options); });
}

Result<PartInfo> FaultInjectingObjectStore::uploadPart(std::string_view key,
                                                       std::string_view upload_id,
                                                       uint32_t part_number, ByteSpan body) {
  bytes_sent_ += body.size();
  return run(StoreOp::kUploadPart,
             [&] { return inner_->uploadPart(key, upload_id, part_number, body); });
}

Result<PartInfo> FaultInjectingObjectStore::uploadPartCopy(std::string_view key,
                                                           std::string_view upload_id,
                                                           uint32_t part_number,
                                                           std::string_view source_key,
                                                           ByteRange range) {
  return run(StoreOp::kUploadPartCopy, [&] {
    return inner_->uploadPartCopy(key, upload_id, part_number, source_key, range);
  });
}

Result<ObjectInfo> FaultInjectingObjectStore::completeMultipart(std::string_view key,
                                                                std::string_view upload_id,
                                                                const std::vector<PartInfo>& parts,
                                                                const WriteCondition& condition) {
  return run(StoreOp::kCompleteMultipart,
             [&] { return inner_->completeMultipart(key, upload_id, parts, condition); });
}

Status FaultInjectingObjectStore::abortMultipart(std::string_view key, std::string_view upload_id) {
  return run(StoreOp::kAbortMultipart, [&] { return inner_->abortMultipart(key, upload_id); });
}

Result<std::vector<MultipartUploadInfo>> FaultInjectingObjectStore::listMultipartUploads(
    std::string_view prefix) {
  return run(StoreOp::kListMultipartUploads, [&] { return inner_->listMultipartUploads(prefix); });
}

}  // namespace s3cryptfs::store
