#pragma once

#include <optional>
#include <string>
#include <vector>

#include "cli_config.h"
#include "exit_codes.h"

namespace s3cryptfs::app {

struct InitArgs {
  CommonArgs common;
  std::string cipher = "aes-256-gcm";
  std::string chunk_size;  // empty: the default
  bool plaintext_names = false;
};

struct MountArgs {
  CommonArgs common;
  std::string mountpoint;
  bool foreground = false;
};

ExitCode runKeygen(const std::string& path);
ExitCode runInit(const InitArgs& args);
ExitCode runMount(const MountArgs& args);

}  // namespace s3cryptfs::app
