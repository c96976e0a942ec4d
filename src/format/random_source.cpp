#include "s3cryptfs/format/random_source.h"

#include "s3cryptfs/crypto/random.h"

namespace s3cryptfs::format {
namespace {
class SystemRandom final : public RandomSource {
 public:
  Status fill(MutableByteSpan out) override { return crypto::fillRandom(out); }
};
}  // namespace

RandomSource& systemRandom() {
  static SystemRandom random;
  return random;
}

}  // namespace s3cryptfs::format
