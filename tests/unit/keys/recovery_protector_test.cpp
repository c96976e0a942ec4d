#include "s3cryptfs/keys/recovery_protector.h"

#include <gtest/gtest.h>

#include "unit/keys/keys_test_support.h"

namespace s3cryptfs::keys {
namespace {

using testing::testContext;
using testing::testVolumeKey;

std::string text(const SecureBuffer& b) {
  return std::string(asChars(b.span()));
}

std::vector<SecureBuffer> pick(const std::vector<SecureBuffer>& all, std::vector<size_t> which) {
  std::vector<SecureBuffer> out;
  for (size_t i : which)
    out.push_back(all[i].clone());
  return out;
}

class RecoveryProtectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RecoveryProtector maker(3, 5);
    auto wrapped = maker.wrap(testVolumeKey(), testContext());
    ASSERT_TRUE(wrapped) << wrapped.error().describe();
    wrapped_ = std::move(*wrapped);
    shares_ = maker.takeShares();
    ASSERT_EQ(shares_.size(), 5u);
    EXPECT_TRUE(maker.takeShares().empty());
  }
  Result<SecureBuffer> unlock(std::vector<SecureBuffer> texts,
                              const KeyContext& context = testContext()) {
    RecoveryProtector protector(sharesFromList(std::move(texts)));
    return protector.unwrap(wrapped_, context);
  }
  WrappedKey wrapped_;
  std::vector<SecureBuffer> shares_;
};

TEST_F(RecoveryProtectorTest, StoresOnlyParamsAndSealedKey) {
  EXPECT_EQ(wrapped_.type, "recovery");
  EXPECT_EQ(wrapped_.params.at("k"), "3");
  EXPECT_EQ(wrapped_.params.at("n"), "5");
  EXPECT_EQ(wrapped_.params.at("set").size(), 4u);
  EXPECT_EQ(wrapped_.wrapped.size(), 60u);
}

TEST_F(RecoveryProtectorTest, ShareTextIsGroupedBase32) {
  for (const auto& share : shares_) {
    std::string t = text(share);
    ASSERT_EQ(t.size(), 79u) << t.size();
    for (size_t i = 0; i < t.size(); ++i) {
      if (i % 5 == 4) {
        EXPECT_EQ(t[i], '-');
      } else {
        EXPECT_NE(std::string_view("0123456789ABCDEFGHJKMNPQRSTVWXYZ").find(t[i]),
                  std::string_view::npos);
      }
    }
  }
}

TEST_F(RecoveryProtectorTest, EveryThreeSubsetUnlocks) {
  for (size_t a = 0; a < 5; ++a) {
    for (size_t b = a + 1; b < 5; ++b) {
      for (size_t c = b + 1; c < 5; ++c) {
        auto key = unlock(pick(shares_, {a, b, c}));
        ASSERT_TRUE(key) << a << b << c << ": " << key.error().describe();
        EXPECT_TRUE(key->equals(testVolumeKey()));
      }
    }
  }
  auto all = unlock(pick(shares_, {4, 3, 2, 1, 0}));
  ASSERT_TRUE(all);
  EXPECT_TRUE(all->equals(testVolumeKey()));
}

TEST_F(RecoveryProtectorTest, TwoSharesAreNotEnough) {
  for (size_t a = 0; a < 5; ++a) {
    for (size_t b = a + 1; b < 5; ++b) {
      auto key = unlock(pick(shares_, {a, b}));
      ASSERT_FALSE(key);
      EXPECT_EQ(key.error().kind(), ErrorKind::kInvalidArgument);
      EXPECT_NE(key.error().message().find("needs 3"), std::string::npos);
    }
  }
  // The same share three times is still one share.
  auto repeated = unlock(pick(shares_, {1, 1, 1}));
  ASSERT_FALSE(repeated);
  EXPECT_EQ(repeated.error().kind(), ErrorKind::kInvalidArgument);
}

TEST_F(RecoveryProtectorTest, FlippedCharacterIsCaughtByChecksum) {
  // A fixed share, so the test is deterministic (a 16-bit check misses 1 typo in 65536).
  RecoveryShare fixed{3, 1, 0x1234, testVolumeKey(9)};
  auto encoded = encodeRecoveryShare(fixed, testContext().volume_id_hex);
  ASSERT_TRUE(encoded);
  std::string original = text(*encoded);
  size_t caught = 0;
  for (size_t pos = 0; pos < original.size(); ++pos) {
    if (original[pos] == '-') continue;
    std::string typo = original;
    typo[pos] =
        typo[pos] == 'Z' ? 'Y' : (typo[pos] == '9' ? 'A' : static_cast<char>(typo[pos] + 1));
    if (typo[pos] == 'I' || typo[pos] == 'L' || typo[pos] == 'O' || typo[pos] == 'U') ++typo[pos];
    auto decoded = decodeRecoveryShare(typo, testContext().volume_id_hex);
    ASSERT_FALSE(decoded) << "typo at " << pos << " not caught";
    EXPECT_EQ(decoded.error().kind(), ErrorKind::kInvalidArgument);
    ++caught;
  }
  EXPECT_EQ(caught, 64u);
  original = text(shares_[0]);
  std::vector<SecureBuffer> texts = pick(shares_, {1, 2});
  std::string typo = original;
  typo[0] = typo[0] == '0' ? '1' : '0';
  texts.emplace_back(asBytes(typo));
  auto key = unlock(std::move(texts));
  ASSERT_FALSE(key);
  EXPECT_EQ(key.error().kind(), ErrorKind::kInvalidArgument);
  EXPECT_NE(key.error().message().find("share 3 given"), std::string::npos)
      << key.error().message();
}

TEST_F(RecoveryProtectorTest, DecodingForgivesCaseDashesAndLookalikes) {
  std::string t = text(shares_[2]);
  std::string relaxed;
  for (char c : t) {
    if (c == '-') {
      relaxed += ' ';
      continue;
    }
    char lower = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (c == '0') lower = 'o';
    if (c == '1') lower = 'l';
    relaxed += lower;
  }
  auto decoded = decodeRecoveryShare(relaxed, testContext().volume_id_hex);
  ASSERT_TRUE(decoded) << decoded.error().describe();
  EXPECT_EQ(decoded->index, 3);
  EXPECT_EQ(decoded->threshold, 3);
}

TEST_F(RecoveryProtectorTest, ShareOfAnotherVolumeIsRejected) {
  auto decoded = decodeRecoveryShare(text(shares_[0]), testing::otherVolume().volume_id_hex);
  ASSERT_FALSE(decoded);
  EXPECT_NE(decoded.error().message().find("another volume"), std::string::npos);
  // A whole share set of another volume fails at the first share.
  auto key = unlock(pick(shares_, {0, 1, 2}), testing::otherVolume());
  ASSERT_FALSE(key);
  EXPECT_EQ(key.error().kind(), ErrorKind::kInvalidArgument);
}

TEST_F(RecoveryProtectorTest, SharesOfAnOlderSetAreNamed) {
  RecoveryProtector maker(3, 5);
  auto newer = maker.wrap(testVolumeKey(), testContext());
  ASSERT_TRUE(newer);
  auto new_shares = maker.takeShares();
  auto mixed = pick(new_shares, {0, 1});
  mixed.push_back(shares_[2].clone());
  RecoveryProtector protector(sharesFromList(std::move(mixed)));
  auto key = protector.unwrap(*newer, testContext());
  if (newer->params.at("set") == wrapped_.params.at("set")) GTEST_SKIP() << "same random set id";
  ASSERT_FALSE(key);
  EXPECT_NE(key.error().message().find("another share set"), std::string::npos);
}

TEST_F(RecoveryProtectorTest, TamperedCopyAndWrongVersionAreDenied) {
  RecoveryProtector protector(sharesFromList(pick(shares_, {0, 2, 4})));
  auto tampered = protector.unwrap(testing::tampered(wrapped_, 33), testContext());
  ASSERT_FALSE(tampered);
  EXPECT_EQ(tampered.error().kind(), ErrorKind::kPermissionDenied);
  EXPECT_EQ(tampered.error().message(), "recovery shares do not unlock this volume");
  auto version = protector.unwrap(wrapped_, testing::otherVersion());
  ASSERT_FALSE(version);
  EXPECT_EQ(version.error().kind(), ErrorKind::kPermissionDenied);
  WrappedKey bad = wrapped_;
  bad.params["k"] = "x";
  auto corrupt = protector.unwrap(bad, testContext());
  ASSERT_FALSE(corrupt);
  EXPECT_EQ(corrupt.error().kind(), ErrorKind::kCorrupt);
}

TEST(RecoveryShareCodecTest, RoundTrip) {
  RecoveryShare share{2, 7, 0xBEEF, testVolumeKey(3)};
  auto encoded = encodeRecoveryShare(share, "abcd");
  ASSERT_TRUE(encoded);
  auto decoded = decodeRecoveryShare(asChars(encoded->span()), "abcd");
  ASSERT_TRUE(decoded) << decoded.error().describe();
  EXPECT_EQ(decoded->threshold, 2);
  EXPECT_EQ(decoded->index, 7);
  EXPECT_EQ(decoded->set_id, 0xBEEF);
  EXPECT_TRUE(decoded->value.equals(share.value));
  EXPECT_FALSE(decodeRecoveryShare("", "abcd"));
  EXPECT_FALSE(decodeRecoveryShare(std::string(asChars(encoded->span())) + "0", "abcd"));
  EXPECT_FALSE(decodeRecoveryShare("UUUU", "abcd"));
}

TEST(RecoveryProtectorArgsTest, BadCountsAndNoSource) {
  EXPECT_FALSE(RecoveryProtector(0, 5).wrap(testVolumeKey(), testContext()));
  EXPECT_FALSE(RecoveryProtector(6, 5).wrap(testVolumeKey(), testContext()));
  RecoveryProtector maker(1, 1);
  auto wrapped = maker.wrap(testVolumeKey(), testContext());
  ASSERT_TRUE(wrapped);
  auto result = maker.unwrap(*wrapped, testContext());
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind(), ErrorKind::kInvalidArgument);
}

TEST(RecoveryShareSourceTest, FileSkipsBlankAndCommentLines) {
  testing::TempDir dir;
  RecoveryProtector maker(2, 3);
  auto wrapped = maker.wrap(testVolumeKey(), testContext());
  ASSERT_TRUE(wrapped);
  auto shares = maker.takeShares();
  std::string content =
      "# recovery shares\n\n" + text(shares[0]) + "\r\n  " + text(shares[2]) + "\n";
  RecoveryProtector protector(sharesFromFile(dir.write("shares.txt", content)));
  auto key = protector.unwrap(*wrapped, testContext());
  ASSERT_TRUE(key) << key.error().describe();
  EXPECT_TRUE(key->equals(testVolumeKey()));
}

}  // namespace
}  // namespace s3cryptfs::keys
