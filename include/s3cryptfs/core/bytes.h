#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace s3cryptfs {

using Bytes = std::vector<uint8_t>;
using ByteSpan = std::span<const uint8_t>;
using MutableByteSpan = std::span<uint8_t>;

inline ByteSpan asBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}
inline std::string_view asChars(ByteSpan b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}
inline Bytes toBytes(std::string_view s) {
  return Bytes(s.begin(), s.end());
}

std::string toHex(ByteSpan bytes);
// Empty optional-like failure is signalled by returning false.
bool fromHex(std::string_view hex, Bytes& out);
std::string toBase64(ByteSpan bytes);
bool fromBase64(std::string_view text, Bytes& out);

// Little-endian fixed-width helpers for our own format.
void putU16(Bytes& out, uint16_t v);
void putU32(Bytes& out, uint32_t v);
void putU64(Bytes& out, uint64_t v);
uint16_t getU16(const uint8_t* p);
uint32_t getU32(const uint8_t* p);
uint64_t getU64(const uint8_t* p);

}  // namespace s3cryptfs
