// KMIP protector against the PyKMIP server of the `servers` fixture (tests/servers/pykmip.sh):
// mutual TLS with certificates made at its start, keys created through KMIP by each test.
#include <chrono>
#include <fstream>
#include <mutex>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "s3cryptfs/core/log.h"
#include "s3cryptfs/keys/kmip_client.h"
#include "s3cryptfs/keys/kmip_protector.h"
#include "s3cryptfs/keys/protector_spec.h"

#include "support/fake_http_server.h"
#include "support/test_servers.h"
#include "unit/keys/keys_test_support.h"

namespace s3cryptfs::keys {
namespace {

using testing::testContext;
using testing::testVolumeKey;

class KmipPyKmipTest : public ::testing::TestWithParam<KmipVersion> {
 protected:
  void SetUp() override { server_ = test::requireKmipServer(); }
  KmipClientConfig client() const {
    KmipClientConfig c;
    c.host = server_.host;
    c.port = static_cast<uint16_t>(std::stoul(server_.port));
    c.ca_file = server_.ca;
    c.cert_file = server_.cert;
    c.key_file = server_.key;
    c.version = GetParam();
    c.timeout = std::chrono::milliseconds(10000);
    return c;
  }
  KmipProtectorConfig creating() const {
    KmipProtectorConfig c;
    c.client = client();
    c.create_key = true;
    return c;
  }
  WrappedKey wrapWithNewKey() {
    auto wrapped = KmipProtector(creating()).wrap(testVolumeKey(), testContext());
    EXPECT_TRUE(wrapped) << wrapped.error().describe();
    return wrapped ? *wrapped : WrappedKey{};
  }
  test::KmipTestServer server_;
};

TEST_P(KmipPyKmipTest, RoundTripWithACreatedKey) {
  WrappedKey wrapped = wrapWithNewKey();
  EXPECT_EQ(wrapped.type, "kmip");
  EXPECT_FALSE(wrapped.params.at("key-id").empty());
  EXPECT_EQ(wrapped.params.at("version"), GetParam().text());
  EXPECT_EQ(wrapped.wrapped.size(), 12 + kVolumeKeySize + 16);
  // The ciphertext is not the key.
  EXPECT_EQ(std::search(wrapped.wrapped.begin(), wrapped.wrapped.end(), testVolumeKey().data(),
                        testVolumeKey().data() + 8),
            wrapped.wrapped.end());
  KmipProtectorConfig unwrapping;
  unwrapping.client = client();  // no key-id: from the copy
  auto key = KmipProtector(unwrapping).unwrap(wrapped, testContext());
  ASSERT_TRUE(key) << key.error().describe();
  EXPECT_TRUE(key->equals(testVolumeKey()));
}

TEST_P(KmipPyKmipTest, RoundTripWithAnExistingKey) {
  auto admin = KmipClient::connect(client());
  ASSERT_TRUE(admin) << admin.error().describe();
  auto id = (*admin)->createAesKey(256);
  ASSERT_TRUE(id) << id.error().describe();
  KmipProtectorConfig config;
  config.client = client();
  config.key_id = *id;
  // Pre-Active until activated (KMIP 1.4 §3.22): Encrypt is refused.
  auto early = KmipProtector(config).wrap(testVolumeKey(), testContext());
  ASSERT_FALSE(early);
  EXPECT_EQ(early.error().kind(), ErrorKind::kPermissionDenied) << early.error().describe();
  ASSERT_TRUE((*admin)->activate(*id));
  auto wrapped = KmipProtector(config).wrap(testVolumeKey(), testContext());
  ASSERT_TRUE(wrapped) << wrapped.error().describe();
  EXPECT_EQ(wrapped->params.at("key-id"), *id);
  auto key = KmipProtector(config).unwrap(*wrapped, testContext());
  ASSERT_TRUE(key) << key.error().describe();
  EXPECT_TRUE(key->equals(testVolumeKey()));
}

TEST_P(KmipPyKmipTest, WrongContextOrTamperedCopyIsRefused) {
  WrappedKey wrapped = wrapWithNewKey();
  KmipProtectorConfig config;
  config.client = client();
  KmipProtector protector(config);
  for (const KeyContext& wrong : {testing::otherVolume(), testing::otherVersion()}) {
    auto key = protector.unwrap(wrapped, wrong);
    ASSERT_FALSE(key);
    EXPECT_EQ(key.error().kind(), ErrorKind::kPermissionDenied) << key.error().describe();
    EXPECT_NE(key.error().message().find("does not unlock this volume"), std::string::npos);
  }
  for (size_t position : {0, 20, 50}) {
    auto key = protector.unwrap(testing::tampered(wrapped, position), testContext());
    ASSERT_FALSE(key) << position;
    EXPECT_EQ(key.error().kind(), ErrorKind::kPermissionDenied) << key.error().describe();
  }
  WrappedKey truncated = wrapped;
  truncated.wrapped.pop_back();
  EXPECT_EQ(protector.unwrap(truncated, testContext()).error().kind(), ErrorKind::kCorrupt);
}

TEST_P(KmipPyKmipTest, RevokedKeyIsRefusedAndDestroyedKeyIsNotFound) {
  WrappedKey wrapped = wrapWithNewKey();
  const std::string id = wrapped.params.at("key-id");
  KmipProtectorConfig config;
  config.client = client();
  auto admin = KmipClient::connect(client());
  ASSERT_TRUE(admin) << admin.error().describe();
  ASSERT_TRUE((*admin)->revoke(id, KmipRevocationReason::kCessationOfOperation));
  auto revoked = KmipProtector(config).unwrap(wrapped, testContext());
  ASSERT_FALSE(revoked);
  EXPECT_EQ(revoked.error().kind(), ErrorKind::kPermissionDenied);
  EXPECT_NE(revoked.error().message().find("revoked"), std::string::npos)
      << revoked.error().message();
  EXPECT_NE(revoked.error().message().find(id), std::string::npos);

  ASSERT_TRUE((*admin)->destroy(id));
  auto destroyed = KmipProtector(config).unwrap(wrapped, testContext());
  ASSERT_FALSE(destroyed);
  EXPECT_EQ(destroyed.error().kind(), ErrorKind::kNotFound) << destroyed.error().describe();
  EXPECT_NE(destroyed.error().message().find("not found"), std::string::npos);
}

TEST_P(KmipPyKmipTest, RewrapMovesTheCopyToANewKey) {
  WrappedKey wrapped = wrapWithNewKey();
  const std::string old_id = wrapped.params.at("key-id");
  auto rewrapped = KmipProtector(creating()).rewrap(wrapped, testContext());
  ASSERT_TRUE(rewrapped) << rewrapped.error().describe();
  EXPECT_NE(rewrapped->params.at("key-id"), old_id);
  // Retire the old key: the new copy still opens.
  auto admin = KmipClient::connect(client());
  ASSERT_TRUE(admin) << admin.error().describe();
  ASSERT_TRUE((*admin)->revoke(old_id, KmipRevocationReason::kCessationOfOperation));
  KmipProtectorConfig config;
  config.client = client();
  EXPECT_FALSE(KmipProtector(config).unwrap(wrapped, testContext()));
  auto key = KmipProtector(config).unwrap(*rewrapped, testContext());
  ASSERT_TRUE(key) << key.error().describe();
  EXPECT_TRUE(key->equals(testVolumeKey()));
  auto no_target = KmipProtector(config).rewrap(*rewrapped, testContext());
  ASSERT_FALSE(no_target);
  EXPECT_EQ(no_target.error().kind(), ErrorKind::kInvalidArgument);
}

TEST_P(KmipPyKmipTest, AnotherClientIdentityCannotUseTheKey) {
  WrappedKey wrapped = wrapWithNewKey();
  KmipProtectorConfig other;
  other.client = client();
  other.client.cert_file = server_.other_cert;
  other.client.key_file = server_.other_key;
  auto key = KmipProtector(other).unwrap(wrapped, testContext());
  ASSERT_FALSE(key);
  // PyKMIP answers Permission Denied ("Could not locate object") to another owner.
  EXPECT_EQ(key.error().kind(), ErrorKind::kPermissionDenied) << key.error().describe();
  EXPECT_NE(key.error().message().find("not usable by this client"), std::string::npos);
}

TEST_P(KmipPyKmipTest, WrongCaIsAClearTlsError) {
  KmipProtectorConfig config = creating();
  config.client.ca_file = server_.wrong_ca;
  auto wrapped = KmipProtector(config).wrap(testVolumeKey(), testContext());
  ASSERT_FALSE(wrapped);
  EXPECT_EQ(wrapped.error().kind(), ErrorKind::kInvalidArgument);
  EXPECT_NE(wrapped.error().message().find("server certificate does not verify"), std::string::npos)
      << wrapped.error().message();
  EXPECT_NE(wrapped.error().message().find(server_.wrong_ca), std::string::npos);
}

TEST_P(KmipPyKmipTest, MissingClientCertificateIsRefusedByTheServer) {
  KmipProtectorConfig config = creating();
  config.client.cert_file.clear();
  config.client.key_file.clear();
  auto wrapped = KmipProtector(config).wrap(testVolumeKey(), testContext());
  ASSERT_FALSE(wrapped);
  EXPECT_EQ(wrapped.error().kind(), ErrorKind::kPermissionDenied) << wrapped.error().describe();
  EXPECT_NE(wrapped.error().message().find("TLS 127.0.0.1:"), std::string::npos)
      << wrapped.error().message();
}

TEST_P(KmipPyKmipTest, SpecBuildsAWorkingProtector) {
  std::string text = "kmip:host=" + server_.host + ",port=" + server_.port + ",ca=" + server_.ca +
                     ",cert=" + server_.cert + ",key=" + server_.key +
                     ",create-key=yes,version=" + GetParam().text();
  auto spec = parseProtectorSpec(text);
  ASSERT_TRUE(spec) << spec.error().describe();
  auto protector = makeProtector(*spec);
  ASSERT_TRUE(protector) << protector.error().describe();
  auto wrapped = (*protector)->wrap(testVolumeKey(), testContext());
  ASSERT_TRUE(wrapped) << wrapped.error().describe();
  auto key = (*protector)->unwrap(*wrapped, testContext());
  ASSERT_TRUE(key) << key.error().describe();
  EXPECT_TRUE(key->equals(testVolumeKey()));
}

// The volume key (raw, hex, base64) and the client's private key never reach the log, through
// success and failure, at trace level.
TEST_P(KmipPyKmipTest, NoSecretReachesTheLog) {
  auto saved = spdlog::default_logger();
  std::mutex mutex;
  std::string captured;
  log::setLevel(log::Level::kTrace);
  log::toCallback([&](std::string_view line) {
    std::lock_guard lock(mutex);
    captured.append(line);
  });
  SecureBuffer volume_key = testing::testVolumeKey(0x33);
  std::vector<std::string> errors;
  KmipProtector protector(creating());
  auto wrapped = protector.wrap(volume_key, testContext());
  if (wrapped) {
    auto key = protector.unwrap(*wrapped, testContext());
    if (!key) errors.push_back(key.error().describe());
    auto wrong = protector.unwrap(*wrapped, testing::otherVolume());
    if (!wrong) errors.push_back(wrong.error().describe());
  }
  for (const auto& e : errors)
    log::error("{}", e);
  spdlog::set_default_logger(saved);
  log::setLevel(log::Level::kInfo);
  ASSERT_TRUE(wrapped) << wrapped.error().describe();
  EXPECT_EQ(errors.size(), 1u);  // only the wrong context
  std::ifstream key_file(server_.key);
  std::string pem((std::istreambuf_iterator<char>(key_file)), std::istreambuf_iterator<char>());
  std::vector<std::string> secrets = {std::string(asChars(volume_key.span())),
                                      toHex(volume_key.span()), toBase64(volume_key.span()),
                                      pem.substr(pem.find('\n') + 1, 64)};
  std::lock_guard lock(mutex);
  EXPECT_NE(captured.find("created and activated"), std::string::npos);  // the capture works
  for (const auto& s : secrets) {
    ASSERT_GE(s.size(), 16u);
    EXPECT_EQ(captured.find(s), std::string::npos) << "a secret appears in the log";
  }
}

INSTANTIATE_TEST_SUITE_P(Versions, KmipPyKmipTest,
                         ::testing::Values(KmipVersion{1, 4}, KmipVersion{2, 0}),
                         [](const auto& param_info) {
                           return "v" + std::to_string(param_info.param.major) +
                                  std::to_string(param_info.param.minor);
                         });

// Failures that need no KMIP server.
KmipProtectorConfig localConfig(uint16_t port, std::chrono::milliseconds timeout) {
  KmipProtectorConfig c;
  c.client.host = "127.0.0.1";
  c.client.port = port;
  c.client.ca_file = "/etc/ssl/certs/ca-certificates.crt";
  c.client.timeout = timeout;
  c.create_key = true;
  return c;
}

TEST(KmipProtectorTest, UnreachableServerFailsFast) {
  const uint16_t port = testing::unusedLoopbackPort();
  auto start = std::chrono::steady_clock::now();
  auto wrapped = KmipProtector(localConfig(port, std::chrono::seconds(5)))
                     .wrap(testVolumeKey(), testContext());
  ASSERT_FALSE(wrapped);
  EXPECT_EQ(wrapped.error().kind(), ErrorKind::kTransient);
  EXPECT_NE(wrapped.error().message().find("cannot connect"), std::string::npos)
      << wrapped.error().message();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(1000));
}

TEST(KmipProtectorTest, SilentServerTimesOutWithinTheTimeout) {
  test::FakeHttpServer silent;  // accepts, reads, never answers: the TLS handshake stalls
  silent.setDefault(test::Reply::behaving(test::Reply::Behaviour::kHang));
  auto start = std::chrono::steady_clock::now();
  auto wrapped = KmipProtector(localConfig(silent.port(), std::chrono::milliseconds(400)))
                     .wrap(testVolumeKey(), testContext());
  auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(wrapped);
  EXPECT_EQ(wrapped.error().kind(), ErrorKind::kTransient);
  EXPECT_NE(wrapped.error().message().find("timed out"), std::string::npos)
      << wrapped.error().message();
  EXPECT_NE(wrapped.error().message().find("timeout 400 ms"), std::string::npos);
  EXPECT_LT(elapsed, std::chrono::milliseconds(1500));
  silent.stop();
}

TEST(KmipProtectorTest, UnreadableCaFileIsNamed) {
  KmipProtectorConfig c = localConfig(1, std::chrono::seconds(1));
  c.client.ca_file = "/nonexistent/ca.pem";
  auto wrapped = KmipProtector(c).wrap(testVolumeKey(), testContext());
  ASSERT_FALSE(wrapped);
  EXPECT_EQ(wrapped.error().kind(), ErrorKind::kInvalidArgument);
  EXPECT_NE(wrapped.error().message().find("/nonexistent/ca.pem"), std::string::npos);
}

}  // namespace
}  // namespace s3cryptfs::keys
