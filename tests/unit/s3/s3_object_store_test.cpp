// S3ObjectStore against a scripted HTTP client: the requests it sends and how it reads unusual
// answers. The live servers are in s3_integration_test.cpp.

#include "s3cryptfs/s3/s3_object_store.h"

#include <map>

#include <gtest/gtest.h>

#include "s3cryptfs/crypto/hash.h"

#include "scripted_http_client.h"

namespace s3cryptfs::s3 {
namespace {

using test::RecordedRequest;
using test::response;
using test::ScriptedHttpClient;

class S3ObjectStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { store_ = makeStore(AddressingStyle::kPath); }

  std::unique_ptr<S3ObjectStore> makeStore(AddressingStyle style) {
    S3Config config;
    config.endpoint = "http://127.0.0.1:7480";
    config.region = "us-east-1";
    config.bucket = "bkt";
    config.prefix = "vol/";
    config.addressing = style;
    config.credentials.access_key_id = "AKIDEXAMPLE";
    config.credentials.secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    config.clock = [] { return std::chrono::system_clock::from_time_t(1700000000); };
    auto store = S3ObjectStore::create(config, client_);
    EXPECT_TRUE(store) << store.error().describe();
    return std::move(store).value();
  }

  S3ObjectStore& store() { return *store_; }
  ScriptedHttpClient& client() { return *client_; }

  std::shared_ptr<ScriptedHttpClient> client_ = std::make_shared<ScriptedHttpClient>();
  std::unique_ptr<S3ObjectStore> store_;
};

std::string errorXml(const std::string& code) {
  return "<Error><Code>" + code + "</Code><Message>server words</Message></Error>";
}

TEST_F(S3ObjectStoreTest, CreateRefusesBadConfiguration) {
  S3Config config;
  config.endpoint = "127.0.0.1:7480";
  config.bucket = "b";
  EXPECT_FALSE(S3ObjectStore::create(config, client_));
  config.endpoint = "http://127.0.0.1:7480";
  config.bucket = "";
  EXPECT_FALSE(S3ObjectStore::create(config, client_));
  config.bucket = "b";
  EXPECT_FALSE(S3ObjectStore::create(config, nullptr));
  EXPECT_TRUE(S3ObjectStore::create(config, client_));
}

TEST_F(S3ObjectStoreTest, RequestsAreSignedAndNeverCarryTheSecretInErrors) {
  client().enqueue(response(403, errorXml("SignatureDoesNotMatch")));
  auto got = store().get("a", std::nullopt);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().kind(), ErrorKind::kPermissionDenied);
  EXPECT_NE(got.error().message().find("check the secret access key"), std::string::npos);
  EXPECT_EQ(got.error().serviceCode(), "SignatureDoesNotMatch");
  EXPECT_EQ(got.error().message().find("wJalrXUtnFEMI"), std::string::npos);
  EXPECT_EQ(got.error().message().find("Signature="), std::string::npos);
  RecordedRequest sent = client().last();
  EXPECT_EQ(sent.method, "GET");
  EXPECT_EQ(sent.url, "http://127.0.0.1:7480/bkt/vol/a");
  EXPECT_NE(sent.header("authorization").find("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"),
            std::string::npos);
  EXPECT_EQ(sent.header("x-amz-content-sha256"),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST_F(S3ObjectStoreTest, PayloadIsSignedByItsSha256OrUnsigned) {
  client().enqueue(response(200, "", {{"ETag", "\"e\""}}));
  ASSERT_TRUE(store().put("k", asBytes("abc"), {}));
  EXPECT_EQ(client().last().header("x-amz-content-sha256"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");

  S3Config config = store().config();
  config.payload_signing = PayloadSigning::kUnsigned;
  auto fast = S3ObjectStore::create(config, client_);
  ASSERT_TRUE(fast);
  client().enqueue(response(200, "", {{"ETag", "\"e\""}}));
  ASSERT_TRUE((*fast)->put("k", asBytes("abc"), {}));
  EXPECT_EQ(client().last().header("x-amz-content-sha256"), "UNSIGNED-PAYLOAD");
  EXPECT_NE(client().last().header("authorization").find("Signature="), std::string::npos);
}

TEST_F(S3ObjectStoreTest, VirtualHostedUrls) {
  auto virtual_store = makeStore(AddressingStyle::kVirtualHosted);
  client().enqueue(response(200, "", {{"ETag", "\"e\""}, {"Content-Length", "0"}}));
  ASSERT_TRUE(virtual_store->head("dir/with space"));
  EXPECT_EQ(client().last().url, "http://bkt.127.0.0.1:7480/vol/dir/with%20space");
}

TEST_F(S3ObjectStoreTest, RangedGetReadsTheWholeSizeFromContentRange) {
  client().enqueue(response(206, "hello",
                            {{"Content-Range", "bytes 100-104/1000"},
                             {"Content-Length", "5"},
                             {"ETag", "\"abc\""},
                             {"Last-Modified", "Sun, 06 Nov 1994 08:49:37 GMT"},
                             {"x-amz-meta-mode", "0644"}}));
  auto got = store().get("k", store::ByteRange{100, 5});
  ASSERT_TRUE(got) << got.error().describe();
  EXPECT_EQ(asChars(got->body), "hello");
  EXPECT_EQ(got->info.size, 1000u);
  EXPECT_EQ(got->info.etag, "abc");
  EXPECT_EQ(got->info.last_modified_unix, 784111777);
  EXPECT_EQ(got->info.metadata, (store::Metadata{{"mode", "0644"}}));
  EXPECT_EQ(got->info.key, "k");
  EXPECT_EQ(client().last().header("range"), "bytes=100-104");
}

TEST_F(S3ObjectStoreTest, RangedGetProblems) {
  // A 206 without Content-Range, and a short body, are not silently accepted.
  client().enqueue(response(206, "hello", {{"ETag", "\"abc\""}}));
  auto missing = store().get("k", store::ByteRange{0, 5});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind(), ErrorKind::kIo);
  EXPECT_NE(missing.error().message().find("malformed response from http://127.0.0.1:7480"),
            std::string::npos);
  client().enqueue(response(206, "hel", {{"Content-Range", "bytes 0-4/10"}}));
  auto short_body = store().get("k", store::ByteRange{0, 5});
  ASSERT_FALSE(short_body);
  EXPECT_EQ(short_body.error().kind(), ErrorKind::kTransient);
  // A server that ignores Range: the slice is cut here.
  client().enqueue(response(200, "0123456789", {{"Content-Length", "10"}}));
  auto whole = store().get("k", store::ByteRange{8, 5});
  ASSERT_TRUE(whole);
  EXPECT_EQ(asChars(whole->body), "89");
  EXPECT_EQ(whole->info.size, 10u);
  // s3rver answers "bytes=0-0" with the whole object as a 206: cut out what was asked.
  client().enqueue(response(206, "0123456789", {{"Content-Range", "bytes 0-9/10"}}));
  auto superset = store().get("k", store::ByteRange{0, 1});
  ASSERT_TRUE(superset) << superset.error().describe();
  EXPECT_EQ(asChars(superset->body), "0");
  // A 206 that does not cover the range asked for is refused.
  client().enqueue(response(206, "01234", {{"Content-Range", "bytes 0-4/10"}}));
  EXPECT_EQ(store().get("k", store::ByteRange{3, 5}).error().kind(), ErrorKind::kIo);
  client().enqueue(response(416, errorXml("InvalidRange")));
  auto past = store().get("k", store::ByteRange{20, 1});
  ASSERT_FALSE(past);
  EXPECT_EQ(past.error().kind(), ErrorKind::kInvalidArgument);
  // A zero-length range never reaches the server.
  size_t before = client().requests().size();
  EXPECT_EQ(store().get("k", store::ByteRange{0, 0}).error().kind(), ErrorKind::kInvalidArgument);
  EXPECT_EQ(client().requests().size(), before);
}

TEST_F(S3ObjectStoreTest, HeadWithoutBodyMapsStatus) {
  client().enqueue(response(404));
  EXPECT_EQ(store().head("k").error().kind(), ErrorKind::kNotFound);
  client().enqueue(response(403));
  EXPECT_EQ(store().head("k").error().kind(), ErrorKind::kPermissionDenied);
  client().enqueue(response(503));
  EXPECT_TRUE(store().head("k").error().retryable());
}

TEST_F(S3ObjectStoreTest, MissingBucketIsNamed) {
  client().enqueue(response(404, errorXml("NoSuchBucket")));
  auto got = store().get("k", std::nullopt);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().kind(), ErrorKind::kNotFound);
  EXPECT_NE(got.error().message().find("bucket bkt does not exist"), std::string::npos)
      << got.error().message();
  // Deleting a missing key succeeds, deleting in a missing bucket does not.
  client().enqueue(response(404, errorXml("NoSuchKey")));
  EXPECT_TRUE(store().remove("k"));
  client().enqueue(response(404, errorXml("NoSuchBucket")));
  EXPECT_FALSE(store().remove("k"));
}

TEST_F(S3ObjectStoreTest, TransportErrorsKeepTheirKindAndGainContext) {
  client().enqueue(Error(ErrorKind::kTransient, "connect to 127.0.0.1:1 refused"));
  auto got = store().get("k", std::nullopt);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().kind(), ErrorKind::kTransient);
  EXPECT_NE(got.error().message().find("127.0.0.1:1"), std::string::npos);
  EXPECT_NE(got.error().message().find("s3://bkt/vol/k"), std::string::npos);
}

TEST_F(S3ObjectStoreTest, PutSendsMetadataAndConditions) {
  client().enqueue(response(200, "", {{"ETag", "\"e1\""}}));
  store::PutOptions options;
  options.metadata = {{"mode", "0644"}, {"attrs", "QUJD+/=="}};
  options.condition.if_none_match = true;
  auto put = store().put("dir/f", asBytes("body"), options);
  ASSERT_TRUE(put) << put.error().describe();
  EXPECT_EQ(put->etag, "e1");
  EXPECT_EQ(put->size, 4u);
  RecordedRequest sent = client().last();
  EXPECT_EQ(sent.method, "PUT");
  EXPECT_EQ(sent.body, "body");
  EXPECT_EQ(sent.header("x-amz-meta-mode"), "0644");
  EXPECT_EQ(sent.header("x-amz-meta-attrs"), "QUJD+/==");
  EXPECT_EQ(sent.header("if-none-match"), "*");

  client().enqueue(response(412, errorXml("PreconditionFailed")));
  store::PutOptions guarded;
  guarded.condition.if_match = "e1";
  auto lost = store().put("dir/f", asBytes("x"), guarded);
  ASSERT_FALSE(lost);
  EXPECT_EQ(lost.error().kind(), ErrorKind::kPreconditionFailed);
  EXPECT_EQ(client().last().header("if-match"), "\"e1\"");

  // Ceph RGW's form: unquoted.
  store().setCapabilities({}, ConditionalWriteSupport{false, true, true});
  client().enqueue(response(200, "", {{"ETag", "\"e2\""}}));
  guarded.condition.if_match = "\"e1\"";
  ASSERT_TRUE(store().put("dir/f", asBytes("x"), guarded));
  EXPECT_EQ(client().last().header("if-match"), "e1");
}

TEST_F(S3ObjectStoreTest, ConditionsTheServerWouldIgnoreAreRefused) {
  store::Capabilities limited;
  limited.conditional_put_if_none_match = false;
  limited.conditional_put_if_match = false;
  limited.upload_part_copy = false;
  limited.abort_multipart = false;
  limited.list_multipart_uploads = false;
  limited.list_parts = false;
  limited.copy_onto_itself = false;
  store().setCapabilities(limited, ConditionalWriteSupport{true, false, false});
  store::PutOptions create_only;
  create_only.condition.if_none_match = true;
  EXPECT_EQ(store().put("k", asBytes("x"), create_only).error().kind(), ErrorKind::kUnsupported);
  store::PutOptions swap;
  swap.condition.if_match = "e";
  EXPECT_EQ(store().put("k", asBytes("x"), swap).error().kind(), ErrorKind::kUnsupported);
  EXPECT_EQ(store().uploadPartCopy("k", "u", 1, "src", {0, 10}).error().kind(),
            ErrorKind::kUnsupported);
  EXPECT_EQ(store().abortMultipart("k", "u").error().kind(), ErrorKind::kUnsupported);
  EXPECT_EQ(store().listMultipartUploads("").error().kind(), ErrorKind::kUnsupported);
  EXPECT_EQ(store().listParts("k", "u").error().kind(), ErrorKind::kUnsupported);
  EXPECT_EQ(
      store().completeMultipart("k", "u", {{1, "e", 1}}, create_only.condition).error().kind(),
      ErrorKind::kUnsupported);
  store::CopyOptions replace;
  replace.replace_metadata = store::Metadata{{"a", "b"}};
  EXPECT_EQ(store().copy("k", "k", replace).error().kind(), ErrorKind::kUnsupported);
  EXPECT_TRUE(client().requests().empty()) << "nothing reached the server";
  EXPECT_FALSE(store().capabilities().upload_part_copy);
}

TEST_F(S3ObjectStoreTest, ListStripsThePrefixAndDecodesKeys) {
  client().enqueue(response(
      200,
      "<ListBucketResult><EncodingType>url</EncodingType><IsTruncated>true</IsTruncated>"
      "<NextContinuationToken>tok/+=</NextContinuationToken>"
      "<Contents><Key>vol%2Fa%2Fx+y</Key><Size>3</Size><ETag>\"e\"</ETag></Contents>"
      "<CommonPrefixes><Prefix>vol%2Fa%2Fsub%2F</Prefix></CommonPrefixes></ListBucketResult>"));
  store::ListOptions options;
  options.prefix = "a/";
  options.delimiter = "/";
  options.max_keys = 5000;
  auto page = store().list(options);
  ASSERT_TRUE(page) << page.error().describe();
  ASSERT_EQ(page->objects.size(), 1u);
  EXPECT_EQ(page->objects[0].key, "a/x y");
  EXPECT_EQ(page->common_prefixes, std::vector<std::string>{"a/sub/"});
  EXPECT_EQ(page->next_continuation_token, "tok/+=");
  EXPECT_EQ(client().last().url,
            "http://127.0.0.1:7480/bkt/?delimiter=%2F&encoding-type=url&list-type=2&"
            "max-keys=1000&prefix=vol%2Fa%2F");

  client().enqueue(response(200,
                            "<ListBucketResult><IsTruncated>false</IsTruncated>"
                            "</ListBucketResult>"));
  options.continuation_token = "tok/+=";
  ASSERT_TRUE(store().list(options));
  EXPECT_EQ(client().last().url,
            "http://127.0.0.1:7480/bkt/?continuation-token=tok%2F%2B%3D&delimiter=%2F&"
            "encoding-type=url&list-type=2&max-keys=1000&prefix=vol%2Fa%2F");

  // A server that lists out of byte order (s3rver) gets its page sorted.
  client().enqueue(response(200,
                            "<ListBucketResult><Contents><Key>vol/a/1</Key><Size>1</Size>"
                            "</Contents><Contents><Key>vol/a</Key><Size>1</Size></Contents>"
                            "</ListBucketResult>"));
  auto unsorted = store().list({});
  ASSERT_TRUE(unsorted);
  ASSERT_EQ(unsorted->objects.size(), 2u);
  EXPECT_EQ(unsorted->objects[0].key, "a");
  EXPECT_EQ(unsorted->objects[1].key, "a/1");

  options.max_keys = 0;
  EXPECT_EQ(store().list(options).error().kind(), ErrorKind::kInvalidArgument);

  // A key outside the prefix, or garbage, is a malformed answer, not a crash.
  client().enqueue(response(200,
                            "<ListBucketResult><Contents><Key>other/x</Key><Size>1</Size>"
                            "</Contents></ListBucketResult>"));
  options.max_keys = 10;
  EXPECT_EQ(store().list(options).error().kind(), ErrorKind::kIo);
  client().enqueue(response(200, "<ListBucketResult><Contents><Key>vol/x</Key><Si"));
  auto garbled = store().list(options);
  ASSERT_FALSE(garbled);
  EXPECT_EQ(garbled.error().kind(), ErrorKind::kIo);
  EXPECT_NE(garbled.error().message().find("malformed response from http://127.0.0.1:7480"),
            std::string::npos)
      << garbled.error().message();
}

TEST_F(S3ObjectStoreTest, RemoveManySendsContentMd5AndReportsPartialFailures) {
  client().enqueue(
      response(200,
               "<DeleteResult><Deleted><Key>vol/a</Key></Deleted>"
               "<Error><Key>vol/b&amp;c</Key><Code>AccessDenied</Code><Message>no</Message></Error>"
               "<Error><Key>vol/d</Key><Code>NoSuchKey</Code><Message>gone</Message></Error>"
               "</DeleteResult>"));
  auto failures = store().removeMany({"a", "b&c", "d"});
  ASSERT_TRUE(failures) << failures.error().describe();
  ASSERT_EQ(failures->size(), 1u);
  EXPECT_EQ((*failures)[0].key, "b&c");
  EXPECT_EQ((*failures)[0].error.kind(), ErrorKind::kPermissionDenied);
  RecordedRequest sent = client().last();
  EXPECT_EQ(sent.method, "POST");
  EXPECT_EQ(sent.url, "http://127.0.0.1:7480/bkt/?delete=");
  EXPECT_EQ(sent.body,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Delete><Quiet>true</Quiet>"
            "<Object><Key>vol/a</Key></Object><Object><Key>vol/b&amp;c</Key></Object>"
            "<Object><Key>vol/d</Key></Object></Delete>");
  EXPECT_EQ(sent.header("content-md5"), toBase64(crypto::md5(asBytes(sent.body))));
}

TEST_F(S3ObjectStoreTest, RemoveManyBatchesByAThousandAndDeletesUnsendableKeysAlone) {
  std::vector<std::string> keys;
  keys.reserve(2501);
  for (int i = 0; i < 2500; ++i)
    keys.emplace_back("k" + std::to_string(i));
  keys.emplace_back("bell\x07");
  client().setHandler([](const RecordedRequest& request) -> Result<http::Response> {
    if (request.method == "POST") return response(200, "<DeleteResult/>");
    return response(204);
  });
  auto failures = store().removeMany(keys);
  ASSERT_TRUE(failures) << failures.error().describe();
  EXPECT_TRUE(failures->empty());
  auto sent = client().requests();
  ASSERT_EQ(sent.size(), 4u);
  size_t objects = 0;
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(sent[i].method, "POST");
    size_t count = 0;
    for (size_t at = sent[i].body.find("<Object>"); at != std::string::npos;
         at = sent[i].body.find("<Object>", at + 1)) {
      ++count;
    }
    EXPECT_LE(count, 1000u);
    objects += count;
  }
  EXPECT_EQ(objects, 2500u);
  EXPECT_EQ(sent[3].method, "DELETE");
  EXPECT_EQ(sent[3].url, "http://127.0.0.1:7480/bkt/vol/bell%07");
}

TEST_F(S3ObjectStoreTest, CopyPinsTheSourceAndDetectsErrorIn200) {
  client().enqueue(response(
      200, "", {{"ETag", "\"src-etag\""}, {"Content-Length", "42"}, {"x-amz-meta-a", "1"}}));
  client().enqueue(response(200,
                            "<CopyObjectResult><ETag>\"dst\"</ETag>"
                            "<LastModified>2026-11-23T07:02:48.000Z</LastModified>"
                            "</CopyObjectResult>"));
  auto copied = store().copy("dir/src file", "dst", {});
  ASSERT_TRUE(copied) << copied.error().describe();
  EXPECT_EQ(copied->etag, "dst");
  EXPECT_EQ(copied->size, 42u);
  EXPECT_EQ(copied->metadata, (store::Metadata{{"a", "1"}}));
  RecordedRequest sent = client().last();
  EXPECT_EQ(sent.method, "PUT");
  EXPECT_EQ(sent.url, "http://127.0.0.1:7480/bkt/vol/dst");
  EXPECT_EQ(sent.header("x-amz-copy-source"), "/bkt/vol/dir/src%20file");
  EXPECT_EQ(sent.header("x-amz-copy-source-if-match"), "\"src-etag\"");
  EXPECT_EQ(sent.header("x-amz-metadata-directive"), "COPY");

  client().enqueue(response(200, "", {{"ETag", "\"src-etag\""}, {"Content-Length", "42"}}));
  client().enqueue(response(200, errorXml("InternalError")));
  store::CopyOptions replace;
  replace.replace_metadata = store::Metadata{{"b", "2"}};
  auto failed = store().copy("src", "dst", replace);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().kind(), ErrorKind::kTransient);
  EXPECT_EQ(client().last().header("x-amz-metadata-directive"), "REPLACE");
  EXPECT_EQ(client().last().header("x-amz-meta-b"), "2");

  // The caller's source condition is checked against the HEAD before copying.
  client().enqueue(response(200, "", {{"ETag", "\"src-etag\""}, {"Content-Length", "42"}}));
  store::CopyOptions guarded;
  guarded.source_if_match = "other";
  size_t before = client().requests().size();
  EXPECT_EQ(store().copy("src", "dst", guarded).error().kind(), ErrorKind::kPreconditionFailed);
  EXPECT_EQ(client().requests().size(), before + 1);
  EXPECT_EQ(store().copy("src", "src", {}).error().kind(), ErrorKind::kInvalidArgument);
}

TEST_F(S3ObjectStoreTest, MultipartRequests) {
  client().enqueue(response(200,
                            "<InitiateMultipartUploadResult><UploadId>up/1+=</UploadId>"
                            "</InitiateMultipartUploadResult>"));
  store::PutOptions options;
  options.metadata = {{"kind", "big"}};
  auto upload = store().createMultipart("mp", options);
  ASSERT_TRUE(upload) << upload.error().describe();
  EXPECT_EQ(*upload, "up/1+=");
  EXPECT_EQ(client().last().url, "http://127.0.0.1:7480/bkt/vol/mp?uploads=");
  EXPECT_EQ(client().last().header("x-amz-meta-kind"), "big");

  client().enqueue(response(200, "", {{"ETag", "\"p1\""}}));
  auto part = store().uploadPart("mp", *upload, 1, asBytes("part"));
  ASSERT_TRUE(part);
  EXPECT_EQ(part->etag, "p1");
  EXPECT_EQ(part->size, 4u);
  EXPECT_EQ(client().last().url,
            "http://127.0.0.1:7480/bkt/vol/mp?partNumber=1&uploadId=up%2F1%2B%3D");
  EXPECT_EQ(store().uploadPart("mp", *upload, 0, asBytes("x")).error().kind(),
            ErrorKind::kInvalidArgument);
  EXPECT_EQ(store().uploadPart("mp", *upload, 10001, asBytes("x")).error().kind(),
            ErrorKind::kInvalidArgument);

  client().enqueue(response(200, "<CopyPartResult><ETag>\"p2\"</ETag></CopyPartResult>"));
  auto copied = store().uploadPartCopy("mp", *upload, 2, "src", {100, 50});
  ASSERT_TRUE(copied) << copied.error().describe();
  EXPECT_EQ(copied->etag, "p2");
  EXPECT_EQ(copied->size, 50u);
  EXPECT_EQ(client().last().header("x-amz-copy-source-range"), "bytes=100-149");
  EXPECT_EQ(client().last().header("x-amz-copy-source"), "/bkt/vol/src");

  client().enqueue(response(200,
                            "\n\n<CompleteMultipartUploadResult><ETag>\"whole-2\"</ETag>"
                            "</CompleteMultipartUploadResult>"));
  auto done = store().completeMultipart("mp", *upload, {*part, *copied}, {});
  ASSERT_TRUE(done) << done.error().describe();
  EXPECT_EQ(done->etag, "whole-2");
  EXPECT_EQ(done->size, 54u);
  EXPECT_EQ(client().last().body,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CompleteMultipartUpload>"
            "<Part><PartNumber>1</PartNumber><ETag>&quot;p1&quot;</ETag></Part>"
            "<Part><PartNumber>2</PartNumber><ETag>&quot;p2&quot;</ETag></Part>"
            "</CompleteMultipartUpload>");

  client().enqueue(response(204));
  EXPECT_TRUE(store().abortMultipart("mp", *upload));
  EXPECT_EQ(client().last().method, "DELETE");
  client().enqueue(response(404, errorXml("NoSuchUpload")));
  EXPECT_EQ(store().abortMultipart("mp", *upload).error().kind(), ErrorKind::kNotFound);
}

TEST_F(S3ObjectStoreTest, CompleteMultipartWithErrorIn200) {
  client().enqueue(response(200,
                            "<?xml version=\"1.0\"?>\n<Error><Code>InternalError</Code>"
                            "<Message>retry</Message></Error>"));
  auto done = store().completeMultipart("mp", "u", {{1, "e", 5}}, {});
  ASSERT_FALSE(done);
  EXPECT_EQ(done.error().kind(), ErrorKind::kTransient);
  EXPECT_EQ(done.error().serviceCode(), "InternalError");
  client().enqueue(response(200,
                            "<?xml version=\"1.0\"?>\n<Error><Code>InvalidPart</Code>"
                            "</Error>"));
  EXPECT_EQ(store().completeMultipart("mp", "u", {{1, "e", 5}}, {}).error().kind(),
            ErrorKind::kInvalidArgument);
  client().enqueue(response(200, "<CompleteMultipartUploadResult><ETag>\"trunc"));
  auto garbled = store().completeMultipart("mp", "u", {{1, "e", 5}}, {});
  ASSERT_FALSE(garbled);
  EXPECT_EQ(garbled.error().kind(), ErrorKind::kIo);
  // Ceph RGW 16.2 completes with an empty ETag: the store reads the object's back.
  client().enqueue(response(200,
                            "<CompleteMultipartUploadResult><ETag></ETag>"
                            "</CompleteMultipartUploadResult>"));
  client().enqueue(response(
      200, "", {{"ETag", "\"abc-1\""}, {"Content-Length", "5"}, {"x-amz-meta-kind", "big"}}));
  auto ceph = store().completeMultipart("mp", "u", {{1, "e", 5}}, {});
  ASSERT_TRUE(ceph) << ceph.error().describe();
  EXPECT_EQ(ceph->etag, "abc-1");
  EXPECT_EQ(ceph->size, 5u);
  EXPECT_EQ(ceph->metadata, (store::Metadata{{"kind", "big"}}));
  EXPECT_EQ(client().last().method, "HEAD");
  // No parts: an unknown upload is still kNotFound (asked with ListParts first).
  client().enqueue(response(404, errorXml("NoSuchUpload")));
  EXPECT_EQ(store().completeMultipart("mp", "u", {}, {}).error().kind(), ErrorKind::kNotFound);
}

TEST_F(S3ObjectStoreTest, ListMultipartUploadsFollowsMarkers) {
  client().enqueue(response(200,
                            "<ListMultipartUploadsResult><EncodingType>url</EncodingType>"
                            "<IsTruncated>true</IsTruncated><NextKeyMarker>vol%2Fa</NextKeyMarker>"
                            "<NextUploadIdMarker>u1</NextUploadIdMarker>"
                            "<Upload><Key>vol%2Fa</Key><UploadId>u1</UploadId></Upload>"
                            "</ListMultipartUploadsResult>"));
  client().enqueue(response(200,
                            "<ListMultipartUploadsResult><IsTruncated>false</IsTruncated>"
                            "<Upload><Key>vol/b</Key><UploadId>u2</UploadId></Upload>"
                            "</ListMultipartUploadsResult>"));
  auto uploads = store().listMultipartUploads("");
  ASSERT_TRUE(uploads) << uploads.error().describe();
  ASSERT_EQ(uploads->size(), 2u);
  EXPECT_EQ((*uploads)[0].key, "a");
  EXPECT_EQ((*uploads)[1].key, "b");
  EXPECT_EQ(client().last().url,
            "http://127.0.0.1:7480/bkt/?encoding-type=url&key-marker=vol%2Fa&prefix=vol%2F&"
            "upload-id-marker=u1&uploads=");
}

TEST_F(S3ObjectStoreTest, KeysAndMetadataAreValidated) {
  EXPECT_EQ(store().put("", asBytes("x"), {}).error().kind(), ErrorKind::kInvalidArgument);
  EXPECT_EQ(store().put(std::string(1100, 'k'), asBytes("x"), {}).error().kind(),
            ErrorKind::kNameTooLong);
  store::PutOptions bad;
  bad.metadata = {{"Upper", "x"}};
  EXPECT_EQ(store().put("k", asBytes("x"), bad).error().kind(), ErrorKind::kInvalidArgument);
  bad.metadata = {{"ok", "new\nline"}};
  EXPECT_EQ(store().put("k", asBytes("x"), bad).error().kind(), ErrorKind::kInvalidArgument);
  bad.metadata = {{"big", std::string(3000, 'x')}};
  EXPECT_EQ(store().put("k", asBytes("x"), bad).error().kind(), ErrorKind::kInvalidArgument);
  EXPECT_TRUE(client().requests().empty());
}

// The probe against a scripted server that behaves like s3rver: conditions ignored, no
// UploadPartCopy, ListParts, Abort or ListMultipartUploads.
TEST_F(S3ObjectStoreTest, ProbeFindsTheGapsOfALimitedServer) {
  int puts = 0;
  client().setHandler([&puts](const RecordedRequest& request) -> Result<http::Response> {
    const std::string& url = request.url;
    if (request.method == "PUT" && request.hasHeader("x-amz-copy-source")) {
      if (url.find("partNumber=") != std::string::npos) {
        return response(501, errorXml("NotImplemented"));
      }
      return response(200, "<CopyObjectResult><ETag>\"c\"</ETag></CopyObjectResult>");
    }
    if (request.method == "PUT") {
      return response(200, "", {{"ETag", "\"e" + std::to_string(++puts) + "\""}});
    }
    if (request.method == "HEAD") return response(200, "", {{"ETag", "\"c\""}});
    if (request.method == "POST" && url.find("?uploads=") != std::string::npos) {
      return response(200,
                      "<InitiateMultipartUploadResult><UploadId>u</UploadId>"
                      "</InitiateMultipartUploadResult>");
    }
    if (request.method == "GET") return response(501, errorXml("NotImplemented"));
    if (request.method == "DELETE" && url.find("uploadId=") != std::string::npos) {
      return response(501, errorXml("NotImplemented"));
    }
    if (request.method == "DELETE") return response(204);
    return response(400, errorXml("InvalidRequest"));
  });
  auto caps = store().probeCapabilities();
  ASSERT_TRUE(caps) << caps.error().describe();
  EXPECT_FALSE(caps->conditional_put_if_none_match);
  EXPECT_FALSE(caps->conditional_put_if_match);
  EXPECT_FALSE(caps->upload_part_copy);
  EXPECT_FALSE(caps->list_parts);
  EXPECT_FALSE(caps->abort_multipart);
  EXPECT_FALSE(caps->list_multipart_uploads);
  // Cached: a second call sends nothing.
  size_t sent = client().requests().size();
  ASSERT_TRUE(store().probeCapabilities());
  EXPECT_EQ(client().requests().size(), sent);
  // The scratch keys live under the prefix and are removed.
  bool removed = false;
  for (const auto& request : client().requests()) {
    if (request.method != "HEAD" && request.url.find("/bkt/?") == std::string::npos) {
      EXPECT_EQ(request.url.find("http://127.0.0.1:7480/bkt/vol/.s3c-probe-"), 0u) << request.url;
    }
    if (request.method == "DELETE" && request.url.find("uploadId") == std::string::npos) {
      removed = true;
    }
  }
  EXPECT_TRUE(removed);
}

// The probe against a scripted server that behaves like Ceph RGW 16.2: everything works, but
// PUT If-Match only matches an unquoted ETag and CompleteMultipartUpload ignores conditions.
TEST_F(S3ObjectStoreTest, ProbeFindsCephsUnquotedIfMatch) {
  std::map<std::string, std::string> etags;  // path -> current ETag
  std::map<std::string, bool> uploads;       // upload id -> alive
  int counter = 0;
  client().setHandler([&](const RecordedRequest& request) -> Result<http::Response> {
    std::string path = request.url.substr(0, request.url.find('?'));
    std::string query = request.url.find('?') == std::string::npos
                            ? std::string()
                            : request.url.substr(request.url.find('?') + 1);
    auto fresh = [&] { return "etag" + std::to_string(++counter); };
    if (request.method == "PUT" && query.empty() && !request.hasHeader("x-amz-copy-source")) {
      bool exists = etags.count(path) != 0;
      if (request.hasHeader("if-none-match") && exists) {
        return response(412, errorXml("PreconditionFailed"));
      }
      if (request.hasHeader("if-match") &&
          (!exists || request.header("if-match") != etags[path])) {  // unquoted only
        return response(412, errorXml("PreconditionFailed"));
      }
      etags[path] = fresh();
      return response(200, "", {{"ETag", "\"" + etags[path] + "\""}});
    }
    if (request.method == "PUT" && request.hasHeader("x-amz-copy-source")) {
      if (query.find("partNumber=") != std::string::npos) {
        return response(200, "<CopyPartResult><ETag>\"p\"</ETag></CopyPartResult>");
      }
      if (request.hasHeader("if-none-match") && etags.count(path) != 0) {
        return response(412, errorXml("PreconditionFailed"));
      }
      etags[path] = fresh();
      return response(200,
                      "<CopyObjectResult><ETag>\"" + etags[path] + "\"</ETag></CopyObjectResult>");
    }
    if (request.method == "HEAD") {
      if (etags.count(path) == 0) return response(404);
      return response(200, "",
                      {{"ETag", "\"" + etags[path] + "\""},
                       {"Content-Length", "27"},
                       {"x-amz-meta-probe", "1"}});
    }
    if (request.method == "POST" && query == "uploads=") {
      std::string id = "u" + std::to_string(++counter);
      uploads[id] = true;
      return response(200, "<InitiateMultipartUploadResult><UploadId>" + id +
                               "</UploadId></InitiateMultipartUploadResult>");
    }
    if (request.method == "GET" && query.find("uploads=") != std::string::npos) {
      std::string body = "<ListMultipartUploadsResult><IsTruncated>false</IsTruncated>";
      for (const auto& [id, alive] : uploads) {
        if (alive) body += "<Upload><Key>vol/k</Key><UploadId>" + id + "</UploadId></Upload>";
      }
      return response(200, body + "</ListMultipartUploadsResult>");
    }
    size_t id_at = query.find("uploadId=");
    std::string id = id_at == std::string::npos ? std::string() : query.substr(id_at + 9);
    if (request.method == "GET") {
      if (!uploads[id]) return response(404, errorXml("NoSuchUpload"));
      return response(200,
                      "<ListPartsResult><IsTruncated>false</IsTruncated>"
                      "<Part><PartNumber>1</PartNumber><ETag>\"p\"</ETag><Size>13</Size>"
                      "</Part></ListPartsResult>");
    }
    if (request.method == "PUT") return response(200, "", {{"ETag", "\"p\""}});
    if (request.method == "DELETE" && !id.empty()) {
      uploads[id] = false;
      return response(204);
    }
    if (request.method == "POST") {  // complete: conditions ignored, as RGW 16.2 does
      uploads[id] = false;
      etags[path] = fresh() + "-1";
      return response(200,
                      "<CompleteMultipartUploadResult><ETag></ETag>"
                      "</CompleteMultipartUploadResult>");
    }
    if (request.method == "DELETE") {
      etags.erase(path);
      return response(204);
    }
    return response(400, errorXml("InvalidRequest"));
  });
  auto caps = store().probeCapabilities();
  ASSERT_TRUE(caps) << caps.error().describe();
  EXPECT_TRUE(caps->conditional_put_if_none_match);
  EXPECT_TRUE(caps->conditional_put_if_match);
  EXPECT_TRUE(caps->upload_part_copy);
  EXPECT_TRUE(caps->list_parts);
  EXPECT_TRUE(caps->abort_multipart);
  EXPECT_TRUE(caps->list_multipart_uploads);
  EXPECT_TRUE(caps->copy_onto_itself);
  ConditionalWriteSupport conditional = store().conditionalWriteSupport();
  EXPECT_FALSE(conditional.if_match_quoted);
  EXPECT_TRUE(conditional.copy_destination_conditions);
  EXPECT_FALSE(conditional.complete_conditions);
  EXPECT_TRUE(etags.empty()) << "scratch objects left behind";
  for (const auto& [id, alive] : uploads)
    EXPECT_FALSE(alive) << "upload " << id << " left behind";
  // Later If-Match puts use the unquoted form.
  client().setHandler([](const RecordedRequest&) -> Result<http::Response> {
    return response(200, "", {{"ETag", "\"n\""}});
  });
  store::PutOptions guarded;
  guarded.condition.if_match = "\"abc\"";
  ASSERT_TRUE(store().put("k", asBytes("x"), guarded));
  EXPECT_EQ(client().last().header("if-match"), "abc");
}

}  // namespace
}  // namespace s3cryptfs::s3
