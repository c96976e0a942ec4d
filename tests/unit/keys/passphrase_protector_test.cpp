#include "s3cryptfs/keys/passphrase_protector.h"

#include <cstdlib>

#include <gtest/gtest.h>

#include "unit/keys/keys_test_support.h"

namespace s3cryptfs::keys {
namespace {

using testing::TempDir;
using testing::testContext;
using testing::testVolumeKey;

PassphraseProtector cheap(std::string_view passphrase) {
  return PassphraseProtector(fixedPassphrase(SecureBuffer(asBytes(passphrase))),
                             PassphraseProtector::testOnlyCost());
}

TEST(PassphraseProtectorTest, RoundTripStoresScryptParams) {
  auto protector = cheap("correct horse battery staple");
  auto wrapped = protector.wrap(testVolumeKey(), testContext());
  ASSERT_TRUE(wrapped) << wrapped.error().describe();
  EXPECT_EQ(wrapped->type, "passphrase");
  EXPECT_EQ(wrapped->params.at("kdf"), "scrypt");
  EXPECT_EQ(wrapped->params.at("n"), "1024");
  EXPECT_EQ(wrapped->params.at("r"), "8");
  EXPECT_EQ(wrapped->params.at("p"), "1");
  Bytes salt;
  ASSERT_TRUE(fromBase64(wrapped->params.at("salt"), salt));
  EXPECT_EQ(salt.size(), 16u);
  auto unwrapped = protector.unwrap(*wrapped, testContext());
  ASSERT_TRUE(unwrapped) << unwrapped.error().describe();
  EXPECT_TRUE(unwrapped->equals(testVolumeKey()));
}

TEST(PassphraseProtectorTest, DefaultCostIsStrong) {
  PassphraseProtector protector(fixedPassphrase(SecureBuffer(asBytes("pw"))));
  auto wrapped = protector.wrap(testVolumeKey(), testContext());
  ASSERT_TRUE(wrapped) << wrapped.error().describe();
  EXPECT_EQ(wrapped->params.at("n"), "131072");
  EXPECT_EQ(wrapped->params.at("r"), "8");
  EXPECT_EQ(wrapped->params.at("p"), "1");
}

TEST(PassphraseProtectorTest, WrongPassphraseTamperAndContextAreDenied) {
  auto wrapped = cheap("right").wrap(testVolumeKey(), testContext());
  ASSERT_TRUE(wrapped);
  auto wrong = cheap("wrong").unwrap(*wrapped, testContext());
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().kind(), ErrorKind::kPermissionDenied);
  EXPECT_EQ(wrong.error().message(), "passphrase does not unlock this volume");
  auto tampered = cheap("right").unwrap(testing::tampered(*wrapped, 20), testContext());
  ASSERT_FALSE(tampered);
  EXPECT_EQ(tampered.error().kind(), ErrorKind::kPermissionDenied);
  auto other = cheap("right").unwrap(*wrapped, testing::otherVersion());
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().kind(), ErrorKind::kPermissionDenied);
  // Changing the stored cost changes the derived key: denied, not a crash.
  WrappedKey changed_salt = *wrapped;
  changed_salt.params["salt"] = toBase64(toBytes("another salt 16b"));
  auto salted = cheap("right").unwrap(changed_salt, testContext());
  ASSERT_FALSE(salted);
  EXPECT_EQ(salted.error().kind(), ErrorKind::kPermissionDenied);
}

TEST(PassphraseProtectorTest, MalformedParamsAreCorrupt) {
  auto wrapped = cheap("pw").wrap(testVolumeKey(), testContext());
  ASSERT_TRUE(wrapped);
  std::vector<std::pair<std::string, std::string>> edits = {
      {"n", "1000"}, {"n", "abc"},   {"n", "0"},       {"n", ""},          {"r", "0"},
      {"p", "999"},  {"salt", "!!"}, {"kdf", "argon"}, {"n", "1048576000"}};
  for (const auto& [name, value] : edits) {
    WrappedKey bad = *wrapped;
    bad.params[name] = value;
    auto result = cheap("pw").unwrap(bad, testContext());
    ASSERT_FALSE(result) << name << "=" << value;
    EXPECT_EQ(result.error().kind(), ErrorKind::kCorrupt) << name << "=" << value;
  }
  WrappedKey missing = *wrapped;
  missing.params.erase("salt");
  auto result = cheap("pw").unwrap(missing, testContext());
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind(), ErrorKind::kCorrupt);
}

TEST(PassphraseSourceTest, FileGivesFirstLineWithoutLineEnding) {
  TempDir dir;
  auto unix_file = filePassphrase(dir.write("pw", "first line\nsecond\n"));
  auto read = unix_file->read(true);
  ASSERT_TRUE(read);
  EXPECT_EQ(asChars(read->span()), "first line");
  auto dos_file = filePassphrase(dir.write("pw2", "dos line\r\n"));
  read = dos_file->read(false);
  ASSERT_TRUE(read);
  EXPECT_EQ(asChars(read->span()), "dos line");
  auto no_newline = filePassphrase(dir.write("pw3", "bare"));
  read = no_newline->read(false);
  ASSERT_TRUE(read);
  EXPECT_EQ(asChars(read->span()), "bare");
  auto empty = filePassphrase(dir.write("pw4", "\n"));
  EXPECT_FALSE(empty->read(false));
  auto missing = filePassphrase(dir.file("absent"));
  auto error = missing->read(false);
  ASSERT_FALSE(error);
  EXPECT_EQ(error.error().kind(), ErrorKind::kNotFound);
}

TEST(PassphraseSourceTest, EnvironmentVariable) {
  ::setenv("S3C_KEYS_TEST_PASSPHRASE", "from the environment", 1);
  auto source = envPassphrase("S3C_KEYS_TEST_PASSPHRASE");
  auto read = source->read(false);
  ASSERT_TRUE(read);
  EXPECT_EQ(asChars(read->span()), "from the environment");
  EXPECT_EQ(source->describe(), "environment variable S3C_KEYS_TEST_PASSPHRASE");
  ::unsetenv("S3C_KEYS_TEST_PASSPHRASE");
  auto unset = source->read(false);
  ASSERT_FALSE(unset);
  EXPECT_EQ(unset.error().kind(), ErrorKind::kNotFound);
}

TEST(PassphraseSourceTest, FileSourceWorksWithProtector) {
  TempDir dir;
  std::string path = dir.write("pw", "file passphrase\n");
  PassphraseProtector protector(filePassphrase(path), PassphraseProtector::testOnlyCost());
  auto wrapped = protector.wrap(testVolumeKey(), testContext());
  ASSERT_TRUE(wrapped);
  auto unwrapped = cheap("file passphrase").unwrap(*wrapped, testContext());
  ASSERT_TRUE(unwrapped) << unwrapped.error().describe();
  EXPECT_TRUE(unwrapped->equals(testVolumeKey()));
}

}  // namespace
}  // namespace s3cryptfs::keys
