#include "s3cryptfs/store/retrying_object_store.h"

#include <gtest/gtest.h>

#include "s3cryptfs/store/fault_injecting_object_store.h"
#include "s3cryptfs/store/in_memory_object_store.h"

namespace s3cryptfs::store {
namespace {

using std::chrono::milliseconds;

class RetryingObjectStoreTest : public ::testing::Test {
 protected:
  RetryOptions options(uint32_t max_attempts = 5) {
    RetryOptions retry;
    retry.max_attempts = max_attempts;
    retry.base_delay = milliseconds(100);
    retry.max_delay = milliseconds(1000);
    retry.seed = 1234;
    retry.sleep = [this](milliseconds d) { sleeps_.push_back(d); };  // a fake clock
    return retry;
  }

  std::shared_ptr<InMemoryObjectStore> memory_ = std::make_shared<InMemoryObjectStore>();
  std::shared_ptr<FaultInjectingObjectStore> faulty_ =
      std::make_shared<FaultInjectingObjectStore>(memory_, 9);
  std::vector<milliseconds> sleeps_;
};

TEST_F(RetryingObjectStoreTest, BackoffCapDoublesUpToTheMaximum) {
  RetryOptions retry = options();
  EXPECT_EQ(RetryingObjectStore::backoffCap(retry, 1), milliseconds(100));
  EXPECT_EQ(RetryingObjectStore::backoffCap(retry, 2), milliseconds(200));
  EXPECT_EQ(RetryingObjectStore::backoffCap(retry, 3), milliseconds(400));
  EXPECT_EQ(RetryingObjectStore::backoffCap(retry, 4), milliseconds(800));
  EXPECT_EQ(RetryingObjectStore::backoffCap(retry, 5), milliseconds(1000));
  EXPECT_EQ(RetryingObjectStore::backoffCap(retry, 60), milliseconds(1000));
}

TEST_F(RetryingObjectStoreTest, RetriesTransientErrorsUntilSuccess) {
  RetryingObjectStore store(faulty_, options());
  ASSERT_TRUE(store.put("k", toBytes("v"), {}).has_value());
  faulty_->failNext(StoreOp::kGet, 2);
  auto get = store.get("k", std::nullopt);
  ASSERT_TRUE(get.has_value()) << get.error().describe();
  EXPECT_EQ(get->body, toBytes("v"));
  EXPECT_EQ(store.retries(), 2u);
  EXPECT_EQ(faulty_->calls(StoreOp::kGet), 3u);
  ASSERT_EQ(sleeps_.size(), 2u);
  EXPECT_LE(sleeps_[0], milliseconds(100));
  EXPECT_LE(sleeps_[1], milliseconds(200));
}

TEST_F(RetryingObjectStoreTest, GivesUpAfterMaxAttemptsWithJitteredBoundedDelays) {
  RetryingObjectStore store(faulty_, options(6));
  faulty_->failNext(StoreOp::kHead, 100, Fault::throttled());
  auto head = store.head("k");
  ASSERT_FALSE(head.has_value());
  EXPECT_EQ(head.error().kind(), ErrorKind::kThrottled);
  EXPECT_EQ(faulty_->calls(StoreOp::kHead), 6u);
  EXPECT_EQ(store.retries(), 5u);
  ASSERT_EQ(sleeps_.size(), 5u);
  for (size_t i = 0; i < sleeps_.size(); ++i) {
    EXPECT_GE(sleeps_[i].count(), 0);
    EXPECT_LE(sleeps_[i], RetryingObjectStore::backoffCap(options(), static_cast<uint32_t>(i + 1)));
  }
}

TEST_F(RetryingObjectStoreTest, FullJitterSpreadsTheDelays) {
  RetryingObjectStore store(faulty_, options(2));
  for (int i = 0; i < 200; ++i) {
    faulty_->failNext(StoreOp::kHead, 1);
    (void)store.head("k");
  }
  ASSERT_EQ(sleeps_.size(), 200u);
  int64_t low = 0;
  int64_t high = 0;
  for (auto d : sleeps_) {
    ASSERT_LE(d, milliseconds(100));
    if (d < milliseconds(50))
      ++low;
    else
      ++high;
  }
  EXPECT_GT(low, 50);
  EXPECT_GT(high, 50);
}

TEST_F(RetryingObjectStoreTest, NeverRetriesOtherErrors) {
  RetryingObjectStore store(faulty_, options());
  // From the store itself: not found, precondition failed, invalid argument.
  EXPECT_EQ(store.get("missing", std::nullopt).error().kind(), ErrorKind::kNotFound);
  EXPECT_EQ(faulty_->calls(StoreOp::kGet), 1u);
  ASSERT_TRUE(store.put("k", toBytes("v"), {}).has_value());
  PutOptions create;
  create.condition.if_none_match = true;
  EXPECT_EQ(store.put("k", toBytes("w"), create).error().kind(), ErrorKind::kPreconditionFailed);
  EXPECT_EQ(store.get("k", ByteRange{5, 1}).error().kind(), ErrorKind::kInvalidArgument);
  // Injected 4xx-type errors.
  for (ErrorKind kind : {ErrorKind::kPermissionDenied, ErrorKind::kCorrupt, ErrorKind::kUnsupported,
                         ErrorKind::kInvalidArgument}) {
    faulty_->failNext(StoreOp::kList, 1, Fault::of(kind));
    auto list = store.list({});
    ASSERT_FALSE(list.has_value());
    EXPECT_EQ(list.error().kind(), kind);
  }
  EXPECT_EQ(faulty_->calls(StoreOp::kList), 4u);
  EXPECT_EQ(store.retries(), 0u);
  EXPECT_TRUE(sleeps_.empty());
}

TEST_F(RetryingObjectStoreTest, ResetsAndRandomFailuresAreAbsorbed) {
  RetryingObjectStore store(faulty_, options(12));
  faulty_->setFailureRate(StoreOp::kAny, 0.3, Fault::connectionReset());
  for (int i = 0; i < 100; ++i) {
    std::string key = "k" + std::to_string(i % 10);
    ASSERT_TRUE(store.put(key, toBytes(key), {}).has_value());
    auto get = store.get(key, std::nullopt);
    ASSERT_TRUE(get.has_value());
    EXPECT_EQ(get->body, toBytes(key));
  }
  EXPECT_GT(store.retries(), 0u);
  EXPECT_EQ(store.retries(), faulty_->injectedFailures());
}

TEST_F(RetryingObjectStoreTest, LostResponseOfAnIfNoneMatchPutIsOurOwnSuccess) {
  RetryingObjectStore store(faulty_, options());
  faulty_->failNext(StoreOp::kPut, 1, Fault::lostResponse());
  PutOptions create;
  create.condition.if_none_match = true;
  create.metadata["mode"] = "0644";
  auto put = store.put("k", toBytes("mine"), create);
  ASSERT_TRUE(put.has_value()) << put.error().describe();
  EXPECT_EQ(store.retries(), 1u);
  auto head = memory_->head("k");
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(put->etag, head->etag);
  EXPECT_EQ(head->metadata.at("mode"), "0644");
  EXPECT_EQ(head->metadata.count(std::string(kWriteIdMetadata)), 1u);
}

TEST_F(RetryingObjectStoreTest, LostResponseOfAnIfMatchPutIsOurOwnSuccess) {
  RetryingObjectStore store(faulty_, options());
  auto first = store.put("k", toBytes("v1"), {});
  ASSERT_TRUE(first.has_value());
  faulty_->failNext(StoreOp::kPut, 1, Fault::lostResponse());
  PutOptions update;
  update.condition.if_match = first->etag;
  auto put = store.put("k", toBytes("v2"), update);
  ASSERT_TRUE(put.has_value()) << put.error().describe();
  EXPECT_EQ(memory_->get("k", std::nullopt)->body, toBytes("v2"));
}

TEST_F(RetryingObjectStoreTest, SomeoneElsesObjectStillFailsThePrecondition) {
  RetryingObjectStore store(faulty_, options());
  ASSERT_TRUE(memory_->put("k", toBytes("theirs"), {}).has_value());
  faulty_->failNext(StoreOp::kPut, 1);  // transient, not performed
  PutOptions create;
  create.condition.if_none_match = true;
  auto put = store.put("k", toBytes("mine"), create);
  ASSERT_FALSE(put.has_value());
  EXPECT_EQ(put.error().kind(), ErrorKind::kPreconditionFailed);
  EXPECT_EQ(memory_->get("k", std::nullopt)->body, toBytes("theirs"));
}

TEST_F(RetryingObjectStoreTest, WithoutTaggingTheAmbiguityIsReported) {
  RetryOptions retry = options();
  retry.tag_conditional_writes = false;
  RetryingObjectStore store(faulty_, retry);
  faulty_->failNext(StoreOp::kPut, 1, Fault::lostResponse());
  PutOptions create;
  create.condition.if_none_match = true;
  auto put = store.put("k", toBytes("mine"), create);
  ASSERT_FALSE(put.has_value());
  EXPECT_EQ(put.error().kind(), ErrorKind::kPreconditionFailed);
  EXPECT_TRUE(memory_->head("k")->metadata.empty());
}

TEST_F(RetryingObjectStoreTest, LostResponseOfCompleteMultipartIsOurOwnSuccess) {
  auto memory = std::make_shared<InMemoryObjectStore>(InMemoryStoreOptions{1, {}});
  auto faulty = std::make_shared<FaultInjectingObjectStore>(memory, 3);
  RetryingObjectStore store(faulty, options());
  auto upload = store.createMultipart("big", {});
  ASSERT_TRUE(upload.has_value());
  auto p1 = store.uploadPart("big", *upload, 1, toBytes("ab"));
  auto p2 = store.uploadPart("big", *upload, 2, toBytes("cd"));
  ASSERT_TRUE(p1.has_value() && p2.has_value());
  faulty->failNext(StoreOp::kCompleteMultipart, 1, Fault::lostResponse());
  auto done = store.completeMultipart("big", *upload, {*p1, *p2}, {});
  ASSERT_TRUE(done.has_value()) << done.error().describe();
  EXPECT_EQ(memory->get("big", std::nullopt)->body, toBytes("abcd"));
  EXPECT_EQ(faulty->calls(StoreOp::kCompleteMultipart), 2u);
}

TEST_F(RetryingObjectStoreTest, LostResponseOfConditionalCopyWithReplace) {
  RetryingObjectStore store(faulty_, options());
  ASSERT_TRUE(store.put("src", toBytes("data"), {}).has_value());
  faulty_->failNext(StoreOp::kCopy, 1, Fault::lostResponse());
  CopyOptions copy;
  copy.replace_metadata = Metadata{{"a", "1"}};
  copy.condition.if_none_match = true;
  auto copied = store.copy("src", "dst", copy);
  ASSERT_TRUE(copied.has_value()) << copied.error().describe();
  EXPECT_EQ(memory_->get("dst", std::nullopt)->body, toBytes("data"));
}

TEST_F(RetryingObjectStoreTest, SingleAttemptDisablesRetries) {
  RetryingObjectStore store(faulty_, options(1));
  faulty_->failNext(StoreOp::kGet, 1);
  EXPECT_EQ(store.get("k", std::nullopt).error().kind(), ErrorKind::kTransient);
  EXPECT_EQ(store.retries(), 0u);
}

}  // namespace
}  // namespace s3cryptfs::store
