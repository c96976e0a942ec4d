// AWS KMS protector against moto's KMS (the `servers` fixture): keys are created through the
// KMS API by each test.
#include <chrono>

#include <gtest/gtest.h>

#include "s3cryptfs/keys/awskms_protector.h"

#include "support/test_servers.h"
#include "unit/keys/keys_test_support.h"
#include "unit/keys/kms_test_client.h"

namespace s3cryptfs::keys {
namespace {

using testing::kmsAdmin;
using testing::testContext;
using testing::testVolumeKey;

class AwsKmsMotoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = test::requireTestServer("moto");
    auto created = kmsAdmin(server_, "CreateKey", {{"Description", "s3cryptfs test"}});
    key_id_ = created["KeyMetadata"]["KeyId"].get<std::string>();
    key_arn_ = created["KeyMetadata"]["Arn"].get<std::string>();
  }
  AwsKmsConfig config() const {
    AwsKmsConfig c;
    c.key_id = key_id_;
    c.aws.endpoint_url = server_.endpoint;
    c.environment = http::Environment{{"AWS_ACCESS_KEY_ID", server_.access_key},
                                      {"AWS_SECRET_ACCESS_KEY", server_.secret_key},
                                      {"AWS_REGION", server_.region},
                                      {"HOME", "/nonexistent"}};
    c.timeout = std::chrono::milliseconds(5000);
    return c;
  }
  test::S3TestServer server_;
  std::string key_id_;
  std::string key_arn_;
};

TEST_F(AwsKmsMotoTest, RoundTrip) {
  AwsKmsProtector protector(config());
  auto wrapped = protector.wrap(testVolumeKey(), testContext());
  ASSERT_TRUE(wrapped) << wrapped.error().describe();
  EXPECT_EQ(wrapped->params.at("key-arn"), key_arn_);
  EXPECT_GE(wrapped->wrapped.size(), kVolumeKeySize);
  auto key = protector.unwrap(*wrapped, testContext());
  ASSERT_TRUE(key) << key.error().describe();
  EXPECT_TRUE(key->equals(testVolumeKey()));
}

TEST_F(AwsKmsMotoTest, UnwrapNeedsOnlyTheStoredParamsAndCredentials) {
  auto wrapped = AwsKmsProtector(config()).wrap(testVolumeKey(), testContext());
  ASSERT_TRUE(wrapped) << wrapped.error().describe();
  AwsKmsConfig bare = config();
  bare.key_id.clear();
  bare.aws.endpoint_url.reset();  // from params
  auto key = AwsKmsProtector(bare).unwrap(*wrapped, testContext());
  ASSERT_TRUE(key) << key.error().describe();
  EXPECT_TRUE(key->equals(testVolumeKey()));
}

TEST_F(AwsKmsMotoTest, WrongContextIsRefused) {
  AwsKmsProtector protector(config());
  auto wrapped = protector.wrap(testVolumeKey(), testContext());
  ASSERT_TRUE(wrapped) << wrapped.error().describe();
  for (const KeyContext& wrong : {testing::otherVolume(), testing::otherVersion()}) {
    auto key = protector.unwrap(*wrapped, wrong);
    ASSERT_FALSE(key);
    EXPECT_EQ(key.error().kind(), ErrorKind::kPermissionDenied);
    EXPECT_EQ(key.error().serviceCode(), "InvalidCiphertextException");
    EXPECT_NE(key.error().message().find("does not unlock this volume"), std::string::npos);
  }
  auto tampered = protector.unwrap(testing::tampered(*wrapped, 40), testContext());
  ASSERT_FALSE(tampered);
  EXPECT_EQ(tampered.error().kind(), ErrorKind::kPermissionDenied);
}

TEST_F(AwsKmsMotoTest, AnotherKeyIsRefused) {
  auto wrapped = AwsKmsProtector(config()).wrap(testVolumeKey(), testContext());
  ASSERT_TRUE(wrapped) << wrapped.error().describe();
  auto other = kmsAdmin(server_, "CreateKey", {{"Description", "another"}});
  AwsKmsConfig c = config();
  c.key_id = other["KeyMetadata"]["KeyId"].get<std::string>();
  auto key = AwsKmsProtector(c).unwrap(*wrapped, testContext());
  ASSERT_FALSE(key);
  EXPECT_EQ(key.error().kind(), ErrorKind::kPermissionDenied);
}

TEST_F(AwsKmsMotoTest, AliasesWork) {
  // uniquePrefix() is "s3c-tests/a-<time>-<hex>/": its middle makes a fresh alias name.
  std::string unique = test::uniquePrefix("a");
  std::string alias = "alias/s3c-" + unique.substr(10, unique.size() - 11);
  kmsAdmin(server_, "CreateAlias", {{"AliasName", alias}, {"TargetKeyId", key_id_}});
  AwsKmsConfig c = config();
  c.key_id = alias;
  auto wrapped = AwsKmsProtector(c).wrap(testVolumeKey(), testContext());
  ASSERT_TRUE(wrapped) << wrapped.error().describe();
  EXPECT_EQ(wrapped->params.at("key-arn"), key_arn_);
  auto key = AwsKmsProtector(c).unwrap(*wrapped, testContext());
  ASSERT_TRUE(key) << key.error().describe();
}

TEST_F(AwsKmsMotoTest, RewrapReEncryptsUnderAnotherKey) {
  auto wrapped = AwsKmsProtector(config()).wrap(testVolumeKey(), testContext());
  ASSERT_TRUE(wrapped) << wrapped.error().describe();
  auto other = kmsAdmin(server_, "CreateKey", {{"Description", "rewrap target"}});
  AwsKmsConfig to_other = config();
  to_other.key_id = other["KeyMetadata"]["KeyId"].get<std::string>();
  auto rewrapped = AwsKmsProtector(to_other).rewrap(*wrapped, testContext());
  ASSERT_TRUE(rewrapped) << rewrapped.error().describe();
  EXPECT_EQ(rewrapped->params.at("key-arn"), other["KeyMetadata"]["Arn"].get<std::string>());
  EXPECT_NE(rewrapped->wrapped, wrapped->wrapped);
  AwsKmsConfig bare = config();
  bare.key_id.clear();
  auto key = AwsKmsProtector(bare).unwrap(*rewrapped, testContext());
  ASSERT_TRUE(key) << key.error().describe();
  EXPECT_TRUE(key->equals(testVolumeKey()));
  // The context still binds the new copy.
  auto wrong = AwsKmsProtector(bare).unwrap(*rewrapped, testing::otherVersion());
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().kind(), ErrorKind::kPermissionDenied);
  // ReEncrypt checks the source context too.
  auto refused = AwsKmsProtector(to_other).rewrap(*wrapped, testing::otherVolume());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind(), ErrorKind::kPermissionDenied);
}

TEST_F(AwsKmsMotoTest, UnknownKeyIsNotFound) {
  AwsKmsConfig c = config();
  c.key_id = "00000000-0000-0000-0000-000000000000";
  auto wrapped = AwsKmsProtector(c).wrap(testVolumeKey(), testContext());
  ASSERT_FALSE(wrapped);
  EXPECT_EQ(wrapped.error().kind(), ErrorKind::kNotFound);
  EXPECT_NE(wrapped.error().message().find("no such key"), std::string::npos);
}

}  // namespace
}  // namespace s3cryptfs::keys
