#pragma once

// Opening a volume for an administrative command (not a mount): configuration, store, unlock.
#include <memory>
#include <optional>

#include "s3cryptfs/config/mount_config.h"
#include "s3cryptfs/volume/volume.h"

#include "cli_config.h"
#include "exit_codes.h"
#include "protector_choice.h"

namespace s3cryptfs::app {

struct AdminSession {
  config::MountConfig config;
  std::shared_ptr<store::ObjectStore> store;
  std::shared_ptr<volume::Volume> volume;  // unlocked (unless opened with unlock = false)
};

// Prints one message and returns the exit code on failure (session stays empty).
ExitCode openAdminSession(const CommonArgs& args, bool unlock, std::optional<AdminSession>& out);

// The slot of the newest key version `text` names: its index (as `key list` shows) or its id.
const format::ProtectorSlot* findSlot(const format::VolumeDescriptor& descriptor,
                                      const std::string& text);

// Prints "s3cryptfs: MESSAGE" and returns the code for a failed descriptor change.
ExitCode reportChangeError(const Error& error);

}  // namespace s3cryptfs::app
