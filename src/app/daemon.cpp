#include "daemon.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

namespace s3cryptfs::app {
namespace {

void writeAll(int fd, const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

// The parent's side: one report, then exit.
[[noreturn]] void waitForChild(int fd, pid_t child) {
  std::string report;
  char buffer[512];
  for (;;) {
    ssize_t n = read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    report.append(buffer, static_cast<size_t>(n));
  }
  close(fd);
  if (report.rfind("ready\n", 0) == 0) std::exit(toInt(ExitCode::kOk));
  // "<code> <message>\n"
  char* end = nullptr;
  long code = std::strtol(report.c_str(), &end, 10);
  if (!report.empty() && end != nullptr && *end == ' ') {
    std::string message(end + 1);
    while (!message.empty() && message.back() == '\n')
      message.pop_back();
    std::fprintf(stderr, "s3cryptfs: %s\n", message.c_str());
    std::exit(static_cast<int>(code));
  }
  // No report: the child died. Reap it if it is gone, to say how.
  int status = 0;
  std::string how = "the daemon ended before the mount was ready";
  if (waitpid(child, &status, WNOHANG) == child && WIFSIGNALED(status)) {
    how += std::string(" (killed by signal ") + strsignal(WTERMSIG(status)) + ")";
  }
  std::fprintf(stderr, "s3cryptfs: %s; see the log (log.file) for details\n", how.c_str());
  std::exit(toInt(ExitCode::kDaemonDied));
}

}  // namespace

Result<Readiness> Readiness::daemonize() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    return Error(ErrorKind::kIo, std::string("cannot create a pipe: ") + std::strerror(errno));
  }
  std::fflush(nullptr);
  pid_t pid = fork();
  if (pid < 0) {
    return Error(ErrorKind::kIo, std::string("cannot fork: ") + std::strerror(errno));
  }
  if (pid > 0) {
    close(fds[1]);
    waitForChild(fds[0], pid);
  }
  close(fds[0]);
  // A session of its own: the terminal's hangup and Ctrl-C no longer reach the daemon.
  setsid();
  if (chdir("/") != 0) {
    // Not fatal: only keeps the daemon from pinning a folder.
  }
  int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null_fd >= 0) {
    dup2(null_fd, STDIN_FILENO);
    close(null_fd);
  }
  return Readiness(fds[1]);
}

Readiness& Readiness::operator=(Readiness&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    fd_ = other.fd_;
    background_ = other.background_;
    other.fd_ = -1;
  }
  return *this;
}

Readiness::~Readiness() {
  if (fd_ >= 0) close(fd_);
}

void Readiness::ready() {
  if (fd_ < 0) return;
  // Nothing may be printed any more: the parent is gone and the terminal is not ours.
  int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null_fd >= 0) {
    dup2(null_fd, STDOUT_FILENO);
    dup2(null_fd, STDERR_FILENO);
    close(null_fd);
  }
  writeAll(fd_, "ready\n");
  close(fd_);
  fd_ = -1;
}

void Readiness::failed(ExitCode code, const std::string& message) {
  if (fd_ < 0) {
    std::fprintf(stderr, "s3cryptfs: %s\n", message.c_str());
    return;
  }
  writeAll(fd_, std::to_string(toInt(code)) + " " + message + "\n");
  close(fd_);
  fd_ = -1;
}

}  // namespace s3cryptfs::app
