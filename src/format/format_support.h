#pragma once

// Internal helpers of the format module: error constructors and a bounds-checked reader.
#include <cstdint>
#include <string>
#include <string_view>

#include "s3cryptfs/core/bytes.h"
#include "s3cryptfs/core/result.h"

namespace s3cryptfs::format::detail {

inline Error corrupt(std::string message) {
  return Error(ErrorKind::kCorrupt, std::move(message));
}
inline Error invalid(std::string message) {
  return Error(ErrorKind::kInvalidArgument, std::move(message));
}
inline Error unsupported(std::string message) {
  return Error(ErrorKind::kUnsupported, std::move(message));
}

void putVarint(Bytes& out, uint64_t v);
void putBytes(Bytes& out, ByteSpan bytes);
inline void putBytes(Bytes& out, std::string_view s) {
  putBytes(out, asBytes(s));
}

// Reads a buffer front to back. Every failed read sets a sticky failure, so a decoder can read
// all fields and check ok() once; values read after a failure are zero.
class Reader {
 public:
  explicit Reader(ByteSpan bytes) : bytes_(bytes) {}
  uint8_t u8();
  uint16_t u16();
  uint32_t u32();
  uint64_t u64();
  // Canonical LEB128 only (no overlong encodings, at most 64 bits).
  uint64_t varint();
  ByteSpan take(size_t n);
  bool ok() const { return ok_; }
  size_t remaining() const { return bytes_.size() - pos_; }
  size_t position() const { return pos_; }
  bool atEnd() const { return ok_ && pos_ == bytes_.size(); }
  void fail() { ok_ = false; }

 private:
  ByteSpan bytes_;
  size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace s3cryptfs::format::detail
