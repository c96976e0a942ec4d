#pragma once

#include <string>

#include "s3cryptfs/core/result.h"

#include "exit_codes.h"

namespace s3cryptfs::app {

// How `s3cryptfs mount` returns only once the mount is ready: the parent forks before doing
// anything else (no thread exists yet), and waits on a pipe for the child's one report, "ready"
// or an exit code and a message. The parent then exits with that code (printing the message);
// the child goes on serving in its own session. In the foreground the reports are no-ops.
class Readiness {
 public:
  // Background: forks. Returns only in the child (in the parent it exits the process).
  static Result<Readiness> daemonize();
  static Readiness foreground() { return Readiness(-1); }

  Readiness(Readiness&& other) noexcept : fd_(other.fd_), background_(other.background_) {
    other.fd_ = -1;
  }
  Readiness& operator=(Readiness&& other) noexcept;
  Readiness(const Readiness&) = delete;
  ~Readiness();

  bool background() const { return background_; }
  // The mount is live: the parent exits 0. Then detaches stdin/stdout/stderr.
  void ready();
  // The mount failed: the parent prints `message` and exits with `code`.
  void failed(ExitCode code, const std::string& message);

 private:
  explicit Readiness(int fd) : fd_(fd), background_(fd >= 0) {}
  int fd_;
  bool background_ = false;
};

}  // namespace s3cryptfs::app
