#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "s3cryptfs/core/result.h"

namespace s3cryptfs::app {

// Exposes the global metrics registry (core/metrics.h) of a mount, in the Prometheus text
// format, in the two ways the configuration may ask for:
// - metrics.listen "HOST:PORT": a small HTTP/1.1 listener of our own answering GET /metrics
//   (one connection at a time, bounded request size and time; anything else gets 404/405);
// - metrics.file PATH: the same text written (atomically, mode 0644) on SIGUSR1 and at unmount.
// Neither holds anything secret: counts and sizes only.
class MetricsReporter {
 public:
  // Binds the listener (when `listen` is set) and starts the reporter's thread. Errors:
  // kInvalidArgument (a malformed HOST:PORT), kIo (the address cannot be bound).
  static Result<std::unique_ptr<MetricsReporter>> start(const std::string& listen,
                                                        const std::string& file);
  ~MetricsReporter();
  MetricsReporter(const MetricsReporter&) = delete;
  MetricsReporter& operator=(const MetricsReporter&) = delete;

  // The address the listener is bound to (with the port the kernel chose for port 0), or "".
  const std::string& address() const { return address_; }
  // Writes metrics.file now (no-op when it is not set).
  Status writeFile() const;

 private:
  MetricsReporter(int listen_fd, std::string address, std::string file);
  void serve();
  void answer(int connection) const;

  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};  // the stop request and SIGUSR1 arrive here
  std::string address_;
  std::string file_;
  mutable std::mutex file_mutex_;  // SIGUSR1 (the reporter's thread) and unmount may meet
  std::thread thread_;
};

}  // namespace s3cryptfs::app
