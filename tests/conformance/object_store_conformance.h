#pragma once

// The conformance suite of the ObjectStore interface: one parametrized GoogleTest suite that
// every implementation must pass. To run it against a backend, add
// tests/conformance/object_store_conformance.cpp to the test binary's SOURCES and write, at
// namespace scope:
//
//   using s3cryptfs::store::conformance::Backend;
//   using s3cryptfs::store::conformance::ObjectStoreConformance;
//   INSTANTIATE_TEST_SUITE_P(S3rver, ObjectStoreConformance,
//                            ::testing::Values(Backend("s3rver", makeStoreOnFreshPrefix,
//                                                      kS3rverCapabilities)
//                                                  .withoutLongComponents()),
//                            s3cryptfs::store::conformance::backendName);
//
// (The INSTANTIATE line must name the fixture unqualified, hence the using-declaration.)
//
// The factory is called once per test and must return a store on a fresh, empty prefix or
// folder. A backend's documented gaps are declared in `expected`: the suite checks that the
// store reports the same in capabilities() and that an operation the backend lacks fails with
// kUnsupported (uploadPartCopy, abortMultipart, listMultipartUploads, and a put carrying an
// If-None-Match / If-Match condition the server would ignore: silently dropping a condition
// would let a writer overwrite another's data). Tests that need a missing feature to go on
// (the create race, copy onto itself) are skipped with a message naming the gap. Nothing is
// tolerated silently.

#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include <gtest/gtest.h>

#include "s3cryptfs/store/object_store.h"

namespace s3cryptfs::store::conformance {

inline constexpr uint64_t kMiB = uint64_t{1024} * 1024;
// S3 and Ceph refuse non-last parts below 5 MiB, so the suite uses exactly that.
inline constexpr uint64_t kPartSize = 5 * kMiB;

struct Backend {
  using Factory = std::function<std::unique_ptr<ObjectStore>()>;

  Backend(std::string backend_name, Factory store_factory, Capabilities expected_capabilities = {})
      : name(std::move(backend_name)),
        factory(std::move(store_factory)),
        expected(expected_capabilities) {}
  Backend& withoutDotAndEmptyComponents() {
    dot_and_empty_components = false;
    return *this;
  }
  Backend& withoutLongComponents() {
    long_components = false;
    return *this;
  }
  Backend& withoutStrictMultipart() {
    strict_multipart = false;
    return *this;
  }
  Backend& withoutAtomicOverwrites() {
    atomic_overwrites = false;
    return *this;
  }

  std::string name;  // letters, digits and '_' only: it becomes part of the test names
  Factory factory;
  // What the backend is expected to support; the store's capabilities() must say the same.
  Capabilities expected;
  // Keys with "." or ".." components or empty components ("a//b"): some servers and HTTP
  // stacks normalise those paths. Off: the suite skips those keys and says so.
  bool dot_and_empty_components = true;
  // Key components longer than 255 bytes (encrypted names reach about 370): servers that store
  // each key as a file path (s3rver) cannot. Off: the suite skips those keys and says so.
  bool long_components = true;
  // CompleteMultipartUpload refuses a part list whose ETags do not match what was uploaded, a
  // multipart object's ETag ends with "-N", and a completed upload takes no more parts. Off
  // (s3rver does none of these): the suite skips those checks and says so.
  bool strict_multipart = true;
  // A read racing an overwrite of the same key sees one whole version. Off (s3rver writes in
  // place: a racing read may get a 500, a cut transfer or an empty body): the suite still
  // overwrites the shared key but does not check those reads, and says so.
  bool atomic_overwrites = true;
};

inline std::string backendName(const ::testing::TestParamInfo<Backend>& info) {
  return info.param.name;
}

// How GoogleTest and ctest show the parameter (instead of a byte dump).
inline void PrintTo(const Backend& backend,
                    std::ostream* out) {  // NOLINT(readability-identifier-naming)
  *out << backend.name;
}

class ObjectStoreConformance : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    store_ = GetParam().factory();
    ASSERT_NE(store_, nullptr) << "the factory of backend " << GetParam().name << " failed";
  }
  ObjectStore& store() { return *store_; }
  const Capabilities& expected() const { return GetParam().expected; }

 private:
  std::unique_ptr<ObjectStore> store_;
};

}  // namespace s3cryptfs::store::conformance
