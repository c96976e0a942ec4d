#pragma once

#include <string>
#include <string_view>

#include "s3cryptfs/core/result.h"

namespace s3cryptfs::store {

// Where a volume lives, as given on the command line: "dir:///abs/path" or
// "s3://bucket/prefix". Which server an s3:// URI talks to comes from the configuration.
struct StoreUri {
  enum class Scheme { kDir, kS3 };
  Scheme scheme = Scheme::kDir;
  std::string path;    // kDir: absolute, lexically normal, no trailing slash (except "/")
  std::string bucket;  // kS3
  std::string prefix;  // kS3: no leading slash; empty, or ends with exactly one '/'

  // The canonical form: parseStoreUri(uri.toString()) gives back the same StoreUri.
  std::string toString() const;
  bool operator==(const StoreUri&) const = default;
};

// Errors are kInvalidArgument with a message naming what is wrong and what is expected.
Result<StoreUri> parseStoreUri(std::string_view text);

}  // namespace s3cryptfs::store
