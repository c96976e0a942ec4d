#include "s3cryptfs/keys/key_protector.h"

namespace s3cryptfs::keys {

Result<WrappedKey> KeyProtector::rewrap(const WrappedKey& wrapped, const KeyContext& /*context*/) {
  return Error(ErrorKind::kUnsupported,
               "a " + wrapped.type +
                   " copy has no key service to rewrap it: add a new protector and remove this "
                   "one instead");
}

}  // namespace s3cryptfs::keys
