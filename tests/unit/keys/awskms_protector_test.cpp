// AWS KMS protector against a scripted HTTP server: what real AWS KMS answers that moto does not
// reproduce (rejected and expired credentials, a disabled key), the request's shape, the
// timeout. The round trips against a KMS implementation are in awskms_moto_test.cpp.
#include "s3cryptfs/keys/awskms_protector.h"

#include <chrono>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "s3cryptfs/keys/protector_spec.h"

#include "support/fake_http_server.h"
#include "support/fake_vault_transit.h"
#include "unit/keys/keys_test_support.h"

namespace s3cryptfs::keys {
namespace {

using nlohmann::json;
using test::FakeHttpServer;
using test::ReceivedRequest;
using test::Reply;
using testing::testContext;
using testing::testVolumeKey;

Reply kmsReply(int status, const json& body) {
  Reply reply = Reply::withStatus(status, body.dump());
  reply.headers = {{"Content-Type", "application/x-amz-json-1.1"}};
  return reply;
}

Reply kmsErrorReply(const std::string& type, const std::string& message) {
  return kmsReply(400, {{"__type", type}, {"message", message}});
}

AwsKmsConfig configFor(const FakeHttpServer& server, const std::string& access_key = "AKIDGOOD",
                       const std::string& session_token = "") {
  AwsKmsConfig config;
  config.key_id = "alias/s3c";
  config.aws.endpoint_url = server.baseUrl();
  config.environment = http::Environment{{"AWS_ACCESS_KEY_ID", access_key},
                                         {"AWS_SECRET_ACCESS_KEY", "secret-never-logged"},
                                         {"AWS_REGION", "eu-west-3"},
                                         {"HOME", "/nonexistent"}};
  if (!session_token.empty()) (*config.environment)["AWS_SESSION_TOKEN"] = session_token;
  config.timeout = std::chrono::milliseconds(3000);
  return config;
}

// A KMS stand-in that checks the request the way AWS does before anything else: the target,
// the content type, the credential scope and the access key id.
Reply fakeKms(const ReceivedRequest& request) {
  const std::string* target = request.header("x-amz-target");
  const std::string* auth = request.header("authorization");
  const std::string* content_type = request.header("content-type");
  if (target == nullptr || auth == nullptr || content_type == nullptr ||
      *content_type != "application/x-amz-json-1.1" || request.method != "POST" ||
      request.target != "/") {
    return kmsErrorReply("ValidationException", "malformed request");
  }
  if (auth->find("Credential=AKIDGOOD/") == std::string::npos ||
      auth->find("/eu-west-3/kms/aws4_request") == std::string::npos) {
    return kmsErrorReply("UnrecognizedClientException",
                         "The security token included in the request is invalid.");
  }
  if (const std::string* token = request.header("x-amz-security-token");
      token != nullptr && *token == "expired-token") {
    return kmsErrorReply("ExpiredTokenException", "The security token included has expired");
  }
  json body = json::parse(request.body);
  if (*target == "TrentService.Encrypt") {
    // Echo the plaintext with the context around it: "ciphertext" the Decrypt below checks.
    json blob = {{"p", body["Plaintext"]}, {"c", body["EncryptionContext"]}};
    return kmsReply(200, {{"KeyId", "arn:aws:kms:eu-west-3:111122223333:key/1234"},
                          {"CiphertextBlob", toBase64(asBytes(blob.dump()))}});
  }
  if (*target == "TrentService.Decrypt") {
    Bytes raw;
    if (!fromBase64(body["CiphertextBlob"].get<std::string>(), raw)) {
      return kmsErrorReply("InvalidCiphertextException", "");
    }
    json blob = json::parse(asChars(raw), nullptr, false);
    if (blob.is_discarded() || blob["c"] != body["EncryptionContext"]) {
      return kmsErrorReply("InvalidCiphertextException", "");
    }
    return kmsReply(200, {{"KeyId", body["KeyId"]}, {"Plaintext", blob["p"]}});
  }
  return kmsErrorReply("UnknownOperationException", "");
}

TEST(AwsKmsProtectorTest, RequestIsSignedForKmsWithTheContext) {
  FakeHttpServer server;
  server.setHandler(fakeKms);
  AwsKmsProtector protector(configFor(server));
  auto wrapped = protector.wrap(testVolumeKey(), testContext());
  ASSERT_TRUE(wrapped) << wrapped.error().describe();
  EXPECT_EQ(wrapped->type, "awskms");
  EXPECT_EQ(wrapped->params.at("key-arn"), "arn:aws:kms:eu-west-3:111122223333:key/1234");
  EXPECT_EQ(wrapped->params.at("region"), "eu-west-3");
  EXPECT_EQ(wrapped->params.at("endpoint"), server.baseUrl());
  auto requests = server.received();
  ASSERT_EQ(requests.size(), 1u);
  json body = json::parse(requests[0].body);
  EXPECT_EQ(body["KeyId"], "alias/s3c");
  EXPECT_EQ(body["EncryptionContext"]["s3cryptfs:volume"], testContext().volume_id_hex);
  EXPECT_EQ(body["EncryptionContext"]["s3cryptfs:key-version"], "1");
  ASSERT_NE(requests[0].header("x-amz-date"), nullptr);
  EXPECT_EQ(requests[0].header("x-amz-security-token"), nullptr);

  auto key = protector.unwrap(*wrapped, testContext());
  ASSERT_TRUE(key) << key.error().describe();
  EXPECT_TRUE(key->equals(testVolumeKey()));
  // Decrypt names the key the copy was made with, so KMS refuses a blob of another key.
  body = json::parse(server.received().back().body);
  EXPECT_EQ(body["KeyId"], "alias/s3c");

  auto other = protector.unwrap(*wrapped, testing::otherVersion());
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().kind(), ErrorKind::kPermissionDenied);
  EXPECT_NE(other.error().message().find("does not unlock this volume"), std::string::npos);
}

TEST(AwsKmsProtectorTest, SessionTokenIsSent) {
  FakeHttpServer server;
  server.setHandler(fakeKms);
  AwsKmsProtector protector(configFor(server, "AKIDGOOD", "session-token-1"));
  ASSERT_TRUE(protector.wrap(testVolumeKey(), testContext()));
  auto requests = server.received();  // header() points into it
  const std::string* token = requests.at(0).header("x-amz-security-token");
  ASSERT_NE(token, nullptr);
  EXPECT_EQ(*token, "session-token-1");
}

TEST(AwsKmsProtectorTest, WrongCredentialsAreRefusedClearly) {
  FakeHttpServer server;
  server.setHandler(fakeKms);
  auto wrapped =
      AwsKmsProtector(configFor(server, "AKIDWRONG")).wrap(testVolumeKey(), testContext());
  ASSERT_FALSE(wrapped);
  EXPECT_EQ(wrapped.error().kind(), ErrorKind::kPermissionDenied);
  EXPECT_EQ(wrapped.error().serviceCode(), "UnrecognizedClientException");
  EXPECT_NE(wrapped.error().message().find("credentials rejected"), std::string::npos);
  EXPECT_NE(wrapped.error().message().find("AKIDWRONG"), std::string::npos);  // the id helps
  EXPECT_EQ(wrapped.error().message().find("secret-never-logged"), std::string::npos);
}

TEST(AwsKmsProtectorTest, ExpiredSessionTokenIsNamed) {
  FakeHttpServer server;
  server.setHandler(fakeKms);
  auto wrapped = AwsKmsProtector(configFor(server, "AKIDGOOD", "expired-token"))
                     .wrap(testVolumeKey(), testContext());
  ASSERT_FALSE(wrapped);
  EXPECT_EQ(wrapped.error().kind(), ErrorKind::kPermissionDenied);
  EXPECT_NE(wrapped.error().message().find("session token has expired"), std::string::npos);
  EXPECT_EQ(wrapped.error().message().find("expired-token"), std::string::npos);
}

// moto 5.2.1 lets a disabled key encrypt and decrypt (checked), so the refusal real KMS sends
// (AWS KMS API Reference, Decrypt, "Errors": DisabledException, KMSInvalidStateException) is
// replayed here.
TEST(AwsKmsProtectorTest, DisabledOrPendingDeletionKeyIsPermissionDenied) {
  FakeHttpServer server;
  server.setHandler(fakeKms);
  AwsKmsProtector protector(configFor(server));
  auto wrapped = protector.wrap(testVolumeKey(), testContext());
  ASSERT_TRUE(wrapped);
  server.setHandler([](const ReceivedRequest&) {
    return kmsErrorReply("DisabledException",
                         "arn:aws:kms:eu-west-3:111122223333:key/1234 is "
                         "disabled.");
  });
  auto disabled = protector.unwrap(*wrapped, testContext());
  ASSERT_FALSE(disabled);
  EXPECT_EQ(disabled.error().kind(), ErrorKind::kPermissionDenied);
  EXPECT_NE(disabled.error().message().find("the KMS key is disabled"), std::string::npos);

  server.setHandler([](const ReceivedRequest&) {
    return kmsErrorReply("KMSInvalidStateException", "key is pending deletion.");
  });
  auto pending = protector.unwrap(*wrapped, testContext());
  ASSERT_FALSE(pending);
  EXPECT_EQ(pending.error().kind(), ErrorKind::kPermissionDenied);
  EXPECT_NE(pending.error().message().find("pending deletion"), std::string::npos);
}

TEST(AwsKmsProtectorTest, ServerErrorsAreRetryableAndThrottlingIsThrottled) {
  FakeHttpServer server;
  server.enqueue(kmsErrorReply("KMSInternalException", "boom"));
  server.enqueue(kmsErrorReply("ThrottlingException", "slow down"));
  server.enqueue(Reply::withStatus(502, "<html>bad gateway</html>"));
  AwsKmsProtector protector(configFor(server));
  auto internal = protector.wrap(testVolumeKey(), testContext());
  ASSERT_FALSE(internal);
  EXPECT_EQ(internal.error().kind(), ErrorKind::kTransient);
  auto throttled = protector.wrap(testVolumeKey(), testContext());
  ASSERT_FALSE(throttled);
  EXPECT_EQ(throttled.error().kind(), ErrorKind::kThrottled);
  auto gateway = protector.wrap(testVolumeKey(), testContext());
  ASSERT_FALSE(gateway);
  EXPECT_EQ(gateway.error().kind(), ErrorKind::kTransient);
  EXPECT_NE(gateway.error().message().find("bad gateway"), std::string::npos);
}

TEST(AwsKmsProtectorTest, MalformedResponsesAreErrorsNotCrashes) {
  FakeHttpServer server;
  server.enqueue(Reply::withStatus(200, "not json"));
  server.enqueue(kmsReply(200, {{"KeyId", 5}}));
  server.enqueue(kmsReply(200, {{"KeyId", "k"}, {"Plaintext", "!!!"}}));
  server.enqueue(kmsReply(200, {{"KeyId", "k"}, {"Plaintext", toBase64(asBytes("short"))}}));
  AwsKmsProtector protector(configFor(server));
  EXPECT_FALSE(protector.wrap(testVolumeKey(), testContext()));
  EXPECT_FALSE(protector.wrap(testVolumeKey(), testContext()));
  WrappedKey copy{"awskms", {{"key-arn", "k"}, {"region", "eu-west-3"}}, {1, 2, 3}};
  auto bad_base64 = protector.unwrap(copy, testContext());
  ASSERT_FALSE(bad_base64);
  EXPECT_EQ(bad_base64.error().kind(), ErrorKind::kPermissionDenied);
  auto short_key = protector.unwrap(copy, testContext());
  ASSERT_FALSE(short_key);
  EXPECT_EQ(short_key.error().kind(), ErrorKind::kPermissionDenied);
  copy.wrapped.clear();
  EXPECT_EQ(protector.unwrap(copy, testContext()).error().kind(), ErrorKind::kCorrupt);
}

TEST(AwsKmsProtectorTest, OversizedResponseIsRefused) {
  FakeHttpServer server;
  server.enqueue(kmsReply(200, {{"KeyId", "k"}, {"CiphertextBlob", std::string(2 << 20, 'A')}}));
  auto wrapped = AwsKmsProtector(configFor(server)).wrap(testVolumeKey(), testContext());
  ASSERT_FALSE(wrapped);
  EXPECT_EQ(wrapped.error().kind(), ErrorKind::kIo);
  EXPECT_NE(wrapped.error().message().find("larger than the limit"), std::string::npos)
      << wrapped.error().message();
}

TEST(AwsKmsProtectorTest, HungEndpointFailsWithinTheTimeout) {
  FakeHttpServer server;
  server.setDefault(Reply::behaving(Reply::Behaviour::kHang));
  AwsKmsConfig config = configFor(server);
  config.timeout = std::chrono::milliseconds(400);
  // The server never answers, so returning at all (with the timeout named) proves the timeout
  // fired; no wall-clock bound is asserted (timings belong to bench/).
  auto wrapped = AwsKmsProtector(config).wrap(testVolumeKey(), testContext());
  ASSERT_FALSE(wrapped);
  EXPECT_EQ(wrapped.error().kind(), ErrorKind::kTransient);
  EXPECT_NE(wrapped.error().message().find("timeout 400 ms"), std::string::npos)
      << wrapped.error().message();
  server.stop();
}

TEST(AwsKmsProtectorTest, UnreachableEndpointFailsFast) {
  const uint16_t port = testing::unusedLoopbackPort();
  FakeHttpServer unused;
  AwsKmsConfig config = configFor(unused);
  config.aws.endpoint_url = "http://127.0.0.1:" + std::to_string(port);
  auto wrapped = AwsKmsProtector(config).wrap(testVolumeKey(), testContext());
  ASSERT_FALSE(wrapped);
  EXPECT_EQ(wrapped.error().kind(), ErrorKind::kTransient);
  EXPECT_NE(wrapped.error().message().find("AWS KMS Encrypt at http://127.0.0.1:"),
            std::string::npos)
      << wrapped.error().message();
}

TEST(AwsKmsProtectorTest, MissingCredentialsOrRegionAreConfigurationErrors) {
  FakeHttpServer server;
  AwsKmsConfig config = configFor(server);
  config.environment = http::Environment{{"HOME", "/nonexistent"}, {"AWS_REGION", "eu-west-3"}};
  auto no_credentials = AwsKmsProtector(config).wrap(testVolumeKey(), testContext());
  ASSERT_FALSE(no_credentials);
  EXPECT_EQ(no_credentials.error().kind(), ErrorKind::kInvalidArgument);
  EXPECT_NE(no_credentials.error().message().find("no credentials"), std::string::npos);
  config = configFor(server);
  config.environment->erase("AWS_REGION");
  auto no_region = AwsKmsProtector(config).wrap(testVolumeKey(), testContext());
  ASSERT_FALSE(no_region);
  EXPECT_NE(no_region.error().message().find("no region"), std::string::npos);
  EXPECT_EQ(server.requestsServed(), 0u);
}

TEST(AwsKmsProtectorTest, ProfileFromTheSharedCredentialsFile) {
  testing::TempDir dir;
  std::string credentials =
      dir.write("credentials",
                "[default]\naws_access_key_id = AKIDWRONG\naws_secret_access_key = x\n"
                "[kms-user]\naws_access_key_id = AKIDGOOD\naws_secret_access_key = y\n");
  FakeHttpServer server;
  server.setHandler(fakeKms);
  AwsKmsConfig config = configFor(server);
  config.environment = http::Environment{{"HOME", dir.path()},
                                         {"AWS_SHARED_CREDENTIALS_FILE", credentials},
                                         {"AWS_REGION", "eu-west-3"}};
  EXPECT_FALSE(AwsKmsProtector(config).wrap(testVolumeKey(), testContext()));
  config.aws.profile = "kms-user";
  auto wrapped = AwsKmsProtector(config).wrap(testVolumeKey(), testContext());
  ASSERT_TRUE(wrapped) << wrapped.error().describe();
}

// An HTTPS endpoint with a self-signed certificate (the fake Vault: any HTTPS server does, the
// request never gets past TLS unless the CA is trusted): refused with the system CAs, reached
// with AWS_CA_BUNDLE naming the certificate.
TEST(AwsKmsProtectorTest, CaBundleFromTheEnvironment) {
  testing::TempDir dir;
  std::string cert = dir.file("c.crt");
  std::string key = dir.file("c.key");
  std::string command =
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
      "-addext subjectAltName=IP:127.0.0.1 -keyout " +
      key + " -out " + cert + " >/dev/null 2>&1";
  ASSERT_EQ(std::system(command.c_str()), 0);
  test::FakeVaultOptions options;
  options.cert_file = cert;
  options.key_file = key;
  test::FakeVaultTransit https(options);
  FakeHttpServer unused;
  AwsKmsConfig config = configFor(unused);
  config.aws.endpoint_url = https.address();
  auto untrusted = AwsKmsProtector(config).wrap(testVolumeKey(), testContext());
  ASSERT_FALSE(untrusted);
  EXPECT_EQ(untrusted.error().kind(), ErrorKind::kInvalidArgument) << untrusted.error().describe();
  (*config.environment)["AWS_CA_BUNDLE"] = cert;
  auto trusted = AwsKmsProtector(config).wrap(testVolumeKey(), testContext());
  ASSERT_FALSE(trusted);  // TLS passed; the fake Vault has no KMS API
  EXPECT_NE(trusted.error().message().find("HTTP 404"), std::string::npos)
      << trusted.error().describe();
}

TEST(AwsKmsProtectorTest, SpecBuildsTheProtectorWithTheTimeout) {
  FakeHttpServer server;
  server.setDefault(Reply::behaving(Reply::Behaviour::kHang));
  auto spec =
      parseProtectorSpec("awskms:key-id=alias/x,region=eu-west-3,endpoint=" + server.baseUrl());
  ASSERT_TRUE(spec) << spec.error().describe();
  ProtectorOptions options;
  options.timeout = std::chrono::milliseconds(300);
  auto protector = makeProtector(*spec, options);
  ASSERT_TRUE(protector) << protector.error().describe();
  EXPECT_EQ((*protector)->type(), "awskms");
  ::setenv("AWS_ACCESS_KEY_ID", "AKIDGOOD", 1);
  ::setenv("AWS_SECRET_ACCESS_KEY", "s", 1);
  auto wrapped = (*protector)->wrap(testVolumeKey(), testContext());
  ::unsetenv("AWS_ACCESS_KEY_ID");
  ::unsetenv("AWS_SECRET_ACCESS_KEY");
  ASSERT_FALSE(wrapped);
  EXPECT_NE(wrapped.error().message().find("timeout 300 ms"), std::string::npos)
      << wrapped.error().message();
  EXPECT_FALSE(parseProtectorSpec("awskms:key-id=k,secret=x"));
  server.stop();
}

}  // namespace
}  // namespace s3cryptfs::keys
