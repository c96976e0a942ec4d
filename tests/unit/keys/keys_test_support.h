#pragma once

#include <arpa/inet.h>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <netinet/in.h>
#include <string>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "s3cryptfs/core/bytes.h"
#include "s3cryptfs/core/secure_buffer.h"
#include "s3cryptfs/keys/key_protector.h"

namespace s3cryptfs::keys::testing {

// A fresh directory under TMPDIR, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "s3c-keys-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data()) != nullptr ? pattern : std::string();
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  std::string write(const std::string& name, const std::string& content, mode_t mode = 0600) const {
    std::string p = file(name);
    std::ofstream(p, std::ios::binary) << content;
    ::chmod(p.c_str(), mode);
    return p;
  }

 private:
  std::string path_;
};

// A loopback port nobody listens on (bound, learnt, closed): connections to it are refused.
inline uint16_t unusedLoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    std::abort();  // the test machine has no loopback: nothing here can run
  }
  ::close(fd);
  return ntohs(address.sin_port);
}

inline SecureBuffer testVolumeKey(uint8_t seed = 0x11) {
  SecureBuffer key(kVolumeKeySize);
  for (size_t i = 0; i < key.size(); ++i)
    key.data()[i] = static_cast<uint8_t>(seed + i * 7);
  return key;
}

inline KeyContext testContext() {
  return KeyContext{"00112233445566778899aabbccddeeff", 1};
}
inline KeyContext otherVolume() {
  return KeyContext{"ffeeddccbbaa99887766554433221100", 1};
}
inline KeyContext otherVersion() {
  return KeyContext{"00112233445566778899aabbccddeeff", 2};
}

inline WrappedKey tampered(WrappedKey wrapped, size_t position) {
  wrapped.wrapped.at(position % wrapped.wrapped.size()) ^= 0x01;
  return wrapped;
}

}  // namespace s3cryptfs::keys::testing
