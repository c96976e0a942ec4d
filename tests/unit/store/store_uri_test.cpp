#include "s3cryptfs/store/store_uri.h"

#include <gtest/gtest.h>

namespace s3cryptfs::store {
namespace {

TEST(StoreUriTest, ParsesDirUris) {
  auto uri = parseStoreUri("dir:///var/lib/volume");
  ASSERT_TRUE(uri.has_value()) << uri.error().describe();
  EXPECT_EQ(uri->scheme, StoreUri::Scheme::kDir);
  EXPECT_EQ(uri->path, "/var/lib/volume");
  EXPECT_EQ(uri->toString(), "dir:///var/lib/volume");

  EXPECT_EQ(parseStoreUri("dir:///var//lib/./volume/")->path, "/var/lib/volume");
  EXPECT_EQ(parseStoreUri("dir:///a/b/../c")->path, "/a/c");
  EXPECT_EQ(parseStoreUri("dir:///")->path, "/");
}

TEST(StoreUriTest, ParsesS3UrisAndNormalisesThePrefix) {
  struct Case {
    const char* text;
    const char* bucket;
    const char* prefix;
  };
  const Case cases[] = {
      {"s3://bucket", "bucket", ""},
      {"s3://bucket/", "bucket", ""},
      {"s3://my.bucket-1/vol", "my.bucket-1", "vol/"},
      {"s3://bucket/vol/", "bucket", "vol/"},
      {"s3://bucket//vol/sub///", "bucket", "vol/sub/"},
      {"s3://bucket/a b/c+d=e", "bucket", "a b/c+d=e/"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    auto uri = parseStoreUri(c.text);
    ASSERT_TRUE(uri.has_value()) << uri.error().describe();
    EXPECT_EQ(uri->scheme, StoreUri::Scheme::kS3);
    EXPECT_EQ(uri->bucket, c.bucket);
    EXPECT_EQ(uri->prefix, c.prefix);
    auto again = parseStoreUri(uri->toString());
    ASSERT_TRUE(again.has_value());
    EXPECT_EQ(*again, *uri);
  }
}

TEST(StoreUriTest, RejectsBadInputWithClearMessages) {
  struct Case {
    const char* text;
    const char* says;
  };
  const Case cases[] = {
      {"", "missing scheme"},
      {"/plain/path", "missing scheme"},
      {"http://host/x", "unknown scheme 'http'"},
      {"dir://", "missing path"},
      {"dir://host/path", "three slashes"},
      {"dir:relative", "missing scheme"},
      {"s3://", "missing bucket"},
      {"s3:///prefix", "missing bucket"},
      {"s3://Bucket/x", "not a valid S3 bucket name"},
      {"s3://ab", "not a valid S3 bucket name"},
      {"s3://-bucket", "not a valid S3 bucket name"},
      {"s3://bu..cket", "not a valid S3 bucket name"},
      {"s3://bucket_x", "not a valid S3 bucket name"},
      {"s3://bucket/a//b", "empty path component"},
      {"s3://bucket/x?versionId=1", "query strings"},
      {"dir:///tmp/x#frag", "query strings"},
      {"s3://bucket/a\nb", "control character"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    auto uri = parseStoreUri(c.text);
    ASSERT_FALSE(uri.has_value());
    EXPECT_EQ(uri.error().kind(), ErrorKind::kInvalidArgument);
    EXPECT_NE(uri.error().message().find(c.says), std::string::npos) << uri.error().message();
  }
  auto long_prefix = parseStoreUri("s3://bucket/" + std::string(600, 'p'));
  ASSERT_FALSE(long_prefix.has_value());
  EXPECT_NE(long_prefix.error().message().find("512"), std::string::npos);
}

}  // namespace
}  // namespace s3cryptfs::store
