#pragma once
// Real-mount test harness: runs the real `s3cryptfs` binary (keygen, init, mount) on a volume in
// a scratch folder (dir://) or under a fresh prefix of an S3 test server, and always cleans up:
// the destructor unmounts (lazily if it must) and kills the daemon it started, by PID.
//
// Every scratch folder is under mountTestRoot(), so the ctest fixture that runs
// tests/integration/mount/cleanup.sh finds leftovers of a crashed test run (mounts and daemons)
// and removes them.

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

#include "support/test_servers.h"

namespace s3cryptfs::test {

// $S3C_MOUNT_TEST_ROOT, else <build dir>/mount-tests. Created if missing.
std::string mountTestRoot();
// The s3cryptfs binary under test: $S3C_BINARY, else <build dir>/src/app/s3cryptfs.
std::string s3cryptfsBinary();
// The test build of the binary that injects store faults from S3CRYPTFS_TEST_FAULTS
// (src/app/main/test_faults.cpp), beside s3cryptfsBinary().
std::string s3cryptfsTestFaultsBinary();

struct CommandResult {
  int exit_code = -1;  // -1: killed by a signal or timed out
  std::string output;  // stdout and stderr together
  bool timed_out = false;
};

// Runs argv (argv[0] is a path), with `env` added to this process's environment, in `cwd` (empty:
// this process's), and waits up to `timeout` for it to exit and close its output. A command
// still running then is killed.
CommandResult runCommand(const std::vector<std::string>& argv,
                         const std::map<std::string, std::string>& env = {},
                         std::chrono::milliseconds timeout = std::chrono::seconds(60),
                         const std::string& cwd = "");

// Starts argv (argv[0] is a path) without waiting, with `env` added to this process's
// environment and, when `output_file` is not empty, stdout and stderr going to that file (else
// this process's). Returns the PID (reap it with waitpid), or -1.
pid_t spawnCommand(const std::vector<std::string>& argv,
                   const std::map<std::string, std::string>& env = {},
                   const std::string& output_file = "");

// PIDs of processes whose command line contains `needle` (the scratch folder of a test), never
// this process.
std::vector<pid_t> processesMentioning(const std::string& needle);
// Whether `path` is a mount point now (from /proc/self/mountinfo).
bool isMounted(const std::string& path);
// Waits until `predicate` holds or `timeout` passes; returns the predicate's last value.
template <class Predicate>
bool waitFor(Predicate predicate, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!predicate()) {
    if (std::chrono::steady_clock::now() > deadline) return predicate();
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, nullptr);
  }
  return true;
}

class MountedVolume {
 public:
  // `store`: "dir", or an S3 test server name ("ceph", "s3rver", "moto": the `servers`
  // fixture must be up). Makes the scratch folder, the key file and the volume (init).
  // `init_args` are added to `s3cryptfs init` (e.g. "--plaintext-names"). Check ok() and
  // initResult() before use.
  MountedVolume(const std::string& store, const std::string& test_name,
                const std::vector<std::string>& init_args = {});
  ~MountedVolume();
  MountedVolume(const MountedVolume&) = delete;
  MountedVolume& operator=(const MountedVolume&) = delete;

  bool ok() const { return init_.exit_code == 0; }
  const CommandResult& initResult() const { return init_; }

  // `s3cryptfs mount SOURCE MOUNTPOINT --key-file KEY -o staging_dir=...,log_file=...[,extra]`
  // in the background. Returns the command's result (exit 0 = ready).
  CommandResult mount(const std::vector<std::string>& extra_args = {});
  // fusermount3 -u, then waits up to `timeout` for the daemon to exit. True if both happened.
  bool unmount(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // The daemon serving this mount point, if any.
  std::optional<pid_t> daemonPid() const;
  // Sends `signal` to the daemon; with wait, waits up to 30 s for it to exit.
  bool signalDaemon(int signal, bool wait = true);

  // The process environment the binary needs (S3 credentials), for runCommand of your own.
  const std::map<std::string, std::string>& env() const { return env_; }
  // Adds (or, with an empty value, removes) a variable of that environment.
  void setEnv(const std::string& name, const std::string& value);
  // The binary mount() runs (default s3cryptfsBinary(); e.g. s3cryptfsTestFaultsBinary()).
  void useBinary(const std::string& binary) { binary_ = binary; }
  // The common arguments of mount: SOURCE MOUNTPOINT --key-file KEY -o staging/log options.
  std::vector<std::string> mountArgs(const std::string& mountpoint) const;

  std::string path(const std::string& relative) const { return mountpoint_ + "/" + relative; }
  const std::string& scratch() const { return scratch_; }
  const std::string& source() const { return source_; }
  const std::string& mountpoint() const { return mountpoint_; }
  const std::string& keyFile() const { return key_file_; }
  const std::string& stagingDir() const { return staging_dir_; }
  const std::string& logFile() const { return log_file_; }
  const std::string& storeDir() const { return store_dir_; }  // dir:// only
  const std::optional<S3TestServer>& server() const { return server_; }
  const std::string& prefix() const { return prefix_; }  // S3 only

  // The daemon's log (for failure messages).
  std::string log() const;

 private:
  std::string scratch_;
  std::string source_;
  std::string mountpoint_;
  std::string key_file_;
  std::string staging_dir_;
  std::string log_file_;
  std::string store_dir_;
  std::string prefix_;
  std::optional<S3TestServer> server_;
  std::map<std::string, std::string> env_;
  std::vector<std::string> s3_options_;
  std::string binary_;
  CommandResult init_;
};

// Reads a whole file ("" and errno set on failure); writes one (false on failure).
std::string readWholeFile(const std::string& path);
bool writeWholeFile(const std::string& path, const std::string& content);

}  // namespace s3cryptfs::test
