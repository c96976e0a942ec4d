#include "s3cryptfs/volume/volume_objects.h"

#include <gtest/gtest.h>

#include "s3cryptfs/volume/volume.h"

#include "unit/volume/volume_test_support.h"

namespace s3cryptfs::volume {
namespace {

class VolumeObjectsTest : public ::testing::TestWithParam<format::NameMode> {
 protected:
  void SetUp() override {
    NamedProtector named{"", &protector_};
    CreateOptions options;
    options.name_mode = GetParam();
    auto created = Volume::create(store_, {&named, 1}, options);
    ASSERT_TRUE(created) << created.error().describe();
    volume_ = *created;
  }
  const VolumeObjects& objects() const { return volume_->objects(); }

  std::shared_ptr<store::ObjectStore> store_ = std::make_shared<store::InMemoryObjectStore>();
  keys::KeyFileProtector protector_ = test::keyFile(7);
  std::shared_ptr<Volume> volume_;
};

TEST_P(VolumeObjectsTest, KeysPrefixesAndMarkersNest) {
  auto dir = objects().objectKey("/docs");
  auto file = objects().objectKey("/docs/a.txt");
  auto prefix = objects().listingPrefix("/docs");
  auto marker = objects().directoryMarkerKey("/docs");
  ASSERT_TRUE(dir && file && prefix && marker);
  EXPECT_EQ(*prefix, *dir + "/");
  EXPECT_EQ(*marker, *prefix + ".s3cryptfs.dir");
  EXPECT_EQ(file->substr(0, prefix->size()), *prefix);
  EXPECT_EQ(*objects().listingPrefix("/"), "");
  EXPECT_FALSE(objects().objectKey("/"));
  if (GetParam() == format::NameMode::kEncrypted) {
    EXPECT_EQ(file->find("a.txt"), std::string::npos);
  }
  auto name = objects().decodeChildName("/docs", *file);
  ASSERT_TRUE(name);
  EXPECT_EQ(*name, "a.txt");
  auto as_prefix = objects().decodeChildName("/", *prefix);  // a common prefix "enc/"
  ASSERT_TRUE(as_prefix);
  EXPECT_EQ(*as_prefix, "docs");
}

TEST_P(VolumeObjectsTest, ReservedAndForeignNamesAreRefused) {
  auto marker = objects().directoryMarkerKey("/");
  ASSERT_TRUE(marker);
  auto reserved = objects().decodeChildName("/", *marker);
  ASSERT_FALSE(reserved);
  EXPECT_EQ(reserved.error().kind(), ErrorKind::kNotFound);
  if (GetParam() == format::NameMode::kEncrypted) {
    auto foreign = objects().decodeChildName("/", "holiday.jpg");
    ASSERT_FALSE(foreign);
    EXPECT_EQ(foreign.error().kind(), ErrorKind::kCorrupt);
    // A name encrypted for another directory does not decode here.
    auto elsewhere = objects().objectKey("/x/b");
    ASSERT_TRUE(elsewhere);
    auto moved = objects().decodeChildName(
        "/y", *objects().listingPrefix("/y") + elsewhere->substr(elsewhere->find('/') + 1));
    ASSERT_FALSE(moved);
    EXPECT_EQ(moved.error().kind(), ErrorKind::kCorrupt);
  }
  EXPECT_FALSE(objects().decodeChildName("/", "a/b"));
}

format::Attributes sampleAttributes() {
  format::Attributes attributes;
  attributes.kind = format::NodeKind::kFile;
  attributes.mode = 0100644;
  attributes.uid = 1000;
  attributes.gid = 100;
  attributes.mtime_ns = 1700000000123456789;
  attributes.size = 5;
  attributes.content_key_version = 1;
  attributes.file_id[0] = 0x5a;
  return attributes;
}

TEST_P(VolumeObjectsTest, SmallAttributesAreInlineAndBoundToTheirKey) {
  auto key = objects().objectKey("/f");
  ASSERT_TRUE(key);
  auto metadata = objects().sealToMetadata(*key, sampleAttributes());
  ASSERT_TRUE(metadata) << metadata.error().describe();
  EXPECT_FALSE(VolumeObjects::usesSidecar(*metadata));
  auto opened = objects().openFromMetadata(*key, *metadata);
  ASSERT_TRUE(opened) << opened.error().describe();
  EXPECT_EQ(*opened, sampleAttributes());
  auto other = objects().openFromMetadata(*objects().objectKey("/g"), *metadata);
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().kind(), ErrorKind::kCorrupt);
  auto none = objects().openFromMetadata(*key, {});
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().kind(), ErrorKind::kNotFound);
}

TEST_P(VolumeObjectsTest, BigAttributesGoToTheSidecar) {
  auto key = objects().objectKey("/big");
  ASSERT_TRUE(key);
  format::Attributes attributes = sampleAttributes();
  attributes.xattrs["user.blob"] = Bytes(3000, 0x42);
  auto metadata = objects().sealToMetadata(*key, attributes);
  ASSERT_TRUE(metadata) << metadata.error().describe();
  EXPECT_TRUE(VolumeObjects::usesSidecar(*metadata));
  std::string sidecar = objects().sidecarKeyOf(*key, *metadata);
  EXPECT_TRUE(sidecar.starts_with(objects().sidecarKey(*key) + ".")) << sidecar;
  EXPECT_TRUE(store_->head(sidecar));
  auto opened = objects().openFromMetadata(*key, *metadata);
  ASSERT_TRUE(opened) << opened.error().describe();
  EXPECT_EQ(*opened, attributes);
  ASSERT_TRUE(store_->remove(sidecar));
  auto lost = objects().openFromMetadata(*key, *metadata);
  ASSERT_FALSE(lost);
  EXPECT_EQ(lost.error().kind(), ErrorKind::kCorrupt);
}

TEST_P(VolumeObjectsTest, CiphersRoundTripAndKeepFileIds) {
  auto fresh = objects().newFileCipher();
  ASSERT_TRUE(fresh);
  auto object = format::sealObjectWith(*fresh, asBytes("hello"));
  ASSERT_TRUE(object);
  auto reopened = objects().cipherForHeader(*object);
  ASSERT_TRUE(reopened) << reopened.error().describe();
  EXPECT_EQ(reopened->header(), fresh->header());
  auto same_id = objects().newFileCipher(fresh->header().file_id);
  ASSERT_TRUE(same_id);
  EXPECT_EQ(same_id->header().file_id, fresh->header().file_id);
  auto other = objects().newFileCipher();
  ASSERT_TRUE(other);
  EXPECT_NE(other->header().file_id, fresh->header().file_id);
  EXPECT_EQ(objects().layout().chunkSize(), format::kDefaultChunkSize);
}

INSTANTIATE_TEST_SUITE_P(NameModes, VolumeObjectsTest,
                         ::testing::Values(format::NameMode::kEncrypted,
                                           format::NameMode::kPlaintext));

}  // namespace
}  // namespace s3cryptfs::volume
