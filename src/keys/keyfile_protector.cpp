#include "s3cryptfs/keys/keyfile_protector.h"

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "s3cryptfs/core/log.h"
#include "s3cryptfs/crypto/random.h"

#include "wrap_support.h"

namespace s3cryptfs::keys {

namespace {
constexpr std::string_view kWrapLabel = "s3cryptfs keyfile wrap v1";
constexpr std::string_view kDenied = "key file does not unlock this volume";
// Room for base64 of 32 bytes with generous whitespace; anything bigger is not a key file.
constexpr size_t kMaxKeyFileSize = 4096;
}  // namespace

KeyProtector::~KeyProtector() = default;

Status generateKeyFile(const std::string& path) {
  S3C_ASSIGN_OR_RETURN(SecureBuffer key, crypto::randomKey(kKeyFileKeySize));
  // O_EXCL + O_NOFOLLOW: never replace an existing key (that would lock a volume out) and never
  // write through a symlink someone else planted.
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    int err = errno;
    ErrorKind kind = err == EEXIST                     ? ErrorKind::kAlreadyExists
                     : (err == EACCES || err == EPERM) ? ErrorKind::kPermissionDenied
                     : err == ENOENT                   ? ErrorKind::kNotFound
                                                       : ErrorKind::kIo;
    std::string why =
        err == EEXIST ? "it exists; a key file is never overwritten" : detail::errnoText(err);
    return Error(kind, err, "cannot create key file " + path + ": " + why);
  }
  std::string text = toBase64(key.span());
  text.push_back('\n');
  SecureBuffer secure_text(asBytes(text));
  secureZero(text.data(), text.size());
  size_t written = 0;
  int err = 0;
  while (written < secure_text.size()) {
    ssize_t n = ::write(fd, secure_text.data() + written, secure_text.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      err = errno;
      break;
    }
    written += static_cast<size_t>(n);
  }
  if (err == 0 && ::fsync(fd) != 0) err = errno;
  ::close(fd);
  if (err != 0) {
    ::unlink(path.c_str());
    return Error(ErrorKind::kIo, err,
                 "cannot write key file " + path + ": " + detail::errnoText(err));
  }
  return ok();
}

Result<SecureBuffer> readKeyFile(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    log::warn("key file {} is accessible by group or others (mode {:o}); chmod 600 it", path,
              st.st_mode & 07777);
  }
  S3C_ASSIGN_OR_RETURN(SecureBuffer content, detail::readSecretFile(path, kMaxKeyFileSize));
  if (content.size() == kKeyFileKeySize) return content;  // raw bytes
  Bytes decoded;
  bool decoded_ok = fromBase64(asChars(content.span()), decoded);
  SecureBuffer key(ByteSpan(decoded.data(), decoded.size()));
  secureZero(decoded.data(), decoded.size());
  if (!decoded_ok || key.size() != kKeyFileKeySize) {
    return Error(ErrorKind::kInvalidArgument,
                 "key file " + path + " holds neither 32 raw bytes nor their base64 text");
  }
  return key;
}

KeyFileProtector::KeyFileProtector(std::string path) : path_(std::move(path)) {}

Result<KeyFileProtector> KeyFileProtector::fromKey(SecureBuffer file_key) {
  if (file_key.size() != kKeyFileKeySize) {
    return Error(ErrorKind::kInvalidArgument, "a key file key must be 32 bytes");
  }
  KeyFileProtector protector("");
  protector.key_ = std::move(file_key);
  return protector;
}

Result<SecureBuffer> KeyFileProtector::fileKey() const {
  if (!key_.empty()) return key_.clone();
  return readKeyFile(path_);
}

Result<WrappedKey> KeyFileProtector::wrap(const SecureBuffer& volume_key,
                                          const KeyContext& context) {
  S3C_ASSIGN_OR_RETURN(SecureBuffer file_key, fileKey());
  S3C_ASSIGN_OR_RETURN(SecureBuffer kek, detail::deriveKek(file_key, kWrapLabel));
  WrappedKey out;
  out.type = type();
  out.params["kdf"] = "hkdf-sha256";
  S3C_ASSIGN_OR_RETURN(out.wrapped, detail::sealVolumeKey(kek, out.type, context, volume_key));
  return out;
}

Result<SecureBuffer> KeyFileProtector::unwrap(const WrappedKey& wrapped,
                                              const KeyContext& context) {
  S3C_RETURN_IF_ERROR(detail::checkType(wrapped, type()));
  if (auto kdf = wrapped.params.find("kdf");
      kdf != wrapped.params.end() && kdf->second != "hkdf-sha256") {
    return Error(ErrorKind::kCorrupt, "key file copy uses unknown kdf '" + kdf->second + "'");
  }
  S3C_ASSIGN_OR_RETURN(SecureBuffer file_key, fileKey());
  S3C_ASSIGN_OR_RETURN(SecureBuffer kek, detail::deriveKek(file_key, kWrapLabel));
  return detail::openVolumeKey(kek, type(), context, wrapped.wrapped, kDenied);
}

}  // namespace s3cryptfs::keys
