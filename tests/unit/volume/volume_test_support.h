#pragma once

#include <memory>
#include <string>

#include "s3cryptfs/keys/keyfile_protector.h"
#include "s3cryptfs/store/dir_object_store.h"
#include "s3cryptfs/store/in_memory_object_store.h"

#include "unit/store/store_test_support.h"

namespace s3cryptfs::volume::test {

inline SecureBuffer keyOf(uint8_t seed) {
  SecureBuffer key(keys::kKeyFileKeySize);
  for (size_t i = 0; i < key.size(); ++i)
    key.data()[i] = static_cast<uint8_t>(seed * 31 + i);
  return key;
}

inline keys::KeyFileProtector keyFile(uint8_t seed) {
  auto protector = keys::KeyFileProtector::fromKey(keyOf(seed));
  if (!protector) std::abort();
  return std::move(protector).value();
}

// The two stores without a server, by name, for parameterised tests.
inline std::shared_ptr<store::ObjectStore> makeStore(const std::string& kind) {
  if (kind == "dir") {
    store::DirStoreOptions options;
    options.durable = false;
    auto dir = store::DirObjectStore::open(store::test::freshFolder(), options);
    if (!dir) std::abort();
    return std::shared_ptr<store::ObjectStore>(std::move(dir).value());
  }
  return std::make_shared<store::InMemoryObjectStore>();
}

}  // namespace s3cryptfs::volume::test
