#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "s3cryptfs/core/bytes.h"
#include "s3cryptfs/core/result.h"

namespace s3cryptfs::http {

// Header names as sent; lookups are case-insensitive.
using Headers = std::vector<std::pair<std::string, std::string>>;

struct Request {
  std::string method;  // GET, PUT, HEAD, POST, DELETE
  std::string url;     // absolute, already percent-encoded
  Headers headers;
  ByteSpan body;  // not owned: must outlive send()
};

struct Response {
  int status = 0;
  Headers headers;  // names lower-cased
  Bytes body;
  // The first header with this (lower-case) name, or nullptr.
  const std::string* header(std::string_view lower_name) const;
};

struct ClientOptions {
  size_t max_connections = 16;  // concurrent requests in flight; more callers wait
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds request_timeout{60000};  // whole request; a stalled transfer aborts
  // A transfer that moves less than 1 byte/s for this long is aborted as stalled (kTransient),
  // long before request_timeout runs out on a big object.
  std::chrono::milliseconds stall_timeout{30000};
  // A response body longer than this aborts the request (kIo): bounds the memory a broken or
  // hostile server can make us allocate. 0: unlimited (object GETs are bounded by their range).
  size_t max_response_body = 0;
  std::string ca_bundle;              // empty: the system's
  bool insecure_skip_verify = false;  // tests only; logged loudly when set
};

// Sends HTTP requests over reused connections. Safe from many threads.
// A transport failure (refused, reset, timeout, truncated body) is kTransient with a message
// naming the host; an HTTP error status is not an error here: callers read Response::status.
class HttpClient {
 public:
  virtual ~HttpClient() = default;
  virtual Result<Response> send(const Request& request) = 0;
};

}  // namespace s3cryptfs::http
