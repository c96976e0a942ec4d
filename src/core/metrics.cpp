#include "s3cryptfs/core/metrics.h"

#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <dirent.h>
#include <fstream>
#include <mutex>
#include <sstream>
#include <unistd.h>

namespace s3cryptfs::metrics {
namespace {

std::string escapeLabelValue(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string labelKey(const std::vector<Label>& labels) {
  std::string key;
  for (const Label& label : labels) {
    if (!key.empty()) key.push_back(',');
    key += label.name + "=\"" + escapeLabelValue(label.value) + "\"";
  }
  return key;
}

std::string seriesName(const std::string& name, const std::string& key) {
  return key.empty() ? name : name + "{" + key + "}";
}

std::string formatNumber(double value) {
  if (std::isnan(value)) return "NaN";
  char text[64];
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    std::snprintf(text, sizeof text, "%.0f", value);
  } else {
    std::snprintf(text, sizeof text, "%.6g", value);
  }
  return text;
}

// A "Name:   value kB" line of /proc/self/status, in bytes (kB lines) or as is; NaN if absent.
double procStatusField(const std::string& field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.compare(0, field.size() + 1, field + ":") != 0) continue;
    std::istringstream in(line.substr(field.size() + 1));
    double value = 0;
    std::string unit;
    in >> value >> unit;
    return unit == "kB" ? value * 1024 : value;
  }
  return NAN;
}

// utime + stime of /proc/self/stat, in seconds.
double cpuSeconds() {
  std::ifstream stat("/proc/self/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  // Field 2 (comm) may hold spaces: the fields after it start past its closing parenthesis.
  size_t close = text.rfind(')');
  if (close == std::string::npos) return NAN;
  std::istringstream in(text.substr(close + 2));
  std::string field;
  uint64_t utime = 0;
  uint64_t stime = 0;
  // State is field 3; utime and stime are fields 14 and 15.
  for (int index = 3; index <= 15 && in >> field; ++index) {
    if (index == 14) utime = std::strtoull(field.c_str(), nullptr, 10);
    if (index == 15) stime = std::strtoull(field.c_str(), nullptr, 10);
  }
  long ticks = sysconf(_SC_CLK_TCK);
  return ticks > 0 ? static_cast<double>(utime + stime) / static_cast<double>(ticks) : NAN;
}

double openDescriptors() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return NAN;
  double count = 0;
  while (readdir(dir) != nullptr)
    ++count;
  closedir(dir);
  return count - 3;  // ".", ".." and the descriptor of this listing
}

}  // namespace

Registry::Family& Registry::familyLocked(const std::string& name, const std::string& help,
                                         Type type) {
  auto [it, added] = families_.try_emplace(name);
  if (added) {
    it->second.type = type;
    it->second.help = help;
  }
  return it->second;
}

Counter& Registry::counter(const std::string& name, const std::string& help,
                           const std::vector<Label>& labels) {
  std::lock_guard lock(mutex_);
  Family& family = familyLocked(name, help, Type::kCounter);
  auto& slot = family.counters[labelKey(labels)];
  if (slot == nullptr) slot = std::make_unique<Counter>();
  return *slot;
}

Gauge& Registry::gauge(const std::string& name, const std::string& help,
                       const std::vector<Label>& labels) {
  std::lock_guard lock(mutex_);
  Family& family = familyLocked(name, help, Type::kGauge);
  auto& slot = family.gauges[labelKey(labels)];
  if (slot == nullptr) slot = std::make_unique<Gauge>();
  return *slot;
}

void Registry::gaugeFunction(const std::string& name, const std::string& help,
                             std::function<double()> read) {
  std::lock_guard lock(mutex_);
  familyLocked(name, help, Type::kGauge).read = std::move(read);
}

std::string Registry::render() const {
  std::lock_guard lock(mutex_);
  std::string out;
  for (const auto& [name, family] : families_) {
    out += "# HELP " + name + " " + family.help + "\n";
    out += "# TYPE " + name + (family.type == Type::kCounter ? " counter\n" : " gauge\n");
    for (const auto& [key, counter] : family.counters)
      out += seriesName(name, key) + " " + std::to_string(counter->value()) + "\n";
    for (const auto& [key, gauge] : family.gauges)
      out += seriesName(name, key) + " " + std::to_string(gauge->value()) + "\n";
    if (family.read) out += name + " " + formatNumber(family.read()) + "\n";
  }
  return out;
}

double Registry::value(const std::string& name, const std::vector<Label>& labels) const {
  std::lock_guard lock(mutex_);
  auto family = families_.find(name);
  if (family == families_.end()) return 0;
  std::string key = labelKey(labels);
  if (auto c = family->second.counters.find(key); c != family->second.counters.end()) {
    return static_cast<double>(c->second->value());
  }
  if (auto g = family->second.gauges.find(key); g != family->second.gauges.end()) {
    return static_cast<double>(g->second->value());
  }
  if (labels.empty() && family->second.read) return family->second.read();
  return 0;
}

Registry& global() {
  static Registry* registry = new Registry();  // never destroyed: used until the process ends
  return *registry;
}

void registerProcessMetrics() {
  static std::once_flag once;
  std::call_once(once, [] {
    Registry& r = global();
    r.gaugeFunction("s3cryptfs_process_resident_memory_bytes", "Resident set size (VmRSS).",
                    [] { return procStatusField("VmRSS"); });
    r.gaugeFunction("s3cryptfs_process_resident_memory_peak_bytes",
                    "Peak resident set size since start (VmHWM).",
                    [] { return procStatusField("VmHWM"); });
    r.gaugeFunction("s3cryptfs_process_cpu_seconds", "User plus system CPU time of the daemon.",
                    cpuSeconds);
    r.gaugeFunction("s3cryptfs_process_threads", "Threads of the daemon.",
                    [] { return procStatusField("Threads"); });
    r.gaugeFunction("s3cryptfs_process_open_fds", "Open file descriptors of the daemon.",
                    openDescriptors);
  });
}

}  // namespace s3cryptfs::metrics
