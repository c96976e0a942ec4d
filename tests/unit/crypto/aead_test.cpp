#include "s3cryptfs/crypto/aead.h"

#include <atomic>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "s3cryptfs/crypto/random.h"

#include "crypto_test_support.h"

namespace s3cryptfs::crypto {
namespace {

using testing::hex;
using testing::keyHex;

struct Vector {
  const char* name;
  Cipher cipher;
  const char* key;
  const char* nonce;
  const char* aad;
  const char* plaintext;
  const char* ciphertext;
  const char* tag;
};

// AES-256-GCM: test cases 13-16 of McGrew & Viega, "The Galois/Counter Mode of Operation"
// (the GCM specification submitted to NIST). ChaCha20-Poly1305: RFC 8439 §2.8.2.
const Vector kVectors[] = {
    {"gcm-13", Cipher::kAes256Gcm,
     "0000000000000000000000000000000000000000000000000000000000000000", "000000000000000000000000",
     "", "", "", "530f8afbc74536b9a963b4f1c4cb738b"},
    {"gcm-14", Cipher::kAes256Gcm,
     "0000000000000000000000000000000000000000000000000000000000000000", "000000000000000000000000",
     "", "00000000000000000000000000000000", "cea7403d4d606b6e074ec5d3baf39d18",
     "d0d1c8a799996bf0265b98b5d48ab919"},
    {"gcm-15", Cipher::kAes256Gcm,
     "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308", "cafebabefacedbaddecaf888",
     "",
     "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
     "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255",
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
     "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
     "b094dac5d93471bdec1a502270e3cc6c"},
    {"gcm-16", Cipher::kAes256Gcm,
     "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308", "cafebabefacedbaddecaf888",
     "feedfacedeadbeeffeedfacedeadbeefabaddad2",
     "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
     "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
     "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
     "76fc6ece0f4e1768cddf8853bb2d551b"},
    {"rfc8439-2.8.2", Cipher::kChaCha20Poly1305,
     "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f", "070000004041424344454647",
     "50515253c0c1c2c3c4c5c6c7",
     // "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the
     // future, sunscreen would be it."
     "4c616469657320616e642047656e746c656d656e206f662074686520636c6173"
     "73206f66202739393a204966204920636f756c64206f6666657220796f75206f"
     "6e6c79206f6e652074697020666f7220746865206675747572652c2073756e73"
     "637265656e20776f756c642062652069742e",
     "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6"
     "3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36"
     "92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc"
     "3ff4def08e4b7a9de576d26586cec64b6116",
     "1ae10b594f09e26a7e902ecbd0600691"},
};

Bytes sealedOf(const Vector& v) {
  Bytes sealed = hex(v.ciphertext);
  Bytes tag = hex(v.tag);
  sealed.insert(sealed.end(), tag.begin(), tag.end());
  return sealed;
}

Aead makeAead(Cipher cipher, const SecureBuffer& key) {
  auto aead = Aead::create(cipher, key);
  if (!aead.has_value()) {
    ADD_FAILURE() << aead.error().describe();
    std::abort();
  }
  return std::move(aead).value();
}

TEST(AeadTest, MatchesKnownAnswers) {
  for (const Vector& v : kVectors) {
    SCOPED_TRACE(v.name);
    Aead aead = makeAead(v.cipher, keyHex(v.key));
    Bytes plaintext = hex(v.plaintext);
    Bytes sealed(plaintext.size() + kAeadTagSize);
    ASSERT_TRUE(aead.seal(hex(v.nonce), hex(v.aad), plaintext, sealed).has_value());
    EXPECT_EQ(toHex(sealed), toHex(sealedOf(v)));

    Bytes opened(plaintext.size());
    auto status = aead.open(hex(v.nonce), hex(v.aad), sealedOf(v), opened);
    ASSERT_TRUE(status.has_value()) << status.error().describe();
    EXPECT_EQ(opened, plaintext);
  }
}

// Contexts are reused across calls, switching direction and nonce; interleaving the vectors on
// one Aead checks that nothing of one call leaks into the next.
TEST(AeadTest, ReusedContextsStayCorrectAcrossDirectionsAndFailures) {
  const Vector& with_aad = kVectors[3];
  const Vector& without_aad = kVectors[2];
  Aead aead = makeAead(Cipher::kAes256Gcm, keyHex(with_aad.key));
  for (int round = 0; round < 4; ++round) {
    for (const Vector* v : {&with_aad, &without_aad}) {
      Bytes plaintext = hex(v->plaintext);
      Bytes sealed(plaintext.size() + kAeadTagSize);
      ASSERT_TRUE(aead.seal(hex(v->nonce), hex(v->aad), plaintext, sealed).has_value());
      EXPECT_EQ(sealed, sealedOf(*v));
      Bytes opened(plaintext.size());
      ASSERT_TRUE(aead.open(hex(v->nonce), hex(v->aad), sealed, opened).has_value());
      EXPECT_EQ(opened, plaintext);
      sealed.back() ^= 1;
      EXPECT_EQ(aead.open(hex(v->nonce), hex(v->aad), sealed, opened).error().kind(),
                ErrorKind::kCorrupt);
    }
  }
}

class AeadCipherTest : public ::testing::TestWithParam<Cipher> {
 protected:
  void SetUp() override {
    auto key = randomKey(kAeadKeySize);
    ASSERT_TRUE(key.has_value());
    key_ = std::move(key).value();
  }
  SecureBuffer key_;
};

TEST_P(AeadCipherTest, RoundTripsEverySizeAroundBlockBoundaries) {
  Aead aead = makeAead(GetParam(), key_);
  Bytes nonce(kAeadNonceSize, 7);
  for (size_t n : {0, 1, 15, 16, 17, 63, 64, 65, 4096, 65536, 65537}) {
    SCOPED_TRACE(n);
    Bytes plaintext(n);
    ASSERT_TRUE(fillRandom(plaintext).has_value());
    Bytes sealed(n + kAeadTagSize);
    ASSERT_TRUE(aead.seal(nonce, asBytes("aad"), plaintext, sealed).has_value());
    Bytes opened(n, 0xee);
    ASSERT_TRUE(aead.open(nonce, asBytes("aad"), sealed, opened).has_value());
    EXPECT_EQ(opened, plaintext);
  }
}

TEST_P(AeadCipherTest, WorksInPlace) {
  Aead aead = makeAead(GetParam(), key_);
  Bytes nonce(kAeadNonceSize, 1);
  Bytes plaintext = toBytes("in-place chunk contents, longer than one block");
  Bytes buffer = plaintext;
  buffer.resize(plaintext.size() + kAeadTagSize);
  ASSERT_TRUE(aead.seal(nonce, {}, ByteSpan(buffer).first(plaintext.size()), buffer).has_value());
  Bytes expected(plaintext.size() + kAeadTagSize);
  ASSERT_TRUE(aead.seal(nonce, {}, plaintext, expected).has_value());
  EXPECT_EQ(buffer, expected);
  ASSERT_TRUE(
      aead.open(nonce, {}, buffer, MutableByteSpan(buffer).first(plaintext.size())).has_value());
  EXPECT_EQ(Bytes(buffer.begin(), buffer.begin() + plaintext.size()), plaintext);
}

TEST_P(AeadCipherTest, EveryFlippedBitIsDetectedAndOutputIsZeroed) {
  Aead aead = makeAead(GetParam(), key_);
  Bytes nonce = hex("000102030405060708090a0b");
  Bytes aad = toBytes("file-id|chunk 3|final");
  Bytes plaintext = toBytes("forty bytes of plaintext for the tamper");
  Bytes sealed(plaintext.size() + kAeadTagSize);
  ASSERT_TRUE(aead.seal(nonce, aad, plaintext, sealed).has_value());

  auto expect_corrupt = [&](ByteSpan n, ByteSpan a, ByteSpan s, const std::string& what) {
    Bytes out(plaintext.size(), 0xee);
    auto status = aead.open(n, a, s, out);
    ASSERT_FALSE(status.has_value()) << what;
    EXPECT_EQ(status.error().kind(), ErrorKind::kCorrupt) << what;
    EXPECT_EQ(out, Bytes(plaintext.size(), 0)) << what;
  };
  auto flipped = [](Bytes bytes, size_t bit) {
    bytes[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    return bytes;
  };
  for (size_t bit = 0; bit < sealed.size() * 8; ++bit) {
    expect_corrupt(nonce, aad, flipped(sealed, bit), "sealed bit " + std::to_string(bit));
  }
  for (size_t bit = 0; bit < aad.size() * 8; ++bit) {
    expect_corrupt(nonce, flipped(aad, bit), sealed, "aad bit " + std::to_string(bit));
  }
  for (size_t bit = 0; bit < nonce.size() * 8; ++bit) {
    expect_corrupt(flipped(nonce, bit), aad, sealed, "nonce bit " + std::to_string(bit));
  }
  // Truncated and extended data, and a missing AAD.
  expect_corrupt(nonce, {}, sealed, "no aad");
  Bytes shorter(sealed.begin(), sealed.end() - 1);
  Bytes out(shorter.size() - kAeadTagSize);
  EXPECT_EQ(aead.open(nonce, aad, shorter, out).error().kind(), ErrorKind::kCorrupt);

  // The untouched input still opens after all those failures.
  Bytes opened(plaintext.size());
  ASSERT_TRUE(aead.open(nonce, aad, sealed, opened).has_value());
  EXPECT_EQ(opened, plaintext);
}

TEST_P(AeadCipherTest, RejectsWrongSizes) {
  Aead aead = makeAead(GetParam(), key_);
  Bytes plaintext(32, 1);
  Bytes sealed(plaintext.size() + kAeadTagSize);
  Bytes nonce(kAeadNonceSize, 0);
  auto kind = [](const Status& status) {
    return status.has_value() ? std::string("ok")
                              : std::string(errorKindName(status.error().kind()));
  };
  const std::string invalid(errorKindName(ErrorKind::kInvalidArgument));
  EXPECT_EQ(kind(aead.seal(Bytes(11, 0), {}, plaintext, sealed)), invalid);
  EXPECT_EQ(kind(aead.seal(Bytes(16, 0), {}, plaintext, sealed)), invalid);
  EXPECT_EQ(kind(aead.seal(nonce, {}, plaintext, MutableByteSpan(sealed).first(40))), invalid);
  // Overlapping other than exactly in place.
  Bytes buffer(64, 0);
  EXPECT_EQ(kind(aead.seal(nonce, {}, ByteSpan(buffer).subspan(1, 32),
                           MutableByteSpan(buffer).first(48))),
            invalid);

  ASSERT_TRUE(aead.seal(nonce, {}, plaintext, sealed).has_value());
  Bytes opened(plaintext.size());
  EXPECT_EQ(kind(aead.open(Bytes(13, 0), {}, sealed, opened)), invalid);
  EXPECT_EQ(kind(aead.open(nonce, {}, sealed, MutableByteSpan(opened).first(31))), invalid);
  EXPECT_EQ(kind(aead.open(nonce, {}, ByteSpan(sealed).first(kAeadTagSize - 1), {})),
            std::string(errorKindName(ErrorKind::kCorrupt)));

  EXPECT_EQ(Aead::create(GetParam(), SecureBuffer(Bytes(16, 0))).error().kind(),
            ErrorKind::kInvalidArgument);
  EXPECT_EQ(Aead::create(GetParam(), SecureBuffer()).error().kind(), ErrorKind::kInvalidArgument);
}

TEST_P(AeadCipherTest, DifferentKeysDoNotOpenEachOthersData) {
  Aead aead = makeAead(GetParam(), key_);
  SecureBuffer other_key = key_.clone();
  other_key.data()[0] ^= 1;
  Aead other = makeAead(GetParam(), other_key);
  Bytes nonce(kAeadNonceSize, 3);
  Bytes sealed(10 + kAeadTagSize);
  ASSERT_TRUE(aead.seal(nonce, {}, asBytes("ten bytes!"), sealed).has_value());
  Bytes out(10);
  EXPECT_EQ(other.open(nonce, {}, sealed, out).error().kind(), ErrorKind::kCorrupt);
  EXPECT_EQ(aead.cipher(), GetParam());
}

// One Aead shared by 8 threads, each sealing and opening its own messages; every result is then
// checked again on one thread against a separate Aead with the same key.
TEST_P(AeadCipherTest, SealsAndOpensConcurrentlyFromManyThreads) {
  constexpr int kThreads = 8;
  constexpr int kMessagesPerThread = 200;
  Aead shared = makeAead(GetParam(), key_);
  struct Message {
    Bytes nonce;
    Bytes plaintext;
    Bytes sealed;
  };
  std::vector<std::vector<Message>> messages(kThreads);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kMessagesPerThread; ++i) {
        Message m;
        m.nonce = Bytes(kAeadNonceSize, 0);
        m.nonce[0] = static_cast<uint8_t>(t);
        m.nonce[1] = static_cast<uint8_t>(i);
        m.nonce[2] = static_cast<uint8_t>(i >> 8);
        m.plaintext = Bytes(static_cast<size_t>((i * 977 + t * 131) % 20000), 0);
        for (size_t k = 0; k < m.plaintext.size(); ++k)
          m.plaintext[k] = static_cast<uint8_t>(k * 31 + static_cast<size_t>(t));
        m.sealed.resize(m.plaintext.size() + kAeadTagSize);
        Bytes opened(m.plaintext.size());
        if (!shared.seal(m.nonce, m.nonce, m.plaintext, m.sealed).has_value() ||
            !shared.open(m.nonce, m.nonce, m.sealed, opened).has_value() || opened != m.plaintext) {
          failures.fetch_add(1);
        }
        Bytes tampered = m.sealed;
        tampered[tampered.size() / 2] ^= 0x40;
        auto status = shared.open(m.nonce, m.nonce, tampered, opened);
        if (status.has_value() || status.error().kind() != ErrorKind::kCorrupt) {
          failures.fetch_add(1);
        }
        messages[static_cast<size_t>(t)].push_back(std::move(m));
      }
    });
  }
  for (std::thread& thread : threads)
    thread.join();
  EXPECT_EQ(failures.load(), 0);

  Aead reference = makeAead(GetParam(), key_);
  for (const auto& per_thread : messages) {
    for (const Message& m : per_thread) {
      Bytes expected(m.plaintext.size() + kAeadTagSize);
      ASSERT_TRUE(reference.seal(m.nonce, m.nonce, m.plaintext, expected).has_value());
      ASSERT_EQ(m.sealed, expected);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Ciphers, AeadCipherTest,
                         ::testing::Values(Cipher::kAes256Gcm, Cipher::kChaCha20Poly1305),
                         [](const ::testing::TestParamInfo<Cipher>& param_info) {
                           return param_info.param == Cipher::kAes256Gcm ? "Aes256Gcm"
                                                                         : "ChaCha20Poly1305";
                         });

TEST(CipherTest, NamesRoundTrip) {
  EXPECT_EQ(cipherName(Cipher::kAes256Gcm), "aes-256-gcm");
  EXPECT_EQ(cipherName(Cipher::kChaCha20Poly1305), "chacha20-poly1305");
  EXPECT_EQ(*parseCipher("aes-256-gcm"), Cipher::kAes256Gcm);
  EXPECT_EQ(*parseCipher("ChaCha20-Poly1305"), Cipher::kChaCha20Poly1305);
  EXPECT_EQ(parseCipher("aes-128-gcm").error().kind(), ErrorKind::kInvalidArgument);
  EXPECT_EQ(parseCipher("").error().kind(), ErrorKind::kInvalidArgument);
}

TEST(AeadMoveTest, MovedAeadKeepsWorking) {
  const Vector& v = kVectors[3];
  Aead first = makeAead(v.cipher, keyHex(v.key));
  Aead moved(std::move(first));
  Bytes plaintext = hex(v.plaintext);
  Bytes sealed(plaintext.size() + kAeadTagSize);
  ASSERT_TRUE(moved.seal(hex(v.nonce), hex(v.aad), plaintext, sealed).has_value());
  EXPECT_EQ(sealed, sealedOf(v));
}

}  // namespace
}  // namespace s3cryptfs::crypto
