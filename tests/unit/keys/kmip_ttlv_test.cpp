// TTLV encoding: the examples of the KMIP Specification v1.4 (OASIS Standard, 2016), §9.1.2
// "Examples", byte for byte; round trips; and malformed input, which must give kCorrupt and
// never read out of bounds (run this under ASan: -DS3C_SANITIZE=address,undefined).
#include "s3cryptfs/keys/kmip_ttlv.h"

#include <random>

#include <gtest/gtest.h>

namespace s3cryptfs::keys::kmip {
namespace {

constexpr uint32_t kTag = 0x420020;  // the tag the spec's examples use

Bytes hex(std::string_view text) {
  std::string clean;
  for (char c : text) {
    if (c != ' ' && c != '|') clean.push_back(c);
  }
  Bytes out;
  EXPECT_TRUE(fromHex(clean, out)) << text;
  return out;
}

struct Vector {
  const char* name;
  Item item;
  const char* encoding;  // as printed in §9.1.2, with its separators
};

std::vector<Vector> specExamples() {
  return {
      {"Integer 8", Item::integer(kTag, 8),
       "42 00 20 | 02 | 00 00 00 04 | 00 00 00 08 00 00 00 00"},
      {"Long Integer 123456789000000000", Item::longInteger(kTag, 123456789000000000LL),
       "42 00 20 | 03 | 00 00 00 08 | 01 B6 9B 4B A5 74 92 00"},
      {"Big Integer 1234567890000000000000000000",
       Item::bigInteger(kTag, hex("0000000003FD35EB6BC2DF4618080000")),
       "42 00 20 | 04 | 00 00 00 10 | 00 00 00 00 03 FD 35 EB 6B C2 DF 46 18 08 00 00"},
      {"Enumeration 255", Item::enumeration(kTag, 255),
       "42 00 20 | 05 | 00 00 00 04 | 00 00 00 FF 00 00 00 00"},
      {"Boolean True", Item::boolean(kTag, true),
       "42 00 20 | 06 | 00 00 00 08 | 00 00 00 00 00 00 00 01"},
      {"Text String Hello World", Item::text(kTag, "Hello World"),
       "42 00 20 | 07 | 00 00 00 0B | 48 65 6C 6C 6F 20 57 6F 72 6C 64 00 00 00 00 00"},
      {"Byte String 01 02 03", Item::byteString(kTag, hex("010203")),
       "42 00 20 | 08 | 00 00 00 03 | 01 02 03 00 00 00 00 00"},
      {"Date-Time 2008-03-14 11:56:40 GMT", Item::dateTime(kTag, 0x47DA67F8),
       "42 00 20 | 09 | 00 00 00 08 | 00 00 00 00 47 DA 67 F8"},
      {"Interval 10 days", Item::interval(kTag, 864000),
       "42 00 20 | 0A | 00 00 00 04 | 00 0D 2F 00 00 00 00 00"},
      {"Structure of Enumeration 254 and Integer 255",
       Item::structure(kTag, {Item::enumeration(0x420004, 254), Item::integer(0x420005, 255)}),
       "42 00 20 | 01 | 00 00 00 20 | 42 00 04 | 05 | 00 00 00 04 | 00 00 00 FE 00 00 00 00 | "
       "42 00 05 | 02 | 00 00 00 04 | 00 00 00 FF 00 00 00 00"},
  };
}

void expectSame(const Item& a, const Item& b) {
  EXPECT_EQ(a.tag, b.tag);
  EXPECT_EQ(a.type, b.type);
  EXPECT_EQ(a.number, b.number);
  EXPECT_EQ(a.bytes, b.bytes);
  ASSERT_EQ(a.children.size(), b.children.size());
  for (size_t i = 0; i < a.children.size(); ++i)
    expectSame(a.children[i], b.children[i]);
}

TEST(KmipTtlvTest, EncodesTheSpecificationExamples) {
  for (const auto& v : specExamples()) {
    EXPECT_EQ(toHex(encode(v.item)), toHex(hex(v.encoding))) << v.name;
  }
}

TEST(KmipTtlvTest, DecodesTheSpecificationExamples) {
  for (const auto& v : specExamples()) {
    auto decoded = decode(hex(v.encoding));
    ASSERT_TRUE(decoded) << v.name << ": " << decoded.error().describe();
    expectSame(*decoded, v.item);
  }
}

TEST(KmipTtlvTest, NegativeNumbersAndEmptyStringsRoundTrip) {
  Item item = Item::structure(0x420078,
                              {Item::integer(0x42006A, -1), Item::longInteger(0x420003, INT64_MIN),
                               Item::text(0x420094, ""), Item::byteString(0x4200C2, {}),
                               Item::structure(0x42000F, {}), Item::boolean(0x420006, false)});
  Bytes encoded = encode(item);
  EXPECT_EQ(encoded.size() % 8, 0u);
  auto decoded = decode(encoded);
  ASSERT_TRUE(decoded) << decoded.error().describe();
  expectSame(*decoded, item);
  EXPECT_EQ(decoded->find(0x420094)->textValue(), "");
  EXPECT_EQ(decoded->find(0x123456), nullptr);
}

TEST(KmipTtlvTest, AnnouncedLengthReadsTheHeader) {
  Bytes encoded = encode(Item::text(kTag, "Hello World"));
  EXPECT_EQ(announcedLength(encoded.data()), 11u);
}

void expectCorrupt(const Bytes& data, const std::string& what, const char* label) {
  auto decoded = decode(data);
  ASSERT_FALSE(decoded) << label;
  EXPECT_EQ(decoded.error().kind(), ErrorKind::kCorrupt) << label;
  EXPECT_NE(decoded.error().message().find(what), std::string::npos)
      << label << ": " << decoded.error().message();
}

TEST(KmipTtlvTest, MalformedInputIsCorrupt) {
  expectCorrupt({}, "truncated item header", "empty");
  expectCorrupt(hex("420020020000"), "truncated item header", "short header");
  expectCorrupt(hex("42002002000000040000000800000000 00"), "trailing bytes", "trailing");
  expectCorrupt(hex("420020020000000400000008"), "overruns", "value cut");
  expectCorrupt(hex("4200200C0000000400000008 00000000"), "unknown item type", "type 0x0C");
  expectCorrupt(hex("420020000000000400000008 00000000"), "unknown item type", "type 0");
  expectCorrupt(hex("42002002000000080000000800000000"), "length 8 for a type of 4", "int len 8");
  expectCorrupt(hex("42002006000000080000000000000002"), "boolean", "boolean 2");
  expectCorrupt(hex("420020040000000300000000 00000000"), "big integer", "big int length 3");
  expectCorrupt(hex("4200200100000004 00000000"), "multiple of 8", "structure length 4");
  expectCorrupt(hex("42002007FFFFFFF0 0000000000000000"), "overruns", "huge text length");
  // A structure whose child claims more than the structure holds.
  expectCorrupt(hex("4200200100000010 4200210700000010 0000000000000000"), "overruns",
                "child overruns parent");
}

TEST(KmipTtlvTest, DeepNestingIsRefused) {
  Item item = Item::integer(kTag, 1);
  for (int i = 0; i < kMaxDepth + 2; ++i)
    item = Item::structure(kTag, {std::move(item)});
  expectCorrupt(encode(item), "nesting deeper", "deep");
}

TEST(KmipTtlvTest, OversizedMessageIsRefused) {
  Bytes big = encode(Item::byteString(kTag, Bytes(kMaxMessageSize, 0)));
  expectCorrupt(big, "exceeds the limit", "oversized");
}

TEST(KmipTtlvTest, EveryTruncationOfAMessageIsCorrupt) {
  Bytes full = encode(Item::structure(
      0x42007B, {Item::structure(
                     0x42007A, {Item::integer(0x42000D, 1), Item::dateTime(0x420092, 1700000000)}),
                 Item::structure(0x42000F, {Item::enumeration(0x42005C, 0x20),
                                            Item::byteString(0x4200C2, Bytes(32, 7)),
                                            Item::text(0x420094, "key-1")})}));
  ASSERT_TRUE(decode(full));
  for (size_t n = 0; n < full.size(); ++n) {
    Bytes cut(full.begin(), full.begin() + static_cast<ptrdiff_t>(n));
    EXPECT_FALSE(decode(cut)) << "prefix of " << n << " bytes";
  }
}

// Random bit flips and random bytes: decode must return (either way) without touching memory
// outside its input. Fixed seed: the same inputs on every run.
TEST(KmipTtlvTest, RandomDamageNeverCrashes) {
  Bytes full = encode(Item::structure(
      0x42007B, {Item::structure(0x42000F, {Item::enumeration(0x42005C, 0x1F),
                                            Item::byteString(0x4200C2, Bytes(48, 1)),
                                            Item::text(0x42007D, "message")})}));
  std::mt19937 rng(20261123);
  size_t decoded_ok = 0;
  for (int round = 0; round < 20000; ++round) {
    Bytes damaged = full;
    int flips = 1 + static_cast<int>(rng() % 4);
    for (int i = 0; i < flips; ++i) {
      damaged[rng() % damaged.size()] ^= static_cast<uint8_t>(1u << (rng() % 8));
    }
    if (rng() % 4 == 0) damaged.resize(rng() % damaged.size());
    decoded_ok += decode(damaged) ? 1 : 0;
  }
  for (int round = 0; round < 5000; ++round) {
    Bytes noise(rng() % 64);
    for (auto& b : noise)
      b = static_cast<uint8_t>(rng());
    decoded_ok += decode(noise) ? 1 : 0;
  }
  // Flips inside values leave a well-formed message: some must decode, most must not.
  EXPECT_GT(decoded_ok, 0u);
  EXPECT_LT(decoded_ok, 25000u);
}

TEST(KmipTtlvTest, ScrubZeroesEveryValue) {
  Item item = Item::structure(
      kTag, {Item::byteString(0x4200C2, Bytes(32, 0xAB)), Item::integer(0x42000D, 5)});
  scrub(item);
  EXPECT_EQ(item.children[0].bytes, Bytes(32, 0));
  EXPECT_EQ(item.children[1].number, 0);
}

}  // namespace
}  // namespace s3cryptfs::keys::kmip
