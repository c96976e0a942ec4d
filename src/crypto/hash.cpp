#include "s3cryptfs/crypto/hash.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "openssl_support.h"

namespace s3cryptfs::crypto {
namespace {

const EVP_MD* sha256Md() {
  static const EVP_MD* const kSha256 = detail::digestAlgorithm("SHA256");
  if (kSha256 == nullptr) detail::fatalOpensslError("fetching SHA-256");
  return kSha256;
}

template <size_t N>
std::array<uint8_t, N> digest(const EVP_MD* md, ByteSpan data, const char* what) {
  std::array<uint8_t, N> out{};
  unsigned int size = 0;
  if (EVP_Digest(data.data(), data.size(), out.data(), &size, md, nullptr) != 1 || size != N) {
    detail::fatalOpensslError(what);
  }
  return out;
}

}  // namespace

Sha256Digest sha256(ByteSpan data) {
  return digest<32>(sha256Md(), data, "SHA-256");
}

Sha256Digest hmacSha256(ByteSpan key, ByteSpan data) {
  static const EVP_MAC* const kHmac = detail::macAlgorithm("HMAC");
  if (kHmac == nullptr) detail::fatalOpensslError("fetching HMAC");
  detail::MacCtxPtr ctx(EVP_MAC_CTX_new(const_cast<EVP_MAC*>(kHmac)));
  char digest_name[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
                         OSSL_PARAM_construct_end()};
  // A null key pointer means "keep the previous key" to OpenSSL, so an empty key needs a
  // non-null pointer.
  static const uint8_t kEmptyKey = 0;
  const uint8_t* key_data = key.empty() ? &kEmptyKey : key.data();
  Sha256Digest out{};
  size_t size = 0;
  if (!ctx || EVP_MAC_init(ctx.get(), key_data, key.size(), params) != 1 ||
      EVP_MAC_update(ctx.get(), data.data(), data.size()) != 1 ||
      EVP_MAC_final(ctx.get(), out.data(), &size, out.size()) != 1 || size != out.size()) {
    detail::fatalOpensslError("HMAC-SHA256");
  }
  return out;
}

struct Sha256::Impl {
  detail::MdCtxPtr ctx;
};

Sha256::Sha256() : impl_(std::make_unique<Impl>()) {
  impl_->ctx.reset(EVP_MD_CTX_new());
  if (!impl_->ctx || EVP_DigestInit_ex2(impl_->ctx.get(), sha256Md(), nullptr) != 1) {
    detail::fatalOpensslError("SHA-256 init");
  }
}
Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::update(ByteSpan data) {
  if (EVP_DigestUpdate(impl_->ctx.get(), data.data(), data.size()) != 1) {
    detail::fatalOpensslError("SHA-256 update");
  }
}

Sha256Digest Sha256::finish() {
  Sha256Digest out{};
  unsigned int size = 0;
  // Re-initialised at once, so the object hashes a new message after finish().
  if (EVP_DigestFinal_ex(impl_->ctx.get(), out.data(), &size) != 1 || size != out.size() ||
      EVP_DigestInit_ex2(impl_->ctx.get(), sha256Md(), nullptr) != 1) {
    detail::fatalOpensslError("SHA-256 final");
  }
  return out;
}

std::array<uint8_t, 16> md5(ByteSpan data) {
  static const EVP_MD* const kMd5 = detail::digestAlgorithm("MD5");
  if (kMd5 == nullptr) detail::fatalOpensslError("fetching MD5");
  return digest<16>(kMd5, data, "MD5");
}

bool constantTimeEquals(ByteSpan a, ByteSpan b) {
  // Lengths are public (they are visible on the wire); only the contents need hiding.
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace s3cryptfs::crypto
