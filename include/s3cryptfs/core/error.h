#pragma once

#include <cerrno>
#include <cstdint>
#include <string>
#include <string_view>

namespace s3cryptfs {

// What went wrong, in terms a caller can act on. The kind decides retries and log levels;
// the errno is what the FUSE adapter replies with.
enum class ErrorKind : uint8_t {
  kNotFound,
  kAlreadyExists,
  kNotEmpty,
  kNotDirectory,
  kIsDirectory,
  kPermissionDenied,  // credentials rejected, access denied
  kInvalidArgument,
  kNameTooLong,
  kUnsupported,         // the server or the format lacks a feature
  kCorrupt,             // authentication failed, malformed data: never retried
  kPreconditionFailed,  // a conditional write lost a race
  kTransient,           // connection reset, timeout, 5xx: retryable
  kThrottled,           // SlowDown, 503, 429: retryable with backoff
  kNoSpace,
  kIo,
  kCancelled,
  kInternal,  // a bug of ours
};

std::string_view errorKindName(ErrorKind kind);
int defaultErrno(ErrorKind kind);

class Error {
 public:
  Error(ErrorKind kind, std::string message);
  Error(ErrorKind kind, int errno_value, std::string message);

  ErrorKind kind() const { return kind_; }
  int errnoValue() const { return errno_; }
  const std::string& message() const { return message_; }
  // The remote service's own error code (e.g. S3 "NoSuchKey"), empty when none.
  const std::string& serviceCode() const { return service_code_; }
  int httpStatus() const { return http_status_; }
  bool retryable() const {
    return kind_ == ErrorKind::kTransient || kind_ == ErrorKind::kThrottled;
  }

  Error& setService(std::string code, int http_status) {
    service_code_ = std::move(code);
    http_status_ = http_status;
    return *this;
  }
  // Prefixes the message with where it happened; keeps kind and errno.
  Error withContext(std::string_view where) const;
  // "kind: message" for logs and CLI messages.
  std::string describe() const;

 private:
  ErrorKind kind_;
  int errno_;
  std::string message_;
  std::string service_code_;
  int http_status_ = 0;
};

}  // namespace s3cryptfs
