#include "s3cryptfs/crypto/kdf.h"

#include <gtest/gtest.h>

#include "crypto_test_support.h"

namespace s3cryptfs::crypto {
namespace {

using testing::hex;
using testing::repeated;

std::string derivedHex(const Result<SecureBuffer>& key) {
  if (!key.has_value()) return "error: " + key.error().describe();
  return toHex(key->span());
}

Bytes range(uint8_t first, uint8_t last) {
  Bytes out;
  for (int b = first; b <= last; ++b)
    out.push_back(static_cast<uint8_t>(b));
  return out;
}

// RFC 5869 appendix A.1-A.3 (the SHA-256 cases).
TEST(HkdfSha256Test, MatchesRfc5869) {
  SecureBuffer ikm(repeated(0x0b, 22));
  EXPECT_EQ(derivedHex(hkdfSha256(ikm, hex("000102030405060708090a0b0c"),
                                  hex("f0f1f2f3f4f5f6f7f8f9"), 42)),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");

  SecureBuffer long_ikm(range(0x00, 0x4f));
  EXPECT_EQ(derivedHex(hkdfSha256(long_ikm, range(0x60, 0xaf), range(0xb0, 0xff), 82)),
            "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c"
            "59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71"
            "cc30c58179ec3e87c14c01d5c1f3434f1d87");

  // Test case 3: empty salt and info.
  EXPECT_EQ(derivedHex(hkdfSha256(ikm, {}, {}, 42)),
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8");
}

TEST(HkdfSha256Test, RejectsImpossibleLengthsAndEmptyKeys) {
  SecureBuffer ikm(repeated(0x0b, 32));
  EXPECT_EQ(hkdfSha256(ikm, {}, {}, 0).error().kind(), ErrorKind::kInvalidArgument);
  constexpr size_t kMaxLength = size_t{255} * 32;  // 255 blocks of HashLen (RFC 5869 §2.3)
  EXPECT_EQ(hkdfSha256(ikm, {}, {}, kMaxLength + 1).error().kind(), ErrorKind::kInvalidArgument);
  EXPECT_TRUE(hkdfSha256(ikm, {}, {}, kMaxLength).has_value());
  EXPECT_EQ(hkdfSha256(SecureBuffer(), {}, {}, 32).error().kind(), ErrorKind::kInvalidArgument);
}

// RFC 7914 §12. The fourth vector (N = 1048576, 1 GiB) is left out: too slow and too big for a
// unit test.
TEST(ScryptTest, MatchesRfc7914) {
  EXPECT_EQ(derivedHex(scrypt({}, {}, {.n = 16, .r = 1, .p = 1}, 64)),
            "77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442"
            "fcd0069ded0948f8326a753a0fc81f17e8d3e0fb2e0d3628cf35e20c38d18906");
  EXPECT_EQ(
      derivedHex(scrypt(asBytes("password"), asBytes("NaCl"), {.n = 1024, .r = 8, .p = 16}, 64)),
      "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162"
      "2eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640");
  EXPECT_EQ(derivedHex(scrypt(asBytes("pleaseletmein"), asBytes("SodiumChloride"),
                              {.n = 16384, .r = 8, .p = 1}, 64)),
            "7023bdcb3afd7348461c06cd81fd38ebfda8fbba904f8e3ea9b543f6545da1f2"
            "d5432955613f0fcf62d49705242a9af9e61e85dc0d651e40dfcf017b45575887");
}

// The default cost (128 MiB) must fit under OpenSSL's memory cap.
TEST(ScryptTest, DefaultParametersAreAccepted) {
  auto key = scrypt(asBytes("passphrase"), asBytes("salt"), ScryptParams{}, 32);
  ASSERT_TRUE(key.has_value()) << key.error().describe();
  EXPECT_EQ(key->size(), 32u);
}

TEST(ScryptTest, RejectsBadParameters) {
  auto kind = [](const ScryptParams& params) {
    auto key = scrypt(asBytes("pw"), asBytes("salt"), params, 32);
    return key.has_value() ? std::string("ok") : std::string(errorKindName(key.error().kind()));
  };
  const std::string invalid(errorKindName(ErrorKind::kInvalidArgument));
  EXPECT_EQ(kind({.n = 1000, .r = 8, .p = 1}), invalid);  // not a power of two
  EXPECT_EQ(kind({.n = 1, .r = 8, .p = 1}), invalid);
  EXPECT_EQ(kind({.n = 1024, .r = 0, .p = 1}), invalid);
  EXPECT_EQ(kind({.n = 1024, .r = 8, .p = 0}), invalid);
  // 2^30 * 128 * 8 bytes = 1 TiB: refused by the memory cap instead of attempted.
  EXPECT_EQ(kind({.n = uint64_t{1} << 30, .r = 8, .p = 1}), invalid);
  EXPECT_EQ(scrypt(asBytes("pw"), asBytes("salt"), {.n = 16, .r = 1, .p = 1}, 0).error().kind(),
            ErrorKind::kInvalidArgument);
}

}  // namespace
}  // namespace s3cryptfs::crypto
