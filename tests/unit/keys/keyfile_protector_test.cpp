#include "s3cryptfs/keys/keyfile_protector.h"

#include <sys/stat.h>

#include <gtest/gtest.h>

#include "unit/keys/keys_test_support.h"

namespace s3cryptfs::keys {
namespace {

using testing::TempDir;
using testing::testContext;
using testing::testVolumeKey;

TEST(KeyFileTest, GenerateCreatesPrivateBase64FileAndRefusesOverwrite) {
  TempDir dir;
  std::string path = dir.file("volume.key");
  ASSERT_TRUE(generateKeyFile(path));
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto key = readKeyFile(path);
  ASSERT_TRUE(key) << key.error().describe();
  EXPECT_EQ(key->size(), kKeyFileKeySize);

  auto again = generateKeyFile(path);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().kind(), ErrorKind::kAlreadyExists);
  auto still = readKeyFile(path);
  ASSERT_TRUE(still);
  EXPECT_TRUE(still->equals(*key));  // untouched
}

TEST(KeyFileTest, GenerateDoesNotFollowSymlinks) {
  TempDir dir;
  std::string target = dir.file("target");
  std::string link = dir.file("link");
  ASSERT_EQ(::symlink(target.c_str(), link.c_str()), 0);
  EXPECT_FALSE(generateKeyFile(link));
  struct stat st {};
  EXPECT_NE(::stat(target.c_str(), &st), 0);
}

TEST(KeyFileTest, ReadsRawAndBase64Forms) {
  TempDir dir;
  SecureBuffer key = testVolumeKey(0x42);
  std::string raw(reinterpret_cast<const char*>(key.data()), key.size());
  auto from_raw = readKeyFile(dir.write("raw.key", raw));
  ASSERT_TRUE(from_raw) << from_raw.error().describe();
  EXPECT_TRUE(from_raw->equals(key));

  auto from_text = readKeyFile(dir.write("text.key", toBase64(key.span()) + "\n"));
  ASSERT_TRUE(from_text) << from_text.error().describe();
  EXPECT_TRUE(from_text->equals(key));

  auto no_newline = readKeyFile(dir.write("text2.key", toBase64(key.span())));
  ASSERT_TRUE(no_newline);
  EXPECT_TRUE(no_newline->equals(key));
}

TEST(KeyFileTest, RejectsWrongContentAndMissingFile) {
  TempDir dir;
  auto short_key = readKeyFile(dir.write("short.key", "abc"));
  ASSERT_FALSE(short_key);
  EXPECT_EQ(short_key.error().kind(), ErrorKind::kInvalidArgument);
  auto wrong_length =
      readKeyFile(dir.write("b64.key", toBase64(toBytes("sixteen bytes!!!")) + "\n"));
  ASSERT_FALSE(wrong_length);
  EXPECT_EQ(wrong_length.error().kind(), ErrorKind::kInvalidArgument);
  auto missing = readKeyFile(dir.file("absent.key"));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind(), ErrorKind::kNotFound);
}

TEST(KeyFileTest, GroupReadableFileIsAcceptedWithAWarning) {
  TempDir dir;
  SecureBuffer key = testVolumeKey();
  auto read = readKeyFile(dir.write("open.key", toBase64(key.span()), 0644));
  ASSERT_TRUE(read);
  EXPECT_TRUE(read->equals(key));
}

class KeyFileProtectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.file("volume.key");
    ASSERT_TRUE(generateKeyFile(path_));
  }
  TempDir dir_;
  std::string path_;
};

TEST_F(KeyFileProtectorTest, RoundTrip) {
  KeyFileProtector protector(path_);
  SecureBuffer volume_key = testVolumeKey();
  auto wrapped = protector.wrap(volume_key, testContext());
  ASSERT_TRUE(wrapped) << wrapped.error().describe();
  EXPECT_EQ(wrapped->type, "keyfile");
  EXPECT_EQ(wrapped->wrapped.size(), 60u);
  auto unwrapped = protector.unwrap(*wrapped, testContext());
  ASSERT_TRUE(unwrapped) << unwrapped.error().describe();
  EXPECT_TRUE(unwrapped->equals(volume_key));
}

TEST_F(KeyFileProtectorTest, WrongKeyFileIsPermissionDenied) {
  KeyFileProtector protector(path_);
  auto wrapped = protector.wrap(testVolumeKey(), testContext());
  ASSERT_TRUE(wrapped);
  std::string other = dir_.file("other.key");
  ASSERT_TRUE(generateKeyFile(other));
  auto result = KeyFileProtector(other).unwrap(*wrapped, testContext());
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind(), ErrorKind::kPermissionDenied);
  EXPECT_EQ(result.error().message(), "key file does not unlock this volume");
}

TEST_F(KeyFileProtectorTest, TamperedBytesAndWrongContextAreDenied) {
  KeyFileProtector protector(path_);
  auto wrapped = protector.wrap(testVolumeKey(), testContext());
  ASSERT_TRUE(wrapped);
  for (size_t pos : {0u, 12u, 30u, 59u}) {
    auto result = protector.unwrap(testing::tampered(*wrapped, pos), testContext());
    ASSERT_FALSE(result) << pos;
    EXPECT_EQ(result.error().kind(), ErrorKind::kPermissionDenied);
  }
  for (const auto& context : {testing::otherVolume(), testing::otherVersion()}) {
    auto result = protector.unwrap(*wrapped, context);
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().kind(), ErrorKind::kPermissionDenied);
  }
}

TEST_F(KeyFileProtectorTest, MalformedCopyIsCorrupt) {
  KeyFileProtector protector(path_);
  auto wrapped = protector.wrap(testVolumeKey(), testContext());
  ASSERT_TRUE(wrapped);
  WrappedKey truncated = *wrapped;
  truncated.wrapped.resize(20);
  auto result = protector.unwrap(truncated, testContext());
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind(), ErrorKind::kCorrupt);
  WrappedKey bad_kdf = *wrapped;
  bad_kdf.params["kdf"] = "md5";
  result = protector.unwrap(bad_kdf, testContext());
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind(), ErrorKind::kCorrupt);
  WrappedKey other_type = *wrapped;
  other_type.type = "passphrase";
  EXPECT_FALSE(protector.unwrap(other_type, testContext()));
}

TEST_F(KeyFileProtectorTest, FromKeyMatchesFile) {
  auto file_key = readKeyFile(path_);
  ASSERT_TRUE(file_key);
  auto in_memory = KeyFileProtector::fromKey(std::move(*file_key));
  ASSERT_TRUE(in_memory);
  auto wrapped = in_memory->wrap(testVolumeKey(), testContext());
  ASSERT_TRUE(wrapped);
  auto unwrapped = KeyFileProtector(path_).unwrap(*wrapped, testContext());
  ASSERT_TRUE(unwrapped);
  EXPECT_TRUE(unwrapped->equals(testVolumeKey()));
  EXPECT_FALSE(KeyFileProtector::fromKey(SecureBuffer(16)));
}

TEST_F(KeyFileProtectorTest, RejectsVolumeKeyOfWrongSize) {
  auto wrapped = KeyFileProtector(path_).wrap(SecureBuffer(16), testContext());
  ASSERT_FALSE(wrapped);
  EXPECT_EQ(wrapped.error().kind(), ErrorKind::kInvalidArgument);
}

TEST(KeyProtectorTest, LocalProtectorsCannotRewrap) {
  testing::TempDir dir;
  std::string path = dir.file("k");
  ASSERT_TRUE(generateKeyFile(path));
  KeyFileProtector protector(path);
  auto wrapped = protector.wrap(testing::testVolumeKey(), testing::testContext());
  ASSERT_TRUE(wrapped);
  auto rewrapped = protector.rewrap(*wrapped, testing::testContext());
  ASSERT_FALSE(rewrapped);
  EXPECT_EQ(rewrapped.error().kind(), ErrorKind::kUnsupported);
  EXPECT_NE(rewrapped.error().message().find("add a new protector"), std::string::npos);
}

}  // namespace
}  // namespace s3cryptfs::keys
