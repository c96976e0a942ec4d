#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace s3cryptfs {

// Bytes that must never reach swap, a core dump or freed memory: keys, passphrases, PINs.
// The pages are mlock'ed (best effort; a failure is counted, see lockFailures()), marked
// MADV_DONTDUMP, and zeroised before they are released. Move-only.
class SecureBuffer {
 public:
  SecureBuffer() = default;
  explicit SecureBuffer(size_t size);
  SecureBuffer(std::span<const uint8_t> bytes);  // NOLINT(google-explicit-constructor)
  ~SecureBuffer();
  SecureBuffer(SecureBuffer&& other) noexcept;
  SecureBuffer& operator=(SecureBuffer&& other) noexcept;
  SecureBuffer(const SecureBuffer&) = delete;
  SecureBuffer& operator=(const SecureBuffer&) = delete;

  SecureBuffer clone() const { return SecureBuffer(span()); }

  uint8_t* data() { return data_; }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  std::span<const uint8_t> span() const { return {data_, size_}; }
  std::span<uint8_t> mutableSpan() { return {data_, size_}; }

  // Constant-time comparison.
  bool equals(const SecureBuffer& other) const;

  // How many allocations could not be mlock'ed (RLIMIT_MEMLOCK too small).
  static size_t lockFailures();

 private:
  void release();
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
  size_t mapped_ = 0;
};

// Zeroises memory in a way the compiler cannot elide.
void secureZero(void* p, size_t n);

}  // namespace s3cryptfs
