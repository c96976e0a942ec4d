#pragma once

#include "s3cryptfs/core/bytes.h"
#include "s3cryptfs/core/result.h"

namespace s3cryptfs::format {

// Where nonces, salts and file ids come from. Injectable so that golden vectors are reproducible
// in tests; production code always uses systemRandom().
class RandomSource {
 public:
  virtual ~RandomSource() = default;
  virtual Status fill(MutableByteSpan out) = 0;
};

// The CSPRNG of the crypto module; thread-safe.
RandomSource& systemRandom();

}  // namespace s3cryptfs::format
