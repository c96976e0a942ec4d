// main() of every micro-benchmark binary: runs the registered cases one after the other on one
// thread and prints a table, or with --json the records
//   [{"name": "...", "value": 123.4, "unit": "MB/s"}, ...]
// one per line, so shell scripts can read them without a JSON parser.
#include "bench_runner.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string_view>

namespace s3cryptfs::bench {
namespace {

std::vector<void (*)(Suite&)>& registered() {
  static std::vector<void (*)(Suite&)> functions;
  return functions;
}

struct Options {
  bool json = false;
  std::vector<std::string> filters;  // a case runs when its name contains any of them
  double min_seconds = 1.0;
  int repetitions = 3;
};

struct Measurement {
  double mb_per_second = 0;  // 10^6 bytes, as openssl speed counts
  double ns_per_op = 0;
  uint64_t iterations = 0;
};

// Thread CPU time rather than wall time: the figure is per core, and machines running the
// benchmark are often shared. openssl speed also counts CPU (user) time, which keeps the two
// comparable.
double threadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

Result<Measurement> measureOnce(const ThroughputCase& c, double seconds) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::duration<double>(seconds);
  uint64_t iterations = 0;
  const double cpu_start = threadCpuSeconds();
  // Batches keep the clock reads rare next to small operations.
  uint64_t batch = 1;
  while (Clock::now() < deadline) {
    for (uint64_t i = 0; i < batch; ++i)
      S3C_RETURN_IF_ERROR(c.op());
    iterations += batch;
    batch = std::min<uint64_t>(batch * 2, 64);
  }
  const double cpu = std::max(threadCpuSeconds() - cpu_start, 1e-9);
  Measurement m;
  m.iterations = iterations;
  m.mb_per_second =
      static_cast<double>(c.bytes_per_op) * static_cast<double>(iterations) / cpu / 1e6;
  m.ns_per_op = cpu * 1e9 / static_cast<double>(iterations);
  return m;
}

// The best of several runs: interference from other processes only ever slows a run down.
Result<Measurement> measure(const ThroughputCase& c, const Options& options) {
  S3C_RETURN_IF_ERROR(c.op());  // warm-up: first-use allocation, page faults, lazy init
  Measurement best;
  for (int r = 0; r < options.repetitions; ++r) {
    S3C_ASSIGN_OR_RETURN(Measurement m, measureOnce(c, options.min_seconds / options.repetitions));
    if (m.mb_per_second > best.mb_per_second) best = m;
  }
  return best;
}

bool selected(const ThroughputCase& c, const Options& options) {
  if (options.filters.empty()) return true;
  return std::any_of(options.filters.begin(), options.filters.end(),
                     [&](const std::string& f) { return c.name.find(f) != std::string::npos; });
}

void usage(const char* program) {
  std::fprintf(stderr,
               "usage: %s [--json] [--filter SUBSTRING]... [--min-time SECONDS] "
               "[--repetitions N] [--list]\n"
               "Throughput per case on one thread, in MB/s (10^6 bytes per CPU second).\n",
               program);
}

}  // namespace

Registrar::Registrar(void (*add_cases)(Suite&)) noexcept {
  registered().push_back(add_cases);
}

int runMain(int argc, char** argv) {
  Options options;
  bool list = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    // An option's value, or nullptr when the command line ends before it.
    auto next = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    const bool takes_value = arg == "--filter" || arg == "--min-time" || arg == "--repetitions";
    if (takes_value && i + 1 >= argc) {
      usage(argv[0]);
      return 2;
    }
    if (arg == "--json") {
      options.json = true;
    } else if (arg == "--filter") {
      options.filters.emplace_back(next());
    } else if (arg == "--min-time") {
      options.min_seconds = std::atof(next());
    } else if (arg == "--repetitions") {
      options.repetitions = std::max(1, std::atoi(next()));
    } else if (arg == "--list") {
      list = true;
    } else {
      usage(argv[0]);
      return arg == "--help" || arg == "-h" ? 0 : 2;
    }
  }

  Suite suite;
  for (auto add_cases : registered())
    add_cases(suite);

  int failures = 0;
  bool first_record = true;
  if (options.json) std::printf("[\n");
  if (!options.json && !list) {
    std::printf("%-44s %12s %12s %12s\n", "case", "MB/s", "ns/op", "iterations");
  }
  for (const ThroughputCase& c : suite.cases()) {
    if (!selected(c, options)) continue;
    if (list) {
      std::printf("%s\n", c.name.c_str());
      continue;
    }
    auto m = measure(c, options);
    if (!m.has_value()) {
      std::fprintf(stderr, "%s: %s\n", c.name.c_str(), m.error().describe().c_str());
      ++failures;
      continue;
    }
    if (options.json) {
      std::printf("%s  {\"name\": \"%s\", \"value\": %.1f, \"unit\": \"MB/s\"}",
                  first_record ? "" : ",\n", c.name.c_str(), m->mb_per_second);
      first_record = false;
    } else {
      std::printf("%-44s %12.1f %12.0f %12llu\n", c.name.c_str(), m->mb_per_second, m->ns_per_op,
                  static_cast<unsigned long long>(m->iterations));
    }
    std::fflush(stdout);
  }
  if (options.json) std::printf("%s]\n", first_record ? "" : "\n");
  return failures == 0 ? 0 : 1;
}

}  // namespace s3cryptfs::bench

int main(int argc, char** argv) {
  return s3cryptfs::bench::runMain(argc, argv);
}
