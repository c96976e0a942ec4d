// The S3 wire protocol without a server: URLs, XML bodies, error mapping.

#include "s3cryptfs/s3/s3_protocol.h"

#include <gtest/gtest.h>

namespace s3cryptfs::s3 {
namespace {

ByteSpan span(const std::string& text) {
  return asBytes(text);
}

const Endpoint kLocal{"http", "127.0.0.1:7480"};

TEST(S3Endpoint, AcceptsSchemeHostPortOnly) {
  auto plain = parseEndpoint("http://127.0.0.1:7480");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->scheme, "http");
  EXPECT_EQ(plain->authority, "127.0.0.1:7480");
  auto tls = parseEndpoint("https://s3.eu-west-1.amazonaws.com/");
  ASSERT_TRUE(tls);
  EXPECT_EQ(tls->scheme, "https");
  EXPECT_EQ(tls->authority, "s3.eu-west-1.amazonaws.com");
  for (const char* bad : {"ftp://host", "127.0.0.1:7480", "http://", "http://host/path",
                          "http://user@host", "http://host?x=1"}) {
    SCOPED_TRACE(bad);
    auto parsed = parseEndpoint(bad);
    ASSERT_FALSE(parsed);
    EXPECT_EQ(parsed.error().kind(), ErrorKind::kInvalidArgument);
  }
}

TEST(S3Url, PathStyleAndVirtualHosted) {
  EXPECT_EQ(objectUrl(kLocal, AddressingStyle::kPath, "bkt", "dir/file.bin"),
            "http://127.0.0.1:7480/bkt/dir/file.bin");
  EXPECT_EQ(objectUrl(kLocal, AddressingStyle::kVirtualHosted, "bkt", "dir/file.bin"),
            "http://bkt.127.0.0.1:7480/dir/file.bin");
  EXPECT_EQ(objectUrl(kLocal, AddressingStyle::kPath, "bkt", "", "list-type=2"),
            "http://127.0.0.1:7480/bkt/?list-type=2");
  EXPECT_EQ(objectUrl({"https", "s3.amazonaws.com"}, AddressingStyle::kVirtualHosted, "bkt", "",
                      "delete="),
            "https://bkt.s3.amazonaws.com/?delete=");
}

TEST(S3Url, KeysAreEncodedByTheAwsRules) {
  // Unreserved characters and '/' stay; everything else, UTF-8 included, is %XX (upper case).
  EXPECT_EQ(objectUrl(kLocal, AddressingStyle::kPath, "b", "with space/and+plus"),
            "http://127.0.0.1:7480/b/with%20space/and%2Bplus");
  EXPECT_EQ(objectUrl(kLocal, AddressingStyle::kPath, "b", "tilde~star*bang!quote'paren()"),
            "http://127.0.0.1:7480/b/tilde~star%2Abang%21quote%27paren%28%29");
  EXPECT_EQ(objectUrl(kLocal, AddressingStyle::kPath, "b", "percent%20not-decoded%"),
            "http://127.0.0.1:7480/b/percent%2520not-decoded%25");
  EXPECT_EQ(objectUrl(kLocal, AddressingStyle::kPath, "b", "\xc3\xa9t\xc3\xa9?#&="),
            "http://127.0.0.1:7480/b/%C3%A9t%C3%A9%3F%23%26%3D");
  EXPECT_EQ(objectUrl(kLocal, AddressingStyle::kPath, "b", "dots/./x/../y//z"),
            "http://127.0.0.1:7480/b/dots/./x/../y//z");
}

TEST(S3Url, QueryParamsAndCopySource) {
  EXPECT_EQ(queryParam("prefix", "a b/c+d"), "prefix=a%20b%2Fc%2Bd");
  EXPECT_EQ(queryParam("uploads", ""), "uploads=");
  EXPECT_EQ(copySourceHeader("bkt", "dir/we ird+key"), "/bkt/dir/we%20ird%2Bkey");
}

TEST(S3UrlDecode, DecodesPlusAndEscapesAndRefusesBrokenEscapes) {
  EXPECT_EQ(urlDecode("with+space%2Fslash%2Bplus").value(), "with space/slash+plus");
  EXPECT_EQ(urlDecode("%C3%A9t%c3%a9").value(), "\xc3\xa9t\xc3\xa9");
  EXPECT_EQ(urlDecode("percent%2520not-decoded%25").value(), "percent%20not-decoded%");
  for (const char* bad : {"%", "%2", "%zz", "abc%4"}) {
    SCOPED_TRACE(bad);
    EXPECT_FALSE(urlDecode(bad));
  }
}

TEST(S3ContentRange, ParsesTotalsAndRefusesNonsense) {
  auto range = parseContentRange("bytes 100-199/1000");
  ASSERT_TRUE(range);
  EXPECT_EQ(*range->first, 100u);
  EXPECT_EQ(*range->last, 199u);
  EXPECT_EQ(range->total, 1000u);
  auto unsatisfied = parseContentRange("bytes */1000");
  ASSERT_TRUE(unsatisfied);
  EXPECT_FALSE(unsatisfied->first);
  EXPECT_EQ(unsatisfied->total, 1000u);
  auto big = parseContentRange("bytes 0-0/18446744073709551615");
  ASSERT_TRUE(big);
  EXPECT_EQ(big->total, UINT64_MAX);
  for (const char* bad :
       {"", "bytes", "bytes 1-2", "bytes 5-4/10", "bytes 0-10/10", "items 0-1/2", "bytes 0-1/*",
        "bytes a-b/10", "bytes -1-2/10", "bytes 0-1/18446744073709551616"}) {
    SCOPED_TRACE(bad);
    EXPECT_FALSE(parseContentRange(bad));
  }
}

TEST(S3RangeHeader, OpenEndedClosedAndEmpty) {
  EXPECT_EQ(rangeHeader({0, 1}).value(), "bytes=0-0");
  EXPECT_EQ(rangeHeader({1234, 4321}).value(), "bytes=1234-5554");
  EXPECT_EQ(rangeHeader({7000, std::nullopt}).value(), "bytes=7000-");
  EXPECT_FALSE(rangeHeader({5, 0}));
}

TEST(S3Dates, HttpAndIsoForms) {
  EXPECT_EQ(parseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT").value(), 784111777);
  EXPECT_EQ(parseIsoDate("1994-11-06T08:49:37.000Z").value(), 784111777);
  EXPECT_EQ(parseIsoDate("1994-11-06T08:49:37Z").value(), 784111777);
  EXPECT_FALSE(parseHttpDate("Sun, 06 Nov 1994 08:49:37"));
  EXPECT_FALSE(parseHttpDate("yesterday"));
  EXPECT_FALSE(parseIsoDate("1994-13-06T08:49:37Z"));
  EXPECT_FALSE(parseIsoDate("1994-11-06 08:49:37"));
}

TEST(S3Etag, Unquoted) {
  EXPECT_EQ(unquoteEtag("\"abc\""), "abc");
  EXPECT_EQ(unquoteEtag("abc"), "abc");
  EXPECT_EQ(unquoteEtag("W/\"abc-3\""), "abc-3");
  EXPECT_EQ(unquoteEtag("\""), "\"");
}

// --- Listings -----------------------------------------------------------------------------

TEST(S3ListObjectsV2, UrlEncodedKeysCommonPrefixesAndTruncation) {
  const std::string xml = R"(<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>bkt</Name><Prefix>vol%2F</Prefix><KeyCount>3</KeyCount><MaxKeys>3</MaxKeys>
  <Delimiter>%2F</Delimiter><EncodingType>url</EncodingType><IsTruncated>true</IsTruncated>
  <NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>
  <Contents><Key>vol%2Fwith+space%2B%26%3C%3E</Key><LastModified>2026-11-23T07:02:48.000Z</LastModified>
    <ETag>&quot;9b2cf535f27731c974343645a3985328&quot;</ETag><Size>70000</Size>
    <StorageClass>STANDARD</StorageClass></Contents>
  <Contents><Key>vol%2F%C3%A9t%C3%A9%0A</Key><LastModified>2026-11-23T07:02:49Z</LastModified>
    <ETag>"d41d8cd98f00b204e9800998ecf8427e-3"</ETag><Size>0</Size></Contents>
  <CommonPrefixes><Prefix>vol%2Fdir+a%2F</Prefix></CommonPrefixes>
</ListBucketResult>)";
  auto parsed = parseListObjectsV2(span(xml));
  ASSERT_TRUE(parsed) << parsed.error().describe();
  ASSERT_EQ(parsed->objects.size(), 2u);
  EXPECT_EQ(parsed->objects[0].key, "vol/with space+&<>");
  EXPECT_EQ(parsed->objects[0].size, 70000u);
  EXPECT_EQ(parsed->objects[0].etag, "9b2cf535f27731c974343645a3985328");
  EXPECT_EQ(parsed->objects[0].last_modified_unix, parseIsoDate("2026-11-23T07:02:48Z").value());
  EXPECT_EQ(parsed->objects[1].key, "vol/\xc3\xa9t\xc3\xa9\n");
  EXPECT_EQ(parsed->objects[1].etag, "d41d8cd98f00b204e9800998ecf8427e-3");
  EXPECT_EQ(parsed->common_prefixes, std::vector<std::string>{"vol/dir a/"});
  EXPECT_TRUE(parsed->is_truncated);
  EXPECT_EQ(parsed->next_continuation_token, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
}

TEST(S3ListObjectsV2, KeysAreKeptAsIsWhenTheServerDidNotEncode) {
  // A server that ignores encoding-type=url says so by leaving out <EncodingType>.
  const std::string xml = R"(<ListBucketResult><IsTruncated>false</IsTruncated>
    <Contents><Key>percent%20not-decoded%+plus &amp; amp</Key><Size>1</Size><ETag>"e"</ETag></Contents>
    </ListBucketResult>)";
  auto parsed = parseListObjectsV2(span(xml));
  ASSERT_TRUE(parsed) << parsed.error().describe();
  ASSERT_EQ(parsed->objects.size(), 1u);
  EXPECT_EQ(parsed->objects[0].key, "percent%20not-decoded%+plus & amp");
  EXPECT_FALSE(parsed->is_truncated);
  EXPECT_TRUE(parsed->next_continuation_token.empty());
}

TEST(S3ListObjectsV2, EmptyListing) {
  auto parsed = parseListObjectsV2(
      span("<ListBucketResult><KeyCount>0</KeyCount><IsTruncated>false</IsTruncated>"
           "</ListBucketResult>"));
  ASSERT_TRUE(parsed);
  EXPECT_TRUE(parsed->objects.empty());
  EXPECT_TRUE(parsed->common_prefixes.empty());
}

TEST(S3ListObjectsV2, MalformedAndTruncatedDocumentsAreTypedErrors) {
  const std::string good =
      "<ListBucketResult><EncodingType>url</EncodingType><IsTruncated>false</IsTruncated>"
      "<Contents><Key>a</Key><Size>1</Size></Contents></ListBucketResult>";
  // Every truncation of a valid document must fail cleanly (or, for none, parse).
  for (size_t cut = 0; cut < good.size(); ++cut) {
    auto parsed = parseListObjectsV2(asBytes(std::string_view(good).substr(0, cut)));
    ASSERT_FALSE(parsed) << "prefix of " << cut << " bytes parsed";
    EXPECT_EQ(parsed.error().kind(), ErrorKind::kIo);
  }
  const char* bad[] = {
      "",
      "not xml at all",
      "<ListBucketResult><Contents><Key>a</Key><Size>x</Size></Contents></ListBucketResult>",
      "<ListBucketResult><Contents><Size>1</Size></Contents></ListBucketResult>",
      "<ListBucketResult><Contents><Key>a</Key><Size>-1</Size></Contents></ListBucketResult>",
      "<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>",
      "<ListBucketResult><IsTruncated>maybe</IsTruncated></ListBucketResult>",
      "<ListBucketResult><EncodingType>url</EncodingType><Contents><Key>%zz</Key><Size>1</Size>"
      "</Contents></ListBucketResult>",
      "<ListAllMyBucketsResult></ListAllMyBucketsResult>",
      "<Error><Code>NoSuchBucket</Code></Error>",
      "<ListBucketResult><Contents><Key>a</Key><Size>1</Size></Contents>",
      "<ListBucketResult>\x01\xff\xfe</ListBucketResult",
  };
  for (const char* text : bad) {
    SCOPED_TRACE(text);
    auto parsed = parseListObjectsV2(asBytes(std::string_view(text)));
    ASSERT_FALSE(parsed);
    EXPECT_EQ(parsed.error().kind(), ErrorKind::kIo);
  }
}

// --- Errors -------------------------------------------------------------------------------

std::string errorXml(const std::string& code, const std::string& message = "msg") {
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>" + code + "</Code><Message>" +
         message + "</Message><Resource>/bkt/k</Resource><RequestId>tx1</RequestId></Error>";
}

const RequestContext kContext{"GET", "http://127.0.0.1:7480", "bkt", "vol/k", "GetObject"};

TEST(S3ErrorBody, ParsesCodeAndMessage) {
  auto body = parseErrorBody(span(errorXml("NoSuchKey", "The specified key does not exist.")));
  ASSERT_TRUE(body);
  EXPECT_EQ(body->code, "NoSuchKey");
  EXPECT_EQ(body->message, "The specified key does not exist.");
  EXPECT_EQ(body->resource, "/bkt/k");
  EXPECT_EQ(body->request_id, "tx1");
  EXPECT_FALSE(parseErrorBody(span("")));
  EXPECT_FALSE(parseErrorBody(span("<Error><Code>Trunc")));
  EXPECT_FALSE(parseErrorBody(span("<Error></Error>")));
  EXPECT_FALSE(parseErrorBody(span("<html><body>502 Bad Gateway</body></html>")));
}

struct MappingCase {
  int status;
  const char* code;  // "" = no body (HEAD)
  ErrorKind kind;
  const char* says;  // a piece the message must contain
};

TEST(S3ErrorMapping, Table) {
  const MappingCase cases[] = {
      {404, "NoSuchKey", ErrorKind::kNotFound, "NoSuchKey"},
      {404, "", ErrorKind::kNotFound, "NoSuchKey"},
      {404, "NoSuchBucket", ErrorKind::kNotFound, "bucket bkt does not exist"},
      {404, "NoSuchUpload", ErrorKind::kNotFound, "NoSuchUpload"},
      {412, "PreconditionFailed", ErrorKind::kPreconditionFailed, "PreconditionFailed"},
      {412, "", ErrorKind::kPreconditionFailed, "PreconditionFailed"},
      {409, "ConditionalRequestConflict", ErrorKind::kPreconditionFailed, "Conflict"},
      {403, "AccessDenied", ErrorKind::kPermissionDenied, "check the credentials"},
      {403, "", ErrorKind::kPermissionDenied, "AccessDenied"},
      {403, "SignatureDoesNotMatch", ErrorKind::kPermissionDenied, "check the secret access key"},
      {403, "InvalidAccessKeyId", ErrorKind::kPermissionDenied, "check the access key id"},
      {400, "ExpiredToken", ErrorKind::kPermissionDenied, "credentials expired"},
      {400, "TokenRefreshRequired", ErrorKind::kPermissionDenied, "credentials expired"},
      {403, "RequestTimeTooSkewed", ErrorKind::kPermissionDenied, "clock"},
      {416, "InvalidRange", ErrorKind::kInvalidArgument, "InvalidRange"},
      {416, "", ErrorKind::kInvalidArgument, "InvalidRange"},
      {503, "SlowDown", ErrorKind::kThrottled, "SlowDown"},
      {503, "", ErrorKind::kThrottled, "ServiceUnavailable"},
      {429, "", ErrorKind::kThrottled, "HTTP 429"},
      {500, "InternalError", ErrorKind::kTransient, "InternalError"},
      {502, "", ErrorKind::kTransient, "HTTP 502"},
      {504, "", ErrorKind::kTransient, "HTTP 504"},
      {400, "RequestTimeout", ErrorKind::kTransient, "RequestTimeout"},
      {501, "NotImplemented", ErrorKind::kUnsupported, "does not implement GetObject"},
      {400, "InvalidPart", ErrorKind::kInvalidArgument, "InvalidPart"},
      {400, "EntityTooSmall", ErrorKind::kInvalidArgument, "EntityTooSmall"},
      {400, "KeyTooLongError", ErrorKind::kNameTooLong, "KeyTooLongError"},
      {400, "SomethingNew", ErrorKind::kIo, "SomethingNew"},
      {405, "MethodNotAllowed", ErrorKind::kIo, "MethodNotAllowed"},
      {301, "PermanentRedirect", ErrorKind::kIo, "PermanentRedirect"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::to_string(c.status) + " " + c.code);
    std::optional<ErrorBody> body;
    if (*c.code != '\0') body = parseErrorBody(span(errorXml(c.code, "server words")));
    Error error = mapS3Error(c.status, body, kContext);
    EXPECT_EQ(error.kind(), c.kind) << error.describe();
    EXPECT_NE(error.message().find(c.says), std::string::npos) << error.message();
    EXPECT_NE(error.message().find("s3://bkt/vol/k"), std::string::npos) << error.message();
    EXPECT_EQ(error.httpStatus(), c.status);
    if (body) {
      EXPECT_EQ(error.serviceCode(), c.code);
      EXPECT_NE(error.message().find("server words"), std::string::npos) << error.message();
    }
    bool retryable = c.kind == ErrorKind::kTransient || c.kind == ErrorKind::kThrottled;
    EXPECT_EQ(error.retryable(), retryable);
  }
}

TEST(S3ErrorMapping, MalformedResponseNamesTheEndpoint) {
  Error error = malformedResponse(kContext, "XML does not parse");
  EXPECT_EQ(error.kind(), ErrorKind::kIo);
  EXPECT_NE(error.message().find("malformed response from http://127.0.0.1:7480"),
            std::string::npos)
      << error.message();
}

// --- DeleteObjects ------------------------------------------------------------------------

TEST(S3DeleteObjects, BodyEscapesKeysAndRefusesUnsendableOnes) {
  auto body = buildDeleteBody({"vol/a", "vol/x&y<z>\"q'", "vol/tab\tnl\n"});
  ASSERT_TRUE(body);
  EXPECT_EQ(*body,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Delete><Quiet>true</Quiet>"
            "<Object><Key>vol/a</Key></Object>"
            "<Object><Key>vol/x&amp;y&lt;z&gt;&quot;q&apos;</Key></Object>"
            "<Object><Key>vol/tab&#9;nl&#10;</Key></Object></Delete>");
  EXPECT_FALSE(buildDeleteBody({"ok", "bell\x07"}));
  EXPECT_FALSE(buildDeleteBody({"carriage\rreturn"}));
}

TEST(S3DeleteObjects, PartialFailures) {
  const std::string xml = R"(<?xml version="1.0" encoding="UTF-8"?>
<DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Deleted><Key>vol/gone</Key></Deleted>
  <Error><Key>vol/locked</Key><Code>AccessDenied</Code><Message>Access Denied</Message></Error>
  <Error><Key>vol/busy &amp; more</Key><Code>InternalError</Code><Message>oops</Message></Error>
</DeleteResult>)";
  auto parsed = parseDeleteResult(span(xml));
  ASSERT_TRUE(parsed) << parsed.error().describe();
  ASSERT_EQ(parsed->size(), 2u);
  EXPECT_EQ((*parsed)[0].key, "vol/locked");
  EXPECT_EQ((*parsed)[0].code, "AccessDenied");
  EXPECT_EQ((*parsed)[1].key, "vol/busy & more");
  EXPECT_EQ((*parsed)[1].message, "oops");
  EXPECT_TRUE(parseDeleteResult(span("<DeleteResult/>"))->empty());
  EXPECT_FALSE(
      parseDeleteResult(span("<DeleteResult><Error><Code>X</Code></Error></DeleteResult>")));
  EXPECT_FALSE(parseDeleteResult(span("<DeleteResult><Error>")));
}

// --- Multipart and copy -------------------------------------------------------------------

TEST(S3Multipart, InitiateAndCompleteBodies) {
  auto id = parseInitiateMultipartUpload(
      span("<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key>"
           "<UploadId>2~abc.def</UploadId></InitiateMultipartUploadResult>"));
  ASSERT_TRUE(id);
  EXPECT_EQ(*id, "2~abc.def");
  EXPECT_FALSE(parseInitiateMultipartUpload(span("<InitiateMultipartUploadResult/>")));
  EXPECT_FALSE(parseInitiateMultipartUpload(span("<InitiateMultipartUploadResult><UploadId>")));

  std::string body = buildCompleteMultipartBody({{1, "aa", 5}, {2, "\"bb\"", 5}});
  EXPECT_EQ(body,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CompleteMultipartUpload>"
            "<Part><PartNumber>1</PartNumber><ETag>&quot;aa&quot;</ETag></Part>"
            "<Part><PartNumber>2</PartNumber><ETag>&quot;bb&quot;</ETag></Part>"
            "</CompleteMultipartUpload>");
}

TEST(S3Multipart, CompleteWithErrorInA200Body) {
  // S3 may answer 200 and then report the failure in the body.
  const std::string xml = R"(<?xml version="1.0" encoding="UTF-8"?>

<Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>)";
  auto parsed = parseCompleteMultipartUpload(span(xml));
  ASSERT_TRUE(parsed) << parsed.error().describe();
  ASSERT_TRUE(parsed->error);
  EXPECT_EQ(parsed->error->code, "InternalError");
  Error mapped = mapS3Error(200, parsed->error, kContext);
  EXPECT_EQ(mapped.kind(), ErrorKind::kTransient);

  auto done = parseCompleteMultipartUpload(
      span("<CompleteMultipartUploadResult><Location>x</Location><Bucket>b</Bucket><Key>k</Key>"
           "<ETag>&quot;3858f62230ac3c915f300c664312c11f-9&quot;</ETag>"
           "</CompleteMultipartUploadResult>"));
  ASSERT_TRUE(done);
  EXPECT_FALSE(done->error);
  EXPECT_EQ(done->etag, "3858f62230ac3c915f300c664312c11f-9");
  // moto's root element names.
  auto moto = parseCompleteMultipartUpload(span(
      "<CompleteMultipartUploadResponse><ETag>\"m-1\"</ETag></CompleteMultipartUploadResponse>"));
  ASSERT_TRUE(moto) << moto.error().describe();
  EXPECT_EQ(moto->etag, "m-1");
  EXPECT_FALSE(parseCompleteMultipartUpload(span("<CompleteMultipartUploadResultX/>")));
  EXPECT_FALSE(parseCompleteMultipartUpload(span("<CompleteMultipartUploadResult>")));
  // Ceph RGW 16.2: an empty ETag (the store HEADs the object then).
  auto ceph = parseCompleteMultipartUpload(
      span("<CompleteMultipartUploadResult><ETag></ETag></CompleteMultipartUploadResult>"));
  ASSERT_TRUE(ceph);
  EXPECT_TRUE(ceph->etag.empty());
  EXPECT_FALSE(ceph->error);
  EXPECT_FALSE(parseCompleteMultipartUpload(span("")));
}

TEST(S3Copy, ObjectAndPartResults) {
  auto object =
      parseCopyResult(span("<CopyObjectResult><LastModified>2026-11-23T07:02:48.000Z</LastModified>"
                           "<ETag>\"abc\"</ETag></CopyObjectResult>"));
  ASSERT_TRUE(object);
  EXPECT_EQ(object->etag, "abc");
  EXPECT_EQ(object->last_modified_unix, parseIsoDate("2026-11-23T07:02:48Z").value());
  auto part = parseCopyResult(span("<CopyPartResult><ETag>&quot;p&quot;</ETag></CopyPartResult>"));
  ASSERT_TRUE(part);
  EXPECT_EQ(part->etag, "p");
  auto failed = parseCopyResult(span(errorXml("SlowDown")));
  ASSERT_TRUE(failed);
  ASSERT_TRUE(failed->error);
  EXPECT_EQ(failed->error->code, "SlowDown");
  EXPECT_FALSE(parseCopyResult(span("<CopyObjectResult><ETag>\"abc\"</ETag>")));
  EXPECT_FALSE(parseCopyResult(span("<Something/>")));
}

TEST(S3Multipart, ListUploadsAndParts) {
  auto uploads = parseListMultipartUploads(span(
      "<ListMultipartUploadsResult><EncodingType>url</EncodingType><IsTruncated>true</IsTruncated>"
      "<NextKeyMarker>vol%2Fb+c</NextKeyMarker><NextUploadIdMarker>u2</NextUploadIdMarker>"
      "<Upload><Key>vol%2Fa</Key><UploadId>u1</UploadId>"
      "<Initiated>2026-11-23T07:02:48.000Z</Initiated></Upload>"
      "<Upload><Key>vol%2Fb+c</Key><UploadId>u2</UploadId></Upload>"
      "</ListMultipartUploadsResult>"));
  ASSERT_TRUE(uploads) << uploads.error().describe();
  ASSERT_EQ(uploads->uploads.size(), 2u);
  EXPECT_EQ(uploads->uploads[0].key, "vol/a");
  EXPECT_EQ(uploads->uploads[0].upload_id, "u1");
  EXPECT_GT(uploads->uploads[0].initiated_unix, 0);
  EXPECT_EQ(uploads->uploads[1].key, "vol/b c");
  EXPECT_TRUE(uploads->is_truncated);
  EXPECT_EQ(uploads->next_key_marker, "vol/b c");
  EXPECT_EQ(uploads->next_upload_id_marker, "u2");
  EXPECT_FALSE(
      parseListMultipartUploads(span("<ListMultipartUploadsResult><Upload><Key>k</Key></Upload>"
                                     "</ListMultipartUploadsResult>")));

  auto parts = parseListParts(
      span("<ListPartsResult><IsTruncated>false</IsTruncated>"
           "<Part><PartNumber>1</PartNumber><ETag>\"e1\"</ETag><Size>5242880</Size></Part>"
           "<Part><PartNumber>2</PartNumber><ETag>\"e2\"</ETag><Size>10</Size></Part>"
           "</ListPartsResult>"));
  ASSERT_TRUE(parts);
  ASSERT_EQ(parts->parts.size(), 2u);
  EXPECT_EQ(parts->parts[0].etag, "e1");
  EXPECT_EQ(parts->parts[0].size, 5242880u);
  EXPECT_EQ(parts->parts[1].part_number, 2u);
  EXPECT_FALSE(parseListParts(span(
      "<ListPartsResult><Part><PartNumber>0</PartNumber><Size>1</Size></Part></ListPartsResult>")));
}

}  // namespace
}  // namespace s3cryptfs::s3
