#pragma once
// Small helpers the real-mount test files share (beside support/mounted_volume.h).

#include <string>

#include <gtest/gtest.h>

namespace s3cryptfs::test {

// "Suite.Name" of the running test, for scratch folder and prefix names.
inline std::string testName() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return std::string(info->test_suite_name()) + "." + info->name();
}

inline bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace s3cryptfs::test
