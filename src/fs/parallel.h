#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <thread>
#include <vector>

namespace s3cryptfs::fs {

// Runs fn(0..count-1) on at most `concurrency` threads (the caller's included) and returns when
// all are done. For bounded fan-out of store calls (HEADs of a listing, ranged GETs).
inline void parallelFor(size_t count, uint32_t concurrency, const std::function<void(size_t)>& fn) {
  if (count == 0) return;
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i = next.fetch_add(1); i < count; i = next.fetch_add(1))
      fn(i);
  };
  size_t threads = std::min<size_t>(std::max<uint32_t>(concurrency, 1), count);
  std::vector<std::thread> pool;
  pool.reserve(threads - 1);
  for (size_t t = 1; t < threads; ++t)
    pool.emplace_back(worker);
  worker();
  for (auto& thread : pool)
    thread.join();
}

}  // namespace s3cryptfs::fs
