#include "s3cryptfs/cache/block_cache.h"

namespace s3cryptfs::cache {

std::shared_ptr<const Bytes> BlockCache::find(const std::string& key) {
  std::lock_guard lock(mutex_);
  auto slot = slots_.find(key);
  if (slot == slots_.end()) {
    ++misses_;
    return nullptr;
  }
  ++hits_;
  lru_.splice(lru_.begin(), lru_, slot->second.position);
  return slot->second.block;
}

void BlockCache::insert(const std::string& key, std::shared_ptr<const Bytes> block) {
  if (block == nullptr) return;
  std::lock_guard lock(mutex_);
  if (auto old = slots_.find(key); old != slots_.end()) {
    bytes_ -= old->second.block->size();
    lru_.erase(old->second.position);
    slots_.erase(old);
  }
  if (block->size() > capacity_) return;
  lru_.push_front(key);
  bytes_ += block->size();
  slots_.emplace(key, Slot{std::move(block), lru_.begin()});
  evictLocked();
}

void BlockCache::erase(const std::string& key) {
  std::lock_guard lock(mutex_);
  auto slot = slots_.find(key);
  if (slot == slots_.end()) return;
  bytes_ -= slot->second.block->size();
  lru_.erase(slot->second.position);
  slots_.erase(slot);
}

void BlockCache::evictLocked() {
  while (bytes_ > capacity_ && !lru_.empty()) {
    auto slot = slots_.find(lru_.back());
    bytes_ -= slot->second.block->size();
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
