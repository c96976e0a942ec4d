#include "format_support.h"

namespace s3cryptfs::format::detail {

void putVarint(Bytes& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<uint8_t>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<uint8_t>(v));
}

void putBytes(Bytes& out, ByteSpan bytes) {
  out.insert(out.end(), bytes.begin(), bytes.end());
}

ByteSpan Reader::take(size_t n) {
  if (!ok_ || n > remaining()) {
    ok_ = false;
    return {};
  }
  ByteSpan out = bytes_.subspan(pos_, n);
  pos_ += n;
  return out;
}

uint8_t Reader::u8() {
  ByteSpan b = take(1);
  return b.empty() ? 0 : b[0];
}
uint16_t Reader::u16() {
  ByteSpan b = take(2);
  return b.empty() ? 0 : getU16(b.data());
}
uint32_t Reader::u32() {
  ByteSpan b = take(4);
  return b.empty() ? 0 : getU32(b.data());
}
uint64_t Reader::u64() {
  ByteSpan b = take(8);
  return b.empty() ? 0 : getU64(b.data());
}

uint64_t Reader::varint() {
  uint64_t value = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    uint8_t byte = u8();
    if (!ok_) return 0;
    // The tenth byte may only carry the top bit of a 64-bit value.
    if (shift == 63 && byte > 1) break;
    value |= uint64_t{byte & 0x7fu} << shift;
    if ((byte & 0x80) == 0) {
      // A zero final byte after the first one is an overlong encoding: two encodings of one
      // value would make the serialisation non-canonical.
      if (byte == 0 && shift > 0) break;
      return value;
    }
  }
  ok_ = false;
  return 0;
}

}  // namespace s3cryptfs::format::detail
