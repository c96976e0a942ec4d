// The ObjectStore conformance suite against the two stores of this module.

#include "s3cryptfs/store/dir_object_store.h"
#include "s3cryptfs/store/in_memory_object_store.h"

#include "conformance/object_store_conformance.h"
#include "store_test_support.h"

namespace {

using s3cryptfs::store::conformance::Backend;
using s3cryptfs::store::conformance::backendName;
using s3cryptfs::store::conformance::ObjectStoreConformance;

std::unique_ptr<s3cryptfs::store::ObjectStore> dirStore() {
  auto store = s3cryptfs::store::DirObjectStore::open(s3cryptfs::store::test::freshFolder());
  if (!store) return nullptr;
  return std::move(store).value();
}

std::unique_ptr<s3cryptfs::store::ObjectStore> memoryStore() {
  return std::make_unique<s3cryptfs::store::InMemoryObjectStore>();
}

// A fake with the gaps of s3rver, to check the suite's handling of declared gaps.
s3cryptfs::store::Capabilities limitedCapabilities() {
  s3cryptfs::store::Capabilities capabilities;
  capabilities.conditional_put_if_none_match = false;
  capabilities.conditional_put_if_match = false;
  capabilities.upload_part_copy = false;
  capabilities.list_parts = false;
  capabilities.abort_multipart = false;
  capabilities.copy_onto_itself = false;
  capabilities.list_multipart_uploads = false;
  return capabilities;
}

std::unique_ptr<s3cryptfs::store::ObjectStore> limitedMemoryStore() {
  s3cryptfs::store::InMemoryStoreOptions options;
  options.capabilities = limitedCapabilities();
  return std::make_unique<s3cryptfs::store::InMemoryObjectStore>(options);
}

}  // namespace

INSTANTIATE_TEST_SUITE_P(Dir, ObjectStoreConformance, ::testing::Values(Backend("dir", dirStore)),
                         backendName);
INSTANTIATE_TEST_SUITE_P(InMemory, ObjectStoreConformance,
                         ::testing::Values(Backend("memory", memoryStore)), backendName);
INSTANTIATE_TEST_SUITE_P(InMemoryLimited, ObjectStoreConformance,
                         ::testing::Values(Backend("memory_limited", limitedMemoryStore,
                                                   limitedCapabilities())),
                         backendName);
