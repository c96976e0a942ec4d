#include "s3cryptfs/keys/pkcs11_protector.h"

#include <cstdio>
#include <unistd.h>

#include <gtest/gtest.h>

#include "unit/keys/keys_test_support.h"
#include "unit/keys/softhsm_fixture.h"

namespace s3cryptfs::keys {
namespace {

using testing::testContext;
using testing::testVolumeKey;

class Pkcs11ProtectorTest : public ::testing::TestWithParam<Pkcs11Mechanism> {
 protected:
  void SetUp() override {
    std::string why;
    hsm_ = testing::softHsm(&why);
    if (hsm_ == nullptr) GTEST_SKIP() << why;
  }
  std::string keyLabel() const {
    return GetParam() == Pkcs11Mechanism::kAesGcm ? "volume-key-gcm" : "volume-key-kwp";
  }
  Pkcs11Config config(bool create = true) const {
    Pkcs11Config c = hsm_->config(keyLabel(), GetParam());
    c.create_key_if_missing = create;
    return c;
  }
  WrappedKey wrapOnce() {
    Pkcs11Protector protector(config());
    auto wrapped = protector.wrap(testVolumeKey(), testContext());
    EXPECT_TRUE(wrapped) << wrapped.error().describe();
    return wrapped ? *wrapped : WrappedKey{};
  }
  const testing::SoftHsm* hsm_ = nullptr;
};

TEST_P(Pkcs11ProtectorTest, RoundTrip) {
  WrappedKey wrapped = wrapOnce();
  EXPECT_EQ(wrapped.type, "pkcs11");
  EXPECT_EQ(wrapped.params.at("token"), hsm_->token);
  EXPECT_EQ(wrapped.params.at("key"), keyLabel());
  EXPECT_EQ(wrapped.params.at("mechanism"),
            GetParam() == Pkcs11Mechanism::kAesGcm ? "aes-gcm" : "aes-key-wrap-pad");
  Pkcs11Protector protector(config(false));
  auto unwrapped = protector.unwrap(wrapped, testContext());
  ASSERT_TRUE(unwrapped) << unwrapped.error().describe();
  EXPECT_TRUE(unwrapped->equals(testVolumeKey()));
  // A second wrap finds the key created by the first instead of creating another.
  WrappedKey again = wrapOnce();
  EXPECT_NE(again.wrapped, wrapped.wrapped);
  EXPECT_TRUE(protector.unwrap(again, testContext()));
}

TEST_P(Pkcs11ProtectorTest, CreatedKeyIsSensitiveAndNeverExtractable) {
  if (::access("/usr/bin/pkcs11-tool", X_OK) != 0) GTEST_SKIP() << "opensc is not installed";
  wrapOnce();
  std::string command = "pkcs11-tool --module " + hsm_->module + " --token-label " + hsm_->token +
                        " --login --pin " + hsm_->pin + " --list-objects --type secrkey 2>&1";
  std::string output;
  if (FILE* pipe = ::popen(command.c_str(), "r")) {
    char buffer[512];
    while (size_t n = std::fread(buffer, 1, sizeof buffer, pipe))
      output.append(buffer, n);
    ::pclose(pipe);
  }
  size_t at = output.find("label:      " + keyLabel() + "\n");
  ASSERT_NE(at, std::string::npos) << output;
  std::string object = output.substr(at, output.find("Secret Key Object", at) - at);
  EXPECT_NE(object.find("Usage:      encrypt, decrypt, wrap, unwrap\n"), std::string::npos)
      << object;
  EXPECT_NE(object.find("sensitive, always sensitive, never extractable"), std::string::npos)
      << object;
}

TEST_P(Pkcs11ProtectorTest, LabelsComeFromParamsWhenNotConfigured) {
  WrappedKey wrapped = wrapOnce();
  Pkcs11Config bare;
  bare.module_path = hsm_->module;
  bare.pin = filePassphrase(hsm_->pin_file);
  Pkcs11Protector protector(std::move(bare));
  auto unwrapped = protector.unwrap(wrapped, testContext());
  ASSERT_TRUE(unwrapped) << unwrapped.error().describe();
  EXPECT_TRUE(unwrapped->equals(testVolumeKey()));
}

TEST_P(Pkcs11ProtectorTest, WrongPinIsPermissionDenied) {
  WrappedKey wrapped = wrapOnce();
  Pkcs11Config c = config(false);
  c.pin = fixedPassphrase(SecureBuffer(asBytes("9999")));
  auto result = Pkcs11Protector(std::move(c)).unwrap(wrapped, testContext());
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind(), ErrorKind::kPermissionDenied);
  EXPECT_EQ(result.error().message(), "PKCS#11 PIN rejected for token '" + hsm_->token + "'");
}

TEST_P(Pkcs11ProtectorTest, UnknownTokenIsNotFound) {
  WrappedKey wrapped = wrapOnce();
  Pkcs11Config c = config(false);
  c.token_label = "no-such-token";
  auto result = Pkcs11Protector(std::move(c)).unwrap(wrapped, testContext());
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind(), ErrorKind::kNotFound);
  EXPECT_NE(result.error().message().find("no-such-token"), std::string::npos);
}

TEST_P(Pkcs11ProtectorTest, MissingKeyIsNotFoundUnlessCreated) {
  Pkcs11Config c = config(false);
  c.key_label = "never-created";
  auto result = Pkcs11Protector(std::move(c)).wrap(testVolumeKey(), testContext());
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind(), ErrorKind::kNotFound);
  EXPECT_NE(result.error().message().find("never-created"), std::string::npos);
}

TEST_P(Pkcs11ProtectorTest, TamperedBytesAreDenied) {
  WrappedKey wrapped = wrapOnce();
  Pkcs11Protector protector(config(false));
  for (size_t pos = 0; pos < wrapped.wrapped.size(); pos += 5) {
    if (GetParam() == Pkcs11Mechanism::kAesKeyWrapPad && pos < 2) continue;  // the length
    auto result = protector.unwrap(testing::tampered(wrapped, pos), testContext());
    ASSERT_FALSE(result) << pos;
    EXPECT_EQ(result.error().kind(), ErrorKind::kPermissionDenied) << pos;
    EXPECT_EQ(result.error().message(), "HSM key does not unlock this volume") << pos;
  }
  WrappedKey truncated = wrapped;
  truncated.wrapped.resize(1);
  auto result = protector.unwrap(truncated, testContext());
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind(), ErrorKind::kCorrupt);
}

TEST_P(Pkcs11ProtectorTest, WrongContextIsDenied) {
  WrappedKey wrapped = wrapOnce();
  Pkcs11Protector protector(config(false));
  for (const auto& context : {testing::otherVolume(), testing::otherVersion()}) {
    auto result = protector.unwrap(wrapped, context);
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().kind(), ErrorKind::kPermissionDenied);
  }
}

TEST_P(Pkcs11ProtectorTest, AnotherHsmKeyIsDenied) {
  WrappedKey wrapped = wrapOnce();
  Pkcs11Config other = config(true);
  other.key_label = keyLabel() + "-other";
  ASSERT_TRUE(Pkcs11Protector(other).wrap(testVolumeKey(2), testContext()));  // creates it
  other.create_key_if_missing = false;
  auto result = Pkcs11Protector(std::move(other)).unwrap(wrapped, testContext());
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind(), ErrorKind::kPermissionDenied);
}

TEST_P(Pkcs11ProtectorTest, MissingModuleIsNotFound) {
  Pkcs11Config c = config(false);
  c.module_path = "/nonexistent/libpkcs11.so";
  auto result = Pkcs11Protector(std::move(c)).wrap(testVolumeKey(), testContext());
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind(), ErrorKind::kNotFound);
}

INSTANTIATE_TEST_SUITE_P(Mechanisms, Pkcs11ProtectorTest,
                         ::testing::Values(Pkcs11Mechanism::kAesGcm,
                                           Pkcs11Mechanism::kAesKeyWrapPad),
                         [](const auto& param_info) {
                           return param_info.param == Pkcs11Mechanism::kAesGcm
                                      ? std::string("AesGcm")
                                      : std::string("KeyWrapPad");
                         });

}  // namespace
}  // namespace s3cryptfs::keys
