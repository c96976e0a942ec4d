#include "s3cryptfs/crypto/hash.h"

#include <gtest/gtest.h>

#include "crypto_test_support.h"

namespace s3cryptfs::crypto {
namespace {

using testing::hex;
using testing::repeated;

// FIPS 180-2 appendix B examples, plus the empty message.
TEST(Sha256Test, MatchesFips180Examples) {
  EXPECT_EQ(toHex(sha256(asBytes(""))),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(toHex(sha256(asBytes("abc"))),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(toHex(sha256(asBytes("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(toHex(sha256(repeated('a', 1000000))),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256Test, IncrementalEqualsOneShotAndRestartsAfterFinish) {
  Bytes message = repeated('a', 1000000);
  Sha256 hasher;
  // Uneven pieces, so block boundaries fall inside updates.
  size_t offset = 0;
  for (size_t piece = 1; offset < message.size(); piece = piece * 3 + 1) {
    size_t n = std::min(piece, message.size() - offset);
    hasher.update(ByteSpan(message).subspan(offset, n));
    offset += n;
  }
  EXPECT_EQ(hasher.finish(), sha256(message));

  hasher.update(asBytes("abc"));
  EXPECT_EQ(toHex(hasher.finish()),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(hasher.finish(), sha256(asBytes("")));

  Sha256 moved(std::move(hasher));
  moved.update(asBytes("abc"));
  EXPECT_EQ(moved.finish(), sha256(asBytes("abc")));
}

// RFC 4231 §4.2-4.8, HMAC-SHA-256 results.
TEST(HmacSha256Test, MatchesRfc4231) {
  struct Case {
    Bytes key;
    Bytes data;
    const char* mac;
  };
  const std::string long_data =
      "This is a test using a larger than block-size key and a larger than block-size data. "
      "The key needs to be hashed before being used by the HMAC algorithm.";
  const Case cases[] = {
      {repeated(0x0b, 20), toBytes("Hi There"),
       "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
      {toBytes("Jefe"), toBytes("what do ya want for nothing?"),
       "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
      {repeated(0xaa, 20), repeated(0xdd, 50),
       "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
      {hex("0102030405060708090a0b0c0d0e0f10111213141516171819"), repeated(0xcd, 50),
       "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
      {repeated(0xaa, 131), toBytes("Test Using Larger Than Block-Size Key - Hash Key First"),
       "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
      {repeated(0xaa, 131), toBytes(long_data),
       "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.mac);
    EXPECT_EQ(toHex(hmacSha256(c.key, c.data)), c.mac);
  }
  // §4.6 (test case 5) specifies only the first 128 bits.
  EXPECT_EQ(toHex(hmacSha256(repeated(0x0c, 20), asBytes("Test With Truncation"))).substr(0, 32),
            "a3b6167473100ee06e0c796c2955552b");
}

TEST(HmacSha256Test, AcceptsAnEmptyKey) {
  // The empty key is zero-padded to a block, the same as a 32-byte zero key (RFC 2104 §2).
  EXPECT_EQ(hmacSha256({}, asBytes("data")), hmacSha256(repeated(0, 32), asBytes("data")));
}

// RFC 1321 appendix A.5 test suite.
TEST(Md5Test, MatchesRfc1321TestSuite) {
  struct Case {
    const char* message;
    const char* digest;
  };
  const Case cases[] = {
      {"", "d41d8cd98f00b204e9800998ecf8427e"},
      {"a", "0cc175b9c0f1b6a831c399e269772661"},
      {"abc", "900150983cd24fb0d6963f7d28e17f72"},
      {"message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
      {"abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"},
      {"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
       "d174ab98d277d9f5a5611c2c9f419d9f"},
      {"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
       "57edf4a22be3c955ac49da2e2107b67a"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.message);
    EXPECT_EQ(toHex(md5(asBytes(c.message))), c.digest);
  }
}

TEST(ConstantTimeEqualsTest, ComparesContentsAndLengths) {
  EXPECT_TRUE(constantTimeEquals({}, {}));
  EXPECT_TRUE(constantTimeEquals(asBytes("secret"), asBytes("secret")));
  EXPECT_FALSE(constantTimeEquals(asBytes("secret"), asBytes("secreT")));
  EXPECT_FALSE(constantTimeEquals(asBytes("Secret"), asBytes("secret")));
  EXPECT_FALSE(constantTimeEquals(asBytes("secret"), asBytes("secrets")));
  EXPECT_FALSE(constantTimeEquals(asBytes(""), asBytes("x")));
}

}  // namespace
}  // namespace s3cryptfs::crypto
