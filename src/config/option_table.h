#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "s3cryptfs/config/mount_config.h"

namespace s3cryptfs::config {

// One settable option. The same table serves the YAML file (dotted path of nested keys), `-o`
// options (dotted name or alias) and S3CRYPTFS_* environment variables, so they cannot drift.
struct OptionSpec {
  std::string name;                  // dotted: "cache.memory_bytes"
  std::vector<std::string> aliases;  // "-o" short forms
  bool is_flag = false;              // "-o allow_other" with no value means true
  std::function<Status(MountConfig&, std::string_view)> set;
  bool is_list = false;  // each value adds one element; a YAML sequence gives several
};

const std::vector<OptionSpec>& optionTable();

}  // namespace s3cryptfs::config
