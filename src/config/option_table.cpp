#include "option_table.h"

#include <charconv>
#include <cmath>
#include <string>

namespace s3cryptfs::config {
namespace {

Error badValue(std::string_view name, std::string_view value, std::string_view expected) {
  return Error(ErrorKind::kInvalidArgument, "option " + std::string(name) + ": '" +
                                                std::string(value) + "' is not " +
                                                std::string(expected));
}

Status setBool(bool& field, std::string_view name, std::string_view v) {
  if (v.empty() || v == "true" || v == "yes" || v == "on" || v == "1") {
    field = true;
  } else if (v == "false" || v == "no" || v == "off" || v == "0") {
    field = false;
  } else {
    return badValue(name, v, "a boolean (true/false)");
  }
  return ok();
}

Status setU32(uint32_t& field, std::string_view name, std::string_view v, uint32_t min_value) {
  uint32_t parsed = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), parsed);
  if (ec != std::errc() || end != v.data() + v.size() || parsed < min_value) {
    return badValue(name, v, "a whole number >= " + std::to_string(min_value));
  }
  field = parsed;
  return ok();
}

Status setSize(uint64_t& field, std::string_view name, std::string_view v) {
  auto parsed = parseSize(v);
  if (!parsed) return badValue(name, v, "a size (e.g. 256MiB)");
  field = *parsed;
  return ok();
}

Status setSeconds(double& field, std::string_view name, std::string_view v) {
  std::string text(v);
  char* end = nullptr;
  double parsed = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(parsed) || parsed < 0) {
    return badValue(name, v, "a number of seconds >= 0");
  }
  field = parsed;
  return ok();
}

template <class Field>
OptionSpec str(std::string name, Field MountConfig::*group, std::string Field::*member,
               std::vector<std::string> aliases = {}) {
  return {std::move(name), std::move(aliases), false,
          [group, member](MountConfig& c, std::string_view v) -> Status {
            c.*group.*member = std::string(v);
            return ok();
          }};
}

template <class Field>
OptionSpec flag(std::string name, Field MountConfig::*group, bool Field::*member,
                std::vector<std::string> aliases = {}) {
  std::string n = name;
  return {std::move(name), std::move(aliases), true,
          [group, member, n](MountConfig& c, std::string_view v) {
            return setBool(c.*group.*member, n, v);
          }};
}

template <class Field>
OptionSpec u32(std::string name, Field MountConfig::*group, uint32_t Field::*member,
               uint32_t min_value, std::vector<std::string> aliases = {}) {
  std::string n = name;
  return {std::move(name), std::move(aliases), false,
          [group, member, n, min_value](MountConfig& c, std::string_view v) {
            return setU32(c.*group.*member, n, v, min_value);
          }};
}

template <class Field>
OptionSpec size(std::string name, Field MountConfig::*group, uint64_t Field::*member,
                std::vector<std::string> aliases = {}) {
  std::string n = name;
  return {std::move(name), std::move(aliases), false,
          [group, member, n](MountConfig& c, std::string_view v) {
            return setSize(c.*group.*member, n, v);
          }};
}

template <class Field>
OptionSpec seconds(std::string name, Field MountConfig::*group, double Field::*member,
                   std::vector<std::string> aliases = {}) {
  std::string n = name;
  return {std::move(name), std::move(aliases), false,
          [group, member, n](MountConfig& c, std::string_view v) {
            return setSeconds(c.*group.*member, n, v);
          }};
}

std::vector<OptionSpec> buildTable() {
  using M = MountConfig;
  std::vector<OptionSpec> t;
  t.push_back({"source", {}, false, [](M& c, std::string_view v) -> Status {
                 c.source = std::string(v);
                 return ok();
               }});
  t.push_back(str("s3.endpoint", &M::s3, &S3Settings::endpoint, {"endpoint"}));
  t.push_back(str("s3.region", &M::s3, &S3Settings::region, {"region"}));
  t.push_back(str("s3.profile", &M::s3, &S3Settings::profile, {"profile"}));
  t.push_back(flag("s3.path_style", &M::s3, &S3Settings::path_style, {"path_style"}));
  t.push_back(flag("s3.unsigned_payload", &M::s3, &S3Settings::unsigned_payload));
  t.push_back(str("s3.ca_bundle", &M::s3, &S3Settings::ca_bundle, {"ca_bundle"}));
  t.push_back(flag("s3.insecure_skip_verify", &M::s3, &S3Settings::insecure_skip_verify));
  t.push_back(u32("s3.max_connections", &M::s3, &S3Settings::max_connections, 1));
  t.push_back(u32("s3.connect_timeout_ms", &M::s3, &S3Settings::connect_timeout_ms, 1));
  t.push_back(u32("s3.request_timeout_ms", &M::s3, &S3Settings::request_timeout_ms, 1));
  t.push_back(size("s3.max_single_copy_bytes", &M::s3, &S3Settings::max_single_copy_bytes));
  t.push_back(u32("retry.max_attempts", &M::retry, &RetrySettings::max_attempts, 1));
  t.push_back(u32("retry.base_delay_ms", &M::retry, &RetrySettings::base_delay_ms, 0));
  t.push_back(u32("retry.max_delay_ms", &M::retry, &RetrySettings::max_delay_ms, 0));
  t.push_back(str("key.protector", &M::key, &KeySettings::protector, {"protector"}));
  t.push_back({"key.protectors",
               {"protectors"},
               false,
               [](M& c, std::string_view v) -> Status {
                 if (v.empty()) return badValue("key.protectors", v, "a protector spec");
                 c.key.protectors.emplace_back(v);
                 return ok();
               },
               true});
  t.push_back(str("key.key_file", &M::key, &KeySettings::key_file, {"key_file", "keyfile"}));
  t.push_back(
      str("key.passphrase_file", &M::key, &KeySettings::passphrase_file, {"passphrase_file"}));
  t.push_back(str("key.passphrase_env", &M::key, &KeySettings::passphrase_env, {"passphrase_env"}));
  t.push_back(u32("key.protector_timeout_ms", &M::key, &KeySettings::protector_timeout_ms, 1));
  t.push_back(size("cache.memory_bytes", &M::cache, &CacheSettings::memory_bytes, {"cache_size"}));
  t.push_back(str("cache.disk_dir", &M::cache, &CacheSettings::disk_dir, {"cache_dir"}));
  t.push_back(size("cache.disk_bytes", &M::cache, &CacheSettings::disk_bytes, {"cache_disk_size"}));
  t.push_back(str("cache.staging_dir", &M::cache, &CacheSettings::staging_dir, {"staging_dir"}));
  t.push_back(u32("cache.metadata_ttl_ms", &M::cache, &CacheSettings::metadata_ttl_ms, 0));
  t.push_back(u32("cache.negative_ttl_ms", &M::cache, &CacheSettings::negative_ttl_ms, 0));
  t.push_back(u32("upload.concurrency", &M::upload, &UploadSettings::concurrency, 1,
                  {"upload_concurrency"}));
  t.push_back(size("upload.part_bytes", &M::upload, &UploadSettings::part_bytes, {"part_size"}));
  t.push_back(seconds("fuse.attr_ttl_s", &M::fuse, &FuseSettings::attr_ttl_s, {"attr_timeout"}));
  t.push_back(seconds("fuse.entry_ttl_s", &M::fuse, &FuseSettings::entry_ttl_s, {"entry_timeout"}));
  t.push_back(flag("fuse.allow_other", &M::fuse, &FuseSettings::allow_other, {"allow_other"}));
  t.push_back(flag("fuse.default_permissions", &M::fuse, &FuseSettings::default_permissions,
                   {"default_permissions"}));
  t.push_back(flag("fuse.foreground", &M::fuse, &FuseSettings::foreground, {"foreground"}));
  t.push_back(flag("fuse.read_only", &M::fuse, &FuseSettings::read_only, {"ro"}));
  t.push_back(u32("fuse.max_threads", &M::fuse, &FuseSettings::max_threads, 1, {"max_threads"}));
  t.push_back(str("log.level", &M::log, &LogSettings::level, {"log_level"}));
  t.push_back(str("log.file", &M::log, &LogSettings::file, {"log_file"}));
  t.push_back(str("metrics.listen", &M::metrics, &MetricsSettings::listen, {"metrics"}));
  t.push_back(str("metrics.file", &M::metrics, &MetricsSettings::file, {"metrics_file"}));
  return t;
}

}  // namespace

const std::vector<OptionSpec>& optionTable() {
  static const std::vector<OptionSpec> kTable = buildTable();
  return kTable;
}

}  // namespace s3cryptfs::config
