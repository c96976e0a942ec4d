#include "s3cryptfs/store/fault_injecting_object_store.h"

#include <thread>

#include <gtest/gtest.h>

#include "s3cryptfs/store/in_memory_object_store.h"

namespace s3cryptfs::store {
namespace {

using std::chrono::milliseconds;

class FaultInjectingObjectStoreTest : public ::testing::Test {
 protected:
  std::shared_ptr<InMemoryObjectStore> inner_ = std::make_shared<InMemoryObjectStore>();
  FaultInjectingObjectStore store_{inner_, 42};
};

TEST_F(FaultInjectingObjectStoreTest, PassesThroughWithoutRules) {
  ASSERT_TRUE(store_.put("k", toBytes("v"), {}).has_value());
  EXPECT_EQ(store_.get("k", std::nullopt)->body, toBytes("v"));
  EXPECT_EQ(store_.injectedFailures(), 0u);
  EXPECT_EQ(store_.calls(StoreOp::kPut), 1u);
  EXPECT_EQ(store_.calls(StoreOp::kGet), 1u);
  EXPECT_EQ(store_.calls(StoreOp::kAny), 2u);
  EXPECT_EQ(store_.describe(), "faulty(mem://)");
}

TEST_F(FaultInjectingObjectStoreTest, FailsTheNthCall) {
  ASSERT_TRUE(store_.put("k", toBytes("v"), {}).has_value());
  store_.failNth(StoreOp::kGet, 3);
  EXPECT_TRUE(store_.get("k", std::nullopt).has_value());
  EXPECT_TRUE(store_.get("k", std::nullopt).has_value());
  auto third = store_.get("k", std::nullopt);
  ASSERT_FALSE(third.has_value());
  EXPECT_EQ(third.error().kind(), ErrorKind::kTransient);
  EXPECT_EQ(third.error().httpStatus(), 500);
  EXPECT_TRUE(store_.get("k", std::nullopt).has_value());
  EXPECT_EQ(store_.injectedFailures(), 1u);
}

TEST_F(FaultInjectingObjectStoreTest, FailsTheNextCallsWithoutDoingThem) {
  store_.failNext(StoreOp::kPut, 2, Fault::throttled());
  for (int i = 0; i < 2; ++i) {
    auto put = store_.put("k", toBytes("v"), {});
    ASSERT_FALSE(put.has_value());
    EXPECT_EQ(put.error().kind(), ErrorKind::kThrottled);
    EXPECT_EQ(put.error().serviceCode(), "SlowDown");
  }
  EXPECT_EQ(inner_->objectCount(), 0u) << "a failed call must not reach the inner store";
  EXPECT_TRUE(store_.put("k", toBytes("v"), {}).has_value());
  EXPECT_EQ(store_.injectedFailures(), 2u);
}

TEST_F(FaultInjectingObjectStoreTest, FailAfterDoingSimulatesALostResponse) {
  store_.failNext(StoreOp::kPut, 1, Fault::lostResponse());
  auto put = store_.put("k", toBytes("v"), {});
  ASSERT_FALSE(put.has_value());
  EXPECT_TRUE(put.error().retryable());
  EXPECT_TRUE(inner_->head("k").has_value()) << "the put was performed";
}

TEST_F(FaultInjectingObjectStoreTest, ErrorShapes) {
  store_.failNext(StoreOp::kHead, 1, Fault::connectionReset());
  auto reset = store_.head("k");
  ASSERT_FALSE(reset.has_value());
  EXPECT_EQ(reset.error().kind(), ErrorKind::kTransient);
  EXPECT_EQ(reset.error().errnoValue(), ECONNRESET);
  store_.failNext(StoreOp::kHead, 1, Fault::of(ErrorKind::kPermissionDenied));
  auto denied = store_.head("k");
  ASSERT_FALSE(denied.has_value());
  EXPECT_EQ(denied.error().kind(), ErrorKind::kPermissionDenied);
  EXPECT_FALSE(denied.error().retryable());
}

TEST_F(FaultInjectingObjectStoreTest, AnyAppliesToEveryOperation) {
  store_.failNext(StoreOp::kAny, 3);
  EXPECT_FALSE(store_.put("k", toBytes("v"), {}).has_value());
  EXPECT_FALSE(store_.list({}).has_value());
  EXPECT_FALSE(store_.createMultipart("k", {}).has_value());
  EXPECT_TRUE(store_.list({}).has_value());
}

TEST_F(FaultInjectingObjectStoreTest, RateIsSeededAndRoughlyRight) {
  auto run = [](uint64_t seed) {
    FaultInjectingObjectStore store(std::make_shared<InMemoryObjectStore>(), seed);
    store.setFailureRate(StoreOp::kHead, 0.1);
    std::vector<bool> outcomes;
    for (int i = 0; i < 1000; ++i) {
      auto head = store.head("k");
      outcomes.push_back(!head.has_value() && head.error().kind() == ErrorKind::kTransient);
    }
    return outcomes;
  };
  auto first = run(7);
  auto second = run(7);
  EXPECT_EQ(first, second) << "same seed, same faults";
  auto failures = std::count(first.begin(), first.end(), true);
  EXPECT_GT(failures, 50);
  EXPECT_LT(failures, 150);
  EXPECT_NE(first, run(8));
}

TEST_F(FaultInjectingObjectStoreTest, LatencyUsesTheSleepFunction) {
  std::vector<milliseconds> sleeps;
  store_.setSleepFunction([&](milliseconds d) { sleeps.push_back(d); });
  store_.setLatency(StoreOp::kGet, milliseconds(20), milliseconds(10));
  for (int i = 0; i < 50; ++i)
    (void)store_.get("k", std::nullopt);
  (void)store_.head("k");
  ASSERT_EQ(sleeps.size(), 50u);
  bool varied = false;
  for (auto d : sleeps) {
    EXPECT_GE(d.count(), 20);
    EXPECT_LE(d.count(), 30);
    if (d != sleeps.front()) varied = true;
  }
  EXPECT_TRUE(varied);
  store_.clear();
  (void)store_.get("k", std::nullopt);
  EXPECT_EQ(sleeps.size(), 50u);
}

TEST_F(FaultInjectingObjectStoreTest, ThreadSafeCounting) {
  store_.setFailureRate(StoreOp::kAny, 0.5);
  std::atomic<uint64_t> seen_failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      const std::string key = std::to_string(t);
      for (int i = 0; i < 200; ++i) {
        if (!store_.put(key, toBytes("v"), {})) ++seen_failures;
      }
    });
  }
  for (auto& thread : threads)
    thread.join();
  EXPECT_EQ(seen_failures.load(), store_.injectedFailures());
  EXPECT_EQ(store_.calls(StoreOp::kPut), 1600u);
  EXPECT_GT(seen_failures.load(), 600u);
  EXPECT_LT(seen_failures.load(), 1000u);
}

}  // namespace
}  // namespace s3cryptfs::store
