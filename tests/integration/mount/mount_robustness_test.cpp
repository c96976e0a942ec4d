// The real s3cryptfs binary under stress: a store failing 10% of its calls with added latency
// (the test build s3cryptfs-test-faults), two mounts of one volume writing the same file at the
// same time, parallel readers and writers on one file and on many files, and the exit codes of
// a failure the mount cannot classify (1) and of a daemon dying before the mount is ready (21).
// Every content check compares whole files with what was written, after a remount.

#include <atomic>
#include <barrier>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <string>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <gtest/gtest.h>

#include "mount_test_support.h"
#include "support/mounted_volume.h"

namespace s3cryptfs::test {
namespace {

size_t countOf(const std::string& text, const std::string& part) {
  size_t count = 0;
  for (size_t pos = text.find(part); pos != std::string::npos; pos = text.find(part, pos + 1))
    ++count;
  return count;
}

// Seeded pseudo-random bytes: content that compresses badly and differs per seed.
std::string randomContent(uint64_t seed, size_t size) {
  std::mt19937_64 random(seed);
  std::string out(size, '\0');
  for (size_t i = 0; i < size; i += 8) {
    uint64_t word = random();
    std::memcpy(out.data() + i, &word, std::min<size_t>(8, size - i));
  }
  return out;
}

std::set<std::string> namesIn(const std::string& dir) {
  std::set<std::string> names;
  DIR* handle = opendir(dir.c_str());
  if (handle == nullptr) return names;
  while (dirent* entry = readdir(handle)) {
    std::string name = entry->d_name;
    if (name != "." && name != "..") names.insert(name);
  }
  closedir(handle);
  return names;
}

std::string storeName(const ::testing::TestParamInfo<std::string>& info) {
  return info.param;
}

// Checks every file of `expected` (path relative to the mount point -> content) reads back
// exactly, and that nothing else is there.
void expectFiles(const MountedVolume& volume, const std::map<std::string, std::string>& expected) {
  std::set<std::string> seen;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(volume.mountpoint())) {
    if (entry.is_regular_file()) {
      seen.insert(std::filesystem::relative(entry.path(), volume.mountpoint()).string());
    }
  }
  std::set<std::string> wanted;
  for (const auto& [name, content] : expected) {
    wanted.insert(name);
    std::string got = readWholeFile(volume.path(name));
    EXPECT_EQ(got.size(), content.size()) << name;
    EXPECT_TRUE(got == content) << name << ": content differs";
  }
  EXPECT_EQ(seen, wanted);
}

// --- faults: 10% of store calls fail, with latency, through the real mount -------------------

class FaultyStoreMountTest : public ::testing::TestWithParam<std::string> {};

// The test build injects faults beneath the retrying store: 10% of all calls fail with a 500
// before reaching the store, 2% of PUTs are done and then reported failed (a lost response),
// and every call waits 1-6 ms. Retries (retry.max_attempts=8, the default) hide all of it:
// every write succeeds and every file reads back exactly, through the faults and after a
// remount with the production binary.
TEST_P(FaultyStoreMountTest, ManyFilesAtTenPercentErrorsWithLatency) {
  MountedVolume volume(GetParam(), testName());
  ASSERT_TRUE(volume.ok()) << volume.initResult().output;
  volume.useBinary(s3cryptfsTestFaultsBinary());
  volume.setEnv("S3CRYPTFS_TEST_FAULTS", "rate=0.1,lost_rate=0.02,latency_ms=1,jitter_ms=5,seed=7");
  auto mounted = volume.mount(
      {"-o", "log_level=debug,part_size=5MiB,retry.base_delay_ms=5,retry.max_delay_ms=100"});
  ASSERT_EQ(mounted.exit_code, 0) << mounted.output << volume.log();

  std::map<std::string, std::string> expected;
  std::mt19937_64 sizes(11);
  ASSERT_EQ(mkdir(volume.path("sub").c_str(), 0755), 0) << std::strerror(errno);
  auto nameOf = [](int i) { return (i % 4 == 0 ? "sub/file-" : "file-") + std::to_string(i); };
  for (int i = 0; i < 40; ++i) {
    std::string name = nameOf(i);
    std::string content = randomContent(1000 + i, sizes() % (300 * 1024));
    ASSERT_TRUE(writeWholeFile(volume.path(name), content)) << name << volume.log();
    expected[name] = content;
  }
  // One file large enough for a multipart upload (three 5 MiB parts).
  expected["big"] = randomContent(99, 12 * 1024 * 1024 + 4321);
  ASSERT_TRUE(writeWholeFile(volume.path("big"), expected["big"]));
  // Renames (copy + delete) and rewrites in the middle of existing files.
  for (int i = 1; i < 40; i += 7) {
    std::string from = nameOf(i);
    std::string to = "sub/renamed-" + std::to_string(i);
    ASSERT_EQ(rename(volume.path(from).c_str(), volume.path(to).c_str()), 0)
        << from << ": " << std::strerror(errno);
    expected[to] = expected[from];
    expected.erase(from);
  }
  for (int i = 2; i < 40; i += 9) {
    std::string name = nameOf(i);
    if (expected.count(name) == 0 || expected[name].size() < 10) continue;
    int fd = open(volume.path(name).c_str(), O_WRONLY);
    ASSERT_GE(fd, 0) << name;
    ASSERT_EQ(pwrite(fd, "patched", 7, 3), 7);
    ASSERT_EQ(close(fd), 0) << name;
    expected[name].replace(3, 7, "patched");
  }
  expectFiles(volume, expected);
  ASSERT_TRUE(volume.unmount()) << volume.log();

  // The faults were real: retries logged them (debug level), none was given up on.
  std::string log = volume.log();
  EXPECT_TRUE(contains(log, "TEST BUILD: injecting store faults")) << log;
  size_t injected = countOf(log, "injected fault");
  EXPECT_GE(injected, 20u) << log;
  EXPECT_FALSE(contains(log, "attempts: injected fault")) << "a call gave up:\n" << log;
  RecordProperty("faults_retried", static_cast<int>(injected));

  volume.useBinary(s3cryptfsBinary());
  volume.setEnv("S3CRYPTFS_TEST_FAULTS", "");
  ASSERT_EQ(volume.mount().exit_code, 0) << volume.log();
  expectFiles(volume, expected);
}

INSTANTIATE_TEST_SUITE_P(Stores, FaultyStoreMountTest, ::testing::Values("dir", "ceph"), storeName);

TEST(FaultKnobTest, TheProductionBinaryIgnoresItAndTheTestBuildChecksIt) {
  MountedVolume volume("dir", testName());
  ASSERT_TRUE(volume.ok()) << volume.initResult().output;
  volume.setEnv("S3CRYPTFS_TEST_FAULTS", "rate=0.9");
  ASSERT_EQ(volume.mount({"-o", "log_level=debug"}).exit_code, 0) << volume.log();
  ASSERT_TRUE(writeWholeFile(volume.path("f"), "no faults here"));
  ASSERT_TRUE(volume.unmount());
  EXPECT_FALSE(contains(volume.log(), "injecting store faults")) << volume.log();
  EXPECT_FALSE(contains(volume.log(), "injected fault")) << volume.log();

  volume.useBinary(s3cryptfsTestFaultsBinary());
  volume.setEnv("S3CRYPTFS_TEST_FAULTS", "rate=0.1,bogus=1");
  auto bad = volume.mount();
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_TRUE(contains(bad.output, "unknown setting 'bogus'")) << bad.output;
  EXPECT_FALSE(isMounted(volume.mountpoint()));
}

// --- two mounts of one volume, and parallel use of one mount --------------------------------

// A second mount of the volume of `volume` on its own mount point and staging folder;
// unmounted (lazily if it must be) when it goes out of scope, even when the test fails.
class SecondMount {
 public:
  explicit SecondMount(const MountedVolume& volume)
      : volume_(volume), mountpoint_(volume.scratch() + "/mnt2") {
    std::filesystem::create_directories(mountpoint_);
    std::vector<std::string> argv = {s3cryptfsBinary(), "mount"};
    for (const auto& arg : volume.mountArgs(mountpoint_))
      argv.push_back(arg);
    argv.insert(argv.end(), {"-o", "staging_dir=" + volume.scratch() +
                                       "/staging2,log_file=" + volume.scratch() + "/daemon2.log"});
    result_ = runCommand(argv, volume.env(), std::chrono::seconds(90));
  }
  ~SecondMount() {
    if (!isMounted(mountpoint_)) return;
    auto done = runCommand({"/bin/fusermount3", "-u", mountpoint_}, {}, std::chrono::seconds(30));
    if (done.exit_code != 0) runCommand({"/bin/fusermount3", "-u", "-z", mountpoint_});
    waitFor([&] { return processesMentioning(mountpoint_).empty(); }, std::chrono::seconds(30));
  }
  SecondMount(const SecondMount&) = delete;
  SecondMount& operator=(const SecondMount&) = delete;

  const CommandResult& result() const { return result_; }
  std::string path(const std::string& relative) const { return mountpoint_ + "/" + relative; }
  std::string log() const { return readWholeFile(volume_.scratch() + "/daemon2.log"); }

 private:
  const MountedVolume& volume_;
  std::string mountpoint_;
  CommandResult result_;
};

class SharedVolumeTest : public ::testing::TestWithParam<std::string> {};

// Both mounts open the same file (seeing the same version), write different content and close
// at the same moment. Uploads are conditional on the version opened, so one wins the name and
// the other's content is kept as NAME.conflict-<seconds>-<hex>: both versions exist, nothing is
// lost, and both closes succeed.
TEST_P(SharedVolumeTest, TwoMountsWritingOneFileKeepBothVersions) {
  MountedVolume volume(GetParam(), testName());
  ASSERT_TRUE(volume.ok()) << volume.initResult().output;
  ASSERT_EQ(volume.mount().exit_code, 0) << volume.log();
  ASSERT_TRUE(writeWholeFile(volume.path("shared"), "version 1"));
  SecondMount second(volume);
  ASSERT_EQ(second.result().exit_code, 0) << second.result().output << second.log();
  ASSERT_EQ(readWholeFile(second.path("shared")), "version 1");

  const std::string ours = randomContent(1, 200 * 1024);
  const std::string theirs = randomContent(2, 300 * 1024);
  std::barrier sync(2);
  int close_result[2] = {-1, -1};
  auto writer = [&](int index, const std::string& path, const std::string& content) {
    int fd = open(path.c_str(), O_WRONLY);
    sync.arrive_and_wait();  // both opened the same version
    ssize_t written = fd < 0 ? -1 : pwrite(fd, content.data(), content.size(), 0);
    sync.arrive_and_wait();  // both wrote: close (upload) at the same moment
    close_result[index] = written == static_cast<ssize_t>(content.size()) ? close(fd) : -2;
  };
  std::thread a(writer, 0, volume.path("shared"), ours);
  std::thread b(writer, 1, second.path("shared"), theirs);
  a.join();
  b.join();
  EXPECT_EQ(close_result[0], 0) << volume.log();
  EXPECT_EQ(close_result[1], 0) << second.log();

  ASSERT_TRUE(volume.unmount()) << volume.log();
  ASSERT_EQ(volume.mount().exit_code, 0) << volume.log();
  std::multiset<std::string> contents;
  size_t conflict_copies = 0;
  for (const auto& name : namesIn(volume.mountpoint())) {
    if (name.rfind("shared.conflict-", 0) == 0) ++conflict_copies;
    if (name == "shared" || name.rfind("shared.conflict-", 0) == 0) {
      contents.insert(readWholeFile(volume.path(name)));
    }
  }
  EXPECT_EQ(conflict_copies, 1u) << volume.log() << second.log();
  EXPECT_EQ(contents, (std::multiset<std::string>{ours, theirs}));
  EXPECT_TRUE(contains(volume.log() + second.log(), "was replaced by another writer"))
      << volume.log() << second.log();
}

// Four writers fill disjoint 64 KiB blocks of one file through their own descriptors while two
// readers read it; then eight threads each write, read back and rename files of their own. A
// read sees each 4 KiB page either not yet written (zeros) or complete; after a remount every
// byte is where it was written.
TEST_P(SharedVolumeTest, ParallelReadersAndWritersOnOneFileAndManyFiles) {
  MountedVolume volume(GetParam(), testName());
  ASSERT_TRUE(volume.ok()) << volume.initResult().output;
  ASSERT_EQ(volume.mount().exit_code, 0) << volume.log();

  constexpr size_t kBlock = 64 * 1024;
  constexpr int kWriters = 4;
  constexpr int kBlocksEach = 16;
  const std::string file = volume.path("one-file");
  ASSERT_TRUE(writeWholeFile(file, ""));
  const std::string whole = randomContent(5, kBlock * kWriters * kBlocksEach);
  std::atomic<int> writers_left{kWriters};
  std::atomic<int> torn_pages{0};
  std::atomic<int> failed_calls{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kWriters; ++t) {
    threads.emplace_back([&, t] {
      int fd = open(file.c_str(), O_WRONLY);
      if (fd < 0) ++failed_calls;
      for (int k = 0; fd >= 0 && k < kBlocksEach; ++k) {
        size_t offset = (static_cast<size_t>(k) * kWriters + t) * kBlock;
        if (pwrite(fd, whole.data() + offset, kBlock, static_cast<off_t>(offset)) !=
            static_cast<ssize_t>(kBlock)) {
          ++failed_calls;
        }
      }
      if (fd >= 0 && close(fd) != 0) ++failed_calls;
      --writers_left;
    });
  }
  for (int r = 0; r < 2; ++r) {
    threads.emplace_back([&, r] {
      int fd = open(file.c_str(), O_RDONLY);
      if (fd < 0) ++failed_calls;
      std::mt19937 random(r);
      std::string buffer(kBlock, '\0');
      const std::string zeros(4096, '\0');
      while (fd >= 0 && writers_left.load() > 0) {
        size_t offset = (random() % (kWriters * kBlocksEach)) * kBlock;
        ssize_t n = pread(fd, buffer.data(), kBlock, static_cast<off_t>(offset));
        if (n < 0) ++failed_calls;
        for (ssize_t page = 0; page + 4096 <= n; page += 4096) {
          std::string_view got(buffer.data() + page, 4096);
          if (got != zeros && got != std::string_view(whole).substr(offset + page, 4096)) {
            ++torn_pages;
          }
        }
      }
      if (fd >= 0) close(fd);
    });
  }

  // Many files: each thread its own, written, read back and renamed.
  std::map<std::string, std::string> expected;
  std::vector<std::map<std::string, std::string>> per_thread(8);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 sizes(100 + t);
      for (int i = 0; i < 20; ++i) {
        std::string name = "t" + std::to_string(t) + "-" + std::to_string(i);
        std::string content = randomContent(t * 1000 + i, sizes() % (200 * 1024));
        if (!writeWholeFile(volume.path(name), content) ||
            readWholeFile(volume.path(name)) != content) {
          ++failed_calls;
        }
        if (i % 3 == 0) {
          std::string renamed = name + ".moved";
          if (rename(volume.path(name).c_str(), volume.path(renamed).c_str()) != 0) {
            ++failed_calls;
          }
          name = renamed;
        }
        per_thread[t][name] = content;
      }
    });
  }
  for (auto& thread : threads)
    thread.join();
  EXPECT_EQ(failed_calls.load(), 0) << volume.log();
  EXPECT_EQ(torn_pages.load(), 0);
  for (const auto& files : per_thread)
    expected.insert(files.begin(), files.end());
  expected["one-file"] = whole;
  EXPECT_TRUE(readWholeFile(file) == whole);

  ASSERT_TRUE(volume.unmount()) << volume.log();
  ASSERT_EQ(volume.mount().exit_code, 0) << volume.log();
  expectFiles(volume, expected);
}

INSTANTIATE_TEST_SUITE_P(Stores, SharedVolumeTest, ::testing::Values("dir", "ceph"), storeName);

// --- objects over CopyObject's limit ------------------------------------------------------------

// Renames and attribute changes copy the object server-side; over 5 GiB S3 needs a multipart
// copy. Creating a 5 GiB file here would take minutes, so the limit is lowered to 5 MiB
// (-o s3.max_single_copy_bytes=5MiB) and a 12 MiB file takes the same path.
TEST(BigObjectCopyMountTest, RenameAndChmodOverTheSingleCopyLimitOnCeph) {
  MountedVolume volume("ceph", testName());
  ASSERT_TRUE(volume.ok()) << volume.initResult().output;
  ASSERT_EQ(volume.mount({"-o", "log_level=debug,s3.max_single_copy_bytes=5MiB"}).exit_code, 0)
      << volume.log();
  const std::string content = randomContent(3, 12 * 1024 * 1024 + 17);
  ASSERT_TRUE(writeWholeFile(volume.path("big"), content));
  ASSERT_EQ(mkdir(volume.path("dir").c_str(), 0755), 0);
  ASSERT_EQ(rename(volume.path("big").c_str(), volume.path("dir/moved").c_str()), 0)
      << std::strerror(errno) << volume.log();
  ASSERT_EQ(chmod(volume.path("dir/moved").c_str(), 0600), 0) << std::strerror(errno);
  ASSERT_TRUE(volume.unmount()) << volume.log();
  EXPECT_GE(countOf(volume.log(), "multipart copy"), 2u) << volume.log();

  ASSERT_EQ(volume.mount().exit_code, 0) << volume.log();
  struct stat st {};
  ASSERT_EQ(stat(volume.path("dir/moved").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(static_cast<size_t>(st.st_size), content.size());
  EXPECT_TRUE(readWholeFile(volume.path("dir/moved")) == content);
  EXPECT_EQ(stat(volume.path("big").c_str(), &st), -1);
}

// --- durability ---------------------------------------------------------------------------------

// fsync uploads; when the upload fails (here the store folder is gone), fsync returns EIO and
// the staged chunks, their journal and the staging folder are synced to the local disk, so they
// survive a power loss too. strace watches the daemon's fsync/fdatasync calls (a power loss
// cannot be had here); a kill -9 and a remount with the store back then show the data.
TEST(DurabilityTest, FailedFsyncSyncsStagedDataAndJournalToDisk) {
  MountedVolume volume("dir", testName());
  ASSERT_TRUE(volume.ok()) << volume.initResult().output;
  const std::string trace = volume.scratch() + "/syscalls";
  std::vector<std::string> argv = {
      "/usr/bin/strace", "-f",   "-qq", "-y", "-e", "trace=fsync,fdatasync", "-o", trace,
      s3cryptfsBinary(), "mount"};
  ASSERT_EQ(access(argv[0].c_str(), X_OK), 0) << "strace is missing (packaging/setup-debian.sh)";
  auto probe = runCommand({argv[0], "-qq", "-o", "/dev/null", "/bin/true"});
  if (probe.exit_code != 0) GTEST_SKIP() << "this machine does not allow ptrace: " << probe.output;
  for (const auto& arg : volume.mountArgs(volume.mountpoint()))
    argv.push_back(arg);
  argv.push_back("-f");
  pid_t tracer = spawnCommand(argv);
  ASSERT_GT(tracer, 0);
  auto stop = [&] {
    for (pid_t pid : processesMentioning(volume.mountpoint())) {
      if (pid != tracer) kill(pid, SIGKILL);
    }
    int status = 0;
    waitpid(tracer, &status, 0);
    if (isMounted(volume.mountpoint())) {
      runCommand({"/bin/fusermount3", "-u", "-z", volume.mountpoint()});
    }
  };
  if (!waitFor([&] { return isMounted(volume.mountpoint()); }, std::chrono::seconds(60))) {
    stop();
    FAIL() << "no mount under strace: " << readWholeFile(trace) << volume.log();
  }
  const std::string content = randomContent(8, 300 * 1024);
  int fd = open(volume.path("kept").c_str(), O_CREAT | O_WRONLY, 0644);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(write(fd, content.data(), content.size()), static_cast<ssize_t>(content.size()));
  const std::string away = volume.storeDir() + ".away";
  EXPECT_EQ(rename(volume.storeDir().c_str(), away.c_str()), 0);
  errno = 0;
  EXPECT_EQ(fsync(fd), -1);
  EXPECT_EQ(errno, EIO) << std::strerror(errno);
  stop();  // kill -9, with the data still staged
  if (fd >= 0) close(fd);

  std::string syscalls = readWholeFile(trace);
  EXPECT_TRUE(contains(syscalls, "fdatasync(") && contains(syscalls, ".data>")) << syscalls;
  EXPECT_TRUE(contains(syscalls, ".journal>")) << syscalls;
  EXPECT_TRUE(contains(syscalls, volume.stagingDir() + ">")) << syscalls;

  std::filesystem::remove_all(volume.storeDir());  // folders the dir store made meanwhile
  ASSERT_EQ(rename(away.c_str(), volume.storeDir().c_str()), 0);
  ASSERT_EQ(volume.mount().exit_code, 0) << volume.log();
  EXPECT_TRUE(readWholeFile(volume.path("kept")) == content) << volume.log();
}

// --- exit codes 1 and 21 ----------------------------------------------------------------------

// A failure with no code of its own: the staging folder cannot be created (a file is in the
// way). Exit 1 with the reason, nothing mounted.
TEST(MountExitCodesTest, UnclassifiedFailureExitsOne) {
  MountedVolume volume("dir", testName());
  ASSERT_TRUE(volume.ok()) << volume.initResult().output;
  ASSERT_TRUE(writeWholeFile(volume.scratch() + "/in-the-way", "x"));
  auto result = volume.mount({"-o", "staging_dir=" + volume.scratch() + "/in-the-way/staging"});
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_TRUE(contains(result.output, "staging folder")) << result.output;
  EXPECT_TRUE(contains(result.output, "cannot create")) << result.output;
  EXPECT_FALSE(isMounted(volume.mountpoint()));
  EXPECT_TRUE(processesMentioning(volume.mountpoint()).empty());
}

// The background daemon is killed while it opens the volume (the test build makes every store
// call take 2 s, so there is time): `mount` exits 21 and says how the daemon ended.
TEST(MountExitCodesTest, DaemonDyingBeforeReadyExitsTwentyOne) {
  MountedVolume volume("dir", testName());
  ASSERT_TRUE(volume.ok()) << volume.initResult().output;
  const std::string output = volume.scratch() + "/mount-output";
  std::vector<std::string> argv = {s3cryptfsTestFaultsBinary(), "mount"};
  for (const auto& arg : volume.mountArgs(volume.mountpoint()))
    argv.push_back(arg);
  pid_t command = spawnCommand(argv, {{"S3CRYPTFS_TEST_FAULTS", "latency_ms=2000"}}, output);
  ASSERT_GT(command, 0);
  // The daemon: the other process of this mount point (the command waits for its report).
  pid_t daemon = -1;
  waitFor(
      [&] {
        for (pid_t pid : processesMentioning(volume.mountpoint())) {
          if (pid != command) daemon = pid;
        }
        return daemon > 0;
      },
      std::chrono::seconds(30));
  if (daemon > 0) kill(daemon, SIGKILL);
  int status = 0;
  ASSERT_EQ(waitpid(command, &status, 0), command);
  ASSERT_GT(daemon, 0) << "no daemon process appeared";
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 21) << readWholeFile(output);
  EXPECT_TRUE(contains(readWholeFile(output), "the daemon ended before the mount was ready"))
      << readWholeFile(output);
  EXPECT_FALSE(isMounted(volume.mountpoint()));
}

}  // namespace
}  // namespace s3cryptfs::test
