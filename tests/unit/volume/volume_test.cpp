#include "s3cryptfs/volume/volume.h"

#include <gtest/gtest.h>

#include "unit/volume/volume_test_support.h"

namespace s3cryptfs::volume {
namespace {

class VolumeTest : public ::testing::TestWithParam<std::string> {
 protected:
  std::shared_ptr<store::ObjectStore> store_ = test::makeStore(GetParam());
  keys::KeyFileProtector right_ = test::keyFile(1);
  keys::KeyFileProtector wrong_ = test::keyFile(2);
};

TEST_P(VolumeTest, CreateThenOpenGivesTheSameKeyAndDescriptor) {
  NamedProtector protector{"", &right_};
  CreateOptions options;
  options.chunk_size = 16384;
  auto created = Volume::create(store_, {&protector, 1}, options);
  ASSERT_TRUE(created) << created.error().describe();
  auto opened = Volume::open(store_, {&protector, 1});
  ASSERT_TRUE(opened) << opened.error().describe();
  EXPECT_EQ((*opened)->descriptor(), (*created)->descriptor());
  EXPECT_EQ((*opened)->descriptor().chunk_size, 16384u);
  ASSERT_EQ((*opened)->descriptor().newest().slots.size(), 1u);
  EXPECT_EQ((*opened)->descriptor().newest().slots[0].id, "keyfile");
  const auto* a = (*created)->keyRing().newest();
  const auto* b = (*opened)->keyRing().newest();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_TRUE(a->volumeKey().equals(b->volumeKey()));
  // Names encrypted under the created volume decode under the opened one.
  auto key = (*created)->objects().objectKey("/hello.txt");
  ASSERT_TRUE(key);
  auto name = (*opened)->objects().decodeChildName("/", *key);
  ASSERT_TRUE(name) << name.error().describe();
  EXPECT_EQ(*name, "hello.txt");
}

TEST_P(VolumeTest, TwoVolumesHaveDifferentKeys) {
  NamedProtector protector{"", &right_};
  auto first = Volume::create(store_, {&protector, 1}, {});
  ASSERT_TRUE(first);
  auto other_store = test::makeStore(GetParam());
  auto second = Volume::create(other_store, {&protector, 1}, {});
  ASSERT_TRUE(second);
  EXPECT_FALSE(
      (*first)->keyRing().newest()->volumeKey().equals((*second)->keyRing().newest()->volumeKey()));
  EXPECT_NE((*first)->descriptor().volume_id, (*second)->descriptor().volume_id);
}

TEST_P(VolumeTest, WrongKeyFileIsPermissionDenied) {
  NamedProtector protector{"", &right_};
  ASSERT_TRUE(Volume::create(store_, {&protector, 1}, {}));
  NamedProtector wrong{"", &wrong_};
  auto opened = Volume::open(store_, {&wrong, 1});
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().kind(), ErrorKind::kPermissionDenied);
  EXPECT_EQ(opened.error().errnoValue(), EACCES);
  EXPECT_NE(opened.error().message().find("slot 'keyfile'"), std::string::npos)
      << opened.error().message();
}

TEST_P(VolumeTest, CandidatesAreTriedInOrderAndEachFailureIsNamed) {
  NamedProtector a{"work", &right_};
  ASSERT_TRUE(Volume::create(store_, {&a, 1}, {}));
  NamedProtector candidates[] = {{"", &wrong_}, {"nosuch", &wrong_}, {"", &right_}};
  auto opened = Volume::open(store_, candidates);
  ASSERT_TRUE(opened) << opened.error().describe();

  NamedProtector failing[] = {{"", &wrong_}, {"nosuch", &wrong_}};
  auto refused = Volume::open(store_, failing);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind(), ErrorKind::kPermissionDenied);
  EXPECT_NE(refused.error().message().find("slot 'work'"), std::string::npos);
  EXPECT_NE(refused.error().message().find("no keyfile slot named 'nosuch'"), std::string::npos)
      << refused.error().message();
}

TEST_P(VolumeTest, NoVolumeIsNotFound) {
  NamedProtector protector{"", &right_};
  auto opened = Volume::open(store_, {&protector, 1});
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().kind(), ErrorKind::kNotFound);
  EXPECT_NE(opened.error().message().find("no s3cryptfs volume at"), std::string::npos);
}

TEST_P(VolumeTest, TamperedDescriptorIsCorruptAndOpenModifiesNothing) {
  NamedProtector protector{"", &right_};
  ASSERT_TRUE(Volume::create(store_, {&protector, 1}, {}));
  auto original = store_->get(format::volumeDescriptorKey(""), std::nullopt);
  ASSERT_TRUE(original);
  // Halve the chunk size (a downgrade an attacker might try; still a valid size); offsets from
  // FORMAT.md §7: magic 8, version 2, flags 4, cipher 1, name mode 1, then the u32 chunk size.
  Bytes body = original->body;
  ASSERT_EQ(getU32(&body[16]), format::kDefaultChunkSize);
  body[17] = 0x80;
  body[18] = 0x00;
  ASSERT_TRUE(store_->put(format::volumeDescriptorKey(""), body, {}));
  auto opened = Volume::open(store_, {&protector, 1});
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().kind(), ErrorKind::kCorrupt) << opened.error().describe();

  // Flip a byte of the MAC itself.
  body = original->body;
  body.back() ^= 0x80;
  ASSERT_TRUE(store_->put(format::volumeDescriptorKey(""), body, {}));
  opened = Volume::open(store_, {&protector, 1});
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().kind(), ErrorKind::kCorrupt);
  auto after = store_->get(format::volumeDescriptorKey(""), std::nullopt);
  ASSERT_TRUE(after);
  EXPECT_EQ(after->body, body);  // open wrote nothing back

  auto listing = store::listAll(*store_, {});
  ASSERT_TRUE(listing);
  EXPECT_EQ(listing->objects.size(), 1u);
}

TEST_P(VolumeTest, SecondCreateIsRefusedAndKeepsTheFirst) {
  NamedProtector protector{"", &right_};
  auto first = Volume::create(store_, {&protector, 1}, {});
  ASSERT_TRUE(first);
  NamedProtector other{"", &wrong_};
  auto second = Volume::create(store_, {&other, 1}, {});
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().kind(), ErrorKind::kAlreadyExists);
  auto opened = Volume::open(store_, {&protector, 1});
  ASSERT_TRUE(opened);
  EXPECT_EQ((*opened)->descriptor().volume_id, (*first)->descriptor().volume_id);
}

TEST_P(VolumeTest, ConditionalPutStopsARacingCreate) {
  // The descriptor appears between create's existence check and its write: If-None-Match
  // must turn that into kAlreadyExists rather than overwriting the other volume.
  NamedProtector protector{"", &right_};
  auto racing = test::makeStore(GetParam());
  ASSERT_TRUE(Volume::create(racing, {&protector, 1}, {}));
  auto racing_body = racing->get(format::volumeDescriptorKey(""), std::nullopt);
  ASSERT_TRUE(racing_body);

  class WinsTheRace final : public keys::KeyProtector {
   public:
    WinsTheRace(keys::KeyProtector& inner, store::ObjectStore& store, Bytes body)
        : inner_(inner), store_(store), body_(std::move(body)) {}
    std::string type() const override { return inner_.type(); }
    Result<keys::WrappedKey> wrap(const SecureBuffer& key,
                                  const keys::KeyContext& context) override {
      EXPECT_TRUE(store_.put(format::volumeDescriptorKey(""), body_, {}));
      return inner_.wrap(key, context);
    }
    Result<SecureBuffer> unwrap(const keys::WrappedKey& wrapped,
                                const keys::KeyContext& context) override {
      return inner_.unwrap(wrapped, context);
    }

   private:
    keys::KeyProtector& inner_;
    store::ObjectStore& store_;
    Bytes body_;
  };
  WinsTheRace sneaky(right_, *store_, racing_body->body);
  NamedProtector named{"", &sneaky};
  auto created = Volume::create(store_, {&named, 1}, {});
  ASSERT_FALSE(created);
  EXPECT_EQ(created.error().kind(), ErrorKind::kAlreadyExists);
  auto kept = store_->get(format::volumeDescriptorKey(""), std::nullopt);
  ASSERT_TRUE(kept);
  EXPECT_EQ(kept->body, racing_body->body);
}

TEST_P(VolumeTest, CreateRefusesBadOptions) {
  NamedProtector protector{"", &right_};
  CreateOptions options;
  options.chunk_size = 5000;
  auto created = Volume::create(store_, {&protector, 1}, options);
  ASSERT_FALSE(created);
  EXPECT_EQ(created.error().kind(), ErrorKind::kInvalidArgument);
  auto none = Volume::create(store_, {}, {});
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().kind(), ErrorKind::kInvalidArgument);
  NamedProtector twice[] = {{"a", &right_}, {"a", &wrong_}};
  auto duplicate = Volume::create(store_, twice, {});
  ASSERT_FALSE(duplicate);
  EXPECT_EQ(duplicate.error().kind(), ErrorKind::kInvalidArgument);
  EXPECT_FALSE(store_->head(format::volumeDescriptorKey("")));  // nothing written
}

TEST_P(VolumeTest, EverySlotOpensTheVolume) {
  NamedProtector both[] = {{"laptop", &right_}, {"backup", &wrong_}};
  ASSERT_TRUE(Volume::create(store_, both, {}));
  NamedProtector by_id{"backup", &wrong_};
  auto opened = Volume::open(store_, {&by_id, 1});
  ASSERT_TRUE(opened) << opened.error().describe();
  NamedProtector any{"", &right_};
  EXPECT_TRUE(Volume::open(store_, {&any, 1}));
}

INSTANTIATE_TEST_SUITE_P(Stores, VolumeTest, ::testing::Values("dir", "memory"));

}  // namespace
}  // namespace s3cryptfs::volume
