#include "s3cryptfs/cache/block_cache.h"

#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace s3cryptfs::cache {
namespace {

std::shared_ptr<const Bytes> block(size_t size, uint8_t value) {
  return std::make_shared<const Bytes>(size, value);
}

TEST(BlockCacheTest, EvictsLeastRecentlyUsedWithinTheBudget) {
  BlockCache cache(300);
  cache.insert("a", block(100, 1));
  cache.insert("b", block(100, 2));
  cache.insert("c", block(100, 3));
  ASSERT_NE(cache.find("a"), nullptr);  // a is now the most recent
  cache.insert("d", block(100, 4));     // evicts b
  EXPECT_EQ(cache.find("b"), nullptr);
  EXPECT_NE(cache.find("a"), nullptr);
  EXPECT_NE(cache.find("c"), nullptr);
  EXPECT_EQ((*cache.find("d"))[0], 4);
  EXPECT_LE(cache.bytes(), 300u);
}

TEST(BlockCacheTest, ReplacesEraseAndRefusesOversizedBlocks) {
  BlockCache cache(100);
  cache.insert("a", block(50, 1));
  cache.insert("a", block(60, 2));
  EXPECT_EQ(cache.bytes(), 60u);
  EXPECT_EQ((*cache.find("a"))[0], 2);
  cache.insert("huge", block(101, 9));
  EXPECT_EQ(cache.find("huge"), nullptr);
  cache.erase("a");
  EXPECT_EQ(cache.bytes(), 0u);
  EXPECT_EQ(cache.find("a"), nullptr);
  EXPECT_GE(cache.misses(), 2u);
}

TEST(BlockCacheTest, ManyThreadsStayWithinTheBudget) {
  BlockCache cache(64 * 1024);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&cache, t] {
      for (int i = 0; i < 2000; ++i) {
        std::string key = std::to_string((i * 7 + t) % 300);
        if (auto found = cache.find(key)) {
          EXPECT_EQ(found->size(), 1024u);
        } else {
          cache.insert(key, block(1024, static_cast<uint8_t>(i)));
        }
      }
    });
  }
  for (auto& thread : threads)
    thread.join();
  EXPECT_LE(cache.bytes(), 64u * 1024);
}

}  // namespace
}  // namespace s3cryptfs::cache
