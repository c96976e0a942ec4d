#include "s3cryptfs/keys/passphrase.h"

#include <cstdlib>

#include "wrap_support.h"

namespace s3cryptfs::keys {

namespace {
constexpr size_t kMaxPassphraseFileSize = size_t{64} * 1024;

Status checkNotEmpty(const SecureBuffer& secret, const std::string& where) {
  if (secret.empty()) return Error(ErrorKind::kInvalidArgument, "empty passphrase from " + where);
  return ok();
}

// Everything up to the first line ending ("\n" or "\r\n").
SecureBuffer firstLine(const SecureBuffer& content) {
  size_t end = 0;
  while (end < content.size() && content.data()[end] != '\n')
    ++end;
  if (end > 0 && content.data()[end - 1] == '\r') --end;
  return SecureBuffer(content.span().first(end));
}

class TerminalSource final : public PassphraseSource {
 public:
  explicit TerminalSource(std::string prompt) : prompt_(std::move(prompt)) {}
  Result<SecureBuffer> read(bool confirm) override {
    S3C_ASSIGN_OR_RETURN(SecureBuffer first, detail::promptNoEcho(prompt_));
    S3C_RETURN_IF_ERROR(checkNotEmpty(first, describe()));
    if (!confirm) return first;
    S3C_ASSIGN_OR_RETURN(SecureBuffer second, detail::promptNoEcho("Repeat: "));
    if (!first.equals(second)) {
      return Error(ErrorKind::kInvalidArgument, "the two entries do not match");
    }
    return first;
  }
  std::string describe() const override { return "terminal"; }

 private:
  std::string prompt_;
};

class FileSource final : public PassphraseSource {
 public:
  explicit FileSource(std::string path) : path_(std::move(path)) {}
  Result<SecureBuffer> read(bool /*confirm*/) override {
    S3C_ASSIGN_OR_RETURN(SecureBuffer content,
                         detail::readSecretFile(path_, kMaxPassphraseFileSize));
    SecureBuffer line = firstLine(content);
    S3C_RETURN_IF_ERROR(checkNotEmpty(line, describe()));
    return line;
  }
  std::string describe() const override { return "file " + path_; }

 private:
  std::string path_;
};

class EnvSource final : public PassphraseSource {
 public:
  explicit EnvSource(std::string variable) : variable_(std::move(variable)) {}
  Result<SecureBuffer> read(bool /*confirm*/) override {
    // Read once at unlock, before any thread could call setenv.
    const char* value = std::getenv(variable_.c_str());  // NOLINT(concurrency-mt-unsafe)
    if (value == nullptr) {
      return Error(ErrorKind::kNotFound, "environment variable " + variable_ + " is not set");
    }
    SecureBuffer secret(asBytes(value));
    S3C_RETURN_IF_ERROR(checkNotEmpty(secret, describe()));
    return secret;
  }
  std::string describe() const override { return "environment variable " + variable_; }

 private:
  std::string variable_;
};

class FixedSource final : public PassphraseSource {
 public:
  explicit FixedSource(SecureBuffer secret) : secret_(std::move(secret)) {}
  Result<SecureBuffer> read(bool /*confirm*/) override {
    S3C_RETURN_IF_ERROR(checkNotEmpty(secret_, describe()));
    return secret_.clone();
  }
  std::string describe() const override { return "caller"; }

 private:
  SecureBuffer secret_;
};
}  // namespace

PassphraseSource::~PassphraseSource() = default;

std::unique_ptr<PassphraseSource> terminalPassphrase(std::string prompt) {
  return std::make_unique<TerminalSource>(std::move(prompt));
}
std::unique_ptr<PassphraseSource> filePassphrase(std::string path) {
  return std::make_unique<FileSource>(std::move(path));
}
std::unique_ptr<PassphraseSource> envPassphrase(std::string variable) {
  return std::make_unique<EnvSource>(std::move(variable));
}
std::unique_ptr<PassphraseSource> fixedPassphrase(SecureBuffer secret) {
  return std::make_unique<FixedSource>(std::move(secret));
}

}  // namespace s3cryptfs::keys
