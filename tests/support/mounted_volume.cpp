#include "support/mounted_volume.h"

#include <cerrno>
#include <climits>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <poll.h>
#include <sstream>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace s3cryptfs::test {
namespace {

std::string buildDir() {
  if (const char* dir = std::getenv("S3C_TEST_BINARY_DIR"); dir != nullptr && *dir) return dir;
#ifdef S3C_TEST_BINARY_DIR
  return S3C_TEST_BINARY_DIR;
#else
  return ".";
#endif
}

std::string sanitise(const std::string& name) {
  std::string out;
  for (char c : name)
    out.push_back(std::isalnum(static_cast<unsigned char>(c)) ? c : '-');
  return out.substr(0, 60);
}

bool processAlive(pid_t pid) {
  if (kill(pid, 0) != 0) return false;
  // A zombie is gone for our purposes.
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  auto close_paren = line.rfind(')');
  return close_paren == std::string::npos || line.size() < close_paren + 3 ||
         line[close_paren + 2] != 'Z';
}

std::string unescapeMountinfo(const std::string& field) {
  std::string out;
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size()) {
      out.push_back(static_cast<char>((field[i + 1] - '0') * 64 + (field[i + 2] - '0') * 8 +
                                      (field[i + 3] - '0')));
      i += 3;
    } else {
      out.push_back(field[i]);
    }
  }
  return out;
}

// In a forked child: adds `env`, changes to `cwd` (if not empty) and execs argv; never returns.
[[noreturn]] void execChild(const std::vector<std::string>& argv,
                            const std::map<std::string, std::string>& env, const std::string& cwd) {
  for (const auto& [name, value] : env)
    setenv(name.c_str(), value.c_str(), 1);
  if (!cwd.empty() && chdir(cwd.c_str()) != 0) _exit(126);
  std::vector<char*> args;
  for (const auto& arg : argv)
    args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  execv(args[0], args.data());
  _exit(127);
}

}  // namespace

std::string mountTestRoot() {
  std::string root;
  if (const char* env = std::getenv("S3C_MOUNT_TEST_ROOT"); env != nullptr && *env) {
    root = env;
  } else {
    root = buildDir() + "/mount-tests";
  }
  std::filesystem::create_directories(root);
  return root;
}

std::string s3cryptfsBinary() {
  if (const char* env = std::getenv("S3C_BINARY"); env != nullptr && *env) return env;
  return buildDir() + "/src/app/s3cryptfs";
}

std::string s3cryptfsTestFaultsBinary() {
  return std::filesystem::path(s3cryptfsBinary()).replace_filename("s3cryptfs-test-faults");
}

CommandResult runCommand(const std::vector<std::string>& argv,
                         const std::map<std::string, std::string>& env,
                         std::chrono::milliseconds timeout, const std::string& cwd) {
  CommandResult result;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    result.output = "pipe failed";
    return result;
  }
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    dup2(fds[1], STDERR_FILENO);
    int null_fd = open("/dev/null", O_RDONLY);
    if (null_fd >= 0) dup2(null_fd, STDIN_FILENO);
    execChild(argv, env, cwd);
  }
  close(fds[1]);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  char buffer[4096];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      result.timed_out = true;
      break;
    }
    pollfd pfd{fds[0], POLLIN, 0};
    int ready = poll(&pfd, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;
    ssize_t n = read(fds[0], buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    result.output.append(buffer, static_cast<size_t>(n));
  }
  close(fds[0]);
  int status = 0;
  while (true) {
    pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) break;
    if (std::chrono::steady_clock::now() > deadline) {
      result.timed_out = true;
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      break;
    }
    usleep(10000);
  }
  if (!result.timed_out && WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  return result;
}

pid_t spawnCommand(const std::vector<std::string>& argv,
                   const std::map<std::string, std::string>& env, const std::string& output_file) {
  pid_t pid = fork();
  if (pid != 0) return pid;
  if (!output_file.empty()) {
    int fd = open(output_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd >= 0) {
      dup2(fd, STDOUT_FILENO);
      dup2(fd, STDERR_FILENO);
    }
  }
  execChild(argv, env, "");
}

std::vector<pid_t> processesMentioning(const std::string& needle) {
  std::vector<pid_t> pids;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return pids;
  while (dirent* entry = readdir(proc)) {
    char* end = nullptr;
    long pid = std::strtol(entry->d_name, &end, 10);
    if (*end != '\0' || pid <= 0 || pid == getpid()) continue;
    std::ifstream cmdline("/proc/" + std::string(entry->d_name) + "/cmdline");
    std::string text((std::istreambuf_iterator<char>(cmdline)), std::istreambuf_iterator<char>());
    if (text.find(needle) != std::string::npos && processAlive(static_cast<pid_t>(pid))) {
      pids.push_back(static_cast<pid_t>(pid));
    }
  }
  closedir(proc);
  return pids;
}

bool isMounted(const std::string& path) {
  std::ifstream mountinfo("/proc/self/mountinfo");
  std::string line;
  while (std::getline(mountinfo, line)) {
    std::istringstream fields(line);
    std::string id, parent, devno, root, mount_point;
    if (!(fields >> id >> parent >> devno >> root >> mount_point)) continue;
    if (unescapeMountinfo(mount_point) == path) return true;
  }
  return false;
}

std::string readWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

bool writeWholeFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  out.close();
  return static_cast<bool>(out);
}

MountedVolume::MountedVolume(const std::string& store, const std::string& test_name,
                             const std::vector<std::string>& init_args) {
  std::string pattern = mountTestRoot() + "/" + sanitise(test_name) + "-XXXXXX";
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  if (mkdtemp(buffer.data()) == nullptr) {
    init_.output = "mkdtemp failed: " + std::string(std::strerror(errno));
    return;
  }
  scratch_ = buffer.data();
  mountpoint_ = scratch_ + "/mnt";
  key_file_ = scratch_ + "/key";
  staging_dir_ = scratch_ + "/staging";
  log_file_ = scratch_ + "/daemon.log";
  std::filesystem::create_directories(mountpoint_);
  if (store == "dir") {
    store_dir_ = scratch_ + "/store";
    source_ = "dir://" + store_dir_;
  } else {
    server_ = testServer(store);
    if (!server_) {
      init_.output = missingTestServerMessage(store);
      return;
    }
    prefix_ = uniquePrefix(test_name);
    source_ = "s3://" + server_->bucket + "/" + prefix_;
    env_ = {{"AWS_ACCESS_KEY_ID", server_->access_key},
            {"AWS_SECRET_ACCESS_KEY", server_->secret_key},
            {"AWS_REGION", server_->region.empty() ? "us-east-1" : server_->region}};
    s3_options_ = {"endpoint=" + server_->endpoint};
  }
  CommandResult keygen = runCommand({s3cryptfsBinary(), "keygen", key_file_});
  if (keygen.exit_code != 0) {
    init_ = keygen;
    return;
  }
  std::vector<std::string> argv = {s3cryptfsBinary(), "init", source_, "--key-file", key_file_};
  for (const auto& option : s3_options_) {
    argv.push_back("-o");
    argv.push_back(option);
  }
  argv.insert(argv.end(), init_args.begin(), init_args.end());
  init_ = runCommand(argv, env_);
}

MountedVolume::~MountedVolume() {
  if (scratch_.empty()) return;
  if (isMounted(mountpoint_)) {
    runCommand({"/bin/fusermount3", "-u", "-q", mountpoint_}, {}, std::chrono::seconds(30));
  }
  // Daemons of this volume: give them time to upload and exit, then kill them.
  waitFor([&] { return processesMentioning(scratch_).empty(); }, std::chrono::seconds(20));
  for (pid_t pid : processesMentioning(scratch_))
    kill(pid, SIGKILL);
  waitFor([&] { return processesMentioning(scratch_).empty(); }, std::chrono::seconds(5));
  if (isMounted(mountpoint_)) {
    runCommand({"/bin/umount", "-l", mountpoint_}, {}, std::chrono::seconds(10));
  }
  // Never delete through a live mount.
  if (!isMounted(mountpoint_) && std::getenv("S3C_KEEP_MOUNT_TESTS") == nullptr) {
    std::error_code ignored;
    std::filesystem::remove_all(scratch_, ignored);
  }
}

std::vector<std::string> MountedVolume::mountArgs(const std::string& mountpoint) const {
  std::string options = "staging_dir=" + staging_dir_ + ",log_file=" + log_file_;
  for (const auto& option : s3_options_)
    options += "," + option;
  return {source_, mountpoint, "--key-file", key_file_, "-o", options};
}

CommandResult MountedVolume::mount(const std::vector<std::string>& extra_args) {
  std::vector<std::string> argv = {binary_.empty() ? s3cryptfsBinary() : binary_, "mount"};
  for (auto& arg : mountArgs(mountpoint_))
    argv.push_back(arg);
  for (const auto& arg : extra_args)
    argv.push_back(arg);
  return runCommand(argv, env_, std::chrono::seconds(90));
}

void MountedVolume::setEnv(const std::string& name, const std::string& value) {
  if (value.empty()) {
    env_.erase(name);
  } else {
    env_[name] = value;
  }
}

std::optional<pid_t> MountedVolume::daemonPid() const {
  auto pids = processesMentioning(mountpoint_);
  if (pids.empty()) return std::nullopt;
  return pids.front();
}

bool MountedVolume::unmount(std::chrono::milliseconds timeout) {
  auto pid = daemonPid();
  CommandResult result = runCommand({"/bin/fusermount3", "-u", mountpoint_}, {}, timeout);
  if (result.exit_code != 0) return false;
  if (!pid) return true;
  return waitFor([&] { return !processAlive(*pid); }, timeout);
}

bool MountedVolume::signalDaemon(int signal, bool wait) {
  auto pid = daemonPid();
  if (!pid) return false;
  if (kill(*pid, signal) != 0) return false;
  if (!wait) return true;
  return waitFor([&] { return !processAlive(*pid); }, std::chrono::seconds(30));
}

std::string MountedVolume::log() const {
  return readWholeFile(log_file_);
}

}  // namespace s3cryptfs::test
