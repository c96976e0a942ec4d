#include "s3cryptfs/fuse/fuse_session.h"

#include <cerrno>
#include <chrono>
#include <climits>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <pthread.h>
#include <sstream>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include "s3cryptfs/core/log.h"

#include "fuse_operations.h"

namespace s3cryptfs::fuse {
namespace {

// A signal that only interrupts the loop's wait (see requestExit); its handler does nothing.
constexpr int kWakeSignal = SIGUSR2;

void ignoreWake(int /*signal*/) {}

void installWakeHandler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction action {};
    action.sa_handler = ignoreWake;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0;  // no SA_RESTART: the loop's sem_wait must return EINTR
    sigaction(kWakeSignal, &action, nullptr);
  });
}

// Mount option values are split at commas by libfuse; a backslash escapes one.
std::string escapeOptionValue(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == ',' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

// /proc/self/mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescapeMountinfo(const std::string& field) {
  std::string out;
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size()) {
      int value = 0;
      bool octal = true;
      for (size_t k = 1; k <= 3; ++k) {
        char c = field[i + k];
        if (c < '0' || c > '7') octal = false;
        value = value * 8 + (c - '0');
      }
      if (octal) {
        out.push_back(static_cast<char>(value));
        i += 3;
        continue;
      }
    }
    out.push_back(field[i]);
  }
  return out;
}

}  // namespace

Result<bool> isMountPoint(const std::string& path) {
  char resolved[PATH_MAX];
  if (realpath(path.c_str(), resolved) == nullptr) {
    return Error(ErrorKind::kIo, "cannot resolve " + path + ": " + std::strerror(errno));
  }
  std::ifstream mountinfo("/proc/self/mountinfo");
  if (!mountinfo) return Error(ErrorKind::kIo, "cannot read /proc/self/mountinfo");
  std::string line;
  while (std::getline(mountinfo, line)) {
    // "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw": field 5 is the mount point.
    std::istringstream fields(line);
    std::string id, parent, devno, root, mount_point;
    if (!(fields >> id >> parent >> devno >> root >> mount_point)) continue;
    if (unescapeMountinfo(mount_point) == resolved) return true;
  }
  return false;
}

Status checkMountPoint(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    int err = errno;
    if (err == ENOENT) {
      return Error(ErrorKind::kNotFound, "mount point " + path + " does not exist");
    }
    if (err == ENOTCONN) {
      return Error(ErrorKind::kAlreadyExists,
                   "mount point " + path +
                       " is a dead FUSE mount (its daemon is gone): run fusermount3 -u " + path);
    }
    return Error(ErrorKind::kIo, "mount point " + path + ": " + std::strerror(err));
  }
  if (!S_ISDIR(st.st_mode)) {
    return Error(ErrorKind::kNotDirectory, "mount point " + path + " is not a directory");
  }
  auto busy = isMountPoint(path);
  if (!busy) return busy.error();
  if (*busy) {
    return Error(ErrorKind::kAlreadyExists,
                 "mount point " + path + " is busy: something is already mounted there");
  }

  return ok();
}

struct FuseSession::Impl {
  OperationsContext context;
  fuse_session* session = nullptr;
  std::string mountpoint;
  std::mutex mutex;  // guards mounted and runner
  bool mounted = false;
  bool running = false;
  pthread_t runner{};
  std::atomic<bool> exited{false};

  ~Impl() {
    if (session == nullptr) return;
    if (mounted) fuse_session_unmount(session);
    fuse_session_destroy(session);
  }
};

FuseSession::FuseSession(std::unique_ptr<Impl> impl, std::string mountpoint)
    : impl_(std::move(impl)), mountpoint_(std::move(mountpoint)) {}

FuseSession::~FuseSession() = default;

Result<std::unique_ptr<FuseSession>> FuseSession::mount(std::shared_ptr<fs::Filesystem> filesystem,
                                                        const std::string& mountpoint,
                                                        const FuseOptions& options) {
  if (auto usable = checkMountPoint(mountpoint); !usable) return usable.error();

  auto impl = std::make_unique<Impl>();
  impl->context.filesystem = std::move(filesystem);
  impl->context.options = options;
  impl->mountpoint = mountpoint;

  std::string mount_options =
      "fsname=" +
      escapeOptionValue(options.fs_name.empty() ? std::string("s3cryptfs") : options.fs_name) +
      ",subtype=" + escapeOptionValue(options.subtype);
  if (options.default_permissions) mount_options += ",default_permissions";
  if (options.allow_other) mount_options += ",allow_other";
  if (options.read_only) mount_options += ",ro";
  std::vector<std::string> args = {"s3cryptfs", "-o", mount_options};
  if (options.debug) args.emplace_back("-d");
  std::vector<char*> argv;
  for (auto& arg : args)
    argv.push_back(arg.data());
  fuse_args fargs = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());
  const fuse_lowlevel_ops& ops = lowLevelOperations();
  impl->session = fuse_session_new(&fargs, &ops, sizeof(ops), &impl->context);
  fuse_opt_free_args(&fargs);
  if (impl->session == nullptr) {
    return Error(ErrorKind::kInvalidArgument, "libfuse refused the mount options " + mount_options);
  }
  if (fuse_session_mount(impl->session, mountpoint.c_str()) != 0) {
    return Error(ErrorKind::kPermissionDenied,
                 "cannot mount on " + mountpoint +
                     " (FUSE refused: is /dev/fuse available, and for allow_other as a user, "
                     "is user_allow_other in /etc/fuse.conf?)");
  }
  impl->mounted = true;
  return std::unique_ptr<FuseSession>(new FuseSession(std::move(impl), mountpoint));
}

Status FuseSession::run() {
  installWakeHandler();
  {
    std::lock_guard lock(impl_->mutex);
    impl_->runner = pthread_self();
    impl_->running = true;
  }
  fuse_loop_config* config = fuse_loop_cfg_create();
  fuse_loop_cfg_set_max_threads(config, std::max<uint32_t>(1, impl_->context.options.max_threads));
  fuse_loop_cfg_set_idle_threads(config,
                                 std::min<uint32_t>(10, impl_->context.options.max_threads));
  fuse_loop_cfg_set_clone_fd(config, 0);
  int result = fuse_session_loop_mt(impl_->session, config);
  fuse_loop_cfg_destroy(config);
  {
    std::lock_guard lock(impl_->mutex);
    impl_->running = false;
  }
  impl_->exited = true;
  // The loop ends on ENODEV once the kernel dropped the mount, or on requestExit(). Closing the
  // connection now makes requests of files still open fail (ENOTCONN) instead of hanging, then
  // the mount is detached (nothing to do when it is already gone).
  {
    std::lock_guard lock(impl_->mutex);
    if (impl_->mounted) {
      fuse_session_unmount(impl_->session);
      impl_->mounted = false;
    }
  }
  if (result != 0 && result != -ENODEV) {
    return Error(ErrorKind::kIo, std::string("FUSE loop failed: ") + std::strerror(-result));
  }
  return ok();
}

void FuseSession::requestExit() {
  fuse_session_exit(impl_->session);
  // The loop's main thread waits on a semaphore that only a finishing worker or a signal wakes.
  // Wake it until run() is over (a wake-up just before it starts waiting would be lost); it then
  // stops the workers, and run() closes the connection and unmounts.
  for (int attempt = 0; attempt < 200; ++attempt) {
    {
      std::lock_guard lock(impl_->mutex);
      if (!impl_->running) return;
      pthread_kill(impl_->runner, kWakeSignal);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  log::warn("the FUSE loop did not end within 10 s of the exit request");
}

bool FuseSession::exited() const {
  return impl_->exited;
}

}  // namespace s3cryptfs::fuse
