#include "s3cryptfs/crypto/random.h"

#include <gtest/gtest.h>

namespace s3cryptfs::crypto {
namespace {

TEST(RandomTest, FillsBuffersOfEverySize) {
  for (size_t n : {size_t{0}, size_t{1}, size_t{12}, size_t{32}, size_t{4096}}) {
    auto bytes = randomBytes(n);
    ASSERT_TRUE(bytes.has_value()) << bytes.error().describe();
    EXPECT_EQ(bytes->size(), n);
  }
  auto key = randomKey(32);
  ASSERT_TRUE(key.has_value());
  EXPECT_EQ(key->size(), 32u);
}

TEST(RandomTest, ConsecutiveOutputsDiffer) {
  // 2^-256 chance of a false failure.
  auto a = randomBytes(32);
  auto b = randomBytes(32);
  ASSERT_TRUE(a.has_value() && b.has_value());
  EXPECT_NE(*a, *b);
  EXPECT_NE(*a, Bytes(32, 0));

  Bytes buffer(64, 0);
  ASSERT_TRUE(fillRandom(buffer).has_value());
  EXPECT_NE(buffer, Bytes(64, 0));
}

}  // namespace
}  // namespace s3cryptfs::crypto
