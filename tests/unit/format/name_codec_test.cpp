#include "s3cryptfs/format/name_codec.h"

#include <gtest/gtest.h>

#include "format_test_support.h"

namespace s3cryptfs::format {
namespace {
using testing::testKeys;

NameCodec encryptedCodec(uint8_t key_offset = 0) {
  return NameCodec::encrypted(testKeys(1, key_offset));
}

bool isBase64Url(std::string_view s) {
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
  return true;
}

TEST(NameCodecTest, RoundTripsEveryLengthAndIsDeterministic) {
  NameCodec codec = encryptedCodec();
  for (size_t len = 1; len <= kMaxNameBytes; ++len) {
    std::string name(len, 'a');
    name[0] = static_cast<char>(0x80);  // not the padding marker's business
    name[len - 1] = static_cast<char>(0x80);
    auto enc = codec.encodeName("/some/dir", name);
    ASSERT_TRUE(enc) << enc.error().describe();
    EXPECT_TRUE(isBase64Url(*enc));
    // 16-byte tag + name padded to a multiple of 16, in unpadded base64url.
    size_t sealed = 16 + (len / 16 + 1) * 16;
    EXPECT_EQ(enc->size(), (sealed * 4 + 2) / 3) << len;
    EXPECT_EQ(*codec.encodeName("/some/dir", name), *enc);
    auto dec = codec.decodeName("/some/dir", *enc);
    ASSERT_TRUE(dec) << dec.error().describe();
    EXPECT_EQ(*dec, name);
  }
  EXPECT_EQ(codec.encodeName("/", std::string(255, 'x'))->size(), 363u);
}

TEST(NameCodecTest, EqualNamesDifferUnderDifferentParentsAndKeys) {
  NameCodec codec = encryptedCodec();
  auto a = *codec.encodeName("/a", "report.pdf");
  auto b = *codec.encodeName("/b", "report.pdf");
  auto c = *encryptedCodec(1).encodeName("/a", "report.pdf");
  EXPECT_NE(a, b);
  EXPECT_NE(a, c);
  // Moving an encrypted name under another directory does not decode.
  EXPECT_EQ(codec.decodeName("/b", a).error().kind(), ErrorKind::kCorrupt);
}

TEST(NameCodecTest, ForeignAndDamagedNamesAreCorrupt) {
  NameCodec codec = encryptedCodec();
  std::string good = *codec.encodeName("/", "hello");
  for (std::string bad :
       {std::string("hello.txt"), std::string(".s3cryptfs.dir"), std::string("AAAA"),
        good.substr(1), good + "A", good.substr(0, good.size() - 1) + "B", std::string("a=b"),
        std::string(43, 'A')}) {
    auto r = codec.decodeName("/", bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().kind(), ErrorKind::kCorrupt) << bad;
  }
  // Flip each character: never decodes (possibly to an equal name under a non-canonical form).
  for (size_t i = 0; i < good.size(); ++i) {
    std::string s = good;
    s[i] = s[i] == 'A' ? 'B' : 'A';
    EXPECT_FALSE(codec.decodeName("/", s)) << i;
  }
}

TEST(NameCodecTest, InvalidAndTooLongNames) {
  NameCodec codec = encryptedCodec();
  EXPECT_EQ(codec.encodeName("/", std::string(256, 'x')).error().kind(), ErrorKind::kNameTooLong);
  for (std::string bad : {std::string(""), std::string("."), std::string(".."), std::string("a/b"),
                          std::string("a\0b", 3)})
    EXPECT_EQ(codec.encodeName("/", bad).error().kind(), ErrorKind::kInvalidArgument);
  for (std::string bad_parent : {"", "a", "/a/", "//", "/a//b", "/a/./b", "/.."})
    EXPECT_EQ(codec.encodeName(bad_parent, "x").error().kind(), ErrorKind::kInvalidArgument)
        << bad_parent;
}

TEST(NameCodecTest, ObjectKeysJoinComponentsAndEnforceTheKeyLimit) {
  NameCodec codec = encryptedCodec();
  auto key = codec.objectKey("vol/", "/a/b/c");
  ASSERT_TRUE(key);
  std::string expected = "vol/" + *codec.encodeName("/", "a") + "/" + *codec.encodeName("/a", "b") +
                         "/" + *codec.encodeName("/a/b", "c");
  EXPECT_EQ(*key, expected);
  EXPECT_EQ(*codec.directoryPrefix("vol/", "/a/b"),
            "vol/" + *codec.encodeName("/", "a") + "/" + *codec.encodeName("/a", "b") + "/");
  EXPECT_EQ(*codec.directoryPrefix("vol/", "/"), "vol/");
  EXPECT_EQ(*codec.directoryMarkerKey("vol/", "/"), "vol/.s3cryptfs.dir");
  EXPECT_EQ(*codec.directoryMarkerKey("", "/a"), *codec.encodeName("/", "a") + "/.s3cryptfs.dir");
  EXPECT_EQ(codec.objectKey("vol", "/a").error().kind(), ErrorKind::kInvalidArgument);
  EXPECT_EQ(codec.objectKey("vol/", "/").error().kind(), ErrorKind::kInvalidArgument);
  // FORMAT.md §5.3: two 255-byte components fit (2 * 363 + 1), three do not.
  std::string n(255, 'n');
  EXPECT_TRUE(codec.objectKey("", "/" + n + "/" + n));
  EXPECT_EQ(codec.objectKey("", "/" + n + "/" + n + "/" + n).error().kind(),
            ErrorKind::kNameTooLong);
  // 23 names of up to 15 bytes (43 characters each) fit; 24 do not.
  std::string deep;
  for (int i = 0; i < 23; ++i)
    deep += "/" + std::string(15, 'd');
  EXPECT_EQ(codec.objectKey("", deep)->size(), 23u * 44 - 1);
  EXPECT_EQ(codec.objectKey("", deep + "/d").error().kind(), ErrorKind::kNameTooLong);
  EXPECT_TRUE(checkObjectKeyLength(std::string(1024, 'k')));
  EXPECT_EQ(checkObjectKeyLength(std::string(1025, 'k')).error().kind(), ErrorKind::kNameTooLong);
}

TEST(NameCodecTest, PlaintextModeKeepsNamesAndRefusesReservedOnes) {
  NameCodec codec = NameCodec::plaintext();
  EXPECT_EQ(*codec.encodeName("/", "hello.txt"), "hello.txt");
  EXPECT_EQ(*codec.decodeName("/", "hello.txt"), "hello.txt");
  EXPECT_EQ(*codec.objectKey("p/", "/a/b.txt"), "p/a/b.txt");
  EXPECT_EQ(codec.encodeName("/", ".s3cryptfs.volume").error().kind(), ErrorKind::kInvalidArgument);
  EXPECT_EQ(codec.decodeName("/", ".s3cryptfs.dir").error().kind(), ErrorKind::kCorrupt);
  EXPECT_TRUE(codec.encodeName("/", ".s3cryptf"));
}

TEST(NameCodecTest, ReservedKeys) {
  EXPECT_EQ(volumeDescriptorKey("vol/"), "vol/.s3cryptfs.volume");
  EXPECT_TRUE(isReservedName(".s3cryptfs.dir"));
  EXPECT_FALSE(isReservedName("s3cryptfs.dir"));
  std::string sidecar = attributeSidecarKey("vol/", "abc/def");
  EXPECT_EQ(sidecar.rfind("vol/.s3cryptfs.attr/", 0), 0u);
  EXPECT_EQ(sidecar.size(), std::string("vol/.s3cryptfs.attr/").size() + 64);
}

}  // namespace
}  // namespace s3cryptfs::format
