#include "s3cryptfs/format/object_header.h"

#include <gtest/gtest.h>

namespace s3cryptfs::format {
namespace {

ObjectHeader sampleHeader() {
  ObjectHeader h;
  h.cipher = crypto::Cipher::kChaCha20Poly1305;
  h.chunk_size = 1 << 20;
  h.key_version = 7;
  for (size_t i = 0; i < h.file_id.size(); ++i)
    h.file_id[i] = static_cast<uint8_t>(0xa0 + i);
  for (size_t i = 0; i < h.key_commitment.size(); ++i)
    h.key_commitment[i] = static_cast<uint8_t>(i);
  return h;
}

TEST(ObjectHeaderTest, EncodesTheDocumentedBytes) {
  Bytes b = encodeObjectHeader(sampleHeader());
  ASSERT_EQ(b.size(), kObjectHeaderSize);
  EXPECT_EQ(toHex(ByteSpan(b).first(16)),
            "73336366"
            "0100"
            "02"
            "00"
            "00001000"
            "07000000");
  EXPECT_EQ(b[16], 0xa0);
  EXPECT_EQ(b[32], 0x00);
  EXPECT_EQ(b[63], 31);
}

TEST(ObjectHeaderTest, RoundTrips) {
  ObjectHeader h = sampleHeader();
  Bytes b = encodeObjectHeader(h);
  b.push_back(0x55);  // trailing chunk data is ignored
  auto decoded = decodeObjectHeader(b);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(*decoded, h);
}

TEST(ObjectHeaderTest, StrictValidation) {
  Bytes good = encodeObjectHeader(sampleHeader());
  auto kindOf = [](Bytes b, ChunkSizePolicy p = ChunkSizePolicy::kVolume) {
    auto r = decodeObjectHeader(b, p);
    return r ? ErrorKind::kInternal : r.error().kind();
  };
  EXPECT_EQ(kindOf(Bytes(good.begin(), good.begin() + 63)), ErrorKind::kCorrupt);
  Bytes b = good;
  b[0] = 'S';
  EXPECT_EQ(kindOf(b), ErrorKind::kCorrupt);
  b = good;
  b[4] = 2;  // version 2
  EXPECT_EQ(kindOf(b), ErrorKind::kUnsupported);
  b = good;
  b[6] = 3;  // unknown cipher
  EXPECT_EQ(kindOf(b), ErrorKind::kUnsupported);
  b = good;
  b[6] = 0;
  EXPECT_EQ(kindOf(b), ErrorKind::kUnsupported);
  b = good;
  b[7] = 0x80;  // unknown flag
  EXPECT_EQ(kindOf(b), ErrorKind::kUnsupported);
  b = good;
  b[8] = 1;  // chunk size 2^20 + 1
  EXPECT_EQ(kindOf(b), ErrorKind::kCorrupt);
  b = good;
  std::fill(b.begin() + 12, b.begin() + 16, uint8_t{0});  // key version 0
  EXPECT_EQ(kindOf(b), ErrorKind::kCorrupt);
  // A tiny chunk size only under the testing policy.
  ObjectHeader tiny = sampleHeader();
  tiny.chunk_size = 16;
  EXPECT_EQ(kindOf(encodeObjectHeader(tiny)), ErrorKind::kCorrupt);
  EXPECT_TRUE(decodeObjectHeader(encodeObjectHeader(tiny), ChunkSizePolicy::kAnyForTesting));
  auto message = decodeObjectHeader(Bytes(64, 0)).error().message();
  EXPECT_NE(message.find("magic"), std::string::npos);
}

}  // namespace
}  // namespace s3cryptfs::format
