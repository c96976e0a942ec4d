#pragma once

// A seam for test builds only: the `s3cryptfs-test-faults` executable (built with the tests,
// never installed) registers a decorator that openStore() puts between the raw store and the
// retrying one. The installed `s3cryptfs` registers nothing, so no setting or environment
// variable can inject faults into a production mount.

#include <memory>

#include "s3cryptfs/core/result.h"
#include "s3cryptfs/store/object_store.h"

namespace s3cryptfs::app {

using StoreDecorator =
    Result<std::shared_ptr<store::ObjectStore>> (*)(std::shared_ptr<store::ObjectStore> raw);

// Called before main() by the test executable's static initialiser; nullptr removes it.
void setTestStoreDecorator(StoreDecorator decorator);

}  // namespace s3cryptfs::app
