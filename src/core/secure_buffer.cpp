#include "s3cryptfs/core/secure_buffer.h"

#include <atomic>
#include <cstring>
#include <new>
#include <sys/mman.h>
#include <unistd.h>

namespace s3cryptfs {
namespace {
std::atomic<size_t> g_lock_failures{0};

size_t pageSize() {
  static const size_t kPage = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return kPage;
}
}  // namespace

void secureZero(void* p, size_t n) {
  if (p != nullptr && n > 0) explicit_bzero(p, n);
}

SecureBuffer::SecureBuffer(size_t size) : size_(size) {
  if (size == 0) return;
  // Whole pages of our own, so mlock and MADV_DONTDUMP cover nothing but secrets.
  mapped_ = (size + pageSize() - 1) / pageSize() * pageSize();
  void* p = mmap(nullptr, mapped_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();  // out of memory is fatal, as for new
  if (mlock(p, mapped_) != 0) g_lock_failures.fetch_add(1, std::memory_order_relaxed);
  madvise(p, mapped_, MADV_DONTDUMP);
  data_ = static_cast<uint8_t*>(p);
}

SecureBuffer::SecureBuffer(std::span<const uint8_t> bytes) : SecureBuffer(bytes.size()) {
  if (!bytes.empty()) std::memcpy(data_, bytes.data(), bytes.size());
}

SecureBuffer::~SecureBuffer() {
  release();
}

SecureBuffer::SecureBuffer(SecureBuffer&& other) noexcept
    : data_(other.data_), size_(other.size_), mapped_(other.mapped_) {
  other.data_ = nullptr;
  other.size_ = 0;
  other.mapped_ = 0;
}

SecureBuffer& SecureBuffer::operator=(SecureBuffer&& other) noexcept {
  if (this != &other) {
    release();
    data_ = other.data_;
    size_ = other.size_;
    mapped_ = other.mapped_;
    other.data_ = nullptr;
    other.size_ = 0;
    other.mapped_ = 0;
  }
  return *this;
}

void SecureBuffer::release() {
  if (data_ == nullptr) return;
  secureZero(data_, mapped_);
  munlock(data_, mapped_);
  munmap(data_, mapped_);
  data_ = nullptr;
  size_ = 0;
  mapped_ = 0;
}

bool SecureBuffer::equals(const SecureBuffer& other) const {
  if (size_ != other.size_) return false;
  uint8_t diff = 0;
  for (size_t i = 0; i < size_; ++i)
    diff |= static_cast<uint8_t>(data_[i] ^ other.data_[i]);
  return diff == 0;
}

size_t SecureBuffer::lockFailures() {
  return g_lock_failures.load(std::memory_order_relaxed);
}

}  // namespace s3cryptfs
