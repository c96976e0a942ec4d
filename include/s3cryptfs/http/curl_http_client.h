#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <vector>

#include "s3cryptfs/core/result.h"
#include "s3cryptfs/http/http_client.h"

namespace s3cryptfs::http {

// HttpClient over libcurl. Easy handles are pooled and reused, and each keeps its connections
// alive, so at most max_connections requests (and, per host, about as many connections) are in
// flight; further callers wait for a free handle. DNS results are shared between handles.
class CurlHttpClient final : public HttpClient {
 public:
  static Result<std::unique_ptr<HttpClient>> create(ClientOptions options);

  // Prefer create(), which checks the options; this clamps max_connections to at least 1.
  explicit CurlHttpClient(ClientOptions options);
  ~CurlHttpClient() override;
  CurlHttpClient(const CurlHttpClient&) = delete;
  CurlHttpClient& operator=(const CurlHttpClient&) = delete;

  Result<Response> send(const Request& request) override;

  // Connections opened so far (tests and metrics: proves reuse).
  size_t connectionsOpened() const;

 private:
  struct Handle;
  struct Shared;
  std::unique_ptr<Handle> acquire();
  void release(std::unique_ptr<Handle> handle);

  ClientOptions options_;
  std::unique_ptr<Shared> shared_;
  mutable std::mutex mutex_;
  std::condition_variable available_;
  std::vector<std::unique_ptr<Handle>> idle_;
  size_t in_flight_ = 0;
};

}  // namespace s3cryptfs::http
