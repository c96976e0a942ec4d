#include "s3cryptfs/keys/kmip_ttlv.h"

#include "s3cryptfs/core/secure_buffer.h"

namespace s3cryptfs::keys::kmip {

namespace {
constexpr size_t kHeaderSize = 8;

size_t padded(size_t length) {
  return (length + 7) / 8 * 8;
}

void putBigEndian(Bytes& out, uint64_t value, size_t width) {
  for (size_t i = 0; i < width; ++i) {
    out.push_back(static_cast<uint8_t>(value >> (8 * (width - 1 - i))));
  }
}

uint64_t getBigEndian(const uint8_t* p, size_t width) {
  uint64_t value = 0;
  for (size_t i = 0; i < width; ++i)
    value = (value << 8) | p[i];
  return value;
}

Item scalar(uint32_t tag, ItemType type, int64_t number) {
  Item item;
  item.tag = tag;
  item.type = type;
  item.number = number;
  return item;
}

Item withBytes(uint32_t tag, ItemType type, ByteSpan value) {
  Item item;
  item.tag = tag;
  item.type = type;
  item.bytes.assign(value.begin(), value.end());
  return item;
}

// The value length a scalar type must have (§9.1.1.4 "Item Length"); 0 for variable lengths.
size_t fixedLength(ItemType type) {
  switch (type) {
    case ItemType::kInteger:
    case ItemType::kEnumeration:
    case ItemType::kInterval:
      return 4;
    case ItemType::kLongInteger:
    case ItemType::kBoolean:
    case ItemType::kDateTime:
    case ItemType::kDateTimeExtended:
      return 8;
    default:
      return 0;
  }
}

void encodeInto(const Item& item, Bytes& out) {
  putBigEndian(out, item.tag, 3);
  out.push_back(static_cast<uint8_t>(item.type));
  size_t length_at = out.size();
  putBigEndian(out, 0, 4);
  size_t value_at = out.size();
  switch (item.type) {
    case ItemType::kStructure:
      for (const Item& child : item.children)
        encodeInto(child, out);
      break;
    case ItemType::kInteger:
    case ItemType::kEnumeration:
    case ItemType::kInterval:
      putBigEndian(out, static_cast<uint64_t>(item.number), 4);
      break;
    case ItemType::kLongInteger:
    case ItemType::kBoolean:
    case ItemType::kDateTime:
    case ItemType::kDateTimeExtended:
      putBigEndian(out, static_cast<uint64_t>(item.number), 8);
      break;
    case ItemType::kBigInteger:
    case ItemType::kTextString:
    case ItemType::kByteString:
      out.insert(out.end(), item.bytes.begin(), item.bytes.end());
      break;
  }
  size_t length = out.size() - value_at;
  for (size_t i = 0; i < 4; ++i) {
    out[length_at + i] = static_cast<uint8_t>(length >> (8 * (3 - i)));
  }
  out.resize(value_at + padded(length), 0);
}

class Decoder {
 public:
  explicit Decoder(ByteSpan data) : data_(data) {}

  // Decodes the item at `offset`, which must end at or before `end`; advances offset past its
  // padding.
  Result<Item> item(size_t& offset, size_t end, int depth) {
    if (depth > kMaxDepth)
      return corrupt(offset, "nesting deeper than " + std::to_string(kMaxDepth));
    if (end - offset < kHeaderSize) return corrupt(offset, "truncated item header");
    const uint8_t* p = data_.data() + offset;
    Item out;
    out.tag = static_cast<uint32_t>(getBigEndian(p, 3));
    uint8_t type = p[3];
    size_t length = static_cast<size_t>(getBigEndian(p + 4, 4));
    if (type < 0x01 || type > 0x0B)
      return corrupt(offset, "unknown item type " + std::to_string(type));
    out.type = static_cast<ItemType>(type);
    size_t value_at = offset + kHeaderSize;
    // A structure's length is exact; other values are followed by padding to 8 bytes.
    size_t span = out.type == ItemType::kStructure ? length : padded(length);
    if (length > end - value_at || span > end - value_at) {
      return corrupt(offset,
                     "value of " + std::to_string(length) + " bytes overruns its container");
    }
    if (out.type == ItemType::kStructure && length % 8 != 0) {
      return corrupt(offset, "structure length " + std::to_string(length) + " not a multiple of 8");
    }
    const uint8_t* v = data_.data() + value_at;
    size_t fixed = fixedLength(out.type);
    if (fixed != 0 && length != fixed) {
      return corrupt(offset, "length " + std::to_string(length) + " for a type of " +
                                 std::to_string(fixed) + " bytes");
    }
    switch (out.type) {
      case ItemType::kStructure: {
        size_t child = value_at;
        size_t child_end = value_at + length;
        while (child < child_end) {
          S3C_ASSIGN_OR_RETURN(Item c, item(child, child_end, depth + 1));
          out.children.push_back(std::move(c));
        }
        break;
      }
      case ItemType::kInteger:
        out.number = static_cast<int32_t>(getBigEndian(v, 4));
        break;
      case ItemType::kEnumeration:
      case ItemType::kInterval:
        out.number = static_cast<int64_t>(getBigEndian(v, 4));
        break;
      case ItemType::kLongInteger:
      case ItemType::kDateTime:
      case ItemType::kDateTimeExtended:
        out.number = static_cast<int64_t>(getBigEndian(v, 8));
        break;
      case ItemType::kBoolean: {
        uint64_t value = getBigEndian(v, 8);
        if (value > 1) return corrupt(offset, "boolean value other than 0 or 1");
        out.number = static_cast<int64_t>(value);
        break;
      }
      case ItemType::kBigInteger:
        if (length % 8 != 0) return corrupt(offset, "big integer length not a multiple of 8");
        [[fallthrough]];
      case ItemType::kTextString:
      case ItemType::kByteString:
        out.bytes.assign(v, v + length);
        break;
    }
    offset = value_at + span;
    return out;
  }

 private:
  static Error corrupt(size_t offset, const std::string& what) {
    return Error(ErrorKind::kCorrupt, "KMIP TTLV at byte " + std::to_string(offset) + ": " + what);
  }
  ByteSpan data_;
};
}  // namespace

Item Item::structure(uint32_t tag, std::vector<Item> children) {
  Item item;
  item.tag = tag;
  item.type = ItemType::kStructure;
  item.children = std::move(children);
  return item;
}
Item Item::integer(uint32_t tag, int32_t value) {
  return scalar(tag, ItemType::kInteger, value);
}
Item Item::longInteger(uint32_t tag, int64_t value) {
  return scalar(tag, ItemType::kLongInteger, value);
}
Item Item::bigInteger(uint32_t tag, ByteSpan value) {
  return withBytes(tag, ItemType::kBigInteger, value);
}
Item Item::enumeration(uint32_t tag, uint32_t value) {
  return scalar(tag, ItemType::kEnumeration, value);
}
Item Item::boolean(uint32_t tag, bool value) {
  return scalar(tag, ItemType::kBoolean, value ? 1 : 0);
}
Item Item::text(uint32_t tag, std::string_view value) {
  return withBytes(tag, ItemType::kTextString, asBytes(value));
}
Item Item::byteString(uint32_t tag, ByteSpan value) {
  return withBytes(tag, ItemType::kByteString, value);
}
Item Item::dateTime(uint32_t tag, int64_t seconds) {
  return scalar(tag, ItemType::kDateTime, seconds);
}
Item Item::interval(uint32_t tag, uint32_t seconds) {
  return scalar(tag, ItemType::kInterval, seconds);
}

const Item* Item::find(uint32_t child_tag) const {
  for (const Item& child : children) {
    if (child.tag == child_tag) return &child;
  }
  return nullptr;
}

Bytes encode(const Item& item) {
  Bytes out;
  encodeInto(item, out);
  return out;
}

Result<Item> decode(ByteSpan data) {
  if (data.size() > kMaxMessageSize) {
    return Error(ErrorKind::kCorrupt, "KMIP message of " + std::to_string(data.size()) +
                                          " bytes exceeds the limit of " +
                                          std::to_string(kMaxMessageSize));
  }
  Decoder decoder(data);
  size_t offset = 0;
  S3C_ASSIGN_OR_RETURN(Item item, decoder.item(offset, data.size(), 0));
  if (offset != data.size()) {
    return Error(ErrorKind::kCorrupt, "KMIP TTLV: " + std::to_string(data.size() - offset) +
                                          " trailing bytes after the item");
  }
  return item;
}

uint32_t announcedLength(const uint8_t header[8]) {
  return static_cast<uint32_t>(getBigEndian(header + 4, 4));
}

void scrub(Item& item) {
  if (!item.bytes.empty()) secureZero(item.bytes.data(), item.bytes.size());
  item.number = 0;
  for (Item& child : item.children)
    scrub(child);
}

void scrub(Bytes& encoded) {
  if (!encoded.empty()) secureZero(encoded.data(), encoded.size());
  encoded.clear();
}

}  // namespace s3cryptfs::keys::kmip
