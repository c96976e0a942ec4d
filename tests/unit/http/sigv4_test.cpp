#include "s3cryptfs/http/sigv4.h"

#include <chrono>

#include <gtest/gtest.h>

namespace s3cryptfs::http {
namespace {

// Facts from the AWS SigV4 test suite (aws-sig-v4-test-suite, published with the AWS General
// Reference): credentials AKIDEXAMPLE / wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, region
// us-east-1, service "service", date 20150830T123600Z.
constexpr char kSuiteDate[] = "20150830T123600Z";
constexpr char kEmptySha256[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

Credentials suiteCredentials() {
  return {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""};
}

Request suiteRequest(std::string method, std::string path_and_query, Headers extra = {}) {
  Request request;
  request.method = std::move(method);
  request.url = "https://example.amazonaws.com" + path_and_query;
  request.headers = {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", kSuiteDate}};
  for (auto& h : extra)
    request.headers.push_back(std::move(h));
  return request;
}

SignatureParts suiteSign(const Request& request, const char* payload_hex = kEmptySha256) {
  auto parts = computeSignature(request, suiteCredentials(), "us-east-1", "service", kSuiteDate,
                                payload_hex, PathEncoding::kSingle);
  EXPECT_TRUE(parts.has_value());
  return parts.value_or(SignatureParts{});
}

TEST(SigV4Suite, GetVanilla) {
  SignatureParts parts = suiteSign(suiteRequest("GET", "/"));
  EXPECT_EQ(parts.canonical_request,
            "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
            "host;x-amz-date\n" +
                std::string(kEmptySha256));
  EXPECT_EQ(parts.string_to_sign,
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
            "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63");
  EXPECT_EQ(parts.signature, "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
}

TEST(SigV4Suite, GetVanillaQueryOrderKeyCase) {
  SignatureParts parts = suiteSign(suiteRequest("GET", "/?Param2=value2&Param1=value1"));
  EXPECT_NE(parts.canonical_request.find("\n/\nParam1=value1&Param2=value2\n"), std::string::npos)
      << parts.canonical_request;
  EXPECT_EQ(parts.signature, "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
}

TEST(SigV4Suite, GetUtf8) {
  // The path "/ሴ" (U+1234), sent percent-encoded.
  SignatureParts parts = suiteSign(suiteRequest("GET", "/%E1%88%B4"));
  EXPECT_NE(parts.canonical_request.find("GET\n/%E1%88%B4\n"), std::string::npos)
      << parts.canonical_request;
  EXPECT_EQ(parts.signature, "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85");
}

TEST(SigV4Suite, GetSpace) {
  SignatureParts parts = suiteSign(suiteRequest("GET", "/example%20space/"));
  EXPECT_NE(parts.canonical_request.find("GET\n/example%20space/\n"), std::string::npos);
  EXPECT_EQ(parts.signature, "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741");
}

TEST(SigV4Suite, PostVanilla) {
  SignatureParts parts = suiteSign(suiteRequest("POST", "/"));
  EXPECT_EQ(parts.signature, "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b");
}

TEST(SigV4Suite, PostVanillaQuery) {
  SignatureParts parts = suiteSign(suiteRequest("POST", "/?Param1=value1"));
  EXPECT_EQ(parts.signature, "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11");
}

TEST(SigV4Suite, PostXWwwFormUrlencoded) {
  // Body "Param1=value1"; its SHA-256 below.
  SignatureParts parts =
      suiteSign(suiteRequest("POST", "/", {{"Content-Type", "application/x-www-form-urlencoded"}}),
                "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e");
  EXPECT_EQ(parts.signed_headers, "content-type;host;x-amz-date");
  EXPECT_EQ(parts.signature, "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a");
}

TEST(SigV4Suite, GetHeaderValueTrim) {
  SignatureParts parts = suiteSign(
      suiteRequest("GET", "/", {{"My-Header1", " value1"}, {"My-Header2", " \"a   b   c\""}}));
  EXPECT_NE(parts.canonical_request.find("my-header1:value1\nmy-header2:\"a b c\"\n"),
            std::string::npos)
      << parts.canonical_request;
  EXPECT_EQ(parts.signed_headers, "host;my-header1;my-header2;x-amz-date");
  EXPECT_EQ(parts.signature, "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736");
}

// The S3 documentation's worked example "GET Object" (Signature Calculations for the
// Authorization Header, Amazon S3 API Reference): bucket examplebucket, key test.txt,
// Range bytes=0-9, 20130524T000000Z.
TEST(SigV4, S3DocumentationGetObjectExample) {
  Request request;
  request.method = "GET";
  request.url = "https://examplebucket.s3.amazonaws.com/test.txt";
  request.headers = {{"Range", "bytes=0-9"}};
  Credentials credentials{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""};
  auto now = std::chrono::sys_days{std::chrono::year{2013} / 5 / 24};
  ASSERT_TRUE(signRequest(request, credentials, "us-east-1", "s3", now).has_value());
  const std::string* auth = nullptr;
  const std::string* sha = nullptr;
  const std::string* host = nullptr;
  for (const auto& [name, value] : request.headers) {
    if (name == "Authorization") auth = &value;
    if (name == "x-amz-content-sha256") sha = &value;
    if (name == "host") host = &value;
  }
  ASSERT_NE(auth, nullptr);
  ASSERT_NE(sha, nullptr);
  ASSERT_NE(host, nullptr);
  EXPECT_EQ(*host, "examplebucket.s3.amazonaws.com");
  EXPECT_EQ(*sha, kEmptySha256);
  EXPECT_EQ(*auth,
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST(SigV4, SessionTokenAndUnsignedPayloadAreSigned) {
  Request request;
  request.method = "PUT";
  request.url = "http://127.0.0.1:7480/bucket/a%20b";
  Credentials credentials{"AKID", "secret", "token/with+chars"};
  ASSERT_TRUE(signRequest(request, credentials, "us-east-1", "s3", std::chrono::system_clock::now(),
                          PayloadHash::unsignedPayload())
                  .has_value());
  std::string auth;
  bool token = false;
  std::string host;
  for (const auto& [name, value] : request.headers) {
    if (name == "Authorization") auth = value;
    if (name == "x-amz-security-token") token = value == "token/with+chars";
    if (name == "host") host = value;
    if (name == "x-amz-content-sha256") {
      EXPECT_EQ(value, "UNSIGNED-PAYLOAD");
    }
  }
  EXPECT_TRUE(token);
  EXPECT_EQ(host, "127.0.0.1:7480");
  EXPECT_NE(auth.find("SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token"),
            std::string::npos)
      << auth;
  EXPECT_EQ(auth.find("secret"), std::string::npos);
}

TEST(SigV4, SigningTwiceReplacesHeaders) {
  Request request{"GET", "https://h.example/k", {}, {}};
  Credentials credentials{"AKID", "secret", ""};
  auto now = std::chrono::system_clock::now();
  ASSERT_TRUE(signRequest(request, credentials, "r", "s3", now).has_value());
  size_t first = request.headers.size();
  ASSERT_TRUE(signRequest(request, credentials, "r", "s3", now).has_value());
  EXPECT_EQ(request.headers.size(), first);
}

TEST(SigV4, DoubleEncodingForOtherServices) {
  Request request{
      "GET", "https://h.example/a%20b", {{"host", "h.example"}, {"x-amz-date", kSuiteDate}}, {}};
  auto single = computeSignature(request, suiteCredentials(), "r", "s", kSuiteDate, kEmptySha256,
                                 PathEncoding::kSingle);
  auto twice = computeSignature(request, suiteCredentials(), "r", "s", kSuiteDate, kEmptySha256,
                                PathEncoding::kDouble);
  ASSERT_TRUE(single.has_value() && twice.has_value());
  EXPECT_NE(single->canonical_request.find("\n/a%20b\n"), std::string::npos);
  EXPECT_NE(twice->canonical_request.find("\n/a%2520b\n"), std::string::npos);
}

TEST(SigV4, IncompleteCredentialsAreRejected) {
  Request request{"GET", "https://h.example/", {}, {}};
  auto status = signRequest(request, Credentials{"AKID", "", ""}, "r", "s3",
                            std::chrono::system_clock::now());
  ASSERT_FALSE(status.has_value());
  EXPECT_EQ(status.error().kind(), ErrorKind::kInvalidArgument);
}

TEST(UriEncode, FollowsAwsRules) {
  EXPECT_EQ(uriEncode("AZaz09-_.~", true), "AZaz09-_.~");
  EXPECT_EQ(uriEncode("a b/c+d=e&f*", true), "a%20b%2Fc%2Bd%3De%26f%2A");
  EXPECT_EQ(uriEncode("dir/file name", false), "dir/file%20name");
  EXPECT_EQ(uriEncode("\xE1\x88\xB4", true), "%E1%88%B4");
  EXPECT_EQ(uriDecode("a%20b%2fc%zz"), "a b/c%zz");
}

TEST(SigV4, CredentialsDescribeHidesSecret) {
  Credentials credentials{"AKIDEXAMPLE", "very-secret", "session-token"};
  std::string text = credentials.describe();
  EXPECT_NE(text.find("AKIDEXAMPLE"), std::string::npos);
  EXPECT_EQ(text.find("very-secret"), std::string::npos);
  EXPECT_EQ(text.find("session-token"), std::string::npos);
}

}  // namespace
}  // namespace s3cryptfs::http
