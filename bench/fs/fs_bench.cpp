// Wall-clock benchmarks of the filesystem core without a mount (no FUSE, no kernel): what the
// data path, the caches and the bounded parallelism cost and gain. Stores: the in-memory store
// (the CPU cost of our code), the same with a fixed latency per call (what parallel HEADs,
// ranged GETs and part uploads buy against a remote server), and the local-directory store.
// Prints {name, value, unit} records, one per line with --json, else a table.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <sys/resource.h>
#include <vector>

#include "s3cryptfs/fs/volume_filesystem.h"
#include "s3cryptfs/keys/keyfile_protector.h"
#include "s3cryptfs/store/dir_object_store.h"
#include "s3cryptfs/store/fault_injecting_object_store.h"
#include "s3cryptfs/store/in_memory_object_store.h"
#include "s3cryptfs/volume/volume.h"

namespace s3cryptfs::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct Record {
  std::string name;
  double value;
  std::string unit;
};

[[noreturn]] void die(const std::string& what, const Error& error) {
  std::fprintf(stderr, "fs_bench: %s: %s\n", what.c_str(), error.describe().c_str());
  std::exit(1);
}

template <class T>
T check(Result<T> result, const std::string& what) {
  if (!result) die(what, result.error());
  return std::move(result).value();
}
void check(Status status, const std::string& what) {
  if (!status) die(what, status.error());
}

std::string tempFolder(const std::string& tag) {
  std::string pattern =
      (std::filesystem::temp_directory_path() / ("s3c-bench-" + tag + "-XXXXXX")).string();
  if (::mkdtemp(pattern.data()) == nullptr) std::exit(1);
  return pattern;
}

class Mount {
 public:
  Mount(std::shared_ptr<store::ObjectStore> store, const fs::FilesystemOptions& options)
      : store_(std::move(store)), options_(options) {
    SecureBuffer key(keys::kKeyFileKeySize);
    for (size_t i = 0; i < key.size(); ++i)
      key.data()[i] = static_cast<uint8_t>(i);
    protector_ = std::make_unique<keys::KeyFileProtector>(
        check(keys::KeyFileProtector::fromKey(std::move(key)), "key"));
    volume::NamedProtector named{"", protector_.get()};
    check(volume::Volume::create(store_, {&named, 1}, {}), "create volume");
    options_.staging_dir = tempFolder("staging");
    remount();
  }
  ~Mount() { std::filesystem::remove_all(options_.staging_dir); }
  void remount() {
    if (fs_) check(fs_->syncAll(), "sync");
    fs_.reset();
    volume::NamedProtector named{"", protector_.get()};
    auto volume = check(volume::Volume::open(store_, {&named, 1}), "open volume");
    fs_ = check(fs::openVolumeFilesystem(volume, options_), "mount");
  }
  fs::Filesystem& fs() { return *fs_; }

 private:
  std::shared_ptr<store::ObjectStore> store_;
  fs::FilesystemOptions options_;
  std::unique_ptr<keys::KeyFileProtector> protector_;
  std::unique_ptr<fs::Filesystem> fs_;
};

double seconds(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

void runSuite(const std::string& store_name,
              const std::function<std::shared_ptr<store::ObjectStore>()>& make, uint64_t big_bytes,
              int small_files, std::vector<Record>& out) {
  fs::FilesystemOptions options;
  Mount mount(make(), options);
  fs::Filesystem& f = mount.fs();
  fs::Caller caller{1000, 1000, 1, 022};
  Bytes block(128 * 1024, 0x5a);

  // Sequential write of one big file in 128 KiB writes, then close (upload included).
  auto start = Clock::now();
  auto created = check(f.create(fs::kRootInode, "big", 0644, O_WRONLY, caller), "create");
  for (uint64_t at = 0; at < big_bytes; at += block.size()) {
    check(f.write(created.handle, at, block), "write");
  }
  check(f.release(created.handle), "close");
  out.push_back(
      {"fs/" + store_name + "/seq_write_close", big_bytes / 1e6 / seconds(start), "MB/s"});

  // Sequential read after a remount (cold cache).
  mount.remount();
  fs::Filesystem& g = mount.fs();
  auto ino = check(g.lookup(fs::kRootInode, "big"), "lookup").attr.ino;
  start = Clock::now();
  auto handle = check(g.open(ino, O_RDONLY), "open");
  Bytes buffer(block.size());
  for (uint64_t at = 0; at < big_bytes; at += buffer.size())
    check(g.read(handle, at, buffer), "read");
  check(g.release(handle), "close");
  out.push_back({"fs/" + store_name + "/seq_read_cold", big_bytes / 1e6 / seconds(start), "MB/s"});

  // Random 4 KiB reads over the (now cached) file.
  handle = check(g.open(ino, O_RDONLY), "open");
  Bytes small(4096);
  uint64_t x = 12345;
  const int reads = 2000;
  start = Clock::now();
  for (int i = 0; i < reads; ++i) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    check(g.read(handle, (x >> 20) % (big_bytes - small.size()), small), "read");
  }
  out.push_back({"fs/" + store_name + "/random_read_4k_cached", reads / seconds(start), "ops/s"});
  check(g.release(handle), "close");

  // Small files: create, write 1 KiB, close.
  auto dir = check(g.mkdir(fs::kRootInode, "many", 0755, caller), "mkdir").attr.ino;
  start = Clock::now();
  for (int i = 0; i < small_files; ++i) {
    auto made = check(g.create(dir, "f" + std::to_string(i), 0644, O_WRONLY, caller), "create");
    check(g.write(made.handle, 0, ByteSpan(block.data(), 1024)), "write");
    check(g.release(made.handle), "close");
  }
  out.push_back({"fs/" + store_name + "/small_file_create_write_close",
                 small_files / seconds(start), "files/s"});

  // ls -l of that directory after a remount: one listing plus attributes of every entry.
  mount.remount();
  fs::Filesystem& k = mount.fs();
  dir = check(k.lookup(fs::kRootInode, "many"), "lookup").attr.ino;
  start = Clock::now();
  auto dh = check(k.opendir(dir), "opendir");
  uint64_t cookie = 0;
  size_t entries = 0;
  for (;;) {
    auto page = check(k.readdir(dh, cookie, 128, true), "readdirplus");
    if (page.empty()) break;
    entries += page.size();
    cookie = page.back().next_cookie;
  }
  check(k.releasedir(dh), "releasedir");
  out.push_back(
      {"fs/" + store_name + "/readdirplus_entries", entries / seconds(start), "entries/s"});
}

}  // namespace
}  // namespace s3cryptfs::bench

int main(int argc, char** argv) {
  using namespace s3cryptfs;
  bool json = argc > 1 && std::string_view(argv[1]) == "--json";
  std::vector<bench::Record> records;
  bench::runSuite(
      "memory", [] { return std::make_shared<store::InMemoryObjectStore>(); }, uint64_t{64} << 20,
      500, records);
  bench::runSuite(
      "memory_5ms_latency",
      [] {
        auto faulty = std::make_shared<store::FaultInjectingObjectStore>(
            std::make_shared<store::InMemoryObjectStore>());
        faulty->setLatency(store::StoreOp::kAny, std::chrono::milliseconds(5));
        return std::shared_ptr<store::ObjectStore>(faulty);
      },
      uint64_t{32} << 20, 100, records);
  std::string dir = bench::tempFolder("store");
  bench::runSuite(
      "dir",
      [&] {
        store::DirStoreOptions options;
        options.durable = false;
        auto made = store::DirObjectStore::open(dir, options);
        if (!made) std::exit(1);
        return std::shared_ptr<store::ObjectStore>(std::move(made).value());
      },
      uint64_t{64} << 20, 500, records);
  std::filesystem::remove_all(dir);
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  records.push_back({"fs/max_rss", usage.ru_maxrss / 1024.0, "MiB"});
  for (const auto& r : records) {
    if (json) {
      std::printf("{\"name\": \"%s\", \"value\": %.1f, \"unit\": \"%s\"}\n", r.name.c_str(),
                  r.value, r.unit.c_str());
    } else {
      std::printf("%-52s %12.1f %s\n", r.name.c_str(), r.value, r.unit.c_str());
    }
  }
  return 0;
}
