// Runs every protector through success and failure while capturing the log, then checks that no
// secret appears in it, raw, as hex or as base64.
#include <mutex>

#include <gtest/gtest.h>

#include "s3cryptfs/core/log.h"
#include "s3cryptfs/keys/awskms_protector.h"
#include "s3cryptfs/keys/keyfile_protector.h"
#include "s3cryptfs/keys/passphrase_protector.h"
#include "s3cryptfs/keys/pkcs11_protector.h"
#include "s3cryptfs/keys/recovery_protector.h"
#include "s3cryptfs/keys/vault_protector.h"

#include "support/fake_http_server.h"
#include "support/fake_vault_transit.h"
#include "unit/keys/keys_test_support.h"
#include "unit/keys/softhsm_fixture.h"

namespace s3cryptfs::keys {
namespace {

using testing::testContext;

class SecretLoggingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    saved_ = spdlog::default_logger();
    log::setLevel(log::Level::kTrace);
    log::toCallback([this](std::string_view line) {
      std::lock_guard lock(mutex_);
      log_.append(line);
    });
  }
  void TearDown() override {
    spdlog::set_default_logger(saved_);
    log::setLevel(log::Level::kInfo);
  }
  // Every rendering of a secret a careless log line could contain.
  void secret(ByteSpan bytes) {
    secrets_.emplace_back(asChars(bytes));
    secrets_.push_back(toHex(bytes));
    secrets_.push_back(toBase64(bytes));
  }
  void secret(const SecureBuffer& b) { secret(b.span()); }
  void expectClean() {
    std::lock_guard lock(mutex_);
    for (const auto& s : secrets_) {
      ASSERT_GE(s.size(), 4u);
      EXPECT_EQ(log_.find(s), std::string::npos) << "a secret appears in the log";
    }
  }
  std::shared_ptr<spdlog::logger> saved_;
  std::mutex mutex_;
  std::string log_;
  std::vector<std::string> secrets_;
};

TEST_F(SecretLoggingTest, NoSecretReachesTheLog) {
  testing::TempDir dir;
  SecureBuffer volume_key = testing::testVolumeKey(0x77);
  secret(volume_key);
  std::vector<std::string> errors;
  auto note = [&](const auto& result) {
    if (!result) errors.push_back(result.error().describe());
  };

  // Key file, including the group-readable warning path.
  std::string key_path = dir.file("k");
  ASSERT_TRUE(generateKeyFile(key_path));
  ::chmod(key_path.c_str(), 0644);
  auto file_key = readKeyFile(key_path);
  ASSERT_TRUE(file_key);
  secret(*file_key);
  KeyFileProtector key_file(key_path);
  auto wrapped_file = key_file.wrap(volume_key, testContext());
  ASSERT_TRUE(wrapped_file);
  note(key_file.unwrap(*wrapped_file, testContext()));
  note(key_file.unwrap(testing::tampered(*wrapped_file, 40), testContext()));
  note(KeyFileProtector(dir.write("bad", "not a key")).unwrap(*wrapped_file, testContext()));

  // Passphrase.
  std::string passphrase = "a long passphrase nobody should see";
  secret(asBytes(passphrase));
  PassphraseProtector pass(fixedPassphrase(SecureBuffer(asBytes(passphrase))),
                           PassphraseProtector::testOnlyCost());
  auto wrapped_pass = pass.wrap(volume_key, testContext());
  ASSERT_TRUE(wrapped_pass);
  note(pass.unwrap(*wrapped_pass, testContext()));
  note(PassphraseProtector(fixedPassphrase(SecureBuffer(asBytes("wrong passphrase!"))),
                           PassphraseProtector::testOnlyCost())
           .unwrap(*wrapped_pass, testContext()));

  // Recovery shares.
  RecoveryProtector maker(2, 3);
  auto wrapped_rec = maker.wrap(volume_key, testContext());
  ASSERT_TRUE(wrapped_rec);
  auto shares = maker.takeShares();
  for (const auto& s : shares)
    secret(s);
  std::vector<SecureBuffer> two;
  two.push_back(shares[0].clone());
  two.push_back(shares[2].clone());
  note(RecoveryProtector(sharesFromList(std::move(two))).unwrap(*wrapped_rec, testContext()));
  std::vector<SecureBuffer> typo;
  typo.push_back(shares[1].clone());
  typo.back().data()[5] ^= 1;
  typo.push_back(shares[0].clone());
  note(RecoveryProtector(sharesFromList(std::move(typo))).unwrap(*wrapped_rec, testContext()));

  // PKCS#11, when SoftHSM2 is here.
  if (const auto* hsm = testing::softHsm()) {
    secret(asBytes(hsm->pin));
    Pkcs11Config config = hsm->config("logging-test-key");
    config.create_key_if_missing = true;
    Pkcs11Protector protector(config);
    auto wrapped_hsm = protector.wrap(volume_key, testContext());
    ASSERT_TRUE(wrapped_hsm) << wrapped_hsm.error().describe();
    note(protector.unwrap(*wrapped_hsm, testContext()));
    note(protector.unwrap(testing::tampered(*wrapped_hsm, 20), testContext()));
    Pkcs11Config wrong_pin = config;
    wrong_pin.pin = fixedPassphrase(SecureBuffer(asBytes("000000")));
    note(Pkcs11Protector(wrong_pin).unwrap(*wrapped_hsm, testContext()));
  }

  EXPECT_GE(errors.size(), 4u);
  for (const auto& e : errors)
    log::error("{}", e);  // error messages travel into logs too
  {
    std::lock_guard lock(mutex_);
    EXPECT_NE(log_.find("accessible by group or others"), std::string::npos);
  }
  expectClean();
}

// The network protectors: Vault (token, Kubernetes JWT, the intermediate key Vault returns) and
// AWS KMS (secret access key, session token, the plaintext KMS returns), through success and
// every kind of failure, at trace level.
TEST_F(SecretLoggingTest, NetworkProtectorsKeepSecretsOutOfTheLog) {
  testing::TempDir dir;
  SecureBuffer volume_key = testing::testVolumeKey(0x55);
  secret(volume_key);
  std::vector<std::string> errors;
  auto note = [&](const auto& result) {
    if (!result) errors.push_back(result.error().describe());
  };

  test::FakeVaultOptions options;
  options.token = "s.vault-token-never-logged";
  options.k8s_role = "node";
  options.k8s_jwt = "eyJhbGciOiJSUzI1NiJ9.jwt-never-logged.sig";
  options.k8s_token = "s.k8s-issued-token-never-logged";
  secret(asBytes(options.token));
  secret(asBytes(options.k8s_jwt));
  secret(asBytes(options.k8s_token));
  test::FakeVaultTransit vault(options);
  vault.createKey("k");
  VaultConfig vault_config;
  vault_config.address = vault.address();
  vault_config.key = "k";
  vault_config.auth.token_file = dir.write("token", options.token);
  VaultProtector by_token(vault_config);
  auto wrapped = by_token.wrap(volume_key, testContext());
  ASSERT_TRUE(wrapped) << wrapped.error().describe();
  note(by_token.unwrap(*wrapped, testContext()));
  note(by_token.unwrap(*wrapped, testing::otherVolume()));
  note(by_token.rewrap(*wrapped, testContext()));
  VaultConfig k8s = vault_config;
  k8s.auth.token_file.clear();
  k8s.auth.k8s_role = "node";
  k8s.auth.k8s_jwt_file = dir.write("jwt", options.k8s_jwt);
  note(VaultProtector(k8s).unwrap(*wrapped, testContext()));
  VaultConfig bad_token = vault_config;
  bad_token.auth.token_file = dir.write("bad", "s.bad-token-never-logged");
  secret(asBytes("s.bad-token-never-logged"));
  note(VaultProtector(bad_token).unwrap(*wrapped, testContext()));

  // AWS KMS against a scripted endpoint that echoes what it would decrypt.
  test::FakeHttpServer kms;
  const std::string plaintext_b64 = toBase64(volume_key.span());
  kms.setHandler([&](const test::ReceivedRequest& request) {
    const std::string* target = request.header("x-amz-target");
    if (target != nullptr && *target == "TrentService.Encrypt") {
      return test::Reply::withStatus(200, R"({"KeyId":"arn:k","CiphertextBlob":"AAECAw=="})");
    }
    return test::Reply::withStatus(200,
                                   R"({"KeyId":"arn:k","Plaintext":")" + plaintext_b64 + "\"}");
  });
  AwsKmsConfig kms_config;
  kms_config.key_id = "arn:k";
  kms_config.aws.endpoint_url = kms.baseUrl();
  kms_config.environment = http::Environment{{"AWS_ACCESS_KEY_ID", "AKIDLOGTEST"},
                                             {"AWS_SECRET_ACCESS_KEY", "aws-secret-never-logged"},
                                             {"AWS_SESSION_TOKEN", "aws-session-never-logged"},
                                             {"AWS_REGION", "us-east-1"},
                                             {"HOME", "/nonexistent"}};
  secret(asBytes("aws-secret-never-logged"));
  secret(asBytes("aws-session-never-logged"));
  AwsKmsProtector aws(kms_config);
  auto kms_wrapped = aws.wrap(volume_key, testContext());
  ASSERT_TRUE(kms_wrapped) << kms_wrapped.error().describe();
  note(aws.unwrap(*kms_wrapped, testContext()));
  kms.setDefault(test::Reply::withStatus(400, R"({"__type":"UnrecognizedClientException"})"));
  kms.setHandler(nullptr);
  note(aws.unwrap(*kms_wrapped, testContext()));

  EXPECT_GE(errors.size(), 3u);
  for (const auto& e : errors)
    log::error("{}", e);
  expectClean();
}

}  // namespace
}  // namespace s3cryptfs::keys
