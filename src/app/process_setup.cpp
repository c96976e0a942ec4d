#include "process_setup.h"

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

#include "s3cryptfs/core/log.h"

#include "cli_config.h"

namespace s3cryptfs::app {
namespace {

std::atomic<int> g_signals_seen{0};
int g_signal_pipe[2] = {-1, -1};

void onSignal(int signal) {
  int seen = g_signals_seen.fetch_add(1);
  if (seen > 0) {
    if (signal == SIGINT) _exit(130);
    return;  // a second SIGTERM/SIGHUP: the shutdown is already under way
  }
  unsigned char byte = static_cast<unsigned char>(signal);
  ssize_t ignored = write(g_signal_pipe[1], &byte, 1);
  (void)ignored;
}

}  // namespace

void disableCoreDumps() {
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  struct rlimit none {};
  setrlimit(RLIMIT_CORE, &none);
}

void handleShutdownSignals(std::function<void(int signal)> on_shutdown) {
  if (pipe2(g_signal_pipe, O_CLOEXEC) != 0) {
    log::error("cannot create the signal pipe: {}", std::strerror(errno));
    return;
  }
  std::thread([pipe_fd = g_signal_pipe[0], callback = std::move(on_shutdown)] {
    unsigned char byte = 0;
    for (;;) {
      ssize_t n = read(pipe_fd, &byte, 1);
      if (n == 1) break;
      if (n < 0 && errno == EINTR) continue;
      return;
    }
    callback(static_cast<int>(byte));
  }).detach();

  struct sigaction action {};
  action.sa_handler = onSignal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGHUP, &action, nullptr);
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &ignore, nullptr);
}

Result<std::string> setUpLogging(const config::LogSettings& settings, bool background,
                                 const std::string& mountpoint) {
  log::Level level = log::Level::kInfo;
  if (!log::parseLevel(settings.level, level)) {
    return Error(ErrorKind::kInvalidArgument, "log.level '" + settings.level +
                                                  "' is not one of trace, debug, info, warn, "
                                                  "error, off");
  }
  log::setLevel(level);
  std::string file = settings.file;
  if (file.empty() && background) {
    std::string dir;
    if (geteuid() == 0) {
      dir = "/var/log/s3cryptfs";
    } else if (const char* state = std::getenv("XDG_STATE_HOME"); state != nullptr && *state) {
      dir = std::string(state) + "/s3cryptfs/log";
    } else if (const char* home = std::getenv("HOME"); home != nullptr && *home) {
      dir = std::string(home) + "/.local/state/s3cryptfs/log";
    } else {
      dir = "/tmp";
    }
    if (auto made = makeDirs(dir); !made) return made.error();
    std::string name;
    for (char c : mountpoint)
      name.push_back(c == '/' ? '-' : c);
    while (!name.empty() && name.front() == '-')
      name.erase(name.begin());
    file = dir + "/" + (name.empty() ? std::string("root") : name) + ".log";
  }
  if (file.empty()) {
    log::toStderr();
    return std::string();
  }
  if (!log::toFile(file)) {
    return Error(ErrorKind::kIo, "cannot open the log file " + file);
  }
  log::flushEvery(1);
  return file;
}

}  // namespace s3cryptfs::app
