#include "openssl_support.h"

#include <cstdio>
#include <cstdlib>
#include <string>

#include <openssl/err.h>

namespace s3cryptfs::crypto::detail {
namespace {

template <class Algorithm, class Fetch>
const Algorithm* fetch(const char* name, Fetch fetcher) {
  Algorithm* algorithm = fetcher(nullptr, name, nullptr);
  if (algorithm == nullptr) ERR_clear_error();
  return algorithm;
}

std::string firstErrorReason() {
  unsigned long code = ERR_get_error();
  std::string reason;
  if (code != 0) {
    char text[256];
    ERR_error_string_n(code, text, sizeof(text));
    reason = text;
  }
  ERR_clear_error();
  return reason;
}

}  // namespace

const EVP_CIPHER* cipherAlgorithm(const char* name) {
  return fetch<EVP_CIPHER>(name, EVP_CIPHER_fetch);
}
const EVP_MD* digestAlgorithm(const char* name) {
  return fetch<EVP_MD>(name, EVP_MD_fetch);
}
const EVP_MAC* macAlgorithm(const char* name) {
  return fetch<EVP_MAC>(name, EVP_MAC_fetch);
}
const EVP_KDF* kdfAlgorithm(const char* name) {
  return fetch<EVP_KDF>(name, EVP_KDF_fetch);
}

Error opensslError(ErrorKind kind, std::string_view what) {
  std::string message(what);
  std::string reason = firstErrorReason();
  if (!reason.empty()) message += ": " + reason;
  return Error(kind, std::move(message));
}

void clearOpensslErrors() {
  ERR_clear_error();
}

void fatalOpensslError(std::string_view what) {
  std::string reason = firstErrorReason();
  std::string line =
      "s3cryptfs: fatal OpenSSL failure in " + std::string(what) + ": " + reason + "\n";
  std::fputs(line.c_str(), stderr);
  std::abort();
}

}  // namespace s3cryptfs::crypto::detail
