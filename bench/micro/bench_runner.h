#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "s3cryptfs/core/result.h"

namespace s3cryptfs::bench {

// One measured operation: `op` runs once per iteration and processes `bytes_per_op` bytes.
// State (keys, buffers) lives in whatever the lambda captures; the runner calls op once
// before timing, so first-use costs are not measured.
struct ThroughputCase {
  std::string name;  // "group/operation/variant/size", used by --filter and in the records
  size_t bytes_per_op = 0;
  std::function<Status()> op;
};

class Suite {
 public:
  void addThroughput(std::string name, size_t bytes_per_op, std::function<Status()> op) {
    cases_.push_back({std::move(name), bytes_per_op, std::move(op)});
  }
  const std::vector<ThroughputCase>& cases() const { return cases_; }

 private:
  std::vector<ThroughputCase> cases_;
};

// Static registration, so a new benchmark file needs no edit anywhere else but CMake.
struct Registrar {
  // noexcept: running out of memory while registering, before main, may as well terminate.
  explicit Registrar(void (*add_cases)(Suite&)) noexcept;
};

}  // namespace s3cryptfs::bench

// S3C_BENCHMARKS(addMyCases) { suite.addThroughput(...); } registers a block of cases.
#define S3C_BENCHMARKS(function)                                              \
  static void function(::s3cryptfs::bench::Suite& suite);                     \
  static const ::s3cryptfs::bench::Registrar S3C_CONCAT(s3c_bench_registrar_, \
                                                        __LINE__){&function}; \
  static void function(::s3cryptfs::bench::Suite& suite)
