#include "s3cryptfs/store/in_memory_object_store.h"

#include <gtest/gtest.h>

namespace s3cryptfs::store {
namespace {

TEST(InMemoryObjectStoreTest, ReportsConfiguredCapabilitiesAndCounts) {
  InMemoryStoreOptions options;
  options.capabilities.upload_part_copy = false;
  InMemoryObjectStore store(options);
  EXPECT_FALSE(store.capabilities().upload_part_copy);
  ASSERT_TRUE(store.put("a", toBytes("hello"), {}).has_value());
  ASSERT_TRUE(store.put("b", toBytes("hi"), {}).has_value());
  EXPECT_EQ(store.objectCount(), 2u);
  EXPECT_EQ(store.totalBytes(), 7u);
}

TEST(InMemoryObjectStoreTest, SmallPartsAllowedWhenConfigured) {
  InMemoryStoreOptions options;
  options.min_part_size = 1;
  InMemoryObjectStore store(options);
  auto upload = store.createMultipart("k", {});
  ASSERT_TRUE(upload.has_value());
  auto p1 = store.uploadPart("k", *upload, 1, toBytes("ab"));
  auto p2 = store.uploadPart("k", *upload, 2, toBytes("cd"));
  ASSERT_TRUE(p1.has_value() && p2.has_value());
  auto done = store.completeMultipart("k", *upload, {*p1, *p2}, {});
  ASSERT_TRUE(done.has_value());
  EXPECT_EQ(store.get("k", std::nullopt)->body, toBytes("abcd"));
}

TEST(InMemoryObjectStoreTest, SmallNonLastPartIsRefusedByDefault) {
  InMemoryObjectStore store;
  auto upload = store.createMultipart("k", {});
  ASSERT_TRUE(upload.has_value());
  auto p1 = store.uploadPart("k", *upload, 1, toBytes("ab"));
  auto p2 = store.uploadPart("k", *upload, 2, toBytes("cd"));
  ASSERT_TRUE(p1.has_value() && p2.has_value());
  auto done = store.completeMultipart("k", *upload, {*p1, *p2}, {});
  ASSERT_FALSE(done.has_value());
  EXPECT_EQ(done.error().kind(), ErrorKind::kInvalidArgument);
  EXPECT_EQ(done.error().serviceCode(), "EntityTooSmall");
}

TEST(InMemoryObjectStoreTest, RejectsBadKeysMetadataAndTokens) {
  InMemoryObjectStore store;
  EXPECT_EQ(store.put("", toBytes("x"), {}).error().kind(), ErrorKind::kInvalidArgument);
  EXPECT_EQ(store.put(std::string(1025, 'k'), toBytes("x"), {}).error().kind(),
            ErrorKind::kNameTooLong);
  PutOptions big;
  big.metadata["m"] = std::string(3000, 'v');
  EXPECT_EQ(store.put("k", toBytes("x"), big).error().kind(), ErrorKind::kInvalidArgument);
  PutOptions bad_name;
  bad_name.metadata["a:b"] = "v";
  EXPECT_EQ(store.put("k", toBytes("x"), bad_name).error().kind(), ErrorKind::kInvalidArgument);
  ListOptions list;
  list.continuation_token = "not hex";
  EXPECT_EQ(store.list(list).error().kind(), ErrorKind::kInvalidArgument);
  list.continuation_token.clear();
  list.max_keys = 0;
  EXPECT_EQ(store.list(list).error().kind(), ErrorKind::kInvalidArgument);
}

TEST(InMemoryObjectStoreTest, CopyOntoItselfWithoutReplaceIsRefused) {
  InMemoryObjectStore store;
  ASSERT_TRUE(store.put("k", toBytes("x"), {}).has_value());
  auto copied = store.copy("k", "k", {});
  ASSERT_FALSE(copied.has_value());
  EXPECT_EQ(copied.error().kind(), ErrorKind::kInvalidArgument);
}

}  // namespace
}  // namespace s3cryptfs::store
