#include "s3cryptfs/format/volume_descriptor.h"

#include <gtest/gtest.h>

#include "format_test_support.h"

namespace s3cryptfs::format {
namespace {
using testing::DeterministicRandom;
using testing::testKeys;
using testing::testVolumeKey;

VolumeDescriptor sampleDescriptor() {
  VolumeDescriptor d;
  d.cipher = crypto::Cipher::kAes256Gcm;
  d.chunk_size = kDefaultChunkSize;
  d.name_mode = NameMode::kEncrypted;
  for (size_t i = 0; i < d.volume_id.size(); ++i)
    d.volume_id[i] = static_cast<uint8_t>(0x40 + i);
  d.created_unix_seconds = 1763880000;
  d.name_key_version = 1;
  KeyVersionEntry v1;
  v1.version = 1;
  v1.created_unix_seconds = 1763880000;
  v1.slots.push_back({"main",
                      "passphrase",
                      {{"n", "131072"}, {"p", "1"}, {"r", "8"}, {"salt", "c2FsdA"}},
                      Bytes(60, 0x11)});
  v1.slots.push_back({"backup", "keyfile", {}, Bytes(60, 0x22)});
  d.key_versions.push_back(v1);
  return d;
}

TEST(VolumeDescriptorTest, RoundTripsAndVerifies) {
  VolumeKeys keys = testKeys();
  VolumeDescriptor d = sampleDescriptor();
  auto encoded = encodeVolumeDescriptor(d, keys);
  ASSERT_TRUE(encoded) << encoded.error().describe();
  auto decoded = decodeVolumeDescriptor(*encoded);
  ASSERT_TRUE(decoded) << decoded.error().describe();
  EXPECT_EQ(*decoded, d);
  EXPECT_TRUE(verifyVolumeDescriptor(*encoded, keys));
  EXPECT_EQ(verifyVolumeDescriptor(*encoded, testKeys(1, 1)).error().kind(), ErrorKind::kCorrupt);
  EXPECT_EQ(*encodeVolumeDescriptor(*decoded, keys), *encoded);  // canonical
}

TEST(VolumeDescriptorTest, RotateArchivesOlderKeysUnderTheNewest) {
  VolumeKeys k1 = testKeys(1, 0);
  KeyRing ring;
  ASSERT_TRUE(ring.add(k1.clone()));
  DeterministicRandom random("rotate");
  VolumeDescriptor d1 = sampleDescriptor();
  auto d2 = addKeyVersion(d1, ring, testVolumeKey(50), {{"main", "passphrase", {}, Bytes(60, 3)}},
                          1763890000, random);
  ASSERT_TRUE(d2) << d2.error().describe();
  ASSERT_EQ(d2->key_versions.size(), 2u);
  EXPECT_TRUE(d2->key_versions[0].slots.empty());
  EXPECT_EQ(d2->key_versions[0].archived_key.size(), 60u);
  EXPECT_EQ(d2->newest().version, 2u);
  EXPECT_EQ(d2->name_key_version, 1u);
  VolumeKeys k2 = testKeys(2, 50);
  auto encoded = encodeVolumeDescriptor(*d2, k2);
  ASSERT_TRUE(encoded);
  EXPECT_TRUE(verifyVolumeDescriptor(*encoded, k2));
  // The old key cannot vouch for the new descriptor.
  EXPECT_FALSE(encodeVolumeDescriptor(*d2, k1));
  auto unlocked = unlockKeyRing(*decodeVolumeDescriptor(*encoded), testVolumeKey(50));
  ASSERT_TRUE(unlocked) << unlocked.error().describe();
  EXPECT_TRUE((*unlocked->find(1))->volumeKey().equals(testVolumeKey(0)));
  EXPECT_TRUE((*unlocked->find(2))->volumeKey().equals(testVolumeKey(50)));
  // And once more: version 1 is re-archived under version 3.
  auto d3 = addKeyVersion(*d2, *unlocked, testVolumeKey(90),
                          {{"kms", "awskms", {{"key", "arn"}}, Bytes(9, 4)}}, 1763900000, random);
  ASSERT_TRUE(d3);
  auto ring3 = unlockKeyRing(*d3, testVolumeKey(90));
  ASSERT_TRUE(ring3);
  EXPECT_TRUE((*ring3->find(1))->volumeKey().equals(testVolumeKey(0)));
  EXPECT_TRUE((*ring3->find(2))->volumeKey().equals(testVolumeKey(50)));
  // A wrong newest key does not open the archive.
  EXPECT_EQ(unlockKeyRing(*d3, testVolumeKey(91)).error().kind(), ErrorKind::kCorrupt);
}

TEST(VolumeDescriptorTest, SlotEditing) {
  VolumeDescriptor d = sampleDescriptor();
  EXPECT_TRUE(replaceSlot(d, {"main", "passphrase", {{"n", "1024"}}, Bytes(60, 9)}));
  EXPECT_EQ(d.newest().slots[0].params.at("n"), "1024");
  EXPECT_EQ(replaceSlot(d, {"nope", "x", {}, Bytes(1)}).error().kind(), ErrorKind::kNotFound);
  EXPECT_EQ(addSlot(d, {"main", "x", {}, Bytes(1)}).error().kind(), ErrorKind::kAlreadyExists);
  EXPECT_TRUE(addSlot(d, {"vault", "vault-transit", {{"key", "s3c"}}, Bytes(1)}));
  EXPECT_TRUE(removeSlot(d, "main"));
  EXPECT_TRUE(removeSlot(d, "backup"));
  EXPECT_EQ(removeSlot(d, "vault").error().kind(), ErrorKind::kInvalidArgument);
  EXPECT_EQ(removeSlot(d, "main").error().kind(), ErrorKind::kNotFound);
}

TEST(VolumeDescriptorTest, StructuralRules) {
  VolumeKeys keys = testKeys();
  VolumeDescriptor d = sampleDescriptor();
  d.key_versions[0].slots.clear();
  EXPECT_EQ(encodeVolumeDescriptor(d, keys).error().kind(), ErrorKind::kInvalidArgument);
  d = sampleDescriptor();
  d.name_key_version = 2;
  EXPECT_FALSE(encodeVolumeDescriptor(d, keys));
  d = sampleDescriptor();
  d.chunk_size = 1000;
  EXPECT_FALSE(encodeVolumeDescriptor(d, keys));
  d = sampleDescriptor();
  d.key_versions[0].slots[1].id = "main";
  EXPECT_FALSE(encodeVolumeDescriptor(d, keys));
}

TEST(VolumeDescriptorTest, UnknownVersionsAndFlagsAreUnsupported) {
  VolumeKeys keys = testKeys();
  Bytes good = *encodeVolumeDescriptor(sampleDescriptor(), keys);
  Bytes b = good;
  b[8] = 2;  // format version
  EXPECT_EQ(decodeVolumeDescriptor(b).error().kind(), ErrorKind::kUnsupported);
  b = good;
  b[10] = 1;  // feature flag
  EXPECT_EQ(decodeVolumeDescriptor(b).error().kind(), ErrorKind::kUnsupported);
  b = good;
  b[14] = 7;  // cipher
  EXPECT_EQ(decodeVolumeDescriptor(b).error().kind(), ErrorKind::kUnsupported);
  b = good;
  b[0] = 'x';
  EXPECT_EQ(decodeVolumeDescriptor(b).error().kind(), ErrorKind::kCorrupt);
  b = good;
  b.push_back(0);
  EXPECT_FALSE(verifyVolumeDescriptor(b, keys));
}

}  // namespace
}  // namespace s3cryptfs::format
