#include "s3cryptfs/store/dir_object_store.h"

#include <atomic>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include <gtest/gtest.h>

#include "store_test_support.h"

namespace s3cryptfs::store {
namespace {

namespace fs = std::filesystem;

std::unique_ptr<DirObjectStore> openStore(const std::string& root, DirStoreOptions options = {}) {
  auto store = DirObjectStore::open(root, options);
  EXPECT_TRUE(store.has_value()) << store.error().describe();
  return store ? std::move(store).value() : nullptr;
}

std::vector<std::string> entriesOf(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(dir, error)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

void touchOld(const std::string& path) {
  std::ofstream(path) << "leftover";
  struct timespec times[2] = {{1000000000, 0}, {1000000000, 0}};
  ::utimensat(AT_FDCWD, path.c_str(), times, 0);
}

TEST(DirObjectStoreTest, KeyMapping) {
  EXPECT_EQ(*DirObjectStore::relativePathOf("a"), "fa");
  EXPECT_EQ(*DirObjectStore::relativePathOf("a/b"), "da/fb");
  EXPECT_EQ(*DirObjectStore::relativePathOf("a/"), "da/f");
  EXPECT_EQ(*DirObjectStore::relativePathOf("/a"), "d/fa");
  EXPECT_EQ(*DirObjectStore::relativePathOf("a//b"), "da/d/fb");
  EXPECT_EQ(*DirObjectStore::relativePathOf("."), "f.");
  EXPECT_EQ(*DirObjectStore::relativePathOf("../.."), "d../f..");
  EXPECT_EQ(*DirObjectStore::relativePathOf(".s3c-store"), "f.s3c-store");
  EXPECT_EQ(*DirObjectStore::relativePathOf("100%/x\ty\x7f"), "d100%25/fx%09y%7F");
  EXPECT_EQ(*DirObjectStore::relativePathOf("\xc3\xa9 +="), "f\xc3\xa9 +=");

  std::string long_component(600, 'x');
  EXPECT_EQ(
      *DirObjectStore::relativePathOf(long_component),
      "l" + std::string(240, 'x') + "/l" + std::string(240, 'x') + "/f" + std::string(120, 'x'));
  // A cut never falls inside an escape.
  EXPECT_EQ(*DirObjectStore::relativePathOf(std::string(239, 'a') + "%b"),
            "l" + std::string(239, 'a') + "/f%25b");
  EXPECT_EQ(*DirObjectStore::relativePathOf(std::string(238, 'a') + "%b"),
            "l" + std::string(238, 'a') + "/f%25b");

  EXPECT_EQ(DirObjectStore::relativePathOf("").error().kind(), ErrorKind::kInvalidArgument);
  EXPECT_EQ(DirObjectStore::relativePathOf(std::string(1025, 'k')).error().kind(),
            ErrorKind::kNameTooLong);
}

TEST(DirObjectStoreTest, EveryMappedNameFitsNameMax) {
  for (const std::string& key :
       {std::string(1024, '%'), std::string(1024, '\x01'), std::string(1024, 'z'),
        std::string(300, '/') + std::string(724, '%')}) {
    auto path = DirObjectStore::relativePathOf(key);
    ASSERT_TRUE(path.has_value());
    size_t start = 0;
    while (start <= path->size()) {
      size_t slash = path->find('/', start);
      if (slash == std::string::npos) slash = path->size();
      EXPECT_LE(slash - start, 241u);
      start = slash + 1;
    }
  }
  auto root = test::freshFolder();
  auto store = openStore(root, {.durable = false});
  std::string worst(1024, '%');
  ASSERT_TRUE(store->put(worst, toBytes("v"), {}).has_value());
  auto listing = listAll(*store, {});
  ASSERT_TRUE(listing.has_value());
  ASSERT_EQ(listing->objects.size(), 1u);
  EXPECT_EQ(listing->objects[0].key, worst);
}

TEST(DirObjectStoreTest, ReservedFolderAndForeignFilesAreInvisible) {
  auto root = test::freshFolder();
  auto store = openStore(root);
  ASSERT_TRUE(store->put("a/b", toBytes("1"), {}).has_value());
  std::ofstream(root + "/.DS_Store") << "junk";
  std::ofstream(root + "/notes.txt") << "junk";
  fs::create_directory(root + "/zdir");
  std::ofstream(root + "/zdir/fx") << "junk";
  std::ofstream(root + "/da/fbroken") << "not an object";
  auto upload = store->createMultipart("a/c", {});
  ASSERT_TRUE(upload.has_value());
  auto listing = listAll(*store, {});
  ASSERT_TRUE(listing.has_value());
  ASSERT_EQ(listing->objects.size(), 1u);
  EXPECT_EQ(listing->objects[0].key, "a/b");
  EXPECT_EQ(store->get("a/broken", std::nullopt).error().kind(), ErrorKind::kCorrupt);
}

TEST(DirObjectStoreTest, EmptyFoldersAreRemovedAfterDeletes) {
  auto root = test::freshFolder();
  auto store = openStore(root);
  ASSERT_TRUE(store->put("x/y/z", toBytes("1"), {}).has_value());
  ASSERT_TRUE(store->put("x/keep", toBytes("2"), {}).has_value());
  ASSERT_TRUE(store->remove("x/y/z").has_value());
  EXPECT_EQ(entriesOf(root + "/dx"), (std::vector<std::string>{"fkeep"}));
  ASSERT_TRUE(store->remove("x/keep").has_value());
  EXPECT_EQ(entriesOf(root), std::vector<std::string>{std::string(DirObjectStore::kReservedDir)});
  ListOptions options;
  options.delimiter = "/";
  auto listing = store->list(options);
  ASSERT_TRUE(listing.has_value());
  EXPECT_TRUE(listing->common_prefixes.empty());
}

TEST(DirObjectStoreTest, EmptyLeftoverFoldersDoNotMakeCommonPrefixes) {
  auto root = test::freshFolder();
  auto store = openStore(root);
  fs::create_directories(root + "/dghost/dinner");
  ListOptions options;
  options.delimiter = "/";
  auto listing = store->list(options);
  ASSERT_TRUE(listing.has_value());
  EXPECT_TRUE(listing->common_prefixes.empty());
}

TEST(DirObjectStoreTest, PutsRaceWithTheCleanupOfEmptyFolders) {
  // Deletes remove folders that puts of sibling keys are about to use: no put may fail.
  auto root = test::freshFolder();
  auto store = openStore(root, {.durable = false});
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  threads.reserve(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        std::string key = "a/b/c/" + std::to_string(t) + "-" + std::to_string(i);
        if (!store->put(key, toBytes("x"), {})) ++failures;
        if (!store->remove(key)) ++failures;
      }
    });
  }
  for (auto& thread : threads)
    thread.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(entriesOf(root), std::vector<std::string>{std::string(DirObjectStore::kReservedDir)});
}

TEST(DirObjectStoreTest, CrashLeftoversAreIgnoredAndCleaned) {
  auto root = test::freshFolder();
  { auto first = openStore(root); }
  std::string tmp = root + "/.s3c-store/tmp";
  touchOld(tmp + "/old.tmp");
  std::ofstream(tmp + "/fresh.tmp") << "a writer of another instance, just started";
  touchOld(tmp + "/locked.tmp");
  int locked = ::open((tmp + "/locked.tmp").c_str(), O_RDONLY);
  ASSERT_GE(locked, 0);
  ASSERT_EQ(::flock(locked, LOCK_EX), 0);
  fs::create_directories(tmp + "/abc.dead/sub");
  touchOld(tmp + "/abc.dead/sub/part-00001");
  std::string orphan = root + "/.s3c-store/uploads/0123456789abcdef0123456789abcdef";
  fs::create_directories(orphan);
  struct timespec times[2] = {{1000000000, 0}, {1000000000, 0}};
  ::utimensat(AT_FDCWD, orphan.c_str(), times, 0);

  auto store = openStore(root);
  EXPECT_EQ(entriesOf(tmp), (std::vector<std::string>{"fresh.tmp", "locked.tmp"}));
  EXPECT_TRUE(entriesOf(root + "/.s3c-store/uploads").empty());
  auto listing = listAll(*store, {});
  ASSERT_TRUE(listing.has_value());
  EXPECT_TRUE(listing->objects.empty());
  ::close(locked);
  EXPECT_EQ(store->cleanStaleTemporaries(), 1u);
  EXPECT_EQ(entriesOf(tmp), std::vector<std::string>{"fresh.tmp"});
}

TEST(DirObjectStoreTest, WritesLeaveNoTempFiles) {
  auto root = test::freshFolder();
  auto store = openStore(root);
  ASSERT_TRUE(store->put("k", toBytes("v"), {}).has_value());
  PutOptions create;
  create.condition.if_none_match = true;
  EXPECT_FALSE(store->put("k", toBytes("w"), create).has_value());
  ASSERT_TRUE(store->copy("k", "k2", {}).has_value());
  EXPECT_TRUE(entriesOf(root + "/.s3c-store/tmp").empty());
}

TEST(DirObjectStoreTest, SecondInstanceSeesTheSameObjects) {
  auto root = test::freshFolder();
  auto a = openStore(root);
  auto b = openStore(root + "/");
  PutOptions options;
  options.metadata["m"] = "1";
  auto put = a->put("shared/key", toBytes("hello"), options);
  ASSERT_TRUE(put.has_value());
  auto head = b->head("shared/key");
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->etag, put->etag);
  EXPECT_EQ(head->metadata, options.metadata);
  auto upload = a->createMultipart("shared/mp", {});
  ASSERT_TRUE(upload.has_value());
  auto uploads = b->listMultipartUploads("shared/");
  ASSERT_TRUE(uploads.has_value());
  ASSERT_EQ(uploads->size(), 1u);
  EXPECT_TRUE(b->abortMultipart("shared/mp", *upload).has_value());
  ASSERT_TRUE(b->remove("shared/key").has_value());
  EXPECT_EQ(a->head("shared/key").error().kind(), ErrorKind::kNotFound);
  EXPECT_EQ(a->describe(), "dir://" + root);
}

TEST(DirObjectStoreTest, ConditionalCreateAcrossTwoInstances) {
  auto root = test::freshFolder();
  auto a = openStore(root);
  auto b = openStore(root);
  for (int round = 0; round < 10; ++round) {
    std::string key = "race/" + std::to_string(round);
    std::atomic<int> winners{0};
    std::atomic<int> losers{0};
    std::vector<std::thread> threads;
    threads.reserve(8);
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&, t] {
        DirObjectStore& store = t % 2 == 0 ? *a : *b;
        PutOptions create;
        create.condition.if_none_match = true;
        auto put = store.put(key, toBytes(std::to_string(t)), create);
        if (put) {
          ++winners;
        } else if (put.error().kind() == ErrorKind::kPreconditionFailed) {
          ++losers;
        }
      });
    }
    for (auto& thread : threads)
      thread.join();
    EXPECT_EQ(winners.load(), 1);
    EXPECT_EQ(losers.load(), 7);
  }
}

TEST(DirObjectStoreTest, IfMatchAcrossTwoInstancesLosesNoUpdate) {
  // Each thread increments a counter with read, then If-Match write, retrying on conflict;
  // with a race-free If-Match the final count is exact.
  auto root = test::freshFolder();
  auto a = openStore(root, {.durable = false});
  auto b = openStore(root, {.durable = false});
  ASSERT_TRUE(a->put("counter", toBytes("0"), {}).has_value());
  constexpr int kThreads = 4;
  constexpr int kIncrements = 25;
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      DirObjectStore& store = t % 2 == 0 ? *a : *b;
      for (int i = 0; i < kIncrements; ++i) {
        while (true) {
          auto current = store.get("counter", std::nullopt);
          if (!current) continue;
          int value = std::stoi(std::string(asChars(current->body)));
          PutOptions update;
          update.condition.if_match = current->info.etag;
          if (store.put("counter", toBytes(std::to_string(value + 1)), update)) break;
        }
      }
    });
  }
  for (auto& thread : threads)
    thread.join();
  auto final_value = a->get("counter", std::nullopt);
  ASSERT_TRUE(final_value.has_value());
  EXPECT_EQ(std::string(asChars(final_value->body)), std::to_string(kThreads * kIncrements));
}

TEST(DirObjectStoreTest, ConditionalCreateAcrossProcesses) {
#if defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "fork() under ThreadSanitizer";
#else
  auto root = test::freshFolder();
  { auto init = openStore(root); }
  constexpr int kProcesses = 4;
  constexpr int kKeys = 20;
  std::vector<pid_t> children;
  for (int p = 0; p < kProcesses; ++p) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      // Child: its own instance; exit code = number of keys it created.
      auto store = DirObjectStore::open(root);
      if (!store) ::_exit(100);
      int created = 0;
      for (int k = 0; k < kKeys; ++k) {
        PutOptions create;
        create.condition.if_none_match = true;
        auto put = (*store)->put("key" + std::to_string(k), toBytes(std::to_string(p)), create);
        if (put) {
          ++created;
        } else if (put.error().kind() != ErrorKind::kPreconditionFailed) {
          ::_exit(101);
        }
      }
      ::_exit(created);
    }
    children.push_back(pid);
  }
  int total = 0;
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    ASSERT_LE(WEXITSTATUS(status), kKeys) << "child failed with " << WEXITSTATUS(status);
    total += WEXITSTATUS(status);
  }
  EXPECT_EQ(total, kKeys) << "each key must be created exactly once";
#endif
}

TEST(DirObjectStoreTest, OpenRejectsRelativeRoot) {
  auto store = DirObjectStore::open("relative/path");
  ASSERT_FALSE(store.has_value());
  EXPECT_EQ(store.error().kind(), ErrorKind::kInvalidArgument);
}

TEST(DirObjectStoreTest, UploadIdsCannotEscapeTheUploadsFolder) {
  auto root = test::freshFolder();
  auto store = openStore(root);
  for (const char* id : {"../../etc", "", "0123456789abcdef0123456789abcdeg", "..",
                         "0123456789ABCDEF0123456789ABCDEF"}) {
    EXPECT_EQ(store->uploadPart("k", id, 1, toBytes("x")).error().kind(), ErrorKind::kNotFound);
    EXPECT_EQ(store->abortMultipart("k", id).error().kind(), ErrorKind::kNotFound);
  }
  auto upload = store->createMultipart("k", {});
  ASSERT_TRUE(upload.has_value());
  EXPECT_EQ(store->uploadPart("other", *upload, 1, toBytes("x")).error().kind(),
            ErrorKind::kNotFound)
      << "an upload belongs to its key";
}

TEST(DirObjectStoreTest, ObjectFileHoldsHeaderAndBody) {
  auto root = test::freshFolder();
  auto store = openStore(root);
  ASSERT_TRUE(store->put("k", toBytes("body"), {}).has_value());
  std::ifstream in(root + "/fk", std::ios::binary);
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(content.substr(0, 8), "S3CDOBJ1");
  EXPECT_EQ(content.substr(content.size() - 4), "body");
}

}  // namespace
}  // namespace s3cryptfs::store
