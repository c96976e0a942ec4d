// The real s3cryptfs binary, end to end: keygen, init, mount (background and -f), the errors of
// each bad input (exit code and message), SIGTERM/SIGINT/umount with dirty data, kill -9, the
// /etc/fstab form through mount(8), POSIX operations with errno checks and persistence across
// remounts over dir://, Ceph RGW, moto and s3rver, and a scan of the store and the staging folder
// for plaintext. Exit codes are those of docs/OPERATIONS.md.

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "s3cryptfs/http/curl_http_client.h"
#include "s3cryptfs/s3/s3_object_store.h"

#include "mount_test_support.h"
#include "support/mounted_volume.h"
#include "support/test_servers.h"

namespace s3cryptfs::test {
namespace {

// --- errors: one clear message and the documented exit code ---------------------------------

class MountErrorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    volume_ = std::make_unique<MountedVolume>("dir", testName());
    ASSERT_TRUE(volume_->ok()) << volume_->initResult().output;
  }
  CommandResult mountWith(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {s3cryptfsBinary(), "mount"};
    argv.insert(argv.end(), args.begin(), args.end());
    return runCommand(argv, volume_->env(), std::chrono::seconds(60));
  }
  std::unique_ptr<MountedVolume> volume_;
};

TEST_F(MountErrorsTest, MountPointMissingOrNotADirectory) {
  auto args = volume_->mountArgs(volume_->scratch() + "/no-such-dir");
  auto result = mountWith(args);
  EXPECT_EQ(result.exit_code, 18) << result.output;
  EXPECT_TRUE(contains(result.output, "does not exist")) << result.output;
  ASSERT_TRUE(writeWholeFile(volume_->scratch() + "/a-file", "x"));
  result = mountWith(volume_->mountArgs(volume_->scratch() + "/a-file"));
  EXPECT_EQ(result.exit_code, 18) << result.output;
  EXPECT_TRUE(contains(result.output, "not a directory")) << result.output;
}

TEST_F(MountErrorsTest, MountPointBusy) {
  auto first = volume_->mount();
  ASSERT_EQ(first.exit_code, 0) << first.output << volume_->log();
  auto second = volume_->mount();
  EXPECT_EQ(second.exit_code, 19) << second.output;
  EXPECT_TRUE(contains(second.output, "busy")) << second.output;
  EXPECT_TRUE(volume_->unmount());
}

TEST_F(MountErrorsTest, SecondMountOfTheVolumeNeedsItsOwnStagingFolder) {
  ASSERT_EQ(volume_->mount().exit_code, 0) << volume_->log();
  const std::string second = volume_->scratch() + "/mnt2";
  std::filesystem::create_directories(second);
  auto result = mountWith(volume_->mountArgs(second));
  EXPECT_EQ(result.exit_code, 23) << result.output;
  EXPECT_TRUE(contains(result.output, "in use by another s3cryptfs mount")) << result.output;
  EXPECT_FALSE(isMounted(second));
  // With a staging folder of its own, it mounts.
  auto args = volume_->mountArgs(second);
  args.push_back("-o");
  args.push_back("staging_dir=" + volume_->scratch() + "/staging2");
  result = mountWith(args);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(isMounted(second));
  EXPECT_EQ(runCommand({"/bin/fusermount3", "-u", second}).exit_code, 0);
  EXPECT_TRUE(volume_->unmount());
}

// An unprivileged user asking for allow_other (without user_allow_other in /etc/fuse.conf, or
// without access to /dev/fuse at all): FUSE refuses, and the mount says so (exit 20).
TEST_F(MountErrorsTest, FuseRefusalIsReported) {
  std::string fuse_conf = readWholeFile("/etc/fuse.conf");
  for (size_t pos = 0; (pos = fuse_conf.find("user_allow_other", pos)) != std::string::npos;
       ++pos) {
    if (pos == 0 || fuse_conf[pos - 1] == '\n') {
      GTEST_SKIP() << "/etc/fuse.conf allows allow_other to users: FUSE would not refuse";
    }
  }
  for (const auto& entry : std::filesystem::recursive_directory_iterator(volume_->scratch())) {
    ASSERT_EQ(lchown(entry.path().c_str(), 65534, 65534), 0) << entry.path();
  }
  ASSERT_EQ(chown(volume_->scratch().c_str(), 65534, 65534), 0);
  std::vector<std::string> argv = {"/usr/bin/setpriv", "--reuid=65534",   "--regid=65534",
                                   "--clear-groups",   s3cryptfsBinary(), "mount"};
  for (auto& arg : volume_->mountArgs(volume_->mountpoint()))
    argv.push_back(arg);
  argv.push_back("-o");
  argv.push_back("allow_other");
  auto result = runCommand(argv, {{"HOME", volume_->scratch()}});
  EXPECT_EQ(result.exit_code, 20) << result.output << volume_->log();
  EXPECT_TRUE(contains(result.output, "FUSE refused")) << result.output;
  EXPECT_FALSE(isMounted(volume_->mountpoint()));
}

TEST_F(MountErrorsTest, BadSourceNoFolderNoVolume) {
  auto args = volume_->mountArgs(volume_->mountpoint());
  args[0] = "s3:/missing-slash";
  auto result = mountWith(args);
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_TRUE(contains(result.output, "invalid store URI")) << result.output;

  args[0] = "dir://" + volume_->scratch() + "/no-store-here";
  result = mountWith(args);
  EXPECT_EQ(result.exit_code, 11) << result.output;
  EXPECT_TRUE(contains(result.output, "does not exist")) << result.output;

  std::filesystem::create_directories(volume_->scratch() + "/empty-store");
  args[0] = "dir://" + volume_->scratch() + "/empty-store";
  result = mountWith(args);
  EXPECT_EQ(result.exit_code, 13) << result.output;
  EXPECT_TRUE(contains(result.output, "no s3cryptfs volume")) << result.output;
  EXPECT_FALSE(isMounted(volume_->mountpoint()));
}

TEST_F(MountErrorsTest, WrongMissingOrNoKey) {
  std::string other_key = volume_->scratch() + "/other-key";
  ASSERT_EQ(runCommand({s3cryptfsBinary(), "keygen", other_key}).exit_code, 0);
  auto args = volume_->mountArgs(volume_->mountpoint());
  args[3] = other_key;
  auto result = mountWith(args);
  EXPECT_EQ(result.exit_code, 15) << result.output;
  EXPECT_TRUE(contains(result.output, "does not unlock")) << result.output;

  args[3] = volume_->scratch() + "/no-key-file";
  result = mountWith(args);
  EXPECT_EQ(result.exit_code, 16) << result.output;
  EXPECT_TRUE(contains(result.output, "no-key-file")) << result.output;

  std::vector<std::string> no_key = {args[0], args[1], args[4], args[5]};
  result = mountWith(no_key);
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_TRUE(contains(result.output, "no key given")) << result.output;
  EXPECT_FALSE(isMounted(volume_->mountpoint()));
}

TEST_F(MountErrorsTest, UnknownOptionIsAUsageError) {
  auto args = volume_->mountArgs(volume_->mountpoint());
  args.push_back("-o");
  args.push_back("cache_sise=1G");
  auto result = mountWith(args);
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_TRUE(contains(result.output, "cache_sise")) << result.output;
}

TEST_F(MountErrorsTest, KeygenAndInitRefuseToOverwrite) {
  auto keygen = runCommand({s3cryptfsBinary(), "keygen", volume_->keyFile()});
  EXPECT_EQ(keygen.exit_code, 16) << keygen.output;
  EXPECT_TRUE(contains(keygen.output, "never overwritten")) << keygen.output;
  struct stat st {};
  ASSERT_EQ(stat(volume_->keyFile().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto init =
      runCommand({s3cryptfsBinary(), "init", volume_->source(), "--key-file", volume_->keyFile()});
  EXPECT_EQ(init.exit_code, 14) << init.output;
  EXPECT_TRUE(contains(init.output, "already exists")) << init.output;
}

TEST_F(MountErrorsTest, TamperedDescriptorIsReported) {
  const std::string descriptor = volume_->storeDir() + "/f.s3cryptfs.volume";
  std::string bytes = readWholeFile(descriptor);
  ASSERT_GT(bytes.size(), 64u);
  bytes.back() = static_cast<char>(bytes.back() ^ 1);  // the MAC's last byte
  ASSERT_TRUE(writeWholeFile(descriptor, bytes));
  auto result = volume_->mount();
  EXPECT_EQ(result.exit_code, 17) << result.output;
  EXPECT_TRUE(contains(result.output, "fails its MAC")) << result.output;
  EXPECT_FALSE(isMounted(volume_->mountpoint()));
}

TEST_F(MountErrorsTest, BadEnvironmentOrConfigurationFile) {
  auto env = volume_->env();
  env["S3CRYPTFS_UPLOAD_CONCURRENCY"] = "-1";
  std::vector<std::string> argv = {s3cryptfsBinary(), "mount"};
  for (auto& arg : volume_->mountArgs(volume_->mountpoint()))
    argv.push_back(arg);
  auto result = runCommand(argv, env);
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_TRUE(contains(result.output, "upload.concurrency")) << result.output;

  const std::string yaml = volume_->scratch() + "/bad.yaml";
  ASSERT_TRUE(writeWholeFile(yaml, "cache:\n  memory_bites: 1GiB\n"));
  argv.push_back("--config");
  argv.push_back(yaml);
  result = runCommand(argv, volume_->env());
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_TRUE(contains(result.output, "memory_bites")) << result.output;
}

TEST(MountErrorsS3Test, NoSuchBucketWrongCredentialsUnreachable) {
  MountedVolume volume("ceph", testName());
  ASSERT_TRUE(volume.ok()) << volume.initResult().output;
  const S3TestServer& server = *volume.server();
  auto base = volume.mountArgs(volume.mountpoint());

  auto no_bucket = base;
  no_bucket[0] = "s3://s3c-no-such-bucket-here/x/";
  auto result = runCommand(
      [&] {
        std::vector<std::string> argv = {s3cryptfsBinary(), "mount"};
        argv.insert(argv.end(), no_bucket.begin(), no_bucket.end());
        return argv;
      }(),
      volume.env());
  EXPECT_EQ(result.exit_code, 11) << result.output;
  EXPECT_TRUE(contains(result.output, "does not exist")) << result.output;

  auto env = volume.env();
  env["AWS_SECRET_ACCESS_KEY"] = "wrong-secret-0000000000000000000000000000";
  std::vector<std::string> argv = {s3cryptfsBinary(), "mount"};
  argv.insert(argv.end(), base.begin(), base.end());
  result = runCommand(argv, env);
  EXPECT_EQ(result.exit_code, 12) << result.output;
  EXPECT_TRUE(contains(result.output, "secret access key")) << result.output;

  // A port nothing listens on (the server's port + 1 is reserved by the harness, not used).
  auto unreachable = argv;
  unreachable.back() += ",endpoint=http://127.0.0.1:9,retry.max_attempts=2";
  result = runCommand(unreachable, volume.env());
  EXPECT_EQ(result.exit_code, 10) << result.output;
  EXPECT_FALSE(isMounted(volume.mountpoint()));
  (void)server;
}

// --- modes of running and shutting down ------------------------------------------------------

TEST(MountLifecycleTest, BackgroundReturnsOnlyWhenReady) {
  MountedVolume volume("dir", testName());
  ASSERT_TRUE(volume.ok()) << volume.initResult().output;
  auto result = volume.mount();
  ASSERT_EQ(result.exit_code, 0) << result.output << volume.log();
  // Ready means ready: no waiting before the first use.
  EXPECT_TRUE(isMounted(volume.mountpoint()));
  ASSERT_TRUE(writeWholeFile(volume.path("first"), "first file"));
  EXPECT_EQ(readWholeFile(volume.path("first")), "first file");
  auto pid = volume.daemonPid();
  ASSERT_TRUE(pid.has_value());
  // No core dumps: the key is in this process's memory.
  std::string limits = readWholeFile("/proc/" + std::to_string(*pid) + "/limits");
  EXPECT_TRUE(contains(limits, "Max core file size        0                    0")) << limits;
  EXPECT_TRUE(volume.unmount());
  EXPECT_FALSE(isMounted(volume.mountpoint()));
  EXPECT_TRUE(contains(volume.log(), "unmounted")) << volume.log();
}

// Starts `s3cryptfs mount ... -f` as a child of this process (so its exit code can be seen) and
// waits for the mount. Returns the PID, or -1.
pid_t startForeground(const MountedVolume& volume) {
  std::vector<std::string> argv = {s3cryptfsBinary(), "mount"};
  for (auto& arg : volume.mountArgs(volume.mountpoint()))
    argv.push_back(arg);
  argv.push_back("-f");
  pid_t pid = spawnCommand(argv, volume.env());
  if (pid < 0) return -1;
  if (!waitFor([&] { return isMounted(volume.mountpoint()); }, std::chrono::seconds(30))) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    return -1;
  }
  return pid;
}

int exitCodeOf(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -2;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(MountLifecycleTest, ForegroundSigintSyncsAndExitsZero) {
  MountedVolume volume("dir", testName());
  ASSERT_TRUE(volume.ok()) << volume.initResult().output;
  std::vector<std::string> argv = {s3cryptfsBinary(), "mount"};
  for (auto& arg : volume.mountArgs(volume.mountpoint()))
    argv.push_back(arg);
  argv.push_back("-f");
  pid_t pid = spawnCommand(argv);
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(waitFor([&] { return isMounted(volume.mountpoint()); }, std::chrono::seconds(30)));
  // -f: the same process serves the mount.
  EXPECT_EQ(volume.daemonPid().value_or(-1), pid);
  int fd = open(volume.path("dirty").c_str(), O_CREAT | O_WRONLY, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "unflushed", 9), 9);
  kill(pid, SIGINT);
  close(fd);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_FALSE(isMounted(volume.mountpoint()));
  auto again = volume.mount();
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_EQ(readWholeFile(volume.path("dirty")), "unflushed");
}

// A second SIGINT ends the daemon at once (exit 130); what it had not uploaded is in the staging
// journal and comes back at the next mount.
TEST(MountLifecycleTest, SecondSigintAbortsAndTheJournalKeepsTheData) {
  MountedVolume volume("dir", testName());
  ASSERT_TRUE(volume.ok()) << volume.initResult().output;
  pid_t pid = startForeground(volume);
  ASSERT_GT(pid, 0) << volume.log();
  int fd = open(volume.path("interrupted").c_str(), O_CREAT | O_WRONLY, 0644);
  ASSERT_GE(fd, 0);
  std::string content(16 * 1024 * 1024, 'i');
  ASSERT_EQ(write(fd, content.data(), content.size()), static_cast<ssize_t>(content.size()));
  kill(pid, SIGINT);
  // Two SIGINTs sent at once merge into one pending signal: the second must come after the
  // first was handled, while the 16 MiB are being uploaded.
  usleep(20 * 1000);
  kill(pid, SIGINT);
  EXPECT_EQ(exitCodeOf(pid), 130);
  close(fd);
  // Stopped at once: the kernel side may be left as a dead mount.
  if (isMounted(volume.mountpoint())) {
    ASSERT_EQ(runCommand({"/bin/fusermount3", "-u", "-z", volume.mountpoint()}).exit_code, 0);
  }
  auto again = volume.mount();
  ASSERT_EQ(again.exit_code, 0) << again.output << volume.log();
  EXPECT_EQ(readWholeFile(volume.path("interrupted")), content);
}

// The store goes away while a file is dirty: SIGTERM cannot upload it, the daemon says so with
// exit code 22 and keeps it in staging; once the store is back, the next mount uploads it.
TEST(MountLifecycleTest, UnreachableStoreAtShutdownExits22AndLosesNothing) {
  MountedVolume volume("dir", testName());
  ASSERT_TRUE(volume.ok()) << volume.initResult().output;
  pid_t pid = startForeground(volume);
  ASSERT_GT(pid, 0) << volume.log();
  int fd = open(volume.path("stranded").c_str(), O_CREAT | O_WRONLY, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "not lost", 8), 8);
  const std::string away = volume.storeDir() + ".away";
  ASSERT_EQ(rename(volume.storeDir().c_str(), away.c_str()), 0);
  kill(pid, SIGTERM);
  EXPECT_EQ(exitCodeOf(pid), 22) << volume.log();
  close(fd);
  EXPECT_TRUE(contains(volume.log(), "staging journal")) << volume.log();
  if (isMounted(volume.mountpoint())) {
    ASSERT_EQ(runCommand({"/bin/fusermount3", "-u", "-z", volume.mountpoint()}).exit_code, 0);
  }
  // The dir store recreates missing folders of a key on write; keep only the real one.
  std::filesystem::remove_all(volume.storeDir());
  ASSERT_EQ(rename(away.c_str(), volume.storeDir().c_str()), 0);
  auto again = volume.mount();
  ASSERT_EQ(again.exit_code, 0) << again.output << volume.log();
  EXPECT_EQ(readWholeFile(volume.path("stranded")), "not lost");
}

// mount(8) -T <fstab> runs mount.fuse3, which runs `s3cryptfs SOURCE MOUNTPOINT -o OPTS` found
// in its default PATH (mount(8) drops the caller's PATH): the test links
// /usr/local/bin/s3cryptfs to the binary under test and removes the link afterwards.
TEST(MountLifecycleTest, FstabLineThroughMountEight) {
  MountedVolume volume("dir", testName());
  ASSERT_TRUE(volume.ok()) << volume.initResult().output;
  const std::string link = "/usr/local/bin/s3cryptfs";
  struct stat st {};
  bool created_link = false;
  if (lstat(link.c_str(), &st) == 0) {
    char target[4096] = {};
    ssize_t n = readlink(link.c_str(), target, sizeof target - 1);
    ASSERT_TRUE(n > 0 && std::string(target) == s3cryptfsBinary())
        << link << " exists and is not a link to the binary under test; remove it to run this";
  } else {
    ASSERT_EQ(symlink(s3cryptfsBinary().c_str(), link.c_str()), 0) << std::strerror(errno);
    created_link = true;
  }
  std::string fstab = volume.scratch() + "/fstab";
  std::string line = volume.source() + " " + volume.mountpoint() +
                     " fuse.s3cryptfs _netdev,nofail,key_file=" + volume.keyFile() +
                     ",staging_dir=" + volume.stagingDir() + ",log_file=" + volume.logFile() +
                     ",x-systemd.automount 0 0\n";
  ASSERT_TRUE(writeWholeFile(fstab, "# test fstab\n" + line));
  auto result =
      runCommand({"/bin/mount", "-T", fstab, volume.mountpoint()}, {}, std::chrono::seconds(60));
  if (created_link) unlink(link.c_str());
  ASSERT_EQ(result.exit_code, 0) << result.output << volume.log();
  EXPECT_TRUE(isMounted(volume.mountpoint()));
  std::string mounts = readWholeFile("/proc/self/mounts");
  EXPECT_TRUE(contains(mounts, volume.source() + " " + volume.mountpoint() + " fuse.s3cryptfs"))
      << mounts;
  ASSERT_TRUE(writeWholeFile(volume.path("via-fstab"), "ok"));
  auto umount = runCommand({"/bin/umount", volume.mountpoint()});
  EXPECT_EQ(umount.exit_code, 0) << umount.output;
  EXPECT_TRUE(waitFor([&] { return !volume.daemonPid().has_value(); }, std::chrono::seconds(30)));
}

// Every object of the volume: key and content (store folder files, or bucket objects).
std::vector<std::pair<std::string, std::string>> storeObjects(const MountedVolume& volume) {
  std::vector<std::pair<std::string, std::string>> objects;
  if (!volume.storeDir().empty()) {
    for (const auto& entry : std::filesystem::recursive_directory_iterator(volume.storeDir())) {
      if (entry.is_regular_file()) {
        objects.emplace_back(entry.path().string(), readWholeFile(entry.path().string()));
      }
    }
    return objects;
  }
  const S3TestServer& server = *volume.server();
  s3::S3Config config;
  config.endpoint = server.endpoint;
  config.region = server.region.empty() ? "us-east-1" : server.region;
  config.bucket = server.bucket;
  config.prefix = volume.prefix();
  config.credentials.access_key_id = server.access_key;
  config.credentials.secret_access_key = server.secret_key;
  auto client = std::make_shared<http::CurlHttpClient>(http::ClientOptions{});
  auto store = s3::S3ObjectStore::create(config, client);
  EXPECT_TRUE(store);
  if (!store) return objects;
  store::ListOptions list;
  do {
    auto page = (*store)->list(list);
    EXPECT_TRUE(page) << page.error().describe();
    if (!page) break;
    for (const auto& info : page->objects) {
      auto got = (*store)->get(info.key, std::nullopt);
      EXPECT_TRUE(got) << info.key;
      std::string meta;
      if (got) {
        for (const auto& [k, v] : got->info.metadata)
          meta += k + "=" + v + "\n";
        objects.emplace_back(info.key, std::string(got->body.begin(), got->body.end()) + meta);
      }
    }
    list.continuation_token = page->next_continuation_token;
  } while (!list.continuation_token.empty());
  return objects;
}

// Everything from a YAML file, with relative paths (taken from where the command runs, although
// the daemon works in "/"), and the fstab form called directly, by the name mount(8) uses for a
// helper of its own (mount.fuse.s3cryptfs).
TEST(MountLifecycleTest, ConfigFileRelativePathsAndHelperName) {
  MountedVolume volume("dir", testName());
  ASSERT_TRUE(volume.ok()) << volume.initResult().output;
  const std::string yaml = volume.scratch() + "/volume.yaml";
  ASSERT_TRUE(writeWholeFile(yaml, "source: " + volume.source() +
                                       "\nkey:\n  key_file: key\ncache:\n  staging_dir: "
                                       "staging\nlog:\n  file: daemon.log\nfuse:\n  "
                                       "max_threads: 4\n"));
  const std::string helper = volume.scratch() + "/mount.fuse.s3cryptfs";
  ASSERT_EQ(symlink(s3cryptfsBinary().c_str(), helper.c_str()), 0);
  auto result = runCommand(
      {helper, "dir://ignored-by-config-no", "mnt", "-o", "rw,_netdev,config=volume.yaml"}, {},
      std::chrono::seconds(60), volume.scratch());
  // The source on the command line wins over the file's; this one is not a valid URI.
  EXPECT_EQ(result.exit_code, 2) << result.output;
  result = runCommand({helper, volume.source(), "mnt", "-o", "rw,_netdev,config=volume.yaml"}, {},
                      std::chrono::seconds(60), volume.scratch());
  ASSERT_EQ(result.exit_code, 0) << result.output << volume.log();
  EXPECT_TRUE(isMounted(volume.mountpoint()));
  ASSERT_TRUE(writeWholeFile(volume.path("from-yaml"), "yes"));
  // Info lines reach the file within a second.
  EXPECT_TRUE(
      waitFor([&] { return contains(volume.log(), "4 threads max"); }, std::chrono::seconds(5)))
      << volume.log();
  EXPECT_TRUE(std::filesystem::exists(volume.stagingDir()));
  EXPECT_TRUE(volume.unmount());
}

// --- POSIX through the mount, on every store ---------------------------------------------------

class MountStoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    volume_ = std::make_unique<MountedVolume>(GetParam(), testName());
    ASSERT_TRUE(volume_->ok()) << volume_->initResult().output;
    auto mounted = volume_->mount();
    ASSERT_EQ(mounted.exit_code, 0) << mounted.output << volume_->log();
  }
  void remount() {
    ASSERT_TRUE(volume_->unmount()) << volume_->log();
    auto mounted = volume_->mount();
    ASSERT_EQ(mounted.exit_code, 0) << mounted.output << volume_->log();
  }
  std::string p(const std::string& relative) const { return volume_->path(relative); }

  std::unique_ptr<MountedVolume> volume_;
};

TEST_P(MountStoreTest, PosixOperationsWithErrnos) {
  ASSERT_TRUE(writeWholeFile(p("a.txt"), "alpha"));
  EXPECT_EQ(readWholeFile(p("a.txt")), "alpha");
  struct stat st {};
  errno = 0;
  EXPECT_EQ(stat(p("missing").c_str(), &st), -1);
  EXPECT_EQ(errno, ENOENT);
  ASSERT_EQ(mkdir(p("dir").c_str(), 0750), 0) << std::strerror(errno);
  EXPECT_EQ(mkdir(p("dir").c_str(), 0750), -1);
  EXPECT_EQ(errno, EEXIST);
  ASSERT_TRUE(writeWholeFile(p("dir/inner"), "inner"));
  EXPECT_EQ(rmdir(p("dir").c_str()), -1);
  EXPECT_EQ(errno, ENOTEMPTY);
  EXPECT_EQ(unlink(p("dir").c_str()), -1);
  EXPECT_TRUE(errno == EISDIR || errno == EPERM) << std::strerror(errno);
  EXPECT_EQ(mkdir(p("a.txt/sub").c_str(), 0755), -1);
  EXPECT_EQ(errno, ENOTDIR);
  EXPECT_EQ(link(p("a.txt").c_str(), p("hard").c_str()), -1);
  EXPECT_EQ(errno, EPERM);
  EXPECT_EQ(mkdir(p(std::string(256, 'n')).c_str(), 0755), -1);
  EXPECT_EQ(errno, ENAMETOOLONG);

  ASSERT_EQ(rename(p("a.txt").c_str(), p("dir/b.txt").c_str()), 0) << std::strerror(errno);
  EXPECT_EQ(stat(p("a.txt").c_str(), &st), -1);
  EXPECT_EQ(readWholeFile(p("dir/b.txt")), "alpha");
  ASSERT_EQ(unlink(p("dir/inner").c_str()), 0);
  ASSERT_EQ(unlink(p("dir/b.txt").c_str()), 0);
  ASSERT_EQ(rmdir(p("dir").c_str()), 0);
  EXPECT_EQ(stat(p("dir").c_str(), &st), -1);
  EXPECT_EQ(errno, ENOENT);

  // Overwrite in the middle, append, truncate.
  ASSERT_TRUE(writeWholeFile(p("f"), std::string(100000, 'a')));
  int fd = open(p("f").c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(pwrite(fd, "XYZ", 3, 70000), 3);
  ASSERT_EQ(close(fd), 0);
  std::string expected(100000, 'a');
  expected.replace(70000, 3, "XYZ");
  EXPECT_EQ(readWholeFile(p("f")), expected);
  ASSERT_EQ(truncate(p("f").c_str(), 10), 0);
  EXPECT_EQ(readWholeFile(p("f")), std::string(10, 'a'));

  DIR* dir = opendir(volume_->mountpoint().c_str());
  ASSERT_NE(dir, nullptr);
  std::set<std::string> names;
  while (dirent* entry = readdir(dir))
    names.insert(entry->d_name);
  closedir(dir);
  EXPECT_EQ(names, (std::set<std::string>{".", "..", "f"}));
}

TEST_P(MountStoreTest, EverythingPersistsAcrossRemount) {
  ASSERT_EQ(mkdir(p("docs").c_str(), 0700), 0);
  ASSERT_TRUE(writeWholeFile(p("docs/report.txt"), "quarterly numbers"));
  ASSERT_EQ(chmod(p("docs/report.txt").c_str(), 0640), 0);
  ASSERT_EQ(chown(p("docs/report.txt").c_str(), 1234, 5678), 0) << std::strerror(errno);
  timespec times[2] = {{1500000000, 0}, {1600000000, 123456789}};
  ASSERT_EQ(utimensat(AT_FDCWD, p("docs/report.txt").c_str(), times, 0), 0);
  ASSERT_EQ(symlink("docs/report.txt", p("shortcut").c_str()), 0);
  ASSERT_EQ(setxattr(p("docs/report.txt").c_str(), "user.tag", "blue", 4, 0), 0)
      << std::strerror(errno);
  remount();
  EXPECT_EQ(readWholeFile(p("docs/report.txt")), "quarterly numbers");
  struct stat st {};
  ASSERT_EQ(stat(p("docs/report.txt").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  EXPECT_EQ(st.st_uid, 1234u);
  EXPECT_EQ(st.st_gid, 5678u);
  EXPECT_EQ(st.st_mtim.tv_sec, 1600000000);
  EXPECT_EQ(st.st_mtim.tv_nsec, 123456789);
  ASSERT_EQ(stat(p("docs").c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  char target[256] = {};
  ASSERT_EQ(readlink(p("shortcut").c_str(), target, sizeof target - 1), 15);
  EXPECT_STREQ(target, "docs/report.txt");
  EXPECT_EQ(readWholeFile(p("shortcut")), "quarterly numbers");
  char value[16] = {};
  ASSERT_EQ(getxattr(p("docs/report.txt").c_str(), "user.tag", value, sizeof value), 4);
  EXPECT_EQ(std::string(value, 4), "blue");
}

TEST_P(MountStoreTest, NoPlaintextInTheStoreTheStagingFolderOrTheLog) {
  // Debug logging shows more; it must not show names either.
  ASSERT_TRUE(volume_->unmount());
  auto debug_mount = volume_->mount({"-o", "log_level=debug"});
  ASSERT_EQ(debug_mount.exit_code, 0) << debug_mount.output;
  const std::string secret_name = "PlainNameMarker7731";
  const std::string secret_dir = "PlainDirMarker4409";
  const std::string secret_content = "PlainContentMarker-the-quick-brown-fox-5521";
  ASSERT_EQ(mkdir(p(secret_dir).c_str(), 0755), 0);
  ASSERT_TRUE(writeWholeFile(p(secret_dir + "/" + secret_name), secret_content));
  ASSERT_EQ(symlink(secret_name.c_str(), p("link-" + secret_name).c_str()), 0);
  ASSERT_EQ(setxattr(p(secret_dir + "/" + secret_name).c_str(), "user.note", secret_content.data(),
                     secret_content.size(), 0),
            0);
  // Failed requests are logged (at debug level): by inode, never by name.
  struct stat st {};
  EXPECT_EQ(stat(p("missing-" + secret_name).c_str(), &st), -1);
  EXPECT_EQ(mkdir(p(secret_dir).c_str(), 0755), -1);
  // Keep one file open and dirty so the staging folder holds something while we look.
  int fd = open(p("open-" + secret_name).c_str(), O_CREAT | O_WRONLY, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, secret_content.data(), secret_content.size()),
            static_cast<ssize_t>(secret_content.size()));

  auto scan = [&](const std::string& where, const std::string& key, const std::string& body) {
    for (const std::string& marker : {secret_name, secret_dir, secret_content}) {
      EXPECT_FALSE(contains(key, marker)) << where << ": plaintext in the name " << key;
      EXPECT_FALSE(contains(body, marker)) << where << ": plaintext in " << key;
    }
  };
  size_t staged_files = 0;
  if (std::filesystem::exists(volume_->stagingDir())) {
    for (const auto& entry : std::filesystem::recursive_directory_iterator(volume_->stagingDir())) {
      if (!entry.is_regular_file()) continue;
      ++staged_files;
      scan("staging", entry.path().string(), readWholeFile(entry.path().string()));
    }
  }
  ASSERT_EQ(close(fd), 0);
  ASSERT_TRUE(volume_->unmount()) << volume_->log();
  auto objects = storeObjects(*volume_);
  // A descriptor, the directory, the files and the symlink at least.
  EXPECT_GE(objects.size(), 5u);
  for (const auto& [key, body] : objects)
    scan("store", key, body);
  scan("log", volume_->logFile(), volume_->log());
  RecordProperty("staged_files", static_cast<int>(staged_files));
}

TEST_P(MountStoreTest, SigtermWithAnOpenDirtyFileUploadsItFirst) {
  int fd = open(p("open-file").c_str(), O_CREAT | O_WRONLY, 0600);
  ASSERT_GE(fd, 0);
  std::string content(200000, 'q');
  ASSERT_EQ(write(fd, content.data(), content.size()), static_cast<ssize_t>(content.size()));
  ASSERT_TRUE(volume_->signalDaemon(SIGTERM));
  close(fd);  // the mount is gone: ENOTCONN, nothing hangs
  EXPECT_FALSE(isMounted(volume_->mountpoint()));
  EXPECT_TRUE(contains(volume_->log(), "uploading dirty data")) << volume_->log();
  ASSERT_EQ(volume_->mount().exit_code, 0) << volume_->log();
  EXPECT_EQ(readWholeFile(p("open-file")), content);
}

TEST_P(MountStoreTest, KillNineThenRemount) {
  // fsynced: must survive; written but never flushed: the journal replays it at the next mount.
  int synced = open(p("synced").c_str(), O_CREAT | O_WRONLY, 0644);
  ASSERT_GE(synced, 0);
  ASSERT_EQ(write(synced, "durable", 7), 7);
  ASSERT_EQ(fsync(synced), 0);
  int unflushed = open(p("unflushed").c_str(), O_CREAT | O_WRONLY, 0644);
  ASSERT_GE(unflushed, 0);
  ASSERT_EQ(write(unflushed, "in staging", 10), 10);
  ASSERT_TRUE(volume_->signalDaemon(SIGKILL));
  close(synced);
  close(unflushed);
  // The dead mount is reported as such and must be cleared first.
  auto busy = volume_->mount();
  EXPECT_EQ(busy.exit_code, 19) << busy.output;
  EXPECT_TRUE(contains(busy.output, "dead FUSE mount")) << busy.output;
  ASSERT_EQ(runCommand({"/bin/fusermount3", "-u", "-z", volume_->mountpoint()}).exit_code, 0);
  auto again = volume_->mount();
  ASSERT_EQ(again.exit_code, 0) << again.output << volume_->log();
  EXPECT_EQ(readWholeFile(p("synced")), "durable");
  EXPECT_EQ(readWholeFile(p("unflushed")), "in staging") << volume_->log();
}

// The control of the scan above: on a volume made with --plaintext-names the same scan does see
// the names (and still not the content), so a scan that finds nothing means something.
TEST(PlaintextScanControl, PlaintextNamesVolumeShowsNamesButNotContent) {
  MountedVolume volume("dir", testName(), {"--plaintext-names"});
  ASSERT_TRUE(volume.ok()) << volume.initResult().output;
  ASSERT_EQ(volume.mount().exit_code, 0) << volume.log();
  const std::string name = "VisibleNameMarker3141";
  const std::string content = "HiddenContentMarker2718";
  ASSERT_TRUE(writeWholeFile(volume.path(name), content));
  ASSERT_TRUE(volume.unmount());
  bool name_seen = false;
  for (const auto& [key, body] : storeObjects(volume)) {
    name_seen = name_seen || contains(key, name);
    EXPECT_FALSE(contains(body, content)) << key;
  }
  EXPECT_TRUE(name_seen);
}

INSTANTIATE_TEST_SUITE_P(Stores, MountStoreTest, ::testing::Values("dir", "ceph", "moto", "s3rver"),
                         [](const auto& param_info) { return param_info.param; });

}  // namespace
}  // namespace s3cryptfs::test
