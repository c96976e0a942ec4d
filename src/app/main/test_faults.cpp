// Linked only into `s3cryptfs-test-faults`, the test build of the command (never installed):
// registers the store decorator that injects faults from the environment variable
//   S3CRYPTFS_TEST_FAULTS="rate=0.1,lost_rate=0.02,latency_ms=2,jitter_ms=10,seed=42"
//   rate        each store call fails with a 500 (before reaching the store) with this chance
//   lost_rate   each PUT is done and then reported as a 500 anyway (a lost response)
//   latency_ms  added before every call, plus uniform(0, jitter_ms)
//   seed        of the fault generator (default 1), so a run can be repeated
// Unset or empty: no faults. A malformed value fails the command as a usage error (exit 2).

#include <charconv>
#include <cstdlib>
#include <string>
#include <string_view>

#include "s3cryptfs/core/log.h"
#include "s3cryptfs/store/fault_injecting_object_store.h"

#include "store_decorator_hook.h"

namespace s3cryptfs::app {
namespace {

constexpr const char* kVariable = "S3CRYPTFS_TEST_FAULTS";

struct FaultSpec {
  double rate = 0.0;
  double lost_rate = 0.0;
  uint64_t latency_ms = 0;
  uint64_t jitter_ms = 0;
  uint64_t seed = 1;
};

Error badSpec(std::string_view what) {
  return Error(ErrorKind::kInvalidArgument, std::string(kVariable) + ": " + std::string(what));
}

template <class Number>
Status parseNumber(std::string_view text, Number& out, std::string_view name) {
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, out);
  if (ec != std::errc() || ptr != end) return badSpec("malformed " + std::string(name));
  return ok();
}

Result<FaultSpec> parseSpec(std::string_view text) {
  FaultSpec spec;
  while (!text.empty()) {
    auto comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    auto eq = item.find('=');
    if (eq == std::string_view::npos) {
      return badSpec("expected name=value, got '" + std::string(item) + "'");
    }
    std::string_view name = item.substr(0, eq);
    std::string_view value = item.substr(eq + 1);
    Status parsed = ok();
    if (name == "rate") {
      parsed = parseNumber(value, spec.rate, name);
    } else if (name == "lost_rate") {
      parsed = parseNumber(value, spec.lost_rate, name);
    } else if (name == "latency_ms") {
      parsed = parseNumber(value, spec.latency_ms, name);
    } else if (name == "jitter_ms") {
      parsed = parseNumber(value, spec.jitter_ms, name);
    } else if (name == "seed") {
      parsed = parseNumber(value, spec.seed, name);
    } else {
      return badSpec("unknown setting '" + std::string(name) + "'");
    }
    if (!parsed) return parsed.error();
  }
  for (double rate : {spec.rate, spec.lost_rate}) {
    if (rate < 0.0 || rate >= 1.0) return badSpec("rates must be in [0, 1)");
  }
  return spec;
}

Result<std::shared_ptr<store::ObjectStore>> injectFaults(std::shared_ptr<store::ObjectStore> raw) {
  const char* text = std::getenv(kVariable);
  if (text == nullptr || *text == '\0') return raw;
  S3C_ASSIGN_OR_RETURN(FaultSpec spec, parseSpec(text));
  auto faulty = std::make_shared<store::FaultInjectingObjectStore>(std::move(raw), spec.seed);
  faulty->setFailureRate(store::StoreOp::kAny, spec.rate);
  faulty->setFailureRate(store::StoreOp::kPut, spec.lost_rate, store::Fault::lostResponse());
  faulty->setLatency(store::StoreOp::kAny, std::chrono::milliseconds(spec.latency_ms),
                     std::chrono::milliseconds(spec.jitter_ms));
  log::warn("TEST BUILD: injecting store faults ({}={})", kVariable, text);
  return std::shared_ptr<store::ObjectStore>(std::move(faulty));
}

// Registers before main() runs.
[[maybe_unused]] const bool registered = [] {
  setTestStoreDecorator(&injectFaults);
  return true;
}();

}  // namespace
}  // namespace s3cryptfs::app
