#include "s3cryptfs/crypto/siv.h"

#include <gtest/gtest.h>

#include "crypto_test_support.h"

namespace s3cryptfs::crypto {
namespace {

using testing::hex;
using testing::keyHex;

std::string sealedHex(const Result<Bytes>& sealed) {
  if (!sealed.has_value()) return "error: " + sealed.error().describe();
  return toHex(*sealed);
}

// RFC 5297 appendix A.1: deterministic authenticated encryption, AES-128-SIV (32-byte key).
TEST(SivTest, MatchesRfc5297DeterministicExample) {
  SecureBuffer key =
      keyHex("fffefdfc fbfaf9f8 f7f6f5f4 f3f2f1f0 f0f1f2f3 f4f5f6f7 f8f9fafb fcfdfeff");
  Bytes ad = hex("10111213 14151617 18191a1b 1c1d1e1f 20212223 24252627");
  Bytes plaintext = hex("11223344 55667788 99aabbcc ddee");
  const char* expected = "85632d07c6e8f37f950acd320a2ecc9340c02b9690c4dc04daef7f6afe5c";

  EXPECT_EQ(sealedHex(sivSeal(key, {ad}, plaintext)), expected);
  auto opened = sivOpen(key, {ad}, hex(expected));
  ASSERT_TRUE(opened.has_value()) << opened.error().describe();
  EXPECT_EQ(*opened, plaintext);
}

// RFC 5297 appendix A.2: several associated data components, the nonce being the last one.
TEST(SivTest, MatchesRfc5297NonceBasedExample) {
  SecureBuffer key =
      keyHex("7f7e7d7c 7b7a7978 77767574 73727170 40414243 44454647 48494a4b 4c4d4e4f");
  Bytes ad1 = hex(
      "00112233 44556677 8899aabb ccddeeff deaddada deaddada ffeeddcc bbaa9988 77665544 33221100");
  Bytes ad2 = hex("10203040 50607080 90a0");
  Bytes nonce = hex("09f91102 9d74e35b d84156c5 635688c0");
  Bytes plaintext =
      hex("74686973 20697320 736f6d65 20706c61 696e7465 78742074 6f20656e 63727970 74207573 "
          "696e6720 5349562d 414553");
  const char* expected =
      "7bdb6e3b432667eb06f4d14bff2fbd0fcb900f2fddbe404326601965c889bf17"
      "dba77ceb094fa663b7a3f748ba8af829ea64ad544a272e9c485b62a3fd5c0d";

  EXPECT_EQ(sealedHex(sivSeal(key, {ad1, ad2, nonce}, plaintext)), expected);
  auto opened = sivOpen(key, {ad1, ad2, nonce}, hex(expected));
  ASSERT_TRUE(opened.has_value()) << opened.error().describe();
  EXPECT_EQ(*opened, plaintext);
  // The components are a sequence, not a concatenation.
  Bytes joined = ad1;
  joined.insert(joined.end(), ad2.begin(), ad2.end());
  EXPECT_EQ(sivOpen(key, {joined, nonce}, hex(expected)).error().kind(), ErrorKind::kCorrupt);
}

SecureBuffer nameKey() {
  Bytes key;
  for (int i = 0; i < 64; ++i)
    key.push_back(static_cast<uint8_t>(i));
  return SecureBuffer(key);
}

// AES-256-SIV has no RFC vector. This one was computed with pyca/cryptography 48 (AESSIV); that
// library also sits on OpenSSL, so it pins our output rather than checking it independently.
TEST(SivTest, Aes256SivOutputIsPinned) {
  EXPECT_EQ(sealedHex(sivSeal(nameKey(), {asBytes("parent-directory-id")}, asBytes("report.pdf"))),
            "3e19834b9d5988fa2824fed935e355316399a6a0462390b4354d");
}

TEST(SivTest, IsDeterministicAndBoundToAssociatedData) {
  SecureBuffer key = nameKey();
  auto a = sivSeal(key, {asBytes("dir-1")}, asBytes("notes.txt"));
  auto b = sivSeal(key, {asBytes("dir-1")}, asBytes("notes.txt"));
  auto c = sivSeal(key, {asBytes("dir-2")}, asBytes("notes.txt"));
  ASSERT_TRUE(a.has_value() && b.has_value() && c.has_value());
  EXPECT_EQ(*a, *b);
  EXPECT_NE(*a, *c);
  EXPECT_EQ(a->size(), kSivTagSize + 9);
  EXPECT_EQ(sivOpen(key, {asBytes("dir-2")}, *a).error().kind(), ErrorKind::kCorrupt);
  EXPECT_EQ(sivOpen(key, {}, *a).error().kind(), ErrorKind::kCorrupt);
}

TEST(SivTest, EveryFlippedBitIsDetected) {
  SecureBuffer key = nameKey();
  Bytes ad = toBytes("dir-1");
  auto sealed = sivSeal(key, {ad}, asBytes("a name of some length"));
  ASSERT_TRUE(sealed.has_value());
  for (size_t bit = 0; bit < sealed->size() * 8; ++bit) {
    Bytes tampered = *sealed;
    tampered[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    auto opened = sivOpen(key, {ad}, tampered);
    ASSERT_FALSE(opened.has_value()) << "bit " << bit;
    EXPECT_EQ(opened.error().kind(), ErrorKind::kCorrupt);
  }
  for (size_t bit = 0; bit < ad.size() * 8; ++bit) {
    Bytes tampered = ad;
    tampered[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    EXPECT_EQ(sivOpen(key, {tampered}, *sealed).error().kind(), ErrorKind::kCorrupt);
  }
}

TEST(SivTest, RejectsBadKeysEmptyMessagesAndShortInput) {
  EXPECT_EQ(sivSeal(SecureBuffer(Bytes(16, 1)), {}, asBytes("x")).error().kind(),
            ErrorKind::kInvalidArgument);
  EXPECT_EQ(sivSeal(nameKey(), {}, {}).error().kind(), ErrorKind::kInvalidArgument);
  EXPECT_EQ(sivOpen(nameKey(), {}, Bytes(kSivTagSize - 1, 0)).error().kind(), ErrorKind::kCorrupt);
  EXPECT_EQ(sivOpen(nameKey(), {}, Bytes(kSivTagSize, 0)).error().kind(), ErrorKind::kCorrupt);
  std::vector<ByteSpan> too_many(127, asBytes("ad"));
  EXPECT_EQ(sivSeal(nameKey(), too_many, asBytes("x")).error().kind(), ErrorKind::kInvalidArgument);
  // Empty components are legal and distinct from absent ones.
  auto with_empty = sivSeal(nameKey(), {ByteSpan()}, asBytes("x"));
  auto without = sivSeal(nameKey(), {}, asBytes("x"));
  ASSERT_TRUE(with_empty.has_value() && without.has_value());
  EXPECT_NE(*with_empty, *without);
  EXPECT_TRUE(sivOpen(nameKey(), {ByteSpan()}, *with_empty).has_value());
}

}  // namespace
}  // namespace s3cryptfs::crypto
