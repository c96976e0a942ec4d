#include "store_support.h"

#include <algorithm>
#include <chrono>
#include <random>
#include <thread>
#include <unistd.h>

namespace s3cryptfs::store::support {

Status validateKey(std::string_view key) {
  if (key.empty()) return Error(ErrorKind::kInvalidArgument, "empty object key");
  if (key.size() > kMaxKeyBytes) {
    return Error(ErrorKind::kNameTooLong,
                 "object key of " + std::to_string(key.size()) + " bytes exceeds 1024");
  }
  if (key.find('\0') != std::string_view::npos) {
    return Error(ErrorKind::kInvalidArgument, "object key contains a NUL byte");
  }
  return ok();
}

Status validateMetadata(const Metadata& metadata) {
  size_t total = 0;
  for (const auto& [name, value] : metadata) {
    if (name.empty()) return Error(ErrorKind::kInvalidArgument, "empty metadata name");
    // Names travel as HTTP header names (x-amz-meta-NAME): no separators, no spaces.
    for (unsigned char c : name) {
      if (c <= 0x20 || c >= 0x7f || c == ':') {
        return Error(ErrorKind::kInvalidArgument, "metadata name '" + name + "' is not a token");
      }
    }
    for (unsigned char c : value) {
      if (c < 0x20 || c >= 0x7f) {
        return Error(ErrorKind::kInvalidArgument,
                     "metadata value of '" + name + "' is not printable ASCII");
      }
    }
    total += name.size() + value.size();
  }
  if (total > kMaxMetadataBytes) {
    return Error(ErrorKind::kInvalidArgument,
                 "user metadata of " + std::to_string(total) + " bytes exceeds 2 KiB");
  }
  return ok();
}

Status validatePartNumber(uint32_t part_number) {
  if (part_number < 1 || part_number > kMaxPartNumber) {
    return Error(ErrorKind::kInvalidArgument,
                 "part number " + std::to_string(part_number) + " outside 1..10000");
  }
  return ok();
}

std::string randomHex128() {
  // One generator per thread: no lock, and seeded from the OS so two processes sharing a
  // folder never produce the same ETag or temp name. A forked child inherits the parent's
  // state, so a change of pid reseeds (daemons fork after opening their store).
  thread_local std::mt19937_64 generator;  // NOLINT(cert-msc51-cpp): seeded below before use
  thread_local pid_t seeded_for = 0;
  pid_t pid = ::getpid();
  if (seeded_for != pid) {
    std::random_device device;
    std::seed_seq seed{
        device(),
        device(),
        device(),
        device(),
        static_cast<unsigned>(pid),
        static_cast<unsigned>(std::hash<std::thread::id>{}(std::this_thread::get_id()))};
    generator.seed(seed);
    seeded_for = pid;
  }
  Bytes bytes;
  putU64(bytes, generator());
  putU64(bytes, generator());
  return toHex(bytes);
}

std::string unquoteEtag(std::string_view etag) {
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') {
    etag = etag.substr(1, etag.size() - 2);
  }
  return std::string(etag);
}

int64_t nowUnix() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Result<Slice> resolveRange(const std::optional<ByteRange>& range, uint64_t size,
                           std::string_view key) {
  if (!range) return Slice{0, size};
  if (range->offset >= size) {
    return Error(ErrorKind::kInvalidArgument, "range starts at " + std::to_string(range->offset) +
                                                  " at or past the end (" + std::to_string(size) +
                                                  " bytes) of " + std::string(key))
        .setService("InvalidRange", 416);
  }
  if (range->length && *range->length == 0) {
    return Error(ErrorKind::kInvalidArgument, "empty byte range on " + std::string(key));
  }
  uint64_t end = size;
  if (range->length && *range->length < size - range->offset) end = range->offset + *range->length;
  return Slice{range->offset, end};
}

Status validateCompletion(const std::vector<PartInfo>& requested,
                          const std::vector<UploadedPart>& uploaded, uint64_t min_part_size) {
  if (requested.empty()) {
    return Error(ErrorKind::kInvalidArgument, "complete multipart upload without parts")
        .setService("MalformedXML", 400);
  }
  for (size_t i = 0; i < requested.size(); ++i) {
    const PartInfo& part = requested[i];
    if (i > 0 && part.part_number <= requested[i - 1].part_number) {
      return Error(ErrorKind::kInvalidArgument, "parts not in ascending order")
          .setService("InvalidPartOrder", 400);
    }
    const UploadedPart* found = nullptr;
    for (const UploadedPart& candidate : uploaded) {
      if (candidate.part_number == part.part_number) found = &candidate;
    }
    if (found == nullptr || found->etag != unquoteEtag(part.etag)) {
      return Error(ErrorKind::kInvalidArgument,
                   "part " + std::to_string(part.part_number) + " missing or its ETag differs")
          .setService("InvalidPart", 400);
    }
    if (i + 1 < requested.size() && found->size < min_part_size) {
      return Error(ErrorKind::kInvalidArgument, "part " + std::to_string(part.part_number) +
                                                    " of " + std::to_string(found->size) +
                                                    " bytes is below the minimum part size")
          .setService("EntityTooSmall", 400);
    }
  }
  return ok();
}

Error preconditionFailed(std::string_view key, std::string_view why) {
  return Error(ErrorKind::kPreconditionFailed, std::string(key) + ": " + std::string(why))
      .setService("PreconditionFailed", 412);
}

Error notFound(std::string_view key) {
  return Error(ErrorKind::kNotFound, "no object " + std::string(key)).setService("NoSuchKey", 404);
}

Error noSuchUpload(std::string_view upload_id) {
  return Error(ErrorKind::kNotFound, "no multipart upload " + std::string(upload_id))
      .setService("NoSuchUpload", 404);
}

Result<PageBuilder> PageBuilder::create(const ListOptions& options) {
  PageBuilder builder;
  builder.prefix_ = options.prefix;
  builder.delimiter_ = options.delimiter;
  if (options.max_keys == 0) {
    return Error(ErrorKind::kInvalidArgument, "max_keys must be at least 1");
  }
  builder.max_keys_ = std::min(options.max_keys, kMaxListKeys);
  if (!options.continuation_token.empty()) {
    Bytes raw;
    if (!fromHex(options.continuation_token, raw) || raw.empty()) {
      return Error(ErrorKind::kInvalidArgument, "malformed continuation token");
    }
    builder.start_after_.assign(raw.begin(), raw.end());
  }
  return builder;
}

bool PageBuilder::addObject(const ObjectInfo& info) {
  const std::string& key = info.key;
  if (key.compare(0, prefix_.size(), prefix_) != 0) return true;
  if (!delimiter_.empty()) {
    size_t pos = key.find(delimiter_, prefix_.size());
    if (pos != std::string::npos) {
      return addEntry(key.substr(0, pos + delimiter_.size()), true, nullptr);
    }
  }
  return addEntry(key, false, &info);
}

bool PageBuilder::addCommonPrefix(const std::string& common_prefix) {
  return addEntry(common_prefix, true, nullptr);
}

bool PageBuilder::addEntry(const std::string& entry, bool is_prefix, const ObjectInfo* info) {
  if (truncated_) return false;
  if (!start_after_.empty() && entry <= start_after_) return true;
  // Keys collapsing into the prefix just returned arrive right after it in key order.
  if (is_prefix && count_ > 0 && entry == last_entry_) return true;
  if (count_ == max_keys_) {
    truncated_ = true;
    return false;
  }
  if (is_prefix) {
    page_.common_prefixes.push_back(entry);
  } else {
    ObjectInfo listed = *info;
    listed.metadata.clear();
    page_.objects.push_back(std::move(listed));
  }
  last_entry_ = entry;
  ++count_;
  return true;
}

ListPage PageBuilder::finish() && {
  if (truncated_) page_.next_continuation_token = toHex(asBytes(last_entry_));
  return std::move(page_);
}

}  // namespace s3cryptfs::store::support
