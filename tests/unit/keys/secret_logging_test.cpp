// Runs every protector through success and failure while capturing the log, then checks that no
// secret appears in it, raw, as hex or as base64.
#include <mutex>

#include <gtest/gtest.h>

#include "s3cryptfs/core/log.h"
#include "s3cryptfs/keys/keyfile_protector.h"
#include "s3cryptfs/keys/passphrase_protector.h"
#include "s3cryptfs/keys/pkcs11_protector.h"
#include "s3cryptfs/keys/recovery_protector.h"

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

}  // namespace
}  // namespace s3cryptfs::keys
