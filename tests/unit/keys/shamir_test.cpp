#include "s3cryptfs/keys/shamir.h"

#include <gtest/gtest.h>

#include "unit/keys/keys_test_support.h"

namespace s3cryptfs::keys {
namespace {

TEST(Gf256Test, KnownProductsAndInverses) {
  // FIPS-197 §4.2: {57} • {83} = {c1}, {57} • {13} = {fe}.
  EXPECT_EQ(gf256Mul(0x57, 0x83), 0xc1);
  EXPECT_EQ(gf256Mul(0x57, 0x13), 0xfe);
  EXPECT_EQ(gf256Inv(0), 0);
  for (int a = 1; a < 256; ++a) {
    EXPECT_EQ(gf256Mul(static_cast<uint8_t>(a), gf256Inv(static_cast<uint8_t>(a))), 1) << a;
  }
}

std::vector<SecretShare> pick(const std::vector<SecretShare>& all, std::vector<size_t> which) {
  std::vector<SecretShare> out;
  for (size_t i : which)
    out.push_back(SecretShare{all[i].index, all[i].value.clone()});
  return out;
}

TEST(ShamirTest, EveryThreeOfFiveReconstructsAndNoTwoDo) {
  SecureBuffer secret = testing::testVolumeKey(0x5a);
  auto shares = splitSecret(secret, 3, 5);
  ASSERT_TRUE(shares);
  ASSERT_EQ(shares->size(), 5u);
  for (size_t a = 0; a < 5; ++a) {
    for (size_t b = a + 1; b < 5; ++b) {
      auto two = combineShares(pick(*shares, {a, b}));
      ASSERT_TRUE(two);
      EXPECT_FALSE(two->equals(secret)) << a << b;
      for (size_t c = b + 1; c < 5; ++c) {
        auto three = combineShares(pick(*shares, {a, b, c}));
        ASSERT_TRUE(three);
        EXPECT_TRUE(three->equals(secret)) << a << b << c;
        // Order does not matter.
        auto reversed = combineShares(pick(*shares, {c, b, a}));
        ASSERT_TRUE(reversed);
        EXPECT_TRUE(reversed->equals(secret));
      }
    }
  }
  auto all = combineShares(pick(*shares, {0, 1, 2, 3, 4}));
  ASSERT_TRUE(all);
  EXPECT_TRUE(all->equals(secret));
}

TEST(ShamirTest, SharesAreNotTheSecretAndDifferEachTime) {
  SecureBuffer secret = testing::testVolumeKey();
  auto first = splitSecret(secret, 2, 3);
  auto second = splitSecret(secret, 2, 3);
  ASSERT_TRUE(first && second);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_FALSE((*first)[i].value.equals(secret));
    EXPECT_FALSE((*first)[i].value.equals((*second)[i].value));
  }
}

TEST(ShamirTest, OneOfNIsTheSecretItself) {
  SecureBuffer secret = testing::testVolumeKey();
  auto shares = splitSecret(secret, 1, 3);
  ASSERT_TRUE(shares);
  for (const auto& s : *shares)
    EXPECT_TRUE(s.value.equals(secret));
}

TEST(ShamirTest, RejectsBadArguments) {
  SecureBuffer secret = testing::testVolumeKey();
  EXPECT_FALSE(splitSecret(secret, 0, 3));
  EXPECT_FALSE(splitSecret(secret, 4, 3));
  EXPECT_FALSE(splitSecret(SecureBuffer(), 2, 3));
  auto shares = splitSecret(secret, 2, 3);
  ASSERT_TRUE(shares);
  EXPECT_FALSE(combineShares({}));
  auto duplicate = pick(*shares, {0, 0});
  EXPECT_FALSE(combineShares(duplicate));
  auto mixed = pick(*shares, {0, 1});
  mixed[1].value = SecureBuffer(5);
  EXPECT_FALSE(combineShares(mixed));
  auto zero = pick(*shares, {0, 1});
  zero[0].index = 0;
  EXPECT_FALSE(combineShares(zero));
}

TEST(ShamirTest, MaximumShareCount) {
  SecureBuffer secret = testing::testVolumeKey();
  auto shares = splitSecret(secret, 255, 255);
  ASSERT_TRUE(shares);
  auto all = combineShares(*shares);
  ASSERT_TRUE(all);
  EXPECT_TRUE(all->equals(secret));
}

}  // namespace
}  // namespace s3cryptfs::keys
