#pragma once

#include <cstdint>
#include <vector>

#include "s3cryptfs/core/result.h"
#include "s3cryptfs/core/secure_buffer.h"

namespace s3cryptfs::keys {

// Shamir secret sharing over GF(2^8) with the AES polynomial x^8 + x^4 + x^3 + x + 1, byte by
// byte: each secret byte is the constant term of its own random polynomial of degree k - 1.
struct SecretShare {
  uint8_t index = 0;   // x, 1..255 (x = 0 would be the secret itself)
  SecureBuffer value;  // f(x) for each secret byte
};

// k-of-n shares with indices 1..n; 1 <= k <= n <= 255. Coefficients come from the CSPRNG.
Result<std::vector<SecretShare>> splitSecret(const SecureBuffer& secret, uint8_t threshold,
                                             uint8_t count);
// Lagrange interpolation at x = 0 over the given shares. With fewer than k shares the result is
// a meaningless value, not an error: shares do not know k (the encoded form does). Duplicate or
// zero indices and unequal lengths are kInvalidArgument.
Result<SecureBuffer> combineShares(const std::vector<SecretShare>& shares);

// GF(2^8) arithmetic, exposed for tests. Constant time (no tables indexed by secrets).
uint8_t gf256Mul(uint8_t a, uint8_t b);
uint8_t gf256Inv(uint8_t a);  // gf256Inv(0) == 0

}  // namespace s3cryptfs::keys
