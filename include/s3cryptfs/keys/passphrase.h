#pragma once

#include <memory>
#include <string>

#include "s3cryptfs/core/result.h"
#include "s3cryptfs/core/secure_buffer.h"

namespace s3cryptfs::keys {

// Where a passphrase (or a PIN) comes from. Never from argv: a command line is visible to every
// user of the host through /proc.
class PassphraseSource {
 public:
  PassphraseSource() = default;
  virtual ~PassphraseSource();
  PassphraseSource(const PassphraseSource&) = delete;
  PassphraseSource& operator=(const PassphraseSource&) = delete;
  PassphraseSource(PassphraseSource&&) = delete;
  PassphraseSource& operator=(PassphraseSource&&) = delete;
  // confirm: a new secret is being set (init, add protector); an interactive source asks twice
  // and fails with kInvalidArgument on a mismatch. An empty secret is kInvalidArgument.
  virtual Result<SecureBuffer> read(bool confirm) = 0;
  // For messages: "terminal", "file /path", "environment variable NAME". Never the secret.
  virtual std::string describe() const = 0;
};

// Prompts on /dev/tty with echo off (the prompt text is shown as given).
std::unique_ptr<PassphraseSource> terminalPassphrase(std::string prompt);
// The first line of the file, its line ending stripped.
std::unique_ptr<PassphraseSource> filePassphrase(std::string path);
// The value of the environment variable.
std::unique_ptr<PassphraseSource> envPassphrase(std::string variable);
// A fixed secret (tests, and callers that already asked).
std::unique_ptr<PassphraseSource> fixedPassphrase(SecureBuffer secret);

}  // namespace s3cryptfs::keys
