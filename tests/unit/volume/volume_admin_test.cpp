#include "s3cryptfs/volume/volume_admin.h"

#include <gtest/gtest.h>

#include "s3cryptfs/format/chunk_codec.h"
#include "s3cryptfs/volume/reencrypt.h"

#include "unit/volume/volume_test_support.h"

namespace s3cryptfs::volume {
namespace {

// Over both stores (both honour If-Match).
class VolumeAdminTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    NamedProtector named{"", &first_};
    auto created = Volume::create(store_, {&named, 1}, {});
    ASSERT_TRUE(created) << created.error().describe();
  }
  std::shared_ptr<Volume> open(keys::KeyFileProtector& protector) {
    NamedProtector named{"", &protector};
    auto opened = Volume::open(store_, {&named, 1});
    if (!opened) ADD_FAILURE() << opened.error().describe();
    return opened ? *opened : nullptr;
  }
  std::shared_ptr<store::ObjectStore> store_ = test::makeStore(GetParam());
  keys::KeyFileProtector first_ = test::keyFile(1);
  keys::KeyFileProtector second_ = test::keyFile(2);
};

TEST_P(VolumeAdminTest, AddThenRemoveProtector) {
  auto volume = open(first_);
  ASSERT_TRUE(volume);
  ASSERT_TRUE(addProtector(*volume, NamedProtector{"second", &second_}));
  auto by_second = open(second_);
  ASSERT_TRUE(by_second);
  EXPECT_TRUE(
      by_second->keyRing().newest()->volumeKey().equals(volume->keyRing().newest()->volumeKey()));
  // The same id twice is refused.
  auto again = addProtector(*by_second, NamedProtector{"second", &second_});
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().kind(), ErrorKind::kAlreadyExists);
  ASSERT_TRUE(removeProtector(*by_second, "keyfile"));
  NamedProtector named{"", &first_};
  auto refused = Volume::open(store_, {&named, 1});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind(), ErrorKind::kPermissionDenied);
  EXPECT_EQ(refused.error().serviceCode(), kUnlockFailedCode);
  // The last slot stays.
  auto last = removeProtector(*open(second_), "second");
  ASSERT_FALSE(last);
  EXPECT_EQ(last.error().kind(), ErrorKind::kInvalidArgument);
}

TEST_P(VolumeAdminTest, TwoAdminsCannotOverwriteEachOther) {
  auto admin_a = open(first_);
  auto admin_b = open(first_);
  ASSERT_TRUE(admin_a && admin_b);
  ASSERT_TRUE(addProtector(*admin_a, NamedProtector{"a", &second_}));
  // B read the descriptor before A's change: its change is refused, A's is kept.
  auto lost = addProtector(*admin_b, NamedProtector{"b", &second_});
  ASSERT_FALSE(lost);
  EXPECT_EQ(lost.error().kind(), ErrorKind::kPreconditionFailed);
  auto lost_rotate = rotateVolumeKey(*admin_b, std::vector<NamedProtector>{{"", &first_}});
  ASSERT_FALSE(lost_rotate);
  EXPECT_EQ(lost_rotate.error().kind(), ErrorKind::kPreconditionFailed);
  auto now = open(second_);
  ASSERT_TRUE(now);
  EXPECT_EQ(now->descriptor().newest().slots.size(), 2u);
}

TEST_P(VolumeAdminTest, RewrapOfAKeyFileSlotIsUnsupported) {
  auto volume = open(first_);
  ASSERT_TRUE(volume);
  auto rewrapped = rewrapSlot(*volume, "keyfile", first_);
  ASSERT_FALSE(rewrapped);
  EXPECT_EQ(rewrapped.error().kind(), ErrorKind::kUnsupported);
  EXPECT_EQ(rewrapSlot(*volume, "nope", first_).error().kind(), ErrorKind::kNotFound);
}

// Writes a content object with attributes under the volume's newest key, as the fs does.
void writeFile(const Volume& volume, const std::string& path, const Bytes& content) {
  auto key = volume.objects().objectKey(path);
  ASSERT_TRUE(key);
  auto cipher = volume.objects().newFileCipher();
  ASSERT_TRUE(cipher);
  auto body = format::sealObjectWith(*cipher, content);
  ASSERT_TRUE(body);
  format::Attributes attributes;
  attributes.mode = 0100644;
  attributes.size = content.size();
  attributes.content_key_version = cipher->header().key_version;
  attributes.file_id = cipher->header().file_id;
  auto metadata = volume.objects().sealToMetadata(*key, attributes);
  ASSERT_TRUE(metadata);
  store::PutOptions put;
  put.metadata = *metadata;
  ASSERT_TRUE(volume.store().put(*key, *body, put));
}

Result<Bytes> readFile(const Volume& volume, const std::string& path, uint32_t* key_version) {
  S3C_ASSIGN_OR_RETURN(std::string key, volume.objects().objectKey(path));
  S3C_ASSIGN_OR_RETURN(store::GetResult got, volume.store().get(key, std::nullopt));
  S3C_ASSIGN_OR_RETURN(format::Attributes attributes,
                       volume.objects().openFromMetadata(key, got.info.metadata));
  S3C_ASSIGN_OR_RETURN(format::ObjectHeader header, format::decodeObjectHeader(got.body));
  if (attributes.content_key_version != header.key_version) {
    return Error(ErrorKind::kCorrupt, "attributes and content disagree");
  }
  *key_version = header.key_version;
  return format::openObject(volume.keyRing(), got.body);
}

TEST_P(VolumeAdminTest, RotateThenReencryptInPartsMovesEveryObject) {
  auto volume = open(first_);
  ASSERT_TRUE(volume);
  Bytes small(1000, 0x11);
  Bytes large(11 << 20, 0x22);  // three parts: 5 MiB is the smallest part S3 takes
  writeFile(*volume, "/small", small);
  writeFile(*volume, "/large", large);
  auto version = rotateVolumeKey(*volume, std::vector<NamedProtector>{{"", &first_}});
  ASSERT_TRUE(version) << version.error().describe();
  EXPECT_EQ(*version, 2u);
  auto rotated = open(first_);
  ASSERT_TRUE(rotated);
  uint32_t seen = 0;
  auto old = readFile(*rotated, "/large", &seen);
  ASSERT_TRUE(old) << old.error().describe();
  EXPECT_EQ(seen, 1u);
  EXPECT_EQ(*old, large);

  ReencryptOptions options;
  options.part_bytes = 1;  // raised to whole chunks of at least 5 MiB
  std::vector<std::string> seen_keys;
  options.on_object = [&](const ReencryptProgress& progress) {
    seen_keys.push_back(progress.last_key);
    return true;
  };
  auto done = reencryptVolume(*rotated, options);
  ASSERT_TRUE(done) << done.error().describe();
  EXPECT_EQ(done->objects_rewritten, 2u);
  EXPECT_EQ(done->conflicts, 0u);
  for (const auto& [path, content] :
       std::vector<std::pair<std::string, Bytes>>{{"/small", small}, {"/large", large}}) {
    auto read = readFile(*rotated, path, &seen);
    ASSERT_TRUE(read) << path << ": " << read.error().describe();
    EXPECT_EQ(seen, 2u) << path;
    EXPECT_EQ(*read, content) << path;
  }
  // A rerun finds nothing to do; a resume point skips what sorts before it.
  auto again = reencryptVolume(*rotated, {});
  ASSERT_TRUE(again);
  EXPECT_EQ(again->objects_rewritten, 0u);
  ReencryptOptions resume;
  resume.resume_after = seen_keys.back();
  auto resumed = reencryptVolume(*rotated, resume);
  ASSERT_TRUE(resumed);
  EXPECT_EQ(resumed->objects_done, resumed->total_objects);
}

INSTANTIATE_TEST_SUITE_P(Stores, VolumeAdminTest, ::testing::Values("dir", "memory"));

}  // namespace
}  // namespace s3cryptfs::volume
