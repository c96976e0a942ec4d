// AEAD seal/open throughput per core at the chunk sizes the format may use. Compare with
// `openssl speed` through bench/crypto_vs_openssl.sh.
#include <cstdint>
#include <memory>
#include <string>

#include "s3cryptfs/crypto/aead.h"
#include "s3cryptfs/crypto/random.h"

#include "bench_runner.h"

namespace s3cryptfs::bench {
namespace {

constexpr size_t kKiB = 1024;
constexpr size_t kChunkSizes[] = {16 * kKiB, 64 * kKiB, 256 * kKiB, 1024 * kKiB};
// About what the chunk codec binds per chunk: file id, chunk index, final flag.
constexpr size_t kAadSize = 32;

struct AeadFixture {
  explicit AeadFixture(crypto::Aead a) : aead(std::move(a)) {}
  crypto::Aead aead;
  Bytes nonce = Bytes(crypto::kAeadNonceSize, 0);
  Bytes aad = Bytes(kAadSize, 0x5a);
  Bytes plaintext;
  Bytes sealed;
  uint64_t counter = 0;

  // A fresh nonce per seal, as the real codec does (and as GCM requires).
  void nextNonce() {
    ++counter;
    for (size_t i = 0; i < 8; ++i)
      nonce[i] = static_cast<uint8_t>(counter >> (8 * i));
  }
};

std::shared_ptr<AeadFixture> makeFixture(crypto::Cipher cipher, size_t size) {
  auto key = crypto::randomKey(crypto::kAeadKeySize);
  auto aead = key ? crypto::Aead::create(cipher, *key) : Result<crypto::Aead>(key.error());
  if (!aead.has_value()) return nullptr;
  auto fixture = std::make_shared<AeadFixture>(std::move(aead).value());
  fixture->plaintext.assign(size, 0xa5);
  fixture->sealed.resize(size + crypto::kAeadTagSize);
  if (!fixture->aead.seal(fixture->nonce, fixture->aad, fixture->plaintext, fixture->sealed)) {
    return nullptr;
  }
  return fixture;
}

S3C_BENCHMARKS(addAeadCases) {
  for (crypto::Cipher cipher : {crypto::Cipher::kAes256Gcm, crypto::Cipher::kChaCha20Poly1305}) {
    for (size_t size : kChunkSizes) {
      std::string suffix = std::string(crypto::cipherName(cipher)) + "/" + std::to_string(size);
      std::shared_ptr<AeadFixture> sealer = makeFixture(cipher, size);
      std::shared_ptr<AeadFixture> opener = makeFixture(cipher, size);
      if (!sealer || !opener) {
        auto unavailable = [] { return Status(Error(ErrorKind::kUnsupported, "AEAD setup")); };
        suite.addThroughput("aead/seal/" + suffix, size, unavailable);
        suite.addThroughput("aead/open/" + suffix, size, unavailable);
        continue;
      }
      suite.addThroughput("aead/seal/" + suffix, size, [f = sealer] {
        f->nextNonce();
        return f->aead.seal(f->nonce, f->aad, f->plaintext, f->sealed);
      });
      // Opens one sealed buffer over and over: the tag is checked every time.
      suite.addThroughput("aead/open/" + suffix, size, [f = opener] {
        return f->aead.open(f->nonce, f->aad, f->sealed, f->plaintext);
      });
    }
  }
}

}  // namespace
}  // namespace s3cryptfs::bench
