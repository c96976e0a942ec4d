#include "s3cryptfs/crypto/aead.h"

#include <algorithm>
#include <climits>
#include <cstring>
#include <mutex>
#include <vector>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "openssl_support.h"

namespace s3cryptfs::crypto {
namespace {

using detail::CipherCtxPtr;

// EVP takes int lengths; larger inputs go through in slices of this size.
constexpr size_t kMaxUpdate = size_t{1} << 30;
// Idle contexts kept beyond this are freed: a burst of threads should not pin memory forever.
constexpr size_t kMaxIdleContexts = 64;

const EVP_CIPHER* evpCipher(Cipher cipher) {
  static const EVP_CIPHER* const kGcm = detail::cipherAlgorithm("AES-256-GCM");
  static const EVP_CIPHER* const kChaCha = detail::cipherAlgorithm("ChaCha20-Poly1305");
  switch (cipher) {
    case Cipher::kAes256Gcm:
      return kGcm;
    case Cipher::kChaCha20Poly1305:
      return kChaCha;
  }
  return nullptr;
}

bool partiallyOverlap(ByteSpan a, ByteSpan b) {
  if (a.empty() || b.empty() || a.data() == b.data()) return false;
  auto a_begin = reinterpret_cast<uintptr_t>(a.data());
  auto b_begin = reinterpret_cast<uintptr_t>(b.data());
  return a_begin < b_begin + b.size() && b_begin < a_begin + a.size();
}

bool update(EVP_CIPHER_CTX* ctx, uint8_t* out, ByteSpan in) {
  while (!in.empty()) {
    size_t n = std::min(in.size(), kMaxUpdate);
    int written = 0;
    if (EVP_CipherUpdate(ctx, out, &written, in.data(), static_cast<int>(n)) != 1) return false;
    if (out != nullptr) out += written;
    in = in.subspan(n);
  }
  return true;
}

}  // namespace

std::string_view cipherName(Cipher cipher) {
  switch (cipher) {
    case Cipher::kAes256Gcm:
      return "aes-256-gcm";
    case Cipher::kChaCha20Poly1305:
      return "chacha20-poly1305";
  }
  return "unknown";
}

Result<Cipher> parseCipher(std::string_view name) {
  auto equals_ignoring_case = [](std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
             return (x >= 'A' && x <= 'Z' ? x - 'A' + 'a' : x) == y;
           });
  };
  for (Cipher cipher : {Cipher::kAes256Gcm, Cipher::kChaCha20Poly1305}) {
    if (equals_ignoring_case(name, cipherName(cipher))) return cipher;
  }
  return Error(ErrorKind::kInvalidArgument,
               "unknown cipher '" + std::string(name) + "' (aes-256-gcm or chacha20-poly1305)");
}

// Contexts are initialised with the key once and then only get a new nonce per call
// (EVP_CipherInit_ex2 with key == nullptr keeps the expanded key). A context serves one call at
// a time, so concurrent calls lease distinct contexts from a small pool that grows to the peak
// concurrency. The pool lives and dies with the Aead, so no key schedule outlives it (OpenSSL
// cleanses contexts when freeing them).
struct Aead::Impl {
  Cipher cipher;
  const EVP_CIPHER* evp;
  SecureBuffer key;
  std::mutex mutex;
  std::vector<EVP_CIPHER_CTX*> idle;  // guarded by mutex

  Impl(Cipher c, const EVP_CIPHER* e, SecureBuffer k) : cipher(c), evp(e), key(std::move(k)) {}
  ~Impl() {
    for (EVP_CIPHER_CTX* ctx : idle)
      EVP_CIPHER_CTX_free(ctx);
  }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
  Impl(Impl&&) = delete;
  Impl& operator=(Impl&&) = delete;

  CipherCtxPtr newContext() const {
    CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
    if (!ctx || EVP_CipherInit_ex2(ctx.get(), evp, key.data(), nullptr, 1, nullptr) != 1) {
      return nullptr;
    }
    return ctx;
  }

  CipherCtxPtr lease() {
    {
      std::lock_guard lock(mutex);
      if (!idle.empty()) {
        CipherCtxPtr ctx(idle.back());
        idle.pop_back();
        return ctx;
      }
    }
    return newContext();
  }

  void giveBack(CipherCtxPtr ctx) {
    std::lock_guard lock(mutex);
    if (idle.size() < kMaxIdleContexts) idle.push_back(ctx.release());
  }
};

Aead::Aead(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Aead::~Aead() = default;
Aead::Aead(Aead&&) noexcept = default;
Aead& Aead::operator=(Aead&&) noexcept = default;

Result<Aead> Aead::create(Cipher cipher, const SecureBuffer& key) {
  if (key.size() != kAeadKeySize) {
    return Error(ErrorKind::kInvalidArgument,
                 "AEAD key must be 32 bytes, got " + std::to_string(key.size()));
  }
  const EVP_CIPHER* evp = evpCipher(cipher);
  if (evp == nullptr) {
    return Error(ErrorKind::kUnsupported,
                 "cipher " + std::string(cipherName(cipher)) + " not available in OpenSSL");
  }
  auto impl = std::make_unique<Impl>(cipher, evp, key.clone());
  // One context up front: it proves the key is accepted and serves the first call.
  CipherCtxPtr first = impl->newContext();
  if (!first) return detail::opensslError(ErrorKind::kInternal, "AEAD key setup failed");
  impl->giveBack(std::move(first));
  return Aead(std::move(impl));
}

Cipher Aead::cipher() const {
  return impl_->cipher;
}

Status Aead::seal(ByteSpan nonce, ByteSpan aad, ByteSpan plaintext, MutableByteSpan out) const {
  if (!impl_) return Error(ErrorKind::kInternal, "seal on a moved-from Aead");
  if (nonce.size() != kAeadNonceSize) {
    return Error(ErrorKind::kInvalidArgument, "AEAD nonce must be 12 bytes");
  }
  if (out.size() != plaintext.size() + kAeadTagSize) {
    return Error(ErrorKind::kInvalidArgument, "AEAD seal output must be plaintext + 16 bytes");
  }
  if (partiallyOverlap(plaintext, out)) {
    return Error(ErrorKind::kInvalidArgument, "AEAD seal buffers overlap other than in place");
  }

  CipherCtxPtr ctx = impl_->lease();
  if (!ctx) return detail::opensslError(ErrorKind::kInternal, "AEAD context setup failed");
  EVP_CIPHER_CTX* c = ctx.get();
  uint8_t* tag = out.data() + plaintext.size();
  int final_len = 0;
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag, kAeadTagSize),
      OSSL_PARAM_construct_end()};
  bool sealed = EVP_CipherInit_ex2(c, nullptr, nullptr, nonce.data(), 1, nullptr) == 1 &&
                update(c, nullptr, aad) && update(c, out.data(), plaintext) &&
                EVP_CipherFinal_ex(c, out.data() + plaintext.size(), &final_len) == 1 &&
                EVP_CIPHER_CTX_get_params(c, params) == 1;
  if (!sealed) {
    // A context left half-way by an internal failure is not worth reasoning about: drop it.
    secureZero(out.data(), out.size());
    return detail::opensslError(ErrorKind::kInternal, "AEAD seal failed");
  }
  impl_->giveBack(std::move(ctx));
  return ok();
}

Status Aead::open(ByteSpan nonce, ByteSpan aad, ByteSpan sealed, MutableByteSpan out) const {
  if (!impl_) return Error(ErrorKind::kInternal, "open on a moved-from Aead");
  if (nonce.size() != kAeadNonceSize) {
    return Error(ErrorKind::kInvalidArgument, "AEAD nonce must be 12 bytes");
  }
  if (sealed.size() < kAeadTagSize) {
    return Error(ErrorKind::kCorrupt, "sealed data shorter than an AEAD tag");
  }
  ByteSpan ciphertext = sealed.first(sealed.size() - kAeadTagSize);
  if (out.size() != ciphertext.size()) {
    return Error(ErrorKind::kInvalidArgument, "AEAD open output must be sealed - 16 bytes");
  }
  if (partiallyOverlap(ciphertext, out)) {
    return Error(ErrorKind::kInvalidArgument, "AEAD open buffers overlap other than in place");
  }

  CipherCtxPtr ctx = impl_->lease();
  if (!ctx) return detail::opensslError(ErrorKind::kInternal, "AEAD context setup failed");
  EVP_CIPHER_CTX* c = ctx.get();
  // OpenSSL reads the expected tag from this buffer; a copy keeps `sealed` const even when the
  // caller decrypts in place over it.
  uint8_t expected_tag[kAeadTagSize];
  std::memcpy(expected_tag, sealed.data() + ciphertext.size(), kAeadTagSize);
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, expected_tag, kAeadTagSize),
      OSSL_PARAM_construct_end()};
  bool decrypted = EVP_CipherInit_ex2(c, nullptr, nullptr, nonce.data(), 0, nullptr) == 1 &&
                   EVP_CIPHER_CTX_set_params(c, params) == 1 && update(c, nullptr, aad) &&
                   update(c, out.data(), ciphertext);
  if (!decrypted) {
    secureZero(out.data(), out.size());
    return detail::opensslError(ErrorKind::kInternal, "AEAD open failed");
  }
  int final_len = 0;
  if (EVP_CipherFinal_ex(c, out.data() + out.size(), &final_len) != 1) {
    // Unauthenticated plaintext must never reach the caller.
    secureZero(out.data(), out.size());
    detail::clearOpensslErrors();
    impl_->giveBack(std::move(ctx));  // the next call's new nonce resets the context
    return Error(ErrorKind::kCorrupt, "AEAD authentication failed");
  }
  impl_->giveBack(std::move(ctx));
  return ok();
}

}  // namespace s3cryptfs::crypto
