#include "s3cryptfs/core/error.h"

namespace s3cryptfs {

std::string_view errorKindName(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kNotFound:
      return "not found";
    case ErrorKind::kAlreadyExists:
      return "already exists";
    case ErrorKind::kNotEmpty:
      return "not empty";
    case ErrorKind::kNotDirectory:
      return "not a directory";
    case ErrorKind::kIsDirectory:
      return "is a directory";
    case ErrorKind::kPermissionDenied:
      return "permission denied";
    case ErrorKind::kInvalidArgument:
      return "invalid argument";
    case ErrorKind::kNameTooLong:
      return "name too long";
    case ErrorKind::kUnsupported:
      return "unsupported";
    case ErrorKind::kCorrupt:
      return "corrupt";
    case ErrorKind::kPreconditionFailed:
      return "precondition failed";
    case ErrorKind::kTransient:
      return "transient";
    case ErrorKind::kThrottled:
      return "throttled";
    case ErrorKind::kNoSpace:
      return "no space";
    case ErrorKind::kIo:
      return "i/o error";
    case ErrorKind::kCancelled:
      return "cancelled";
    case ErrorKind::kInternal:
      return "internal error";
  }
  return "unknown";
}

int defaultErrno(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kNotFound:
      return ENOENT;
    case ErrorKind::kAlreadyExists:
      return EEXIST;
    case ErrorKind::kNotEmpty:
      return ENOTEMPTY;
    case ErrorKind::kNotDirectory:
      return ENOTDIR;
    case ErrorKind::kIsDirectory:
      return EISDIR;
    case ErrorKind::kPermissionDenied:
      return EACCES;
    case ErrorKind::kInvalidArgument:
      return EINVAL;
    case ErrorKind::kNameTooLong:
      return ENAMETOOLONG;
    case ErrorKind::kUnsupported:
      return ENOTSUP;
    case ErrorKind::kCorrupt:
      return EIO;
    case ErrorKind::kPreconditionFailed:
      return EIO;
    case ErrorKind::kTransient:
      return EIO;
    case ErrorKind::kThrottled:
      return EIO;
    case ErrorKind::kNoSpace:
      return ENOSPC;
    case ErrorKind::kIo:
      return EIO;
    case ErrorKind::kCancelled:
      return EINTR;
    case ErrorKind::kInternal:
      return EIO;
  }
  return EIO;
}

Error::Error(ErrorKind kind, std::string message)
    : Error(kind, defaultErrno(kind), std::move(message)) {}

Error::Error(ErrorKind kind, int errno_value, std::string message)
    : kind_(kind), errno_(errno_value), message_(std::move(message)) {}

Error Error::withContext(std::string_view where) const {
  Error copy = *this;
  copy.message_ = std::string(where) + ": " + message_;
  return copy;
}

std::string Error::describe() const {
  std::string out(errorKindName(kind_));
  out += ": ";
  out += message_;
  if (!service_code_.empty()) {
    out += " (" + service_code_;
    if (http_status_ != 0) out += ", HTTP " + std::to_string(http_status_);
    out += ")";
  }
  return out;
}

}  // namespace s3cryptfs
