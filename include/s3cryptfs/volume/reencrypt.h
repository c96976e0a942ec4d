#pragma once

// `s3cryptfs reencrypt`: moves every object still under an older volume key version to the
// newest one (FORMAT.md §7.3), so the old key protects nothing any more. Content objects are
// resealed chunk by chunk (same file id, cipher and chunk size: only the key changes) in parts
// of bounded size; attribute blocks are resealed with them; directory markers get a new block.
// Names are not touched (they stay under the name key version fixed at init).
#include <cstdint>
#include <functional>
#include <string>

#include "s3cryptfs/core/result.h"
#include "s3cryptfs/volume/volume.h"

namespace s3cryptfs::volume {

struct ReencryptProgress {
  uint64_t total_objects = 0;  // in the listing taken at start
  uint64_t total_bytes = 0;
  uint64_t objects_done = 0;  // looked at (rewritten or already current or skipped)
  uint64_t bytes_done = 0;
  uint64_t objects_rewritten = 0;
  uint64_t conflicts = 0;  // changed by someone else meanwhile (left as they are: run again)
  uint64_t foreign = 0;    // not ours (no attribute block): left alone
  std::string last_key;    // the last object key done, in listing order
};

struct ReencryptOptions {
  // Resume: objects whose key sorts at or before this one are skipped (from a progress record).
  std::string resume_after;
  // Called after each object; return false to stop (the progress so far is returned).
  std::function<bool(const ReencryptProgress&)> on_object;
  // Ciphertext held in memory per object at once (whole chunks; at least S3's 5 MiB part
  // minimum), plus its plaintext.
  uint64_t part_bytes = uint64_t{8} << 20;
};

// Every write is conditional on the ETag just read (If-Match), so a concurrent change by a mount
// wins: that object is counted in `conflicts` and left for a rerun. Errors other than conflicts
// stop the run (the progress is in the error's context: rerun with resume_after = last_key).
Result<ReencryptProgress> reencryptVolume(const Volume& volume, const ReencryptOptions& options);

}  // namespace s3cryptfs::volume
