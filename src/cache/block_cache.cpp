#include "s3cryptfs/cache/block_cache.h"

#include <atomic>
#include <cerrno>
#include <cstring>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "s3cryptfs/core/log.h"
#include "s3cryptfs/core/metrics.h"

namespace s3cryptfs::cache {
namespace {

// Cached blocks are plaintext: their pages are locked (mlock) while cached, so they never reach
// swap. Best effort: when the first mlock fails (an unprivileged daemon under a small
// RLIMIT_MEMLOCK; root has CAP_IPC_LOCK and no limit) one warning says so and the cache goes
// on without locking.
std::atomic<bool> g_locking{true};

void lockBlock(const Bytes& block) {
  if (block.empty() || !g_locking.load(std::memory_order_relaxed)) return;
  if (mlock(block.data(), block.size()) == 0) return;
  int err = errno;
  if (g_locking.exchange(false)) {
    struct rlimit limit {};
    getrlimit(RLIMIT_MEMLOCK, &limit);
    log::warn(
        "cannot lock cached plaintext in memory ({}; RLIMIT_MEMLOCK {} bytes): the block cache "
        "goes on unlocked and may be swapped out; raise the limit (LimitMEMLOCK= in systemd, "
        "ulimit -l) or run as root",
        std::strerror(err), static_cast<uint64_t>(limit.rlim_cur));
  }
}

// Unlocks only the pages that hold nothing but this block: locks do not stack, and a page
// shared with a neighbouring allocation may hold another cached block.
void unlockBlock(const Bytes& block) {
  static const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  auto begin = (reinterpret_cast<uintptr_t>(block.data()) + page - 1) / page * page;
  auto end = (reinterpret_cast<uintptr_t>(block.data()) + block.size()) / page * page;
  if (end > begin) munlock(reinterpret_cast<void*>(begin), end - begin);
}

// Process-wide, summed over every cache (a mount has one).
struct CacheMetrics {
  metrics::Counter& hits = metrics::counter("s3cryptfs_block_cache_hits_total",
                                            "Chunk lookups answered by the block cache.");
  metrics::Counter& misses = metrics::counter("s3cryptfs_block_cache_misses_total",
                                              "Chunk lookups the block cache could not answer.");
  metrics::Counter& evictions = metrics::counter("s3cryptfs_block_cache_evictions_total",
                                                 "Chunks evicted from the block cache for space.");
  metrics::Gauge& bytes =
      metrics::gauge("s3cryptfs_block_cache_bytes", "Plaintext bytes held by the block cache.");
};
CacheMetrics& cacheMetrics() {
  static CacheMetrics* m = new CacheMetrics();  // used until the process ends
  return *m;
}

}  // namespace

BlockCache::~BlockCache() {
  for (const auto& [key, slot] : slots_)
    unlockBlock(*slot.block);
  cacheMetrics().bytes.add(-static_cast<int64_t>(bytes_));
}

std::shared_ptr<const Bytes> BlockCache::find(const std::string& key) {
  std::lock_guard lock(mutex_);
  auto slot = slots_.find(key);
  if (slot == slots_.end()) {
    ++misses_;
    cacheMetrics().misses.add();
    return nullptr;
  }
  ++hits_;
  cacheMetrics().hits.add();
  lru_.splice(lru_.begin(), lru_, slot->second.position);
  return slot->second.block;
}

void BlockCache::insert(const std::string& key, std::shared_ptr<const Bytes> block) {
  if (block == nullptr) return;
  std::lock_guard lock(mutex_);
  if (auto old = slots_.find(key); old != slots_.end()) {
    bytes_ -= old->second.block->size();
    unlockBlock(*old->second.block);
    cacheMetrics().bytes.add(-static_cast<int64_t>(old->second.block->size()));
    lru_.erase(old->second.position);
    slots_.erase(old);
  }
  if (block->size() > capacity_) return;
  lockBlock(*block);
  lru_.push_front(key);
  bytes_ += block->size();
  cacheMetrics().bytes.add(static_cast<int64_t>(block->size()));
  slots_.emplace(key, Slot{std::move(block), lru_.begin()});
  evictLocked();
}

void BlockCache::erase(const std::string& key) {
  std::lock_guard lock(mutex_);
  auto slot = slots_.find(key);
  if (slot == slots_.end()) return;
  bytes_ -= slot->second.block->size();
  unlockBlock(*slot->second.block);
  cacheMetrics().bytes.add(-static_cast<int64_t>(slot->second.block->size()));
  lru_.erase(slot->second.position);
  slots_.erase(slot);
}

void BlockCache::evictLocked() {
  while (bytes_ > capacity_ && !lru_.empty()) {
    auto slot = slots_.find(lru_.back());
    bytes_ -= slot->second.block->size();
    unlockBlock(*slot->second.block);
    cacheMetrics().bytes.add(-static_cast<int64_t>(slot->second.block->size()));
    cacheMetrics().evictions.add();
    slots_.erase(slot);
    lru_.pop_back();
  }
}

uint64_t BlockCache::bytes() const {
  std::lock_guard lock(mutex_);
  return bytes_;
}
uint64_t BlockCache::hits() const {
  std::lock_guard lock(mutex_);
  return hits_;
}
uint64_t BlockCache::misses() const {
  std::lock_guard lock(mutex_);
  return misses_;
}

}  // namespace s3cryptfs::cache
