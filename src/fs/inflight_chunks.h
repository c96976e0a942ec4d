#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <unordered_set>
#include <vector>

namespace s3cryptfs::fs {

// The chunks (by block cache key) being fetched right now. The kernel sends reads of one file
// in parallel and readahead runs beside them: a reader that finds a chunk in flight waits for
// it instead of fetching it a second time, so each chunk is fetched once.
class InflightChunks {
 public:
  // True if this caller now fetches `key` (nobody else was); release() it afterwards.
  bool tryClaim(const std::string& key) {
    std::lock_guard lock(mutex_);
    return keys_.insert(key).second;
  }
  void release(const std::vector<std::string>& keys) {
    if (keys.empty()) return;
    {
      std::lock_guard lock(mutex_);
      for (const auto& key : keys)
        keys_.erase(key);
    }
    done_.notify_all();
  }
  // Waits until none of `keys` is in flight, or `timeout` passed (the caller then fetches what
  // is still missing itself).
  void waitFor(const std::vector<std::string>& keys, std::chrono::milliseconds timeout) {
    if (keys.empty()) return;
    std::unique_lock lock(mutex_);
    done_.wait_for(lock, timeout, [&] {
      for (const auto& key : keys) {
        if (keys_.contains(key)) return false;
      }
      return true;
    });
  }

 private:
  std::mutex mutex_;
  std::condition_variable done_;
  std::unordered_set<std::string> keys_;
};

}  // namespace s3cryptfs::fs
