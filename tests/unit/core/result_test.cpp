#include "s3cryptfs/core/result.h"

#include <gtest/gtest.h>

#include "s3cryptfs/core/bytes.h"
#include "s3cryptfs/core/secure_buffer.h"

namespace s3cryptfs {
namespace {

Result<int> half(int v) {
  if (v % 2 != 0) return Error(ErrorKind::kInvalidArgument, "odd");
  return v / 2;
}

Result<int> quarter(int v) {
  S3C_ASSIGN_OR_RETURN(int h, half(v));
  return half(h);
}

TEST(ResultTest, CarriesValueOrError) {
  auto good = quarter(8);
  ASSERT_TRUE(good.has_value());
  EXPECT_EQ(*good, 2);
  auto bad = quarter(6);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().kind(), ErrorKind::kInvalidArgument);
  EXPECT_EQ(bad.error().errnoValue(), EINVAL);
}

TEST(ResultTest, ContextKeepsKindAndErrno) {
  Error e = Error(ErrorKind::kCorrupt, "tag mismatch").withContext("chunk 3 of obj");
  EXPECT_EQ(e.kind(), ErrorKind::kCorrupt);
  EXPECT_EQ(e.errnoValue(), EIO);
  EXPECT_EQ(e.message(), "chunk 3 of obj: tag mismatch");
  EXPECT_FALSE(e.retryable());
  EXPECT_TRUE(Error(ErrorKind::kThrottled, "SlowDown").retryable());
}

TEST(ResultTest, StatusReturnIfError) {
  auto fails = []() -> Status { return Error(ErrorKind::kIo, "disk"); };
  auto outer = [&]() -> Status {
    S3C_RETURN_IF_ERROR(fails());
    return ok();
  };
  EXPECT_FALSE(outer().has_value());
}

TEST(BytesTest, HexAndBase64RoundTrip) {
  Bytes data;
  for (int i = 0; i < 300; ++i)
    data.push_back(static_cast<uint8_t>(i * 7));
  for (size_t n = 0; n < data.size(); n += 37) {
    ByteSpan part(data.data(), n);
    Bytes back;
    ASSERT_TRUE(fromHex(toHex(part), back));
    EXPECT_EQ(back, Bytes(part.begin(), part.end()));
    ASSERT_TRUE(fromBase64(toBase64(part), back));
    EXPECT_EQ(back, Bytes(part.begin(), part.end()));
  }
  EXPECT_EQ(toBase64(asBytes("foobar")), "Zm9vYmFy");
  EXPECT_EQ(toBase64(asBytes("fo")), "Zm8=");
  Bytes out;
  EXPECT_FALSE(fromHex("abc", out));
  EXPECT_FALSE(fromBase64("Zm9v!", out));
}

TEST(SecureBufferTest, MovesAndCompares) {
  SecureBuffer a(asBytes("0123456789abcdef0123456789abcdef"));
  SecureBuffer b = a.clone();
  EXPECT_TRUE(a.equals(b));
  SecureBuffer c(std::move(a));
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): moved-from is empty by contract
  EXPECT_TRUE(c.equals(b));
  b.mutableSpan()[0] ^= 1;
  EXPECT_FALSE(c.equals(b));
}

}  // namespace
}  // namespace s3cryptfs
