#include "wrap_support.h"

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "s3cryptfs/crypto/aead.h"
#include "s3cryptfs/crypto/kdf.h"
#include "s3cryptfs/crypto/random.h"

namespace s3cryptfs::keys::detail {

namespace {
constexpr std::string_view kAadLabel = "s3cryptfs keywrap v1";
constexpr size_t kSealedSize = crypto::kAeadNonceSize + kVolumeKeySize + crypto::kAeadTagSize;
constexpr size_t kMaxPromptLength = 1024;

// Closes a descriptor on every path out.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd(Fd&&) = delete;
  Fd& operator=(Fd&&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

Error fileError(int err, const std::string& what, const std::string& path) {
  ErrorKind kind = ErrorKind::kIo;
  if (err == ENOENT || err == ENOTDIR) kind = ErrorKind::kNotFound;
  if (err == EACCES || err == EPERM) kind = ErrorKind::kPermissionDenied;
  return Error(kind, err, what + " " + path + ": " + errnoText(err));
}
}  // namespace

std::string errnoText(int err) {
  char buffer[256];
  // The GNU strerror_r returns the message, in the buffer or in static storage.
  return ::strerror_r(err, buffer, sizeof buffer);
}

Bytes contextAad(std::string_view type, const KeyContext& context) {
  Bytes aad;
  aad.reserve(kAadLabel.size() + type.size() + context.volume_id_hex.size() + 8);
  aad.insert(aad.end(), kAadLabel.begin(), kAadLabel.end());
  aad.push_back(0);
  aad.insert(aad.end(), type.begin(), type.end());
  aad.push_back(0);
  aad.insert(aad.end(), context.volume_id_hex.begin(), context.volume_id_hex.end());
  aad.push_back(0);
  putU32(aad, context.key_version);
  return aad;
}

Result<SecureBuffer> deriveKek(const SecureBuffer& secret, std::string_view label) {
  return crypto::hkdfSha256(secret, {}, asBytes(label), crypto::kAeadKeySize);
}

Status checkVolumeKey(const SecureBuffer& volume_key) {
  if (volume_key.size() != kVolumeKeySize) {
    return Error(ErrorKind::kInvalidArgument,
                 "a volume key must be " + std::to_string(kVolumeKeySize) + " bytes");
  }
  return ok();
}

Status checkType(const WrappedKey& wrapped, std::string_view type) {
  if (wrapped.type != type) {
    return Error(ErrorKind::kInvalidArgument, "a " + std::string(type) +
                                                  " protector cannot unwrap a copy of type '" +
                                                  wrapped.type + "'");
  }
  return ok();
}

Result<Bytes> sealVolumeKey(const SecureBuffer& kek, std::string_view type,
                            const KeyContext& context, const SecureBuffer& volume_key) {
  S3C_RETURN_IF_ERROR(checkVolumeKey(volume_key));
  S3C_ASSIGN_OR_RETURN(auto aead, crypto::Aead::create(crypto::Cipher::kAes256Gcm, kek));
  Bytes sealed(kSealedSize);
  MutableByteSpan nonce(sealed.data(), crypto::kAeadNonceSize);
  S3C_RETURN_IF_ERROR(crypto::fillRandom(nonce));
  Bytes aad = contextAad(type, context);
  S3C_RETURN_IF_ERROR(aead.seal(nonce, aad, volume_key.span(),
                                MutableByteSpan(sealed.data() + crypto::kAeadNonceSize,
                                                kVolumeKeySize + crypto::kAeadTagSize)));
  return sealed;
}

Result<SecureBuffer> openVolumeKey(const SecureBuffer& kek, std::string_view type,
                                   const KeyContext& context, ByteSpan sealed,
                                   std::string_view denied_message) {
  if (sealed.size() != kSealedSize) {
    return Error(ErrorKind::kCorrupt, "wrapped " + std::string(type) + " key has " +
                                          std::to_string(sealed.size()) + " bytes, expected " +
                                          std::to_string(kSealedSize));
  }
  S3C_ASSIGN_OR_RETURN(auto aead, crypto::Aead::create(crypto::Cipher::kAes256Gcm, kek));
  SecureBuffer volume_key(kVolumeKeySize);
  Bytes aad = contextAad(type, context);
  auto opened = aead.open(sealed.first(crypto::kAeadNonceSize), aad,
                          sealed.subspan(crypto::kAeadNonceSize), volume_key.mutableSpan());
  if (!opened) {
    if (opened.error().kind() == ErrorKind::kCorrupt) {
      return Error(ErrorKind::kPermissionDenied, std::string(denied_message));
    }
    return std::move(opened).error();
  }
  return volume_key;
}

Result<uint64_t> paramU64(const std::map<std::string, std::string>& params, const std::string& name,
                          uint64_t min, uint64_t max) {
  auto it = params.find(name);
  if (it == params.end()) {
    return Error(ErrorKind::kCorrupt, "wrapped key lacks parameter '" + name + "'");
  }
  uint64_t value = 0;
  const std::string& text = it->second;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < min || value > max) {
    return Error(ErrorKind::kCorrupt, "wrapped key parameter '" + name + "' is invalid: '" + text +
                                          "' (expected " + std::to_string(min) + ".." +
                                          std::to_string(max) + ")");
  }
  return value;
}

Result<std::string> paramString(const std::map<std::string, std::string>& params,
                                const std::string& name) {
  auto it = params.find(name);
  if (it == params.end() || it->second.empty()) {
    return Error(ErrorKind::kCorrupt, "wrapped key lacks parameter '" + name + "'");
  }
  return it->second;
}

Result<SecureBuffer> readSecretFile(const std::string& path, size_t max_size) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (fd.get() < 0) return fileError(errno, "cannot open", path);
  // One byte more than allowed, to tell "too big" from "exactly max".
  SecureBuffer buffer(max_size + 1);
  size_t used = 0;
  while (used < buffer.size()) {
    ssize_t n = ::read(fd.get(), buffer.data() + used, buffer.size() - used);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fileError(errno, "cannot read", path);
    }
    if (n == 0) break;
    used += static_cast<size_t>(n);
  }
  if (used > max_size) {
    return Error(ErrorKind::kInvalidArgument,
                 path + " is larger than " + std::to_string(max_size) + " bytes");
  }
  return SecureBuffer(buffer.span().first(used));
}

Result<SecureBuffer> promptNoEcho(std::string_view prompt) {
  Fd tty(::open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY));
  if (tty.get() < 0) {
    return Error(ErrorKind::kInvalidArgument, errno,
                 "no terminal to prompt on (use a file or an environment variable instead)");
  }
  termios saved{};
  if (::tcgetattr(tty.get(), &saved) != 0) {
    return Error(ErrorKind::kInvalidArgument, errno, "cannot switch the terminal echo off");
  }
  termios quiet = saved;
  quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO | ECHONL);
  quiet.c_lflag |= ICANON;
  if (::write(tty.get(), prompt.data(), prompt.size()) < 0 ||
      ::tcsetattr(tty.get(), TCSAFLUSH, &quiet) != 0) {
    return Error(ErrorKind::kIo, errno, "cannot prompt on the terminal");
  }
  SecureBuffer line(kMaxPromptLength);
  size_t used = 0;
  bool complete = false;
  while (true) {
    char c = 0;
    ssize_t n = ::read(tty.get(), &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (c == '\n' || c == '\r') {
      complete = true;
      break;
    }
    if (used < line.size()) line.data()[used++] = static_cast<uint8_t>(c);
  }
  ::tcsetattr(tty.get(), TCSAFLUSH, &saved);
  (void)!::write(tty.get(), "\n", 1);
  if (!complete) return Error(ErrorKind::kCancelled, "input ended before a line was entered");
  if (used >= line.size()) {
    return Error(ErrorKind::kInvalidArgument,
                 "input longer than " + std::to_string(kMaxPromptLength - 1) + " characters");
  }
  return SecureBuffer(line.span().first(used));
}

}  // namespace s3cryptfs::keys::detail
