#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "s3cryptfs/core/result.h"

namespace s3cryptfs::config {

// Everything a mount or an offline tool needs, with the defaults users get. Filled from (later
// wins): built-in defaults, the YAML file, S3CRYPTFS_* environment variables, `-o` options.
// Secrets are never held here: only where to find them (file paths, environment variable names).
struct S3Settings {
  std::string endpoint;  // empty: AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL / profile / AWS default
  std::string region;    // empty: AWS_REGION / profile / us-east-1
  std::string profile;   // empty: AWS_PROFILE / default
  bool path_style = true;
  bool unsigned_payload = false;
  std::string ca_bundle;
  bool insecure_skip_verify = false;
  uint32_t max_connections = 16;
  uint32_t connect_timeout_ms = 5000;
  uint32_t request_timeout_ms = 120000;
  // Objects above this are copied (rename, attribute changes) in UploadPartCopy parts: S3's
  // CopyObject takes 5 GiB at most.
  uint64_t max_single_copy_bytes = uint64_t{5} << 30;
};

struct RetrySettings {
  uint32_t max_attempts = 8;
  uint32_t base_delay_ms = 50;
  uint32_t max_delay_ms = 10000;
};

struct KeySettings {
  std::string protector;  // protector id or type to try first; empty: the first that works
  // Protector specs ("[ID=]TYPE:OPTIONS", as for --protector) to unlock with, in order; a YAML
  // list (key.protectors), one per S3CRYPTFS_KEY_PROTECTORS or -o protectors= adds one.
  std::vector<std::string> protectors;
  std::string key_file;
  std::string passphrase_file;
  std::string passphrase_env;
  uint32_t protector_timeout_ms = 10000;
};

struct CacheSettings {
  uint64_t memory_bytes = uint64_t{128} << 20;  // plaintext block cache
  std::string disk_dir;                         // empty: no ciphertext disk cache
  uint64_t disk_bytes = uint64_t{4} << 30;
  std::string
      staging_dir;  // empty: a per-volume folder under /var/lib/s3cryptfs or $XDG_STATE_HOME
  uint32_t metadata_ttl_ms = 1000;
  uint32_t negative_ttl_ms = 1000;
};

struct UploadSettings {
  uint32_t concurrency = 8;
  uint64_t part_bytes = uint64_t{8} << 20;  // rounded down to whole chunks
};

struct FuseSettings {
  double attr_ttl_s = 1.0;
  double entry_ttl_s = 1.0;
  bool allow_other = false;
  bool default_permissions = true;
  bool foreground = false;
  bool read_only = false;
  uint32_t max_threads = 16;
};

struct LogSettings {
  std::string level = "info";
  std::string file;  // empty: stderr in the foreground, syslog-style file in the background
};

// Counters of the daemon in the Prometheus text format (docs/OPERATIONS.md). Off by default.
struct MetricsSettings {
  std::string listen;  // "HOST:PORT" of an HTTP listener serving GET /metrics, e.g. 127.0.0.1:9464
  std::string file;    // written on SIGUSR1 and at unmount
};

struct MountConfig {
  std::string source;  // s3://bucket/prefix or dir:///path
  S3Settings s3;
  RetrySettings retry;
  KeySettings key;
  CacheSettings cache;
  UploadSettings upload;
  FuseSettings fuse;
  LogSettings log;
  MetricsSettings metrics;
};

// Parses YAML text; unknown keys are errors (a typo must not silently fall back to a default).
Result<MountConfig> parseConfig(std::string_view yaml_text, MountConfig base = {});
Result<MountConfig> loadConfigFile(const std::string& path, MountConfig base = {});

// Applies one `-o name[=value]` option or environment override, by its dotted name
// ("cache.memory_bytes") or its short alias ("allow_other", "key_file", "attr_ttl").
// Unknown names are kInvalidArgument so a typo is reported.
Status applyOption(MountConfig& config, std::string_view name, std::string_view value);

// Splits "a,b=c,d" (mount -o syntax) into name/value pairs; a backslash escapes a comma.
std::vector<std::pair<std::string, std::string>> splitMountOptions(std::string_view options);

// Applies S3CRYPTFS_<DOTTED_NAME_UPPER> variables from `environment`.
Status applyEnvironment(MountConfig& config, const std::map<std::string, std::string>& environment);

// Parses sizes like "256MiB", "4G", "65536".
Result<uint64_t> parseSize(std::string_view text);

}  // namespace s3cryptfs::config
