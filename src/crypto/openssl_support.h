#pragma once

#include <memory>
#include <string_view>

#include <openssl/evp.h>
#include <openssl/kdf.h>

#include "s3cryptfs/core/error.h"

namespace s3cryptfs::crypto::detail {

struct CipherCtxDeleter {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
struct MacCtxDeleter {
  void operator()(EVP_MAC_CTX* ctx) const { EVP_MAC_CTX_free(ctx); }
};
struct KdfCtxDeleter {
  void operator()(EVP_KDF_CTX* ctx) const { EVP_KDF_CTX_free(ctx); }
};
using CipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxDeleter>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;
using MacCtxPtr = std::unique_ptr<EVP_MAC_CTX, MacCtxDeleter>;
using KdfCtxPtr = std::unique_ptr<EVP_KDF_CTX, KdfCtxDeleter>;

// Explicit fetches (nullptr when the loaded providers lack the algorithm). Callers keep the result
// in a function-local static for the process lifetime: a fetch takes the provider store's lock,
// which the hot path must not, and freeing in a static destructor could run after OpenSSL's own
// atexit cleanup.
const EVP_CIPHER* cipherAlgorithm(const char* name);
const EVP_MD* digestAlgorithm(const char* name);
const EVP_MAC* macAlgorithm(const char* name);
const EVP_KDF* kdfAlgorithm(const char* name);

// An Error carrying the first reason on OpenSSL's error queue, which it then clears so that a
// failure never leaks into the next, unrelated, call on this thread.
Error opensslError(ErrorKind kind, std::string_view what);
// Drops what OpenSSL queued for an expected failure (a tag that did not verify).
void clearOpensslErrors();

// For the functions whose signature cannot fail (hashes): OpenSSL failing there means the
// library or its configuration is broken, which no caller could handle.
[[noreturn]] void fatalOpensslError(std::string_view what);

}  // namespace s3cryptfs::crypto::detail
