#include "s3cryptfs/config/mount_config.h"

#include <gtest/gtest.h>

namespace s3cryptfs::config {
namespace {

TEST(MountConfigTest, ParsesNestedYaml) {
  auto config = parseConfig(R"(
source: s3://bucket/home
s3:
  endpoint: http://127.0.0.1:7480
  region: eu-west-1
  max_connections: 32
cache:
  memory_bytes: 512MiB
fuse:
  allow_other: true
  attr_ttl_s: 2.5
)");
  ASSERT_TRUE(config.has_value()) << config.error().describe();
  EXPECT_EQ(config->source, "s3://bucket/home");
  EXPECT_EQ(config->s3.endpoint, "http://127.0.0.1:7480");
  EXPECT_EQ(config->s3.region, "eu-west-1");
  EXPECT_EQ(config->s3.max_connections, 32u);
  EXPECT_EQ(config->cache.memory_bytes, uint64_t{512} << 20);
  EXPECT_TRUE(config->fuse.allow_other);
  EXPECT_DOUBLE_EQ(config->fuse.attr_ttl_s, 2.5);
  EXPECT_EQ(config->upload.concurrency, 8u);  // default kept
}

TEST(MountConfigTest, UnknownKeysAndBadValuesAreErrors) {
  auto typo = parseConfig("cache:\n  memroy_bytes: 1G\n");
  ASSERT_FALSE(typo.has_value());
  EXPECT_NE(typo.error().message().find("memroy_bytes"), std::string::npos);
  auto bad = parseConfig("s3:\n  max_connections: many\n");
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().message().find("max_connections"), std::string::npos);
  EXPECT_FALSE(parseConfig("fuse:\n  allow_other: perhaps\n").has_value());
  EXPECT_FALSE(parseConfig("- a\n- b\n").has_value());
  EXPECT_FALSE(parseConfig("s3: [unclosed\n").has_value());
  EXPECT_FALSE(parseConfig("s3:\n  max_connections: 0\n").has_value());
}

TEST(MountConfigTest, MountOptionsOverrideByNameOrAlias) {
  MountConfig config;
  for (const auto& [name, value] :
       splitMountOptions("allow_other,attr_timeout=3,cache.memory_bytes=64M,key_file=/k\\,x")) {
    ASSERT_TRUE(applyOption(config, name, value).has_value()) << name;
  }
  EXPECT_TRUE(config.fuse.allow_other);
  EXPECT_DOUBLE_EQ(config.fuse.attr_ttl_s, 3.0);
  EXPECT_EQ(config.cache.memory_bytes, uint64_t{64} << 20);
  EXPECT_EQ(config.key.key_file, "/k,x");
  auto unknown = applyOption(config, "allow_othr", "");
  ASSERT_FALSE(unknown.has_value());
  EXPECT_EQ(unknown.error().errnoValue(), EINVAL);
  EXPECT_FALSE(applyOption(config, "region", "").has_value());  // needs a value
}

TEST(MountConfigTest, EnvironmentOverrides) {
  MountConfig config;
  ASSERT_TRUE(applyEnvironment(config, {{"S3CRYPTFS_UPLOAD_CONCURRENCY", "3"},
                                        {"S3CRYPTFS_S3_REGION", "us-west-2"},
                                        {"UNRELATED", "x"}})
                  .has_value());
  EXPECT_EQ(config.upload.concurrency, 3u);
  EXPECT_EQ(config.s3.region, "us-west-2");
  EXPECT_FALSE(applyEnvironment(config, {{"S3CRYPTFS_UPLOAD_CONCURRENCY", "-1"}}).has_value());
}

TEST(MountConfigTest, ParsesSizes) {
  EXPECT_EQ(parseSize("65536").value(), 65536u);
  EXPECT_EQ(parseSize("4KiB").value(), 4096u);
  EXPECT_EQ(parseSize("2g").value(), uint64_t{2} << 30);
  EXPECT_FALSE(parseSize("12 parsecs").has_value());
  EXPECT_FALSE(parseSize("").has_value());
  EXPECT_FALSE(parseSize("99999999999T").has_value());
}

}  // namespace
}  // namespace s3cryptfs::config

namespace s3cryptfs::config {
namespace {

TEST(MountConfigTest, ProtectorsAreAList) {
  auto config = parseConfig(
      "key:\n"
      "  protectors:\n"
      "    - keyfile:/etc/k\n"
      "    - \"kms=awskms:key-id=alias/x,region=eu-west-1\"\n"
      "  protector_timeout_ms: 2500\n");
  ASSERT_TRUE(config) << config.error().describe();
  EXPECT_EQ(
      config->key.protectors,
      (std::vector<std::string>{"keyfile:/etc/k", "kms=awskms:key-id=alias/x,region=eu-west-1"}));
  EXPECT_EQ(config->key.protector_timeout_ms, 2500u);
  // One element per -o / environment value, appended.
  ASSERT_TRUE(applyOption(*config, "protectors", "passphrase"));
  EXPECT_EQ(config->key.protectors.back(), "passphrase");
  // A list where a single value belongs is an error.
  EXPECT_FALSE(parseConfig("key:\n  key_file:\n    - /a\n    - /b\n"));
  EXPECT_FALSE(parseConfig("key:\n  protectors:\n    - [nested]\n"));
}

}  // namespace
}  // namespace s3cryptfs::config
