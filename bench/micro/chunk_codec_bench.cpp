// The format layer's hot path: FileCipher::sealChunk/openChunk (fresh nonce, chunk AAD with file
// id, index and final flag, key-committed file key) per core, at the chunk sizes a volume may
// use. bench/crypto_vs_openssl.sh prints these next to `openssl speed` for the same cipher.
#include <cstdint>
#include <memory>
#include <string>

#include "s3cryptfs/crypto/random.h"
#include "s3cryptfs/format/chunk_codec.h"
#include "s3cryptfs/format/key_hierarchy.h"

#include "bench_runner.h"

namespace s3cryptfs::bench {
namespace {

constexpr size_t kKiB = 1024;
constexpr uint32_t kChunkSizes[] = {16 * kKiB, 64 * kKiB, 256 * kKiB, 1024 * kKiB};

struct CodecFixture {
  explicit CodecFixture(format::FileCipher c) : cipher(std::move(c)) {}
  format::FileCipher cipher;
  Bytes plaintext;
  Bytes sealed;
  uint64_t index = 0;
};

std::shared_ptr<CodecFixture> makeFixture(crypto::Cipher cipher, uint32_t chunk_size) {
  auto volume_key = crypto::randomKey(32);
  if (!volume_key) return nullptr;
  auto keys = format::VolumeKeys::derive(1, *volume_key);
  auto layout = format::ChunkLayout::create(chunk_size);
  if (!keys || !layout) return nullptr;
  auto file = format::FileCipher::createNew(*keys, cipher, *layout);
  if (!file) return nullptr;
  auto fixture = std::make_shared<CodecFixture>(std::move(file).value());
  fixture->plaintext.assign(chunk_size, 0xa5);
  fixture->sealed.resize(chunk_size + format::kChunkOverhead);
  if (!fixture->cipher.sealChunk(0, false, fixture->plaintext, fixture->sealed)) return nullptr;
  return fixture;
}

S3C_BENCHMARKS(addChunkCodecCases) {
  for (crypto::Cipher cipher : {crypto::Cipher::kAes256Gcm, crypto::Cipher::kChaCha20Poly1305}) {
    for (uint32_t size : kChunkSizes) {
      std::string suffix = std::string(crypto::cipherName(cipher)) + "/" + std::to_string(size);
      std::shared_ptr<CodecFixture> sealer = makeFixture(cipher, size);
      std::shared_ptr<CodecFixture> opener = makeFixture(cipher, size);
      if (!sealer || !opener) {
        auto unavailable = [] { return Status(Error(ErrorKind::kUnsupported, "codec setup")); };
        suite.addThroughput("format/seal/" + suffix, size, unavailable);
        suite.addThroughput("format/open/" + suffix, size, unavailable);
        continue;
      }
      // Each seal is a new chunk index with a fresh random nonce, as a writer does.
      suite.addThroughput("format/seal/" + suffix, size, [f = sealer] {
        return f->cipher.sealChunk(f->index++, false, f->plaintext, f->sealed);
      });
      // Opens chunk 0 over and over: header binding and tag are checked every time.
      suite.addThroughput("format/open/" + suffix, size, [f = opener] {
        return f->cipher.openChunk(0, false, f->sealed, f->plaintext);
      });
    }
  }
}

}  // namespace
}  // namespace s3cryptfs::bench
