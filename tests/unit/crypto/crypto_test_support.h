#pragma once

#include <cstdlib>
#include <string>
#include <string_view>

#include "s3cryptfs/core/bytes.h"
#include "s3cryptfs/core/secure_buffer.h"

namespace s3cryptfs::crypto::testing {

// Hex as printed in the RFCs, with spaces and line breaks allowed. A typo in a vector is a bug
// in the test, so it aborts rather than failing one assertion with an empty input.
inline Bytes hex(std::string_view text) {
  std::string digits;
  for (char c : text) {
    if (c != ' ' && c != '\n') digits.push_back(c);
  }
  Bytes out;
  if (!fromHex(digits, out)) std::abort();
  return out;
}

inline SecureBuffer keyHex(std::string_view text) {
  return SecureBuffer(hex(text));
}

inline Bytes repeated(uint8_t value, size_t count) {
  return Bytes(count, value);
}

}  // namespace s3cryptfs::crypto::testing
