#include "uploader.h"

#include <gtest/gtest.h>

#include "s3cryptfs/store/in_memory_object_store.h"

namespace s3cryptfs::fs {
namespace {

TEST(UploaderTest, PartsAreWholeChunksAndNeverMoreThanTenThousand) {
  store::InMemoryObjectStore store;
  auto layout = *format::ChunkLayout::create(64 * 1024);
  Uploader uploader(store, uint64_t{8} << 20, 4);
  EXPECT_EQ(uploader.chunksPerPart(layout, 0), 128u);
  EXPECT_EQ(uploader.chunksPerPart(layout, uint64_t{1} << 30), 128u);
  for (uint64_t size : {uint64_t{1} << 40, (uint64_t{5} << 40) + 12345}) {
    uint64_t per_part = uploader.chunksPerPart(layout, size);
    EXPECT_LE(layout.partCount(size, per_part), Uploader::kMaxParts) << size;
    EXPECT_GT(per_part, 128u);
  }
  Uploader tiny(store, 100, 1);  // smaller than a chunk: one chunk per part
  EXPECT_EQ(tiny.chunksPerPart(layout, 1000), 1u);
}

}  // namespace
}  // namespace s3cryptfs::fs
