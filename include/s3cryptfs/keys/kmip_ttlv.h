#pragma once

// KMIP's Tag-Type-Length-Value encoding (KMIP Specification v1.4, OASIS Standard, §9.1 "TTLV
// Encoding"; unchanged in v2.0 §9.1 apart from the Date-Time Extended type). Every item is a
// 3-byte tag, a 1-byte type, a 4-byte big-endian length, then the value padded with zeros to a
// multiple of 8 bytes (§9.1.1.3). Integers are big-endian two's complement.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "s3cryptfs/core/bytes.h"
#include "s3cryptfs/core/result.h"

namespace s3cryptfs::keys::kmip {

// Item types (§9.1.1.2).
enum class ItemType : uint8_t {
  kStructure = 0x01,
  kInteger = 0x02,      // 4 bytes
  kLongInteger = 0x03,  // 8 bytes
  kBigInteger = 0x04,   // a multiple of 8 bytes
  kEnumeration = 0x05,  // 4 bytes, unsigned
  kBoolean = 0x06,      // 8 bytes, 0 or 1
  kTextString = 0x07,   // UTF-8, no terminator
  kByteString = 0x08,
  kDateTime = 0x09,          // 8 bytes, seconds since the POSIX epoch
  kInterval = 0x0A,          // 4 bytes, unsigned seconds
  kDateTimeExtended = 0x0B,  // KMIP 2.0 §9.1.1.2: 8 bytes, microseconds since the epoch
};

// Tags used here (KMIP 1.4 §9.1.3.1 "Tags"; the same values in 2.0).
namespace tag {
inline constexpr uint32_t kAttribute = 0x420008;
inline constexpr uint32_t kAttributeName = 0x42000A;
inline constexpr uint32_t kAttributeValue = 0x42000B;
inline constexpr uint32_t kBatchCount = 0x42000D;
inline constexpr uint32_t kBatchItem = 0x42000F;
inline constexpr uint32_t kBlockCipherMode = 0x420011;
inline constexpr uint32_t kCryptographicAlgorithm = 0x420028;
inline constexpr uint32_t kCryptographicLength = 0x42002A;
inline constexpr uint32_t kCryptographicParameters = 0x42002B;
inline constexpr uint32_t kCryptographicUsageMask = 0x42002C;
inline constexpr uint32_t kIvCounterNonce = 0x42003D;
inline constexpr uint32_t kObjectType = 0x420057;
inline constexpr uint32_t kOperation = 0x42005C;
inline constexpr uint32_t kProtocolVersion = 0x420069;
inline constexpr uint32_t kProtocolVersionMajor = 0x42006A;
inline constexpr uint32_t kProtocolVersionMinor = 0x42006B;
inline constexpr uint32_t kRequestHeader = 0x420077;
inline constexpr uint32_t kRequestMessage = 0x420078;
inline constexpr uint32_t kRequestPayload = 0x420079;
inline constexpr uint32_t kResponseHeader = 0x42007A;
inline constexpr uint32_t kResponseMessage = 0x42007B;
inline constexpr uint32_t kResponsePayload = 0x42007C;
inline constexpr uint32_t kResultMessage = 0x42007D;
inline constexpr uint32_t kResultReason = 0x42007E;
inline constexpr uint32_t kResultStatus = 0x42007F;
inline constexpr uint32_t kRevocationReason = 0x420081;
inline constexpr uint32_t kRevocationReasonCode = 0x420082;
inline constexpr uint32_t kTemplateAttribute = 0x420091;
inline constexpr uint32_t kUniqueIdentifier = 0x420094;
inline constexpr uint32_t kData = 0x4200C2;
inline constexpr uint32_t kTagLength = 0x4200CE;
inline constexpr uint32_t kAuthenticatedEncryptionAdditionalData = 0x4200FE;
inline constexpr uint32_t kAuthenticatedEncryptionTag = 0x4200FF;
inline constexpr uint32_t kAttributes = 0x420125;  // KMIP 2.0 only
}  // namespace tag

// One TTLV item: a structure holds children; every other type holds `number` (Integer, Long
// Integer, Enumeration, Boolean, Date-Time, Interval) or `bytes` (Text String, Byte String,
// Big Integer).
struct Item {
  uint32_t tag = 0;
  ItemType type = ItemType::kStructure;
  int64_t number = 0;
  Bytes bytes;
  std::vector<Item> children;

  static Item structure(uint32_t tag, std::vector<Item> children);
  static Item integer(uint32_t tag, int32_t value);
  static Item longInteger(uint32_t tag, int64_t value);
  static Item bigInteger(uint32_t tag, ByteSpan two_complement_big_endian);
  static Item enumeration(uint32_t tag, uint32_t value);
  static Item boolean(uint32_t tag, bool value);
  static Item text(uint32_t tag, std::string_view value);
  static Item byteString(uint32_t tag, ByteSpan value);
  static Item dateTime(uint32_t tag, int64_t seconds);
  static Item interval(uint32_t tag, uint32_t seconds);

  // The first child with this tag, or nullptr.
  const Item* find(uint32_t child_tag) const;
  std::string_view textValue() const { return asChars(bytes); }
};

// The encoding of `item` with its children.
Bytes encode(const Item& item);

// Limits of decode(): a response bigger or deeper than this is refused before use.
inline constexpr size_t kMaxMessageSize = 1 << 20;
inline constexpr int kMaxDepth = 16;

// Decodes exactly one item filling all of `data`. kCorrupt naming the offset for: a truncated
// header or value, a length that does not fit its type, an unknown type, a Boolean other than
// 0/1, children that overrun their structure, nesting deeper than kMaxDepth, trailing bytes,
// more than kMaxMessageSize bytes. Never reads out of bounds.
Result<Item> decode(ByteSpan data);

// The value length announced by an item header (bytes 4..7), so a reader knows how much follows
// the 8-byte header: the whole item is 8 + the length rounded up to 8.
uint32_t announcedLength(const uint8_t header[8]);

// Zeroises every byte string, text and number in the tree (it held a key or plaintext).
void scrub(Item& item);
void scrub(Bytes& encoded);

}  // namespace s3cryptfs::keys::kmip
