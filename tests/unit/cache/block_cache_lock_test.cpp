// The block cache keeps cached plaintext in locked memory: the process's locked size (VmLck)
// grows by a block's pages while it is cached and shrinks when it leaves. Needs a
// RLIMIT_MEMLOCK above 4 MiB or CAP_IPC_LOCK (root, as in CI); otherwise the cache only warns,
// and this test says why it cannot check. Under AddressSanitizer (whose mlock does nothing) it
// is skipped; the Release build checks it.

#include <fstream>
#include <memory>
#include <string>
#include <sys/resource.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "s3cryptfs/cache/block_cache.h"

namespace s3cryptfs::cache {
namespace {

// VmLck of /proc/self/status, in bytes.
uint64_t lockedBytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmLck:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  }
  return 0;
}

bool canLock(uint64_t bytes) {
  struct rlimit limit {};
  getrlimit(RLIMIT_MEMLOCK, &limit);
  return geteuid() == 0 || limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur > bytes;
}

TEST(BlockCacheLockTest, CachedBlocksAreLockedWhileCachedOnly) {
  constexpr uint64_t kBlock = 1024 * 1024;
  // A block spans one page more than its size; its first and last pages stay locked after it
  // leaves (they may hold a neighbour).
  constexpr uint64_t kSlack = 4 * 4096;
#ifdef __SANITIZE_ADDRESS__
  GTEST_SKIP() << "AddressSanitizer turns mlock into a no-op: checked in the Release build";
#endif
  if (!canLock(4 * kBlock)) GTEST_SKIP() << "RLIMIT_MEMLOCK too small and not root";
  BlockCache cache(3 * kBlock);
  const uint64_t before = lockedBytes();
  auto first = std::make_shared<const Bytes>(kBlock, uint8_t{1});
  auto second = std::make_shared<const Bytes>(kBlock, uint8_t{2});
  cache.insert("first", first);
  cache.insert("second", second);
  EXPECT_GE(lockedBytes(), before + 2 * kBlock - kSlack);

  cache.erase("first");
  EXPECT_LE(lockedBytes(), before + kBlock + kSlack);
  EXPECT_GE(lockedBytes(), before + kBlock - kSlack);

  // Evicted by newer blocks: unlocked too.
  for (int i = 0; i < 4; ++i)
    cache.insert("new-" + std::to_string(i), std::make_shared<const Bytes>(kBlock, uint8_t{3}));
  EXPECT_EQ(cache.find("second"), nullptr);
  EXPECT_LE(lockedBytes(), before + 3 * kBlock + 4 * kSlack);
}

}  // namespace
}  // namespace s3cryptfs::cache
