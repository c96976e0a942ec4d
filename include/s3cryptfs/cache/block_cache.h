#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "s3cryptfs/core/bytes.h"

namespace s3cryptfs::cache {

// Plaintext chunks of remote objects, in memory only (never on disk), bounded by a byte budget
// with least-recently-used eviction. Keys name one chunk of one object version, so a new version
// never serves stale bytes. Thread-safe; values are shared immutable buffers, so a reader keeps
// its chunk alive after eviction without copying.
class BlockCache {
 public:
  explicit BlockCache(uint64_t capacity_bytes) : capacity_(capacity_bytes) {}
  ~BlockCache();
  BlockCache(const BlockCache&) = delete;
  BlockCache& operator=(const BlockCache&) = delete;

  std::shared_ptr<const Bytes> find(const std::string& key);
  // Inserts or replaces; a block bigger than the whole budget is not kept.
  void insert(const std::string& key, std::shared_ptr<const Bytes> block);
  void erase(const std::string& key);

  uint64_t bytes() const;
  uint64_t capacity() const { return capacity_; }
  uint64_t hits() const;
  uint64_t misses() const;

 private:
  struct Slot {
    std::shared_ptr<const Bytes> block;
    std::list<std::string>::iterator position;
  };
  void evictLocked();

  const uint64_t capacity_;
  mutable std::mutex mutex_;
  std::list<std::string> lru_;  // most recent first
  std::unordered_map<std::string, Slot> slots_;
  uint64_t bytes_ = 0;
  uint64_t hits_ = 0;
  uint64_t misses_ = 0;
};

}  // namespace s3cryptfs::cache
