#include "s3cryptfs/crypto/kdf.h"

#include <string>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include "openssl_support.h"

namespace s3cryptfs::crypto {
namespace {

constexpr size_t kSha256Size = 32;

// OSSL_PARAM wants a mutable pointer even for inputs it only reads.
void* paramData(ByteSpan bytes) {
  static uint8_t empty = 0;
  return bytes.empty() ? &empty : const_cast<uint8_t*>(bytes.data());
}

}  // namespace

Result<SecureBuffer> hkdfSha256(const SecureBuffer& input_key, ByteSpan salt, ByteSpan info,
                                size_t length) {
  if (length == 0 || length > 255 * kSha256Size) {
    return Error(ErrorKind::kInvalidArgument, "HKDF-SHA256 length must be 1..8160 bytes");
  }
  if (input_key.empty()) return Error(ErrorKind::kInvalidArgument, "HKDF of an empty key");
  static const EVP_KDF* const kHkdf = detail::kdfAlgorithm("HKDF");
  if (kHkdf == nullptr) return Error(ErrorKind::kUnsupported, "HKDF not available in OpenSSL");

  detail::KdfCtxPtr ctx(EVP_KDF_CTX_new(const_cast<EVP_KDF*>(kHkdf)));
  if (!ctx) return detail::opensslError(ErrorKind::kInternal, "HKDF context");
  char digest[] = "SHA256";
  OSSL_PARAM params[5];
  size_t n = 0;
  params[n++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
  params[n++] = OSSL_PARAM_construct_octet_string(
      OSSL_KDF_PARAM_KEY, const_cast<uint8_t*>(input_key.data()), input_key.size());
  // An absent salt is HashLen zero bytes (RFC 5869 §2.2), which is what OpenSSL uses without one.
  if (!salt.empty()) {
    params[n++] =
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, paramData(salt), salt.size());
  }
  if (!info.empty()) {
    params[n++] =
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, paramData(info), info.size());
  }
  params[n] = OSSL_PARAM_construct_end();

  SecureBuffer out(length);
  if (EVP_KDF_derive(ctx.get(), out.data(), out.size(), params) != 1) {
    return detail::opensslError(ErrorKind::kInternal, "HKDF-SHA256 failed");
  }
  return out;
}

Result<SecureBuffer> scrypt(ByteSpan passphrase, ByteSpan salt, const ScryptParams& params,
                            size_t length) {
  if (length == 0) return Error(ErrorKind::kInvalidArgument, "scrypt length must not be 0");
  if (params.n < 2 || (params.n & (params.n - 1)) != 0 || params.r == 0 || params.p == 0) {
    return Error(ErrorKind::kInvalidArgument, "scrypt needs N a power of two > 1, r > 0 and p > 0");
  }
  static const EVP_KDF* const kScrypt = detail::kdfAlgorithm("SCRYPT");
  if (kScrypt == nullptr) {
    return Error(ErrorKind::kUnsupported, "scrypt not available in OpenSSL");
  }

  detail::KdfCtxPtr ctx(EVP_KDF_CTX_new(const_cast<EVP_KDF*>(kScrypt)));
  if (!ctx) return detail::opensslError(ErrorKind::kInternal, "scrypt context");
  uint64_t n = params.n;
  uint32_t r = params.r;
  uint32_t p = params.p;
  // OpenSSL's default memory cap (about 1 GiB) stays: the parameters are read from the bucket
  // before anything authenticates them, so they must not be able to exhaust memory.
  OSSL_PARAM ossl_params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD, paramData(passphrase),
                                        passphrase.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, paramData(salt), salt.size()),
      OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n),
      OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r),
      OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &p),
      OSSL_PARAM_construct_end()};

  SecureBuffer out(length);
  if (EVP_KDF_derive(ctx.get(), out.data(), out.size(), ossl_params) != 1) {
    return detail::opensslError(ErrorKind::kInvalidArgument,
                                "scrypt refused N=" + std::to_string(n) +
                                    " r=" + std::to_string(r) + " p=" + std::to_string(p));
  }
  return out;
}

}  // namespace s3cryptfs::crypto
