#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace s3cryptfs::metrics {

// Process-wide counters and gauges of the daemon (requests per S3 operation, bytes, retries,
// cache hits, queue depths, memory), rendered in the Prometheus text format (version 0.0.4).
// They carry counts and sizes only: never a name, a key or a byte of content.
//
// Components ask the registry for their series once (at construction, or once per label value)
// and keep the reference: updating it is one relaxed atomic add, no lock. Series live as long as
// the process, so the references never dangle.

class Counter {
 public:
  void add(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

// A value that goes up and down (bytes held, requests queued).
class Gauge {
 public:
  void add(int64_t n) { value_.fetch_add(n, std::memory_order_relaxed); }
  void set(int64_t n) { value_.store(n, std::memory_order_relaxed); }
  int64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

// One label, e.g. {"operation", "GetObject"}. Values are fixed strings of our code (operation
// names), never user data.
struct Label {
  std::string name;
  std::string value;
};

class Registry {
 public:
  // The series `name{labels}`; the first call for a name fixes its help text. Thread-safe.
  Counter& counter(const std::string& name, const std::string& help,
                   const std::vector<Label>& labels = {});
  Gauge& gauge(const std::string& name, const std::string& help,
               const std::vector<Label>& labels = {});
  // A gauge computed when rendered (e.g. the resident set size read from /proc).
  void gaugeFunction(const std::string& name, const std::string& help,
                     std::function<double()> read);

  // Every series, families sorted by name, in the Prometheus text exposition format.
  std::string render() const;
  // The current value of one series (0 when it does not exist): for tests and log summaries.
  double value(const std::string& name, const std::vector<Label>& labels = {}) const;

 private:
  enum class Type { kCounter, kGauge };
  struct Family {
    Type type = Type::kCounter;
    std::string help;
    // Keyed by the rendered label set, e.g. `operation="GetObject"`.
    std::map<std::string, std::unique_ptr<Counter>> counters;
    std::map<std::string, std::unique_ptr<Gauge>> gauges;
    std::function<double()> read;
  };
  Family& familyLocked(const std::string& name, const std::string& help, Type type);

  mutable std::mutex mutex_;
  std::map<std::string, Family> families_;
};

// The daemon's registry. Always present (updating a series costs one atomic add whether or not
// anything reads it); exposing it is the mount's choice (metrics.listen, metrics.file).
Registry& global();

// Shorthands on the global registry.
inline Counter& counter(const std::string& name, const std::string& help,
                        const std::vector<Label>& labels = {}) {
  return global().counter(name, help, labels);
}
inline Gauge& gauge(const std::string& name, const std::string& help,
                    const std::vector<Label>& labels = {}) {
  return global().gauge(name, help, labels);
}

// Adds the process series to the global registry once: resident set size and its peak, CPU
// seconds, open file descriptors, threads (all from /proc/self).
void registerProcessMetrics();

}  // namespace s3cryptfs::metrics
