#pragma once

#include <cerrno>
#include <memory>
#include <string>

#include "s3cryptfs/store/object_store.h"

namespace s3cryptfs::fs {

// The store as the filesystem sees it: a network or server failure reaches a program as EIO
// (not ECONNRESET, ETIMEDOUT or an HTTP-derived errno, which no file API documents), a full
// local store as ENOSPC, refused credentials as EACCES. Kinds and messages are kept, so the fs
// still tells a lost race (kPreconditionFailed) or a missing object (kNotFound) apart.
class ErrnoMappingStore final : public store::ObjectStore {
 public:
  explicit ErrnoMappingStore(store::ObjectStore& inner) : inner_(inner) {}

  static Error map(Error error) {
    switch (error.kind()) {
      case ErrorKind::kTransient:
      case ErrorKind::kThrottled:
      case ErrorKind::kIo:
      case ErrorKind::kCancelled:
      case ErrorKind::kInternal:
      case ErrorKind::kCorrupt:
      case ErrorKind::kPreconditionFailed:
        return Error(error.kind(), EIO, error.message())
            .setService(error.serviceCode(), error.httpStatus());
      default:
        return error;
    }
  }
  template <class T>
  static Result<T> map(Result<T> result) {
    if (result) return result;
    return map(std::move(result).error());
  }
  static Status map(Status status) {
    if (status) return status;
    return map(std::move(status).error());
  }

  Result<store::GetResult> get(std::string_view key,
                               std::optional<store::ByteRange> range) override {
    return map(inner_.get(key, range));
  }
  Result<store::ObjectInfo> head(std::string_view key) override { return map(inner_.head(key)); }
  Result<store::ObjectInfo> put(std::string_view key, ByteSpan body,
                                const store::PutOptions& options) override {
    return map(inner_.put(key, body, options));
  }
  Status remove(std::string_view key) override { return map(inner_.remove(key)); }
  Result<std::vector<store::DeleteFailure>> removeMany(
      const std::vector<std::string>& keys) override {
    return map(inner_.removeMany(keys));
  }
  Result<store::ListPage> list(const store::ListOptions& options) override {
    return map(inner_.list(options));
  }
  Result<store::ObjectInfo> copy(std::string_view source_key, std::string_view dest_key,
                                 const store::CopyOptions& options) override {
    return map(inner_.copy(source_key, dest_key, options));
  }
  Result<std::string> createMultipart(std::string_view key,
                                      const store::PutOptions& options) override {
    return map(inner_.createMultipart(key, options));
  }
  Result<store::PartInfo> uploadPart(std::string_view key, std::string_view upload_id,
                                     uint32_t part_number, ByteSpan body) override {
    return map(inner_.uploadPart(key, upload_id, part_number, body));
  }
  Result<store::PartInfo> uploadPartCopy(std::string_view key, std::string_view upload_id,
                                         uint32_t part_number, std::string_view source_key,
                                         store::ByteRange range) override {
    return map(inner_.uploadPartCopy(key, upload_id, part_number, source_key, range));
  }
  Result<store::ObjectInfo> completeMultipart(std::string_view key, std::string_view upload_id,
                                              const std::vector<store::PartInfo>& parts,
                                              const store::WriteCondition& condition) override {
    return map(inner_.completeMultipart(key, upload_id, parts, condition));
  }
  Status abortMultipart(std::string_view key, std::string_view upload_id) override {
    return map(inner_.abortMultipart(key, upload_id));
  }
  Result<std::vector<store::MultipartUploadInfo>> listMultipartUploads(
      std::string_view prefix) override {
    return map(inner_.listMultipartUploads(prefix));
  }
  store::Capabilities capabilities() const override { return inner_.capabilities(); }
  std::string describe() const override { return inner_.describe(); }

 private:
  store::ObjectStore& inner_;
};

}  // namespace s3cryptfs::fs
