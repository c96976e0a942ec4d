#include "s3cryptfs/format/attributes.h"

#include <gtest/gtest.h>

#include "s3cryptfs/format/chunk_codec.h"

#include "format_test_support.h"

namespace s3cryptfs::format {
namespace {
using testing::DeterministicRandom;
using testing::testKeys;
using testing::testRing;

Attributes sampleFile() {
  Attributes a;
  a.kind = NodeKind::kFile;
  a.mode = 0100644;
  a.uid = 1000;
  a.gid = 100;
  a.atime_ns = 1700000000123456789;
  a.mtime_ns = -5;  // before the epoch is legal
  a.ctime_ns = 1700000000000000000;
  a.size = 200000;
  a.content_key_version = 1;
  for (size_t i = 0; i < a.file_id.size(); ++i)
    a.file_id[i] = static_cast<uint8_t>(i);
  a.xattrs["user.comment"] = toBytes("hello");
  a.xattrs["user.empty"] = {};
  return a;
}

TEST(AttributesTest, SerialisationRoundTripsAndIsCompact) {
  Attributes a = sampleFile();
  auto bytes = encodeAttributes(a);
  ASSERT_TRUE(bytes);
  EXPECT_LT(bytes->size(), 100u);
  auto back = decodeAttributes(*bytes);
  ASSERT_TRUE(back) << back.error().describe();
  EXPECT_EQ(*back, a);
  Attributes link;
  link.kind = NodeKind::kSymlink;
  link.mode = 0120777;
  link.content_key_version = 2;
  link.symlink_target = "../target";
  EXPECT_EQ(*decodeAttributes(*encodeAttributes(link)), link);
  Attributes dir;
  dir.kind = NodeKind::kDirectory;
  dir.mode = 040755;
  EXPECT_EQ(*decodeAttributes(*encodeAttributes(dir)), dir);
}

TEST(AttributesTest, DecodeIsStrict) {
  Bytes good = *encodeAttributes(sampleFile());
  Bytes longer = good;
  longer.push_back(0);
  EXPECT_EQ(decodeAttributes(longer).error().kind(), ErrorKind::kCorrupt);
  for (size_t cut = 0; cut < good.size(); ++cut)
    EXPECT_FALSE(decodeAttributes(ByteSpan(good).first(cut))) << cut;
  Bytes bad_kind = good;
  bad_kind[1] = 9;
  EXPECT_FALSE(decodeAttributes(bad_kind));
  // An overlong varint (mode 0x1a4 written in three bytes) is refused.
  Bytes overlong = {1, 1, 0xa4, 0x83, 0x00};
  EXPECT_FALSE(decodeAttributes(overlong));
  Attributes bad = sampleFile();
  bad.symlink_target = "x";
  EXPECT_EQ(encodeAttributes(bad).error().kind(), ErrorKind::kInvalidArgument);
}

TEST(AttributesTest, SealedBlockOpensOnlyUnderItsObjectKey) {
  VolumeKeys keys = testKeys();
  KeyRing ring = testRing();
  Attributes a = sampleFile();
  auto text = sealAttributesText(keys, crypto::Cipher::kAes256Gcm, "dir/file", a);
  ASSERT_TRUE(text);
  EXPECT_TRUE(fitsInMetadata(*text));
  auto opened = openAttributesText(ring, "dir/file", *text);
  ASSERT_TRUE(opened) << opened.error().describe();
  EXPECT_EQ(*opened, a);
  auto moved = openAttributesText(ring, "dir/other", *text);
  ASSERT_FALSE(moved);
  EXPECT_EQ(moved.error().kind(), ErrorKind::kCorrupt);
  EXPECT_NE(moved.error().message().find("another object key"), std::string::npos);
  EXPECT_EQ(openAttributesText(testRing(1, 9), "dir/file", *text).error().kind(),
            ErrorKind::kCorrupt);
  EXPECT_EQ(openAttributesText(testRing(2), "dir/file", *text).error().kind(), ErrorKind::kCorrupt);
  // Every bit of the sealed block is covered.
  Bytes sealed = *sealAttributes(keys, crypto::Cipher::kChaCha20Poly1305, "k", a);
  for (size_t bit = 0; bit < sealed.size() * 8; ++bit) {
    Bytes flipped = sealed;
    flipped[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    auto r = openAttributes(ring, "k", flipped);
    ASSERT_FALSE(r) << bit;
    ASSERT_TRUE(r.error().kind() == ErrorKind::kCorrupt ||
                r.error().kind() == ErrorKind::kUnsupported)
        << bit;
  }
}

TEST(AttributesTest, OverflowRule) {
  VolumeKeys keys = testKeys();
  Attributes a = sampleFile();
  a.xattrs["user.big"] = Bytes(1400, 7);
  auto text = sealAttributesText(keys, crypto::Cipher::kAes256Gcm, "k", a);
  ASSERT_TRUE(text);
  EXPECT_FALSE(fitsInMetadata(*text));
  EXPECT_EQ(*openAttributesText(testRing(), "k", *text), a);
}

TEST(AttributesTest, ContentBinding) {
  VolumeKeys keys = testKeys();
  auto cipher =
      FileCipher::createNew(keys, crypto::Cipher::kAes256Gcm, *ChunkLayout::create(65536));
  ASSERT_TRUE(cipher);
  Attributes a = sampleFile();
  a.file_id = cipher->header().file_id;
  uint64_t size = cipher->layout().cipherSize(a.size);
  EXPECT_TRUE(checkContentBinding(a, cipher->header(), size));
  EXPECT_FALSE(checkContentBinding(a, cipher->header(), size - 1));
  Attributes other = a;
  other.file_id[0] ^= 1;
  EXPECT_EQ(checkContentBinding(other, cipher->header(), size).error().kind(), ErrorKind::kCorrupt);
  other = a;
  other.content_key_version = 2;
  EXPECT_FALSE(checkContentBinding(other, cipher->header(), size));
}

}  // namespace
}  // namespace s3cryptfs::format
