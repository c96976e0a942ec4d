// S3ObjectStore against the live servers of the `servers` fixture (tests/servers): the
// ObjectStore conformance suite on Ceph RGW, moto and s3rver with the capabilities each is known
// to have (PEERS.md), the capability probe's findings, and the error cases.

#include <atomic>
#include <map>
#include <mutex>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "s3cryptfs/http/curl_http_client.h"
#include "s3cryptfs/s3/s3_object_store.h"
#include "s3cryptfs/store/retrying_object_store.h"

#include "conformance/object_store_conformance.h"
#include "support/test_servers.h"

namespace s3cryptfs::s3 {
namespace {

using store::Capabilities;

// What PEERS.md says each server can do; the probe must find the same.
Capabilities everything() {
  return Capabilities{};
}
Capabilities s3rverCapabilities() {
  Capabilities caps;
  caps.conditional_put_if_none_match = false;  // ignored
  caps.conditional_put_if_match = false;       // ignored
  caps.upload_part_copy = false;
  caps.list_parts = false;
  caps.abort_multipart = false;
  caps.list_multipart_uploads = false;  // NotImplemented
  caps.copy_onto_itself = true;
  return caps;
}

std::shared_ptr<http::HttpClient> sharedClient() {
  static std::shared_ptr<http::HttpClient> client = [] {
    http::ClientOptions options;
    options.connect_timeout = std::chrono::milliseconds(3000);
    options.request_timeout = std::chrono::milliseconds(120000);
    return std::shared_ptr<http::HttpClient>(std::make_shared<http::CurlHttpClient>(options));
  }();
  return client;
}

S3Config configFor(const test::S3TestServer& server, const std::string& prefix) {
  S3Config config;
  config.endpoint = server.endpoint;
  config.region = server.region.empty() ? "us-east-1" : server.region;
  config.bucket = server.bucket;
  config.prefix = prefix;
  config.credentials.access_key_id = server.access_key;
  config.credentials.secret_access_key = server.secret_key;
  return config;
}

std::unique_ptr<S3ObjectStore> openStore(const test::S3TestServer& server,
                                         const std::string& prefix) {
  auto store = S3ObjectStore::create(configFor(server, prefix), sharedClient());
  if (!store) {
    ADD_FAILURE() << store.error().describe();
    return nullptr;
  }
  return std::move(store).value();
}

// The probe runs once per server (as at a mount); later stores take its result.
struct Probed {
  Result<Capabilities> capabilities = Error(ErrorKind::kInternal, "not probed");
  ConditionalWriteSupport conditional;
};
const Probed& probed(const std::string& name) {
  static std::mutex mutex;
  static std::map<std::string, Probed> cache;
  std::lock_guard lock(mutex);
  auto found = cache.find(name);
  if (found != cache.end()) return found->second;
  Probed result;
  if (auto server = test::testServer(name)) {
    auto store = openStore(*server, test::uniquePrefix("probe-" + name));
    if (store) {
      result.capabilities = store->probeCapabilities();
      result.conditional = store->conditionalWriteSupport();
    }
  } else {
    result.capabilities = Error(ErrorKind::kNotFound, test::missingTestServerMessage(name));
  }
  return cache.emplace(name, std::move(result)).first->second;
}

std::unique_ptr<store::ObjectStore> freshStore(const std::string& name, bool retrying) {
  auto server = test::testServer(name);
  if (!server) {
    ADD_FAILURE() << test::missingTestServerMessage(name);
    return nullptr;
  }
  const Probed& probe = probed(name);
  if (!probe.capabilities) {
    ADD_FAILURE() << "probe of " << name << ": " << probe.capabilities.error().describe();
    return nullptr;
  }
  auto store = openStore(*server, test::uniquePrefix("conformance-" + name));
  if (!store) return nullptr;
  store->setCapabilities(*probe.capabilities, probe.conditional);
  if (!retrying) return store;
  // moto and s3rver answer 500 now and then under concurrent writes of one key; production
  // stacks always wrap the S3 store in the retrying decorator.
  // Write-id tagging is off: its metadata entry would show in the suite's metadata checks.
  store::RetryOptions options;
  options.tag_conditional_writes = false;
  return std::make_unique<store::RetryingObjectStore>(
      std::shared_ptr<store::ObjectStore>(std::move(store)), options);
}

std::unique_ptr<store::ObjectStore> cephStore() {
  return freshStore("ceph", false);
}
std::unique_ptr<store::ObjectStore> motoStore() {
  return freshStore("moto", true);
}
std::unique_ptr<store::ObjectStore> s3rverStore() {
  return freshStore("s3rver", true);
}

std::string describe(const Capabilities& c) {
  std::string out;
  auto add = [&out](const char* name, bool value) {
    out += std::string(name) + "=" + (value ? "yes" : "no") + " ";
  };
  add("if_none_match", c.conditional_put_if_none_match);
  add("if_match", c.conditional_put_if_match);
  add("upload_part_copy", c.upload_part_copy);
  add("list_parts", c.list_parts);
  add("abort", c.abort_multipart);
  add("copy_onto_itself", c.copy_onto_itself);
  add("list_uploads", c.list_multipart_uploads);
  return out;
}

void expectCapabilities(const std::string& name, const Capabilities& expected) {
  const Probed& probe = probed(name);
  ASSERT_TRUE(probe.capabilities) << probe.capabilities.error().describe();
  EXPECT_EQ(describe(*probe.capabilities), describe(expected)) << "probe of " << name;
}

TEST(S3Probe, CephHasEverythingAndWantsUnquotedIfMatch) {
  expectCapabilities("ceph", everything());
  // PEERS.md: Ceph RGW 16.2 matches PUT If-Match only against an unquoted ETag.
  EXPECT_FALSE(probed("ceph").conditional.if_match_quoted);
}

TEST(S3Probe, MotoHasEverything) {
  expectCapabilities("moto", everything());
}

TEST(S3Probe, S3rverLacksConditionsAndMultipartExtras) {
  expectCapabilities("s3rver", s3rverCapabilities());
}

TEST(S3Errors, WrongSecretAgainstCephIsPermissionDeniedNamingSignatureDoesNotMatch) {
  S3C_ASSERT_TEST_SERVER(server, "ceph");
  S3Config config = configFor(server, test::uniquePrefix("wrong-secret"));
  config.credentials.secret_access_key = "not-the-secret-" + server.secret_key;
  auto store = S3ObjectStore::create(config, sharedClient());
  ASSERT_TRUE(store);
  auto put = (*store)->put("k", asBytes("x"), {});
  ASSERT_FALSE(put);
  EXPECT_EQ(put.error().kind(), ErrorKind::kPermissionDenied) << put.error().describe();
  EXPECT_EQ(put.error().serviceCode(), "SignatureDoesNotMatch") << put.error().describe();
  EXPECT_NE(put.error().message().find("check the secret access key"), std::string::npos)
      << put.error().message();
  EXPECT_EQ(put.error().message().find(config.credentials.secret_access_key), std::string::npos);
  auto head = (*store)->head("k");  // HEAD has no body: still a permission error
  ASSERT_FALSE(head);
  EXPECT_EQ(head.error().kind(), ErrorKind::kPermissionDenied) << head.error().describe();
}

TEST(S3Errors, UnknownAccessKeyAgainstCephIsPermissionDenied) {
  S3C_ASSERT_TEST_SERVER(server, "ceph");
  S3Config config = configFor(server, test::uniquePrefix("wrong-key-id"));
  config.credentials.access_key_id = "AKIDNOSUCHKEY0000000";
  auto store = S3ObjectStore::create(config, sharedClient());
  ASSERT_TRUE(store);
  auto put = (*store)->put("k", asBytes("x"), {});
  ASSERT_FALSE(put);
  EXPECT_EQ(put.error().kind(), ErrorKind::kPermissionDenied) << put.error().describe();
  EXPECT_NE(put.error().message().find("access key id"), std::string::npos)
      << put.error().message();
}

// Expired credentials look to the server like a signature from the past: a request signed an
// hour ago is refused (RequestTimeTooSkewed), typed as a permission error, never retried.
TEST(S3Errors, StaleSignatureAgainstCephIsPermissionDeniedSayingTheClockIsOff) {
  S3C_ASSERT_TEST_SERVER(server, "ceph");
  S3Config config = configFor(server, test::uniquePrefix("stale-signature"));
  config.clock = [] { return std::chrono::system_clock::now() - std::chrono::hours(1); };
  auto store = S3ObjectStore::create(config, sharedClient());
  ASSERT_TRUE(store);
  auto put = (*store)->put("k", asBytes("x"), {});
  ASSERT_FALSE(put);
  EXPECT_EQ(put.error().kind(), ErrorKind::kPermissionDenied) << put.error().describe();
  EXPECT_EQ(put.error().serviceCode(), "RequestTimeTooSkewed") << put.error().describe();
  EXPECT_FALSE(put.error().retryable());
}

// A port on 127.0.0.1 nobody listens on: bound, then closed.
int closedPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) return 1;
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return ntohs(address.sin_port);
}

TEST(S3Errors, UnreachableEndpointIsTransientNamingTheHost) {
  S3Config config;
  int port = closedPort();
  config.endpoint = "http://127.0.0.1:" + std::to_string(port);
  config.bucket = "bucket";
  config.credentials.access_key_id = "AKID";
  config.credentials.secret_access_key = "secret";
  auto store = S3ObjectStore::create(config, sharedClient());
  ASSERT_TRUE(store);
  auto get = (*store)->get("k", std::nullopt);
  ASSERT_FALSE(get);
  EXPECT_EQ(get.error().kind(), ErrorKind::kTransient) << get.error().describe();
  EXPECT_NE(get.error().message().find("127.0.0.1:" + std::to_string(port)), std::string::npos)
      << get.error().message();
}

TEST(S3Errors, MissingBucketIsNotFoundNamingTheBucket) {
  for (const std::string& name : test::testServerNames()) {
    SCOPED_TRACE(name);
    auto server = test::testServer(name);
    ASSERT_TRUE(server) << test::missingTestServerMessage(name);
    S3Config config = configFor(*server, "");
    config.bucket = "s3c-no-such-bucket-" + std::to_string(::getpid());
    auto store = S3ObjectStore::create(config, sharedClient());
    ASSERT_TRUE(store);
    auto get = (*store)->get("k", std::nullopt);
    ASSERT_FALSE(get);
    EXPECT_EQ(get.error().kind(), ErrorKind::kNotFound) << get.error().describe();
    EXPECT_NE(get.error().message().find("bucket " + config.bucket + " does not exist"),
              std::string::npos)
        << get.error().message();
    auto list = (*store)->list({});
    ASSERT_FALSE(list);
    EXPECT_EQ(list.error().kind(), ErrorKind::kNotFound) << list.error().describe();
  }
}

Bytes pattern(size_t size, uint32_t seed) {
  Bytes out(size);
  uint32_t state = seed * 2654435761u + 7u;
  for (auto& byte : out) {
    state = state * 1664525u + 1013904223u;
    byte = static_cast<uint8_t>(state >> 24);
  }
  return out;
}

TEST(S3Multipart, TwentyMiBRoundTripOnCephWithFiveMiBParts) {
  S3C_ASSERT_TEST_SERVER(server, "ceph");
  auto store = openStore(server, test::uniquePrefix("multipart-20mib"));
  ASSERT_NE(store, nullptr);
  constexpr size_t kPart = size_t{5} * 1024 * 1024;
  const Bytes data = pattern(4 * kPart, 77);
  auto upload = store->createMultipart("big", {{{"kind", "big"}}, {}});
  ASSERT_TRUE(upload) << upload.error().describe();
  std::vector<store::PartInfo> parts;
  for (uint32_t i = 0; i < 4; ++i) {
    ByteSpan chunk(data.data() + i * kPart, kPart);
    auto part = store->uploadPart("big", *upload, i + 1, chunk);
    ASSERT_TRUE(part) << part.error().describe();
    parts.push_back(*part);
  }
  auto listed = store->listParts("big", *upload);
  ASSERT_TRUE(listed) << listed.error().describe();
  EXPECT_EQ(listed->size(), 4u);
  auto done = store->completeMultipart("big", *upload, parts, {});
  ASSERT_TRUE(done) << done.error().describe();
  EXPECT_EQ(done->size, data.size());
  EXPECT_TRUE(done->etag.ends_with("-4")) << done->etag;
  auto head = store->head("big");
  ASSERT_TRUE(head) << head.error().describe();
  EXPECT_EQ(head->size, data.size());
  EXPECT_EQ(head->etag, done->etag);
  EXPECT_EQ(head->metadata, (store::Metadata{{"kind", "big"}}));
  auto whole = store->get("big", std::nullopt);
  ASSERT_TRUE(whole) << whole.error().describe();
  EXPECT_TRUE(whole->body == data) << "20 MiB body differs";
  // A range across the boundary of parts 2 and 3.
  auto across = store->get("big", store::ByteRange{2 * kPart - 100, 200});
  ASSERT_TRUE(across) << across.error().describe();
  EXPECT_TRUE(std::equal(across->body.begin(), across->body.end(), data.begin() + 2 * kPart - 100));
  EXPECT_EQ(across->info.size, data.size());
  ASSERT_TRUE(store->remove("big"));
}

// Copies over CopyObject's 5 GiB limit go as multipart uploads of UploadPartCopy ranges. A
// source over 5 GiB would take minutes to create here, so the limit is lowered to 5 MiB
// (max_single_copy_bytes): a 12 MiB object is then copied in three 5 MiB parts, the same code
// path a 6 GiB object takes with the default limit.
std::unique_ptr<S3ObjectStore> smallCopyLimitStore(const std::string& name,
                                                   const std::string& prefix) {
  auto server = test::testServer(name);
  if (!server) {
    ADD_FAILURE() << test::missingTestServerMessage(name);
    return nullptr;
  }
  S3Config config = configFor(*server, test::uniquePrefix(prefix));
  config.max_single_copy_bytes = size_t{5} * 1024 * 1024;
  config.copy_part_bytes = size_t{5} * 1024 * 1024;
  auto store = S3ObjectStore::create(config, sharedClient());
  if (!store) {
    ADD_FAILURE() << store.error().describe();
    return nullptr;
  }
  const Probed& probe = probed(name);
  if (probe.capabilities) (*store)->setCapabilities(*probe.capabilities, probe.conditional);
  return std::move(store).value();
}

class S3MultipartCopy : public ::testing::TestWithParam<std::string> {};

TEST_P(S3MultipartCopy, OverTheSingleCopyLimitCopiesInParts) {
  auto store = smallCopyLimitStore(GetParam(), "multipart-copy");
  ASSERT_NE(store, nullptr);
  const Bytes data = pattern(12 * 1024 * 1024 + 1234, 5);
  auto put = store->put("src", data, {{{"kind", "original"}}, {}});
  ASSERT_TRUE(put) << put.error().describe();

  // To a new key with new metadata, pinned to the source's ETag (a rename).
  store::CopyOptions rename;
  rename.replace_metadata = store::Metadata{{"kind", "renamed"}};
  rename.source_if_match = put->etag;
  auto copied = store->copy("src", "dst", rename);
  ASSERT_TRUE(copied) << copied.error().describe();
  EXPECT_EQ(copied->size, data.size());
  EXPECT_TRUE(copied->etag.ends_with("-3")) << "not a 3-part upload: " << copied->etag;
  auto got = store->get("dst", std::nullopt);
  ASSERT_TRUE(got) << got.error().describe();
  EXPECT_TRUE(got->body == data) << "copied body differs";
  EXPECT_EQ(got->info.metadata, (store::Metadata{{"kind", "renamed"}}));

  // Without new metadata: the source's is kept.
  auto kept = store->copy("src", "dst2", {});
  ASSERT_TRUE(kept) << kept.error().describe();
  auto head = store->head("dst2");
  ASSERT_TRUE(head) << head.error().describe();
  EXPECT_EQ(head->metadata, (store::Metadata{{"kind", "original"}}));
  EXPECT_EQ(head->size, data.size());

  // Onto itself (how attributes change): same bytes, new metadata.
  store::CopyOptions rewrite;
  rewrite.replace_metadata = store::Metadata{{"kind", "rewritten"}};
  rewrite.source_if_match = put->etag;
  auto rewritten = store->copy("src", "src", rewrite);
  ASSERT_TRUE(rewritten) << rewritten.error().describe();
  got = store->get("src", std::nullopt);
  ASSERT_TRUE(got) << got.error().describe();
  EXPECT_TRUE(got->body == data) << "body changed by the metadata rewrite";
  EXPECT_EQ(got->info.metadata, (store::Metadata{{"kind", "rewritten"}}));

  // A source that is not the version asked for: nothing copied, no upload left behind.
  auto stale = store->copy("src", "dst3", rename);
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().kind(), ErrorKind::kPreconditionFailed) << stale.error().describe();
  EXPECT_EQ(store->head("dst3").error().kind(), ErrorKind::kNotFound);
  auto uploads = store->listMultipartUploads("");
  ASSERT_TRUE(uploads) << uploads.error().describe();
  EXPECT_TRUE(uploads->empty()) << uploads->size() << " uploads left";
  for (const char* key : {"src", "dst", "dst2"})
    EXPECT_TRUE(store->remove(key));
}

INSTANTIATE_TEST_SUITE_P(Servers, S3MultipartCopy, ::testing::Values("ceph", "moto"),
                         [](const auto& param_info) { return param_info.param; });

// s3rver has no UploadPartCopy: a copy over the limit is tried as one CopyObject (the limit is
// AWS's; s3rver has none).
TEST(S3MultipartCopyFallback, WithoutUploadPartCopyASingleCopyIsTried) {
  auto store = smallCopyLimitStore("s3rver", "multipart-copy-s3rver");
  ASSERT_NE(store, nullptr);
  const Bytes data = pattern(6 * 1024 * 1024, 6);
  ASSERT_TRUE(store->put("src", data, {}));
  auto copied = store->copy("src", "dst", {});
  ASSERT_TRUE(copied) << copied.error().describe();
  auto got = store->get("dst", std::nullopt);
  ASSERT_TRUE(got) << got.error().describe();
  EXPECT_TRUE(got->body == data) << "copied body differs";
  EXPECT_TRUE(store->remove("src"));
  EXPECT_TRUE(store->remove("dst"));
}

}  // namespace
}  // namespace s3cryptfs::s3

using s3cryptfs::store::conformance::Backend;
using s3cryptfs::store::conformance::ObjectStoreConformance;

// The conformance suite, one instance per server, with the capabilities PEERS.md gives it. The
// store reports what its probe found, so a server that changes fails
// CapabilitiesMatchWhatTheBackendIsExpectedToHave.
INSTANTIATE_TEST_SUITE_P(Ceph, ObjectStoreConformance,
                         ::testing::Values(Backend("ceph", s3cryptfs::s3::cephStore,
                                                   s3cryptfs::s3::everything())),
                         s3cryptfs::store::conformance::backendName);
INSTANTIATE_TEST_SUITE_P(Moto, ObjectStoreConformance,
                         ::testing::Values(Backend("moto", s3cryptfs::s3::motoStore,
                                                   s3cryptfs::s3::everything())),
                         s3cryptfs::store::conformance::backendName);
// s3rver stores each key as a file path: no components over 255 bytes, no "."/".."/empty ones
// (PUT "a//b" is 404); it ignores part ETags on completion, gives multipart objects a plain MD5
// ETag, takes parts for a completed upload, and overwrites in place (a racing read may see a
// 500, a cut body or an empty object).
INSTANTIATE_TEST_SUITE_P(S3rver, ObjectStoreConformance,
                         ::testing::Values(Backend("s3rver", s3cryptfs::s3::s3rverStore,
                                                   s3cryptfs::s3::s3rverCapabilities())
                                               .withoutLongComponents()
                                               .withoutDotAndEmptyComponents()
                                               .withoutStrictMultipart()
                                               .withoutAtomicOverwrites()),
                         s3cryptfs::store::conformance::backendName);
