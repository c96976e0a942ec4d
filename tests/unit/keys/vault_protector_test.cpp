// Vault transit protector against FakeVaultTransit (tests/support/fake_vault_transit.h): a FAKE
// that follows Vault's documented HTTP API, since no Vault server can be installed here.
#include "s3cryptfs/keys/vault_protector.h"

#include <chrono>
#include <cstdlib>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "s3cryptfs/keys/protector_spec.h"

#include "support/fake_http_server.h"
#include "support/fake_vault_transit.h"
#include "unit/keys/keys_test_support.h"

namespace s3cryptfs::keys {
namespace {

using test::FakeVaultOptions;
using test::FakeVaultTransit;
using testing::testContext;
using testing::testVolumeKey;

constexpr const char* kTransitKey = "s3cryptfs-volumes";

class VaultProtectorTest : public ::testing::Test {
 protected:
  VaultConfig config(const FakeVaultTransit& vault) const {
    VaultConfig c;
    c.address = vault.address();
    c.key = kTransitKey;
    c.auth.token_file = token_file_;
    c.timeout = std::chrono::milliseconds(5000);
    return c;
  }
  testing::TempDir dir_;
  std::string token_file_ = dir_.write("token", "s.fake-root-token\n");
};

TEST_F(VaultProtectorTest, RoundTrip) {
  FakeVaultTransit vault(FakeVaultOptions{});
  vault.createKey(kTransitKey);
  VaultProtector protector(config(vault));
  auto wrapped = protector.wrap(testVolumeKey(), testContext());
  ASSERT_TRUE(wrapped) << wrapped.error().describe();
  EXPECT_EQ(wrapped->type, "vault");
  EXPECT_EQ(wrapped->params.at("ciphertext").rfind("vault:v1:", 0), 0u);
  EXPECT_EQ(wrapped->params.at("key-version"), "1");
  EXPECT_EQ(wrapped->params.at("key"), kTransitKey);
  EXPECT_EQ(wrapped->params.at("mount"), "transit");
  EXPECT_EQ(wrapped->params.count("namespace"), 0u);
  auto key = protector.unwrap(*wrapped, testContext());
  ASSERT_TRUE(key) << key.error().describe();
  EXPECT_TRUE(key->equals(testVolumeKey()));
  // Unwrap needs only the address and a token: key and mount come from the copy.
  VaultConfig bare;
  bare.address = vault.address();
  bare.auth.token_file = token_file_;
  auto again = VaultProtector(bare).unwrap(*wrapped, testContext());
  ASSERT_TRUE(again) << again.error().describe();
  EXPECT_TRUE(again->equals(testVolumeKey()));
}

TEST_F(VaultProtectorTest, WrongContextOrTamperingIsRefused) {
  FakeVaultTransit vault(FakeVaultOptions{});
  vault.createKey(kTransitKey);
  VaultProtector protector(config(vault));
  auto wrapped = protector.wrap(testVolumeKey(), testContext());
  ASSERT_TRUE(wrapped) << wrapped.error().describe();
  for (const KeyContext& wrong : {testing::otherVolume(), testing::otherVersion()}) {
    auto key = protector.unwrap(*wrapped, wrong);
    ASSERT_FALSE(key);
    EXPECT_EQ(key.error().kind(), ErrorKind::kPermissionDenied);
    EXPECT_NE(key.error().message().find("does not unlock this volume"), std::string::npos);
  }
  auto local = protector.unwrap(testing::tampered(*wrapped, 30), testContext());
  ASSERT_FALSE(local);
  EXPECT_EQ(local.error().kind(), ErrorKind::kPermissionDenied);
  WrappedKey remote = *wrapped;
  std::string& ciphertext = remote.params["ciphertext"];
  ciphertext[12] = ciphertext[12] == 'A' ? 'B' : 'A';
  auto tampered_remote = protector.unwrap(remote, testContext());
  ASSERT_FALSE(tampered_remote);
  EXPECT_EQ(tampered_remote.error().kind(), ErrorKind::kPermissionDenied);
}

TEST_F(VaultProtectorTest, RewrapAfterKeyRotation) {
  FakeVaultTransit vault(FakeVaultOptions{});
  vault.createKey(kTransitKey);
  VaultProtector protector(config(vault));
  auto wrapped = protector.wrap(testVolumeKey(), testContext());
  ASSERT_TRUE(wrapped) << wrapped.error().describe();
  vault.rotateKey(kTransitKey);
  auto rewrapped = protector.rewrap(*wrapped, testContext());
  ASSERT_TRUE(rewrapped) << rewrapped.error().describe();
  EXPECT_EQ(rewrapped->params.at("key-version"), "2");
  EXPECT_EQ(rewrapped->params.at("ciphertext").rfind("vault:v2:", 0), 0u);
  EXPECT_EQ(rewrapped->wrapped, wrapped->wrapped);  // the local seal is untouched
  // Retire version 1: only the rewrapped copy still opens.
  vault.setMinDecryptionVersion(kTransitKey, 2);
  auto old_copy = protector.unwrap(*wrapped, testContext());
  ASSERT_FALSE(old_copy);
  EXPECT_NE(old_copy.error().message().find("too old"), std::string::npos)
      << old_copy.error().message();
  auto key = protector.unwrap(*rewrapped, testContext());
  ASSERT_TRUE(key) << key.error().describe();
  EXPECT_TRUE(key->equals(testVolumeKey()));
  // Rewrap keeps the context binding: with another context Vault refuses.
  auto wrong = protector.rewrap(*rewrapped, testing::otherVolume());
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().kind(), ErrorKind::kPermissionDenied);
}

TEST_F(VaultProtectorTest, WrongTokenIsRefusedWithoutEchoingIt) {
  FakeVaultTransit vault(FakeVaultOptions{});
  vault.createKey(kTransitKey);
  VaultConfig c = config(vault);
  c.auth.token_file = dir_.write("bad-token", "s.wrong-token-value\n");
  auto wrapped = VaultProtector(c).wrap(testVolumeKey(), testContext());
  ASSERT_FALSE(wrapped);
  EXPECT_EQ(wrapped.error().kind(), ErrorKind::kPermissionDenied);
  EXPECT_NE(wrapped.error().message().find("permission denied"), std::string::npos);
  EXPECT_NE(wrapped.error().message().find(c.auth.token_file), std::string::npos);
  EXPECT_EQ(wrapped.error().message().find("s.wrong-token-value"), std::string::npos);
}

TEST_F(VaultProtectorTest, TokenFromTheEnvironment) {
  FakeVaultTransit vault(FakeVaultOptions{});
  vault.createKey(kTransitKey);
  VaultConfig c = config(vault);
  c.auth.token_file.clear();
  c.auth.token_env = "S3C_TEST_VAULT_TOKEN";
  ::unsetenv("S3C_TEST_VAULT_TOKEN");
  auto missing = VaultProtector(c).wrap(testVolumeKey(), testContext());
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind(), ErrorKind::kInvalidArgument);
  EXPECT_NE(missing.error().message().find("$S3C_TEST_VAULT_TOKEN is not set"), std::string::npos);
  ::setenv("S3C_TEST_VAULT_TOKEN", "s.fake-root-token", 1);
  auto wrapped = VaultProtector(c).wrap(testVolumeKey(), testContext());
  ::unsetenv("S3C_TEST_VAULT_TOKEN");
  ASSERT_TRUE(wrapped) << wrapped.error().describe();
}

TEST_F(VaultProtectorTest, NamespaceHeaderIsSentAndRemembered) {
  FakeVaultOptions options;
  options.namespace_ = "team-a/storage";
  FakeVaultTransit vault(options);
  vault.createKey(kTransitKey);
  VaultConfig c = config(vault);
  auto outside = VaultProtector(c).wrap(testVolumeKey(), testContext());
  ASSERT_FALSE(outside);
  EXPECT_EQ(outside.error().kind(), ErrorKind::kPermissionDenied);
  c.namespace_ = "team-a/storage";
  auto wrapped = VaultProtector(c).wrap(testVolumeKey(), testContext());
  ASSERT_TRUE(wrapped) << wrapped.error().describe();
  EXPECT_EQ(vault.lastNamespace(), "team-a/storage");
  EXPECT_EQ(wrapped->params.at("namespace"), "team-a/storage");
  c.namespace_.clear();  // from the copy
  auto key = VaultProtector(c).unwrap(*wrapped, testContext());
  ASSERT_TRUE(key) << key.error().describe();
}

TEST_F(VaultProtectorTest, KubernetesLogin) {
  FakeVaultOptions options;
  options.k8s_role = "s3cryptfs-node";
  options.k8s_jwt = "eyJhbGciOiJSUzI1NiJ9.service-account.signature";
  FakeVaultTransit vault(options);
  vault.createKey(kTransitKey);
  VaultConfig c = config(vault);
  c.auth.token_file.clear();
  c.auth.k8s_role = "s3cryptfs-node";
  c.auth.k8s_jwt_file = dir_.write("jwt", options.k8s_jwt + "\n");
  auto wrapped = VaultProtector(c).wrap(testVolumeKey(), testContext());
  ASSERT_TRUE(wrapped) << wrapped.error().describe();
  auto key = VaultProtector(c).unwrap(*wrapped, testContext());
  ASSERT_TRUE(key) << key.error().describe();

  VaultConfig wrong_role = c;
  wrong_role.auth.k8s_role = "someone-else";
  auto refused = VaultProtector(wrong_role).unwrap(*wrapped, testContext());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind(), ErrorKind::kPermissionDenied);
  EXPECT_NE(refused.error().message().find("Kubernetes login"), std::string::npos);

  VaultConfig wrong_jwt = c;
  wrong_jwt.auth.k8s_jwt_file = dir_.write("jwt2", "eyJ.other.jwt\n");
  auto denied = VaultProtector(wrong_jwt).unwrap(*wrapped, testContext());
  ASSERT_FALSE(denied);
  EXPECT_EQ(denied.error().kind(), ErrorKind::kPermissionDenied);
  EXPECT_EQ(denied.error().message().find("eyJ.other.jwt"), std::string::npos);

  VaultConfig no_jwt = c;
  no_jwt.auth.k8s_jwt_file = dir_.file("absent");
  auto missing = VaultProtector(no_jwt).unwrap(*wrapped, testContext());
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind(), ErrorKind::kNotFound);
}

TEST_F(VaultProtectorTest, HttpsWithAGivenCa) {
  std::string cert = dir_.file("vault.crt");
  std::string key = dir_.file("vault.key");
  std::string command =
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
      "-addext subjectAltName=IP:127.0.0.1 -keyout " +
      key + " -out " + cert + " >/dev/null 2>&1";
  ASSERT_EQ(std::system(command.c_str()), 0);
  FakeVaultOptions options;
  options.cert_file = cert;
  options.key_file = key;
  FakeVaultTransit vault(options);
  vault.createKey(kTransitKey);
  ASSERT_EQ(vault.address().rfind("https://", 0), 0u);
  VaultConfig c = config(vault);
  auto untrusted = VaultProtector(c).wrap(testVolumeKey(), testContext());
  ASSERT_FALSE(untrusted);
  EXPECT_EQ(untrusted.error().kind(), ErrorKind::kInvalidArgument) << untrusted.error().describe();
  c.ca_bundle = cert;
  auto wrapped = VaultProtector(c).wrap(testVolumeKey(), testContext());
  ASSERT_TRUE(wrapped) << wrapped.error().describe();
  auto unwrapped = VaultProtector(c).unwrap(*wrapped, testContext());
  ASSERT_TRUE(unwrapped) << unwrapped.error().describe();
}

TEST_F(VaultProtectorTest, SealedVaultIsTransient) {
  FakeVaultTransit vault(FakeVaultOptions{});
  vault.createKey(kTransitKey);
  vault.setSealed(true);
  auto wrapped = VaultProtector(config(vault)).wrap(testVolumeKey(), testContext());
  ASSERT_FALSE(wrapped);
  EXPECT_EQ(wrapped.error().kind(), ErrorKind::kTransient);
  EXPECT_NE(wrapped.error().message().find("sealed"), std::string::npos);
}

TEST_F(VaultProtectorTest, UnknownMountIsNotFound) {
  FakeVaultTransit vault(FakeVaultOptions{});
  vault.createKey(kTransitKey);
  VaultConfig c = config(vault);
  c.mount = "kv";
  auto wrapped = VaultProtector(c).wrap(testVolumeKey(), testContext());
  ASSERT_FALSE(wrapped);
  EXPECT_EQ(wrapped.error().kind(), ErrorKind::kNotFound);
  EXPECT_NE(wrapped.error().message().find("no transit mount 'kv'"), std::string::npos);
}

TEST_F(VaultProtectorTest, UnreachableVaultFailsFast) {
  const uint16_t port = testing::unusedLoopbackPort();
  VaultConfig c;
  c.address = "http://127.0.0.1:" + std::to_string(port);
  c.key = kTransitKey;
  c.auth.token_file = token_file_;
  auto start = std::chrono::steady_clock::now();
  auto wrapped = VaultProtector(c).wrap(testVolumeKey(), testContext());
  ASSERT_FALSE(wrapped);
  EXPECT_EQ(wrapped.error().kind(), ErrorKind::kTransient);
  EXPECT_NE(wrapped.error().message().find("Vault transit encrypt at " + c.address),
            std::string::npos)
      << wrapped.error().message();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(2000));
}

TEST_F(VaultProtectorTest, SpecTimeoutBoundsAHungVault) {
  test::FakeHttpServer hung;
  hung.setDefault(test::Reply::behaving(test::Reply::Behaviour::kHang));
  auto spec =
      parseProtectorSpec("vault:addr=" + hung.baseUrl() + ",key=k,token-file=" + token_file_);
  ASSERT_TRUE(spec) << spec.error().describe();
  ProtectorOptions options;
  options.timeout = std::chrono::milliseconds(300);
  auto protector = makeProtector(*spec, options);
  ASSERT_TRUE(protector) << protector.error().describe();
  auto start = std::chrono::steady_clock::now();
  auto wrapped = (*protector)->wrap(testVolumeKey(), testContext());
  ASSERT_FALSE(wrapped);
  EXPECT_EQ(wrapped.error().kind(), ErrorKind::kTransient);
  EXPECT_NE(wrapped.error().message().find("timeout 300 ms"), std::string::npos)
      << wrapped.error().message();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(2000));
  hung.stop();
}

}  // namespace
}  // namespace s3cryptfs::keys
