#pragma once

// Temp folders for the store tests: one parent per test process, removed at exit.

#include <atomic>
#include <filesystem>
#include <stdlib.h>
#include <string>

namespace s3cryptfs::store::test {

class TempFolders {
 public:
  static TempFolders& instance() {
    static TempFolders folders;
    return folders;
  }
  // A new empty folder (created) under the process's parent folder.
  std::string fresh() {
    std::string path = parent_ + "/" + std::to_string(counter_.fetch_add(1));
    std::error_code error;
    std::filesystem::create_directories(path, error);
    return path;
  }
  TempFolders(const TempFolders&) = delete;
  TempFolders& operator=(const TempFolders&) = delete;
  TempFolders(TempFolders&&) = delete;
  TempFolders& operator=(TempFolders&&) = delete;
  ~TempFolders() {
    std::error_code error;
    std::filesystem::remove_all(parent_, error);
  }

 private:
  TempFolders() {
    std::error_code error;
    std::string base = std::filesystem::temp_directory_path(error).string();  // honours TMPDIR
    if (error || base.empty()) base = "/tmp";
    std::string pattern = base + "/s3c-store-test-XXXXXX";
    char* made = ::mkdtemp(pattern.data());
    parent_ = made != nullptr ? std::string(made) : std::string("/tmp/s3c-store-test-fallback");
  }
  std::string parent_;
  std::atomic<int> counter_{0};
};

inline std::string freshFolder() {
  return TempFolders::instance().fresh();
}

}  // namespace s3cryptfs::store::test
