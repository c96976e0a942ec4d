#include "s3cryptfs/store/object_store.h"

namespace s3cryptfs::store {

Result<ListPage> listAll(ObjectStore& store, ListOptions options) {
  ListPage all;
  options.continuation_token.clear();
  while (true) {
    S3C_ASSIGN_OR_RETURN(ListPage page, store.list(options));
    for (auto& object : page.objects)
      all.objects.push_back(std::move(object));
    for (auto& prefix : page.common_prefixes)
      all.common_prefixes.push_back(std::move(prefix));
    if (page.next_continuation_token.empty()) break;
    // A server handing back the token it was given would loop forever.
    if (page.next_continuation_token == options.continuation_token) {
      return Error(ErrorKind::kInternal, "listing of '" + options.prefix + "' on " +
                                             store.describe() + " repeats its continuation token");
    }
    options.continuation_token = std::move(page.next_continuation_token);
  }
  return all;
}

}  // namespace s3cryptfs::store
