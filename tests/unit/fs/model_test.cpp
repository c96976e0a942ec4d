// A seeded random sequence of thousands of operations, checked step by step against a plain
// in-memory model, with clean and unclean remounts in between.
#include <fcntl.h>
#include <map>
#include <random>

#include <gtest/gtest.h>

#include "unit/fs/fs_test_support.h"

namespace s3cryptfs::fs {
namespace {

using test::FsHarness;
using test::pattern;

class ModelTest : public ::testing::TestWithParam<std::tuple<std::string, uint64_t>> {};

TEST_P(ModelTest, RandomOperationsMatchTheModel) {
  const auto& [store_kind, seed] = GetParam();
  FilesystemOptions options;
  options.part_bytes = 8192;  // 2 chunks per part: multipart paths get exercised too
  options.cache_bytes = 32 * 1024;
  FsHarness h(test::makeStore(store_kind), 4096, options);
  std::mt19937_64 random(seed);
  auto pick = [&](uint64_t n) { return random() % n; };

  std::map<std::string, Bytes> files;  // path → content
  std::set<std::string> dirs{"/"};
  const std::vector<std::string> names{"a", "b", "c", "d"};
  auto randomDir = [&] {
    auto it = dirs.begin();
    std::advance(it, static_cast<long>(pick(dirs.size())));
    return *it;
  };
  auto child = [&](const std::string& dir) {
    std::string name = names[pick(names.size())];
    return dir == "/" ? "/" + name : dir + "/" + name;
  };
  // Open handles: path → (handle, still the same file?)
  struct OpenHandle {
    HandleId handle;
    std::string path;
  };
  std::vector<OpenHandle> open;

  const int steps = 3000;
  for (int step = 0; step < steps; ++step) {
    SCOPED_TRACE("step " + std::to_string(step) + " seed " + std::to_string(seed));
    uint64_t op = pick(100);
    std::string dir = randomDir();
    std::string path = child(dir);
    bool is_file = files.contains(path);
    bool is_dir = dirs.contains(path);
    if (op < 25) {  // write at a random offset through a new or open handle
      if (is_dir) continue;
      uint64_t offset = pick(3) == 0 ? pick(40000) : (is_file ? files[path].size() : 0);
      Bytes data = pattern(pick(9000) + 1, static_cast<uint32_t>(step));
      auto ino = h.resolve(path);
      HandleId handle;
      if (!ino) {
        auto parent = h.resolve(dir);
        ASSERT_TRUE(parent);
        auto created =
            h.fs().create(*parent, FsHarness::split(path).second, 0644, O_RDWR, h.caller_);
        ASSERT_TRUE(created) << created.error().describe();
        handle = created->handle;
        files[path] = {};
      } else {
        auto opened = h.fs().open(*ino, O_RDWR);
        ASSERT_TRUE(opened) << opened.error().describe();
        handle = *opened;
      }
      auto written = h.fs().write(handle, offset, data);
      ASSERT_TRUE(written) << written.error().describe();
      Bytes& model = files[path];
      if (model.size() < offset + data.size()) model.resize(offset + data.size(), 0);
      std::copy(data.begin(), data.end(), model.begin() + static_cast<long>(offset));
      if (pick(3) == 0) {
        open.push_back({handle, path});  // left open, flushed later or lost in a kill
      } else {
        ASSERT_TRUE(h.fs().release(handle));
      }
    } else if (op < 40) {  // read a whole file
      if (!is_file) continue;
      auto read = h.readFile(path, pick(2) == 0 ? 4096 : 1500);
      ASSERT_TRUE(read) << read.error().describe();
      ASSERT_EQ(*read, files[path]) << path;
    } else if (op < 48) {  // truncate
      if (!is_file) continue;
      uint64_t size = pick(20000);
      SetAttrRequest request;
      request.size = size;
      auto truncated = h.fs().setattr(*h.resolve(path), request, h.caller_);
      ASSERT_TRUE(truncated) << truncated.error().describe();
      files[path].resize(size, 0);
    } else if (op < 56) {  // mkdir
      if (is_file || is_dir) {
        S3C_EXPECT_ERRNO(h.mkdirPath(path), EEXIST);
        continue;
      }
      if (std::count(path.begin(), path.end(), '/') > 3) continue;
      ASSERT_TRUE(h.mkdirPath(path));
      dirs.insert(path);
    } else if (op < 64) {  // unlink (open handles on it keep their copy; we close them)
      if (!is_file) {
        if (!is_dir)
          S3C_EXPECT_ERRNO(h.fs().unlink(*h.resolve(dir), FsHarness::split(path).second), ENOENT);
        continue;
      }
      ASSERT_TRUE(h.fs().unlink(*h.resolve(dir), FsHarness::split(path).second));
      files.erase(path);
      for (auto it = open.begin(); it != open.end();) {
        if (it->path == path) {
          ASSERT_TRUE(h.fs().release(it->handle));
          it = open.erase(it);
        } else {
          ++it;
        }
      }
    } else if (op < 70) {  // rmdir
      if (!is_dir) continue;
      bool empty = true;
      for (const auto& [p, c] : files)
        empty = empty && !p.starts_with(path + "/");
      for (const auto& d : dirs)
        empty = empty && !d.starts_with(path + "/");
      auto removed = h.fs().rmdir(*h.resolve(dir), FsHarness::split(path).second);
      if (empty) {
        ASSERT_TRUE(removed) << removed.error().describe();
        dirs.erase(path);
      } else {
        ASSERT_FALSE(removed);
        EXPECT_EQ(removed.error().errnoValue(), ENOTEMPTY);
      }
    } else if (op < 80) {  // rename a file (dirs are renamed when closed handles allow)
      if (!is_file && !is_dir) continue;
      std::string to_dir = randomDir();
      std::string to = child(to_dir);
      if (to == path || to.starts_with(path + "/")) continue;
      bool to_file = files.contains(to);
      bool to_dir_exists = dirs.contains(to);
      if (is_dir) {
        bool has_open = false;
        for (auto& o : open)
          has_open = has_open || o.path.starts_with(path + "/");
        if (has_open || to_file) continue;
        if (to_dir_exists) continue;
      } else if (to_dir_exists) {
        S3C_EXPECT_ERRNO(h.fs().rename(*h.resolve(dir), FsHarness::split(path).second,
                                       *h.resolve(to_dir), FsHarness::split(to).second, 0),
                         EISDIR);
        continue;
      }
      auto renamed = h.fs().rename(*h.resolve(dir), FsHarness::split(path).second,
                                   *h.resolve(to_dir), FsHarness::split(to).second, 0);
      ASSERT_TRUE(renamed) << renamed.error().describe();
      if (is_file) {
        for (auto it = open.begin(); it != open.end();) {
          if (it->path == to) {  // the replaced file's handles see an unlinked file
            ASSERT_TRUE(h.fs().release(it->handle));
            it = open.erase(it);
          } else {
            if (it->path == path) it->path = to;
            ++it;
          }
        }
        files[to] = files[path];
        files.erase(path);
      } else {
        std::map<std::string, Bytes> moved;
        for (auto it = files.begin(); it != files.end();) {
          if (it->first.starts_with(path + "/")) {
            moved[to + it->first.substr(path.size())] = it->second;
            it = files.erase(it);
          } else {
            ++it;
          }
        }
        files.insert(moved.begin(), moved.end());
        std::set<std::string> moved_dirs;
        for (auto it = dirs.begin(); it != dirs.end();) {
          if (*it == path || it->starts_with(path + "/")) {
            moved_dirs.insert(to + it->substr(path.size()));
            it = dirs.erase(it);
          } else {
            ++it;
          }
        }
        dirs.insert(moved_dirs.begin(), moved_dirs.end());
      }
    } else if (op < 88) {  // close an open handle
      if (open.empty()) continue;
      size_t i = pick(open.size());
      ASSERT_TRUE(h.fs().release(open[i].handle));
      open.erase(open.begin() + static_cast<long>(i));
    } else if (op < 95) {  // listing
      auto listed = h.list(dir, pick(2) == 0);
      std::vector<std::string> expected;
      for (const auto& [p, c] : files) {
        if (FsHarness::split(p).first == dir) expected.push_back(FsHarness::split(p).second);
      }
      for (const auto& d : dirs) {
        if (d != "/" && FsHarness::split(d).first == dir)
          expected.push_back(FsHarness::split(d).second);
      }
      std::sort(expected.begin(), expected.end());
      ASSERT_EQ(listed, expected) << dir;
    } else if (op < 98) {  // clean remount
      for (auto& o : open)
        ASSERT_TRUE(h.fs().release(o.handle));
      open.clear();
      h.reopen(true);
    } else {  // killed daemon: unflushed writes come back through the journal
      open.clear();
      h.kill();
      h.reopen(false);
    }
  }
  for (auto& o : open)
    ASSERT_TRUE(h.fs().release(o.handle));
  h.reopen();
  for (const auto& [path, content] : files) {
    auto read = h.readFile(path);
    ASSERT_TRUE(read) << path << ": " << read.error().describe();
    EXPECT_EQ(*read, content) << path;
  }
}

INSTANTIATE_TEST_SUITE_P(Seeds, ModelTest,
                         ::testing::Combine(::testing::Values("memory", "dir"),
                                            ::testing::Values(1, 2, 3)));

}  // namespace
}  // namespace s3cryptfs::fs
