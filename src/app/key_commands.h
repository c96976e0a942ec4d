#pragma once

// The key-management commands: `key list|add|remove|recover`, `rewrap`, `rotate`,
// `reencrypt` (docs/OPERATIONS.md "Keys"). Each opens the volume like `mount` (the unlock
// protectors come from --unlock / --key-file / --passphrase-file / --recovery-share-file / the
// configuration, else the volume's non-interactive slots) and changes the descriptor with one
// conditional write.
#include <string>
#include <vector>

#include "cli_config.h"
#include "exit_codes.h"

namespace s3cryptfs::app {

struct KeyArgs {
  CommonArgs common;                        // common.protectors: the --unlock specs
  std::vector<std::string> new_protectors;  // --protector: what key add / recover / rotate add
  std::string slot;                         // key remove SLOT, rewrap --slot (index or id)
  bool drop_missing = false;                // rotate: slots without a new protector go
};

ExitCode runKeyList(const KeyArgs& args);
ExitCode runKeyAdd(const KeyArgs& args);
ExitCode runKeyRemove(const KeyArgs& args);
ExitCode runKeyRecover(const KeyArgs& args);
ExitCode runRewrap(const KeyArgs& args);
ExitCode runRotate(const KeyArgs& args);
ExitCode runReencrypt(const KeyArgs& args);

}  // namespace s3cryptfs::app
