#pragma once

#include <functional>
#include <string>

#include "s3cryptfs/config/mount_config.h"
#include "s3cryptfs/core/result.h"

namespace s3cryptfs::app {

// No core dump may ever hold the volume key or plaintext: not dumpable (also keeps other users'
// ptrace and /proc/PID/mem out) and a core size limit of 0.
void disableCoreDumps();

// SIGTERM, SIGINT and SIGHUP ask for a clean shutdown: `on_shutdown` runs once, on a thread of
// its own (it may block: it uploads dirty data). A second SIGINT while it runs ends the process
// at once with exit code 130 (what is not uploaded stays in the staging journal). SIGPIPE is
// ignored (a closed connection is an error return, not a death).
void handleShutdownSignals(std::function<void(int signal)> on_shutdown);

// Where the log goes: log.file if set; else stderr in the foreground and, in the background,
// /var/log/s3cryptfs/<mount point>.log (root) or $XDG_STATE_HOME/s3cryptfs/log/<mount point>.log.
// Returns the file used ("" for stderr).
Result<std::string> setUpLogging(const config::LogSettings& settings, bool background,
                                 const std::string& mountpoint);

}  // namespace s3cryptfs::app
