#include "cli_config.h"

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <set>
#include <sys/stat.h>
#include <unistd.h>

#include "s3cryptfs/http/aws_config.h"
#include "s3cryptfs/store/store_uri.h"

namespace s3cryptfs::app {
namespace {

// Options mount(8) and mount.fuse3 pass on (from /etc/fstab) that mean nothing to us: the
// kernel's generic flags and the userspace ones of mount(8) and systemd.
bool isGenericMountOption(const std::string& name) {
  static const std::set<std::string> kIgnored = {
      "rw",      "defaults", "auto",       "noauto",   "user",       "nouser",     "users",
      "owner",   "group",    "nofail",     "dev",      "nodev",      "suid",       "nosuid",
      "exec",    "noexec",   "atime",      "noatime",  "relatime",   "norelatime", "strictatime",
      "async",   "sync",     "dirsync",    "lazytime", "nolazytime", "fsname",     "subtype",
      "comment", "loop",     "nodiratime", "diratime", "silent",     "loud"};
  if (kIgnored.count(name) != 0) return true;
  // _netdev, _rnetdev and friends; x-systemd.*, x-gvfs-*, x-initrd.mount.
  return name.rfind('_', 0) == 0 || name.rfind("x-", 0) == 0;
}

}  // namespace

void printError(const std::string& message) {
  std::cerr << "s3cryptfs: " << message << "\n";
}

std::string absolutePath(const std::string& path) {
  if (path.empty() || path.front() == '/') return path;
  char cwd[PATH_MAX];
  if (getcwd(cwd, sizeof cwd) == nullptr) return path;
  return std::string(cwd) + "/" + path;
}

Status makeDirs(const std::string& dir) {
  for (size_t pos = 1; pos <= dir.size(); ++pos) {
    if (pos != dir.size() && dir[pos] != '/') continue;
    std::string part = dir.substr(0, pos);
    if (mkdir(part.c_str(), 0700) != 0 && errno != EEXIST) {
      return Error(ErrorKind::kIo, "cannot create " + part + ": " + std::strerror(errno));
    }
  }
  return ok();
}

std::string userStateDir() {
  if (geteuid() == 0) return "/var/lib/s3cryptfs";
  if (const char* state = std::getenv("XDG_STATE_HOME"); state != nullptr && *state) {
    return std::string(state) + "/s3cryptfs";
  }
  if (const char* home = std::getenv("HOME"); home != nullptr && *home) {
    return std::string(home) + "/.local/state/s3cryptfs";
  }
  return "";
}

Result<config::MountConfig> buildConfig(const CommonArgs& args) {
  std::vector<std::pair<std::string, std::string>> options;
  for (const std::string& raw : args.options) {
    for (auto& option : config::splitMountOptions(raw))
      options.push_back(std::move(option));
  }
  std::string config_file = args.config_file;
  for (const auto& [name, value] : options) {
    if (name == "config") config_file = value;
  }
  config_file = absolutePath(config_file);
  config::MountConfig config;
  if (!config_file.empty()) {
    auto loaded = config::loadConfigFile(config_file);
    if (!loaded) return loaded.error().withContext("configuration " + config_file);
    config = std::move(*loaded);
  }
  if (auto applied = config::applyEnvironment(config, http::processEnvironment()); !applied) {
    return applied.error().withContext("environment");
  }
  for (const auto& [name, value] : options) {
    if (name == "config" || isGenericMountOption(name)) continue;
    if (auto applied = config::applyOption(config, name, value); !applied) {
      return applied.error();
    }
  }
  // Protectors named on the command line come before the configuration's, in their order.
  std::vector<std::string> protectors = args.protectors;
  if (!args.recovery_share_file.empty()) {
    protectors.push_back("recovery:shares-file=" + args.recovery_share_file);
  }
  protectors.insert(protectors.end(), config.key.protectors.begin(), config.key.protectors.end());
  config.key.protectors = std::move(protectors);
  if (!args.key_file.empty()) config.key.key_file = args.key_file;
  if (!args.passphrase_file.empty()) config.key.passphrase_file = args.passphrase_file;
  if (!args.source.empty()) config.source = args.source;
  // The daemon runs in "/": relative paths are taken relative to where the command was started.
  for (std::string* path :
       {&config.key.key_file, &config.key.passphrase_file, &config.cache.staging_dir,
        &config.cache.disk_dir, &config.log.file, &config.s3.ca_bundle}) {
    *path = absolutePath(*path);
  }
  if (config.source.empty()) {
    return Error(ErrorKind::kInvalidArgument,
                 "no source given (dir:///path or s3://bucket/prefix)");
  }
  if (auto uri = store::parseStoreUri(config.source); !uri) return uri.error();
  return config;
}

}  // namespace s3cryptfs::app
