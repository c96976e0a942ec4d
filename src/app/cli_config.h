#pragma once

// The configuration of one command from its command line: defaults < --config / -o config=FILE
// < S3CRYPTFS_* environment < -o options < dedicated flags (--key-file, --protector, -f).
#include <string>
#include <vector>

#include "s3cryptfs/config/mount_config.h"
#include "s3cryptfs/core/result.h"

namespace s3cryptfs::app {

// What every command that opens a volume takes from the command line.
struct CommonArgs {
  std::string source;
  std::string config_file;
  std::vector<std::string> options;     // raw "-o" arguments, each "a,b=c"
  std::vector<std::string> protectors;  // --protector "[ID=]TYPE[:OPTIONS]", in order
  std::string key_file;                 // --key-file: keyfile:PATH
  std::string passphrase_file;          // --passphrase-file: passphrase:file=PATH
  std::string recovery_share_file;      // --recovery-share-file: recovery:shares-file=PATH
};

// kInvalidArgument with a message for the user (exit code 2).
Result<config::MountConfig> buildConfig(const CommonArgs& args);

// Relative to the directory the command was started in (the daemon runs in "/").
std::string absolutePath(const std::string& path);

// mkdir -p with mode 0700 (what we keep locally is nobody else's business).
Status makeDirs(const std::string& dir);

// The folder for this user's state (staging, reencrypt progress): /var/lib/s3cryptfs for root,
// else $XDG_STATE_HOME/s3cryptfs or ~/.local/state/s3cryptfs; "" when there is no home.
std::string userStateDir();

// "s3cryptfs: MESSAGE" on stderr.
void printError(const std::string& message);

}  // namespace s3cryptfs::app
