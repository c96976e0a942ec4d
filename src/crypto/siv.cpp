#include "s3cryptfs/crypto/siv.h"

#include <algorithm>
#include <climits>
#include <string>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "openssl_support.h"

namespace s3cryptfs::crypto {
namespace {

// RFC 5297 keys are two AES keys (MAC key || CTR key); 32 and 48 bytes are AES-128/192-SIV,
// kept so that the RFC's own test vectors (AES-128) can check this code.
const EVP_CIPHER* sivCipher(size_t key_size) {
  static const EVP_CIPHER* const kSiv128 = detail::cipherAlgorithm("AES-128-SIV");
  static const EVP_CIPHER* const kSiv192 = detail::cipherAlgorithm("AES-192-SIV");
  static const EVP_CIPHER* const kSiv256 = detail::cipherAlgorithm("AES-256-SIV");
  switch (key_size) {
    case 32:
      return kSiv128;
    case 48:
      return kSiv192;
    case 64:
      return kSiv256;
    default:
      return nullptr;
  }
}

bool fitsInt(size_t n) {
  return n <= static_cast<size_t>(INT_MAX);
}

Status checkInputs(const SecureBuffer& key, const std::vector<ByteSpan>& associated_data,
                   size_t text_size) {
  if (key.size() != 32 && key.size() != 48 && key.size() != kSivKeySize) {
    return Error(ErrorKind::kInvalidArgument,
                 "SIV key must be 64 bytes (or 32/48), got " + std::to_string(key.size()));
  }
  // OpenSSL 3.0 never runs the SIV computation for an empty message and fails the final step;
  // names, our only use, are never empty.
  if (text_size == 0) return Error(ErrorKind::kInvalidArgument, "SIV of an empty message");
  // RFC 5297 allows at most 126 associated data components before the plaintext.
  if (associated_data.size() > 126) {
    return Error(ErrorKind::kInvalidArgument, "more than 126 SIV associated data components");
  }
  if (!fitsInt(text_size)) return Error(ErrorKind::kInvalidArgument, "SIV message too large");
  for (ByteSpan ad : associated_data) {
    if (!fitsInt(ad.size())) {
      return Error(ErrorKind::kInvalidArgument, "SIV associated data too large");
    }
  }
  if (sivCipher(key.size()) == nullptr) {
    return Error(ErrorKind::kUnsupported, "AES-SIV not available in OpenSSL");
  }
  return ok();
}

// Each update with no output buffer is one associated data component of S2V, in order.
bool addAssociatedData(EVP_CIPHER_CTX* ctx, const std::vector<ByteSpan>& associated_data) {
  static const uint8_t kEmpty = 0;
  for (ByteSpan ad : associated_data) {
    int ignored = 0;
    const uint8_t* data = ad.empty() ? &kEmpty : ad.data();
    if (EVP_CipherUpdate(ctx, nullptr, &ignored, data, static_cast<int>(ad.size())) != 1) {
      return false;
    }
  }
  return true;
}

}  // namespace

Result<Bytes> sivSeal(const SecureBuffer& key, const std::vector<ByteSpan>& associated_data,
                      ByteSpan plaintext) {
  S3C_RETURN_IF_ERROR(checkInputs(key, associated_data, plaintext.size()));
  detail::CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  Bytes out(kSivTagSize + plaintext.size());
  int written = 0;
  int final_len = 0;
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, out.data(), kSivTagSize),
      OSSL_PARAM_construct_end()};
  bool sealed =
      ctx &&
      EVP_CipherInit_ex2(ctx.get(), sivCipher(key.size()), key.data(), nullptr, 1, nullptr) == 1 &&
      addAssociatedData(ctx.get(), associated_data) &&
      EVP_CipherUpdate(ctx.get(), out.data() + kSivTagSize, &written, plaintext.data(),
                       static_cast<int>(plaintext.size())) == 1 &&
      EVP_CipherFinal_ex(ctx.get(), out.data() + kSivTagSize + written, &final_len) == 1 &&
      EVP_CIPHER_CTX_get_params(ctx.get(), params) == 1;
  if (!sealed) return detail::opensslError(ErrorKind::kInternal, "SIV seal failed");
  return out;
}

Result<Bytes> sivOpen(const SecureBuffer& key, const std::vector<ByteSpan>& associated_data,
                      ByteSpan sealed) {
  // sivSeal never produces an empty ciphertext, so a bare tag is damaged input too.
  if (sealed.size() <= kSivTagSize) {
    return Error(ErrorKind::kCorrupt, "SIV input too short");
  }
  ByteSpan ciphertext = sealed.subspan(kSivTagSize);
  S3C_RETURN_IF_ERROR(checkInputs(key, associated_data, ciphertext.size()));
  detail::CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  uint8_t expected_tag[kSivTagSize];
  std::copy_n(sealed.data(), kSivTagSize, expected_tag);
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, expected_tag, kSivTagSize),
      OSSL_PARAM_construct_end()};
  bool ready =
      ctx &&
      EVP_CipherInit_ex2(ctx.get(), sivCipher(key.size()), key.data(), nullptr, 0, nullptr) == 1 &&
      EVP_CIPHER_CTX_set_params(ctx.get(), params) == 1 &&
      addAssociatedData(ctx.get(), associated_data);
  if (!ready) return detail::opensslError(ErrorKind::kInternal, "SIV open failed");
  Bytes out(ciphertext.size());
  int written = 0;
  int final_len = 0;
  // OpenSSL checks the tag in the update that carries the ciphertext (SIV needs the whole
  // message before the tag can be known), so either step failing means it did not verify.
  bool verified = EVP_CipherUpdate(ctx.get(), out.data(), &written, ciphertext.data(),
                                   static_cast<int>(ciphertext.size())) == 1 &&
                  EVP_CipherFinal_ex(ctx.get(), out.data() + written, &final_len) == 1;
  if (!verified) {
    secureZero(out.data(), out.size());
    detail::clearOpensslErrors();
    return Error(ErrorKind::kCorrupt, "SIV authentication failed");
  }
  return out;
}

}  // namespace s3cryptfs::crypto
