#include "s3cryptfs/keys/shamir.h"

#include <array>

#include "s3cryptfs/crypto/random.h"

namespace s3cryptfs::keys {

uint8_t gf256Mul(uint8_t a, uint8_t b) {
  // Shift-and-add with masks instead of branches or log tables, so timing does not depend on
  // share values. 0x1B is x^4 + x^3 + x + 1: x^8 reduced by the AES polynomial.
  uint8_t product = 0;
  for (int bit = 0; bit < 8; ++bit) {
    product ^= static_cast<uint8_t>(a & static_cast<uint8_t>(-(b & 1)));
    b >>= 1;
    uint8_t carry = static_cast<uint8_t>(-(a >> 7));
    a = static_cast<uint8_t>((a << 1) ^ (0x1B & carry));
  }
  return product;
}

uint8_t gf256Inv(uint8_t a) {
  // a^254 = a^-1 in GF(2^8) (the multiplicative group has order 255); 0 maps to 0.
  uint8_t result = 1;
  uint8_t base = a;
  for (int exponent = 254; exponent > 0; exponent >>= 1) {
    if (exponent & 1) result = gf256Mul(result, base);
    base = gf256Mul(base, base);
  }
  return result;
}

Result<std::vector<SecretShare>> splitSecret(const SecureBuffer& secret, uint8_t threshold,
                                             uint8_t count) {
  if (threshold < 1 || count < threshold) {
    return Error(ErrorKind::kInvalidArgument, "shares need 1 <= k <= n <= 255, got " +
                                                  std::to_string(threshold) + "-of-" +
                                                  std::to_string(count));
  }
  if (secret.empty()) return Error(ErrorKind::kInvalidArgument, "cannot split an empty secret");
  std::vector<SecretShare> shares(count);
  for (uint8_t i = 0; i < count; ++i) {
    shares[i].index = static_cast<uint8_t>(i + 1);
    shares[i].value = SecureBuffer(secret.size());
  }
  // Coefficients a1..a(k-1) for one secret byte at a time, kept in locked memory.
  SecureBuffer coefficients(threshold);
  for (size_t pos = 0; pos < secret.size(); ++pos) {
    coefficients.data()[0] = secret.data()[pos];
    if (threshold > 1) {
      S3C_RETURN_IF_ERROR(crypto::fillRandom(coefficients.mutableSpan().subspan(1)));
    }
    for (auto& share : shares) {
      // Horner's rule from the highest coefficient down.
      uint8_t y = 0;
      for (size_t c = threshold; c-- > 0;) {
        y = static_cast<uint8_t>(gf256Mul(y, share.index) ^ coefficients.data()[c]);
      }
      share.value.data()[pos] = y;
    }
  }
  return shares;
}

Result<SecureBuffer> combineShares(const std::vector<SecretShare>& shares) {
  if (shares.empty()) return Error(ErrorKind::kInvalidArgument, "no shares to combine");
  size_t size = shares.front().value.size();
  std::array<bool, 256> seen{};
  for (const auto& share : shares) {
    if (share.index == 0) return Error(ErrorKind::kInvalidArgument, "share index 0 is invalid");
    if (seen[share.index]) {
      return Error(ErrorKind::kInvalidArgument,
                   "share " + std::to_string(share.index) + " given twice");
    }
    seen[share.index] = true;
    if (share.value.size() != size || size == 0) {
      return Error(ErrorKind::kInvalidArgument, "shares have different lengths");
    }
  }
  // Lagrange basis at x = 0: l_j(0) = prod_{m != j} x_m / (x_m - x_j); minus is xor in GF(2^8).
  std::vector<uint8_t> basis(shares.size());
  for (size_t j = 0; j < shares.size(); ++j) {
    uint8_t numerator = 1;
    uint8_t denominator = 1;
    for (size_t m = 0; m < shares.size(); ++m) {
      if (m == j) continue;
      numerator = gf256Mul(numerator, shares[m].index);
      denominator = gf256Mul(denominator, shares[m].index ^ shares[j].index);
    }
    basis[j] = gf256Mul(numerator, gf256Inv(denominator));
  }
  SecureBuffer secret(size);
  for (size_t pos = 0; pos < size; ++pos) {
    uint8_t value = 0;
    for (size_t j = 0; j < shares.size(); ++j) {
      value ^= gf256Mul(basis[j], shares[j].value.data()[pos]);
    }
    secret.data()[pos] = value;
  }
  return secret;
}

}  // namespace s3cryptfs::keys
