#include "s3cryptfs/format/key_hierarchy.h"

#include <set>

#include <gtest/gtest.h>

#include "s3cryptfs/crypto/kdf.h"

#include "format_test_support.h"

namespace s3cryptfs::format {
namespace {
using testing::hexOf;
using testing::testKeys;
using testing::testVolumeKey;

TEST(KeyHierarchyTest, SubkeysHaveTheirSizesAndAreAllDifferent) {
  VolumeKeys keys = testKeys();
  EXPECT_EQ(keys.version(), 1u);
  EXPECT_EQ(keys.contentKey().size(), 32u);
  EXPECT_EQ(keys.nameKey().size(), 64u);
  EXPECT_EQ(keys.metadataKey().size(), 32u);
  EXPECT_EQ(keys.descriptorMacKey().size(), 32u);
  EXPECT_EQ(keys.keyArchiveKey().size(), 32u);
  std::set<std::string> seen = {hexOf(keys.volumeKey()),
                                hexOf(keys.contentKey()),
                                hexOf(keys.nameKey()).substr(0, 64),
                                hexOf(keys.metadataKey()),
                                hexOf(keys.descriptorMacKey()),
                                hexOf(keys.keyArchiveKey())};
  EXPECT_EQ(seen.size(), 6u);
}

TEST(KeyHierarchyTest, SubkeysAreHkdfWithTheDocumentedLabels) {
  VolumeKeys keys = testKeys();
  auto expected = crypto::hkdfSha256(testVolumeKey(), {}, asBytes(kContentKeyLabel), 32);
  ASSERT_TRUE(expected);
  EXPECT_TRUE(keys.contentKey().equals(*expected));
  FileId id{};
  id[0] = 1;
  auto file_key = keys.fileKey(id);
  ASSERT_TRUE(file_key);
  auto direct = crypto::hkdfSha256(keys.contentKey(), id, asBytes(kFileKeyLabel), 32);
  EXPECT_TRUE(file_key->equals(*direct));
}

TEST(KeyHierarchyTest, FileKeysAndCommitmentsDifferPerFileAndPerVolumeKey) {
  VolumeKeys a = testKeys(1, 0);
  VolumeKeys b = testKeys(1, 1);
  FileId id1{};
  FileId id2{};
  id2[15] = 1;
  auto k1 = *a.fileKey(id1);
  auto k2 = *a.fileKey(id2);
  auto k3 = *b.fileKey(id1);
  EXPECT_FALSE(k1.equals(k2));
  EXPECT_FALSE(k1.equals(k3));
  auto c1 = *keyCommitment(k1);
  auto c2 = *keyCommitment(k2);
  EXPECT_NE(c1, c2);
  EXPECT_EQ(c1, *keyCommitment(*a.fileKey(id1)));
  // The commitment is not the key.
  EXPECT_NE(toHex(c1), hexOf(k1));
}

TEST(KeyHierarchyTest, RejectsBadVolumeKeysAndVersionZero) {
  EXPECT_EQ(VolumeKeys::derive(1, SecureBuffer(16)).error().kind(), ErrorKind::kInvalidArgument);
  EXPECT_EQ(VolumeKeys::derive(0, testVolumeKey()).error().kind(), ErrorKind::kInvalidArgument);
}

TEST(KeyHierarchyTest, KeyRingFindsByVersion) {
  KeyRing ring;
  EXPECT_EQ(ring.newest(), nullptr);
  ASSERT_TRUE(ring.add(testKeys(1, 0)));
  ASSERT_TRUE(ring.add(testKeys(3, 5)));
  EXPECT_EQ(ring.add(testKeys(3, 5)).error().kind(), ErrorKind::kAlreadyExists);
  EXPECT_EQ(ring.newest()->version(), 3u);
  ASSERT_TRUE(ring.find(1));
  EXPECT_EQ((*ring.find(1))->version(), 1u);
  EXPECT_EQ(ring.find(2).error().kind(), ErrorKind::kNotFound);
}

}  // namespace
}  // namespace s3cryptfs::format
