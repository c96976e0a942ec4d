#include "s3cryptfs/http/curl_http_client.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <charconv>
#include <cstring>
#include <string>

#include <curl/curl.h>

#include "s3cryptfs/core/log.h"

#include "url_parts.h"

namespace s3cryptfs::http {
namespace {

std::once_flag g_global_init;
CURLcode g_global_init_result = CURLE_OK;
std::once_flag g_insecure_warning;

std::string toLower(std::string_view text) {
  std::string out(text);
  for (char& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The most a Content-Length header may pre-allocate when the client has no body limit.
constexpr uint64_t kMaxBodyReserve = uint64_t{64} << 20;

struct Transfer {
  const Request* request = nullptr;
  size_t body_offset = 0;
  size_t max_body = 0;  // 0: unlimited
  bool body_too_large = false;
  Response response;
};

size_t writeBody(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  size_t n = size * count;
  if (transfer->max_body != 0 && n > transfer->max_body - transfer->response.body.size()) {
    transfer->body_too_large = true;
    return 0;  // curl aborts the transfer with CURLE_WRITE_ERROR
  }
  transfer->response.body.insert(transfer->response.body.end(), data, data + n);
  return n;
}

size_t readBody(char* buffer, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  ByteSpan body = transfer->request->body;
  size_t n = std::min(size * count, body.size() - transfer->body_offset);
  if (n > 0) std::memcpy(buffer, body.data() + transfer->body_offset, n);
  transfer->body_offset += n;
  return n;
}

// curl rewinds on a retried send over a reused connection that the server had closed.
int seekBody(void* user, curl_off_t offset, int origin) {
  auto* transfer = static_cast<Transfer*>(user);
  if (origin != SEEK_SET || offset < 0 ||
      static_cast<size_t>(offset) > transfer->request->body.size()) {
    return CURL_SEEKFUNC_CANTSEEK;
  }
  transfer->body_offset = static_cast<size_t>(offset);
  return CURL_SEEKFUNC_OK;
}

size_t readHeader(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  size_t n = size * count;
  std::string_view line(data, n);
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n'))
    line.remove_suffix(1);
  if (line.starts_with("HTTP/")) {
    // A new status line (after 100 Continue): only the final response's headers count.
    transfer->response.headers.clear();
    return n;
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return n;
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
    value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t'))
    value.remove_suffix(1);
  std::string name = toLower(line.substr(0, colon));
  if (name == "content-length" && transfer->request->method != "HEAD") {
    // The body's buffer is sized once: growing it by doubling would copy a large body several
    // times and leave up to twice its size allocated (bounded by the body limit).
    uint64_t length = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), length);
    uint64_t cap = transfer->max_body != 0 ? transfer->max_body : kMaxBodyReserve;
    if (ec == std::errc() && end == value.data() + value.size()) {
      transfer->response.body.reserve(static_cast<size_t>(std::min<uint64_t>(length, cap)));
    }
  }
  transfer->response.headers.emplace_back(std::move(name), std::string(value));
  return n;
}

ErrorKind kindOf(CURLcode code) {
  switch (code) {
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_PEER_FAILED_VERIFICATION:
      return ErrorKind::kInvalidArgument;  // configuration: retrying cannot help
    case CURLE_OUT_OF_MEMORY:
      return ErrorKind::kInternal;
    default:
      return ErrorKind::kTransient;
  }
}

std::string whatHappened(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_CONNECT:
      return "connection refused or unreachable";
    case CURLE_COULDNT_RESOLVE_HOST:
      return "host name not resolved";
    case CURLE_OPERATION_TIMEDOUT:
      return "timed out or stalled";
    case CURLE_PARTIAL_FILE:
      return "response body truncated (shorter than Content-Length)";
    case CURLE_RECV_ERROR:
      return "connection reset while receiving";
    case CURLE_SEND_ERROR:
      return "connection reset while sending";
    case CURLE_GOT_NOTHING:
      return "server closed the connection without a response";
    default:
      return curl_easy_strerror(code);
  }
}

}  // namespace

struct CurlHttpClient::Shared {
  CURLSH* share = nullptr;
  std::array<std::mutex, CURL_LOCK_DATA_LAST> locks;
  std::atomic<size_t> connections_opened{0};

  static void lock(CURL*, curl_lock_data data, curl_lock_access, void* user) {
    static_cast<Shared*>(user)->locks.at(static_cast<size_t>(data)).lock();
  }
  static void unlock(CURL*, curl_lock_data data, void* user) {
    static_cast<Shared*>(user)->locks.at(static_cast<size_t>(data)).unlock();
  }
};

// One easy handle: its connection cache lives as long as it does, so reusing the handle reuses
// the connection (keep-alive).
struct CurlHttpClient::Handle {
  CURL* easy = nullptr;
  ~Handle() {
    if (easy != nullptr) curl_easy_cleanup(easy);
  }
};

Result<std::unique_ptr<HttpClient>> CurlHttpClient::create(ClientOptions options) {
  if (options.max_connections == 0) {
    return Error(ErrorKind::kInvalidArgument, "http: max_connections must be at least 1");
  }
  if (options.connect_timeout.count() <= 0 || options.request_timeout.count() <= 0) {
    return Error(ErrorKind::kInvalidArgument, "http: timeouts must be positive");
  }
  auto client = std::make_unique<CurlHttpClient>(std::move(options));
  if (g_global_init_result != CURLE_OK) {
    return Error(ErrorKind::kInternal, std::string("http: curl_global_init failed: ") +
                                           curl_easy_strerror(g_global_init_result));
  }
  return std::unique_ptr<HttpClient>(std::move(client));
}

CurlHttpClient::CurlHttpClient(ClientOptions options)
    : options_(std::move(options)), shared_(std::make_unique<Shared>()) {
  options_.max_connections = std::max<size_t>(options_.max_connections, 1);
  std::call_once(g_global_init,
                 [] { g_global_init_result = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (options_.insecure_skip_verify) {
    std::call_once(g_insecure_warning, [] {
      log::warn("http: TLS certificate verification is OFF (insecure_skip_verify): tests only");
    });
  }
  shared_->share = curl_share_init();
  if (shared_->share != nullptr) {
    curl_share_setopt(shared_->share, CURLSHOPT_LOCKFUNC, &Shared::lock);
    curl_share_setopt(shared_->share, CURLSHOPT_UNLOCKFUNC, &Shared::unlock);
    curl_share_setopt(shared_->share, CURLSHOPT_USERDATA, shared_.get());
    curl_share_setopt(shared_->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(shared_->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  }
}

CurlHttpClient::~CurlHttpClient() {
  // Handles must go before the share they use.
  idle_.clear();
  if (shared_->share != nullptr) curl_share_cleanup(shared_->share);
}

size_t CurlHttpClient::connectionsOpened() const {
  return shared_->connections_opened.load();
}

std::unique_ptr<CurlHttpClient::Handle> CurlHttpClient::acquire() {
  std::unique_lock lock(mutex_);
  available_.wait(lock, [&] { return in_flight_ < options_.max_connections; });
  ++in_flight_;
  if (!idle_.empty()) {
    // Most recently used first: its connection is the likeliest to be alive.
    auto handle = std::move(idle_.back());
    idle_.pop_back();
    return handle;
  }
  lock.unlock();
  auto handle = std::make_unique<Handle>();
  handle->easy = curl_easy_init();
  return handle;
}

void CurlHttpClient::release(std::unique_ptr<Handle> handle) {
  {
    std::lock_guard lock(mutex_);
    --in_flight_;
    if (handle != nullptr && handle->easy != nullptr) idle_.push_back(std::move(handle));
  }
  available_.notify_one();
}

Result<Response> CurlHttpClient::send(const Request& request) {
  auto url = parseUrl(request.url);
  if (!url) return url.error().withContext("http");
  std::string endpoint = url->scheme + "://" + url->host_header;
  for (const auto& [name, value] : request.headers) {
    // A CR or LF would let a value (e.g. user metadata) inject headers into the request.
    if (name.empty() || name.find_first_of("\r\n:") != std::string::npos ||
        value.find_first_of("\r\n") != std::string::npos) {
      return Error(ErrorKind::kInvalidArgument, "http: " + request.method + " " + endpoint +
                                                    ": header '" +
                                                    name.substr(0, name.find_first_of("\r\n")) +
                                                    "' has a line break or a bad name");
    }
  }

  std::unique_ptr<Handle> handle = acquire();
  if (handle->easy == nullptr) {
    release(nullptr);
    return Error(ErrorKind::kInternal, "http: curl_easy_init failed");
  }
  CURL* easy = handle->easy;
  // Reset keeps the handle's live connections and caches, drops every option of the last use.
  curl_easy_reset(easy);

  Transfer transfer;
  transfer.request = &request;
  transfer.max_body = options_.max_response_body;
  curl_slist* headers = nullptr;
  bool has_expect = false;
  for (const auto& [name, value] : request.headers) {
    std::string lower = toLower(name);
    if (lower == "expect") has_expect = true;
    // "Name:" alone would remove a header in curl; "Name;" sends it empty.
    std::string line = value.empty() ? name + ";" : name + ": " + value;
    headers = curl_slist_append(headers, line.c_str());
  }
  // 100-continue costs a round trip per upload and confuses simple servers.
  if (!has_expect) headers = curl_slist_append(headers, "Expect:");

  curl_easy_setopt(easy, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_SHARE, shared_->share);
  curl_easy_setopt(easy, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(options_.connect_timeout.count()));
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.request_timeout.count()));
  long stall_seconds = std::max<long>(1, static_cast<long>(options_.stall_timeout.count() / 1000));
  curl_easy_setopt(easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(easy, CURLOPT_LOW_SPEED_TIME, stall_seconds);
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
  // Object keys may hold "." and ".." components: send the path as signed, never squashed.
  curl_easy_setopt(easy, CURLOPT_PATH_AS_IS, 1L);
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &readHeader);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, &transfer);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &writeBody);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &transfer);
  if (!options_.ca_bundle.empty())
    curl_easy_setopt(easy, CURLOPT_CAINFO, options_.ca_bundle.c_str());
  if (options_.insecure_skip_verify) {
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 0L);
  }

  if (request.method == "GET") {
    curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
  } else if (request.method == "HEAD") {
    curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
  } else if (request.method == "PUT" || request.method == "POST" || !request.body.empty()) {
    // The body streams from the caller's span (no copy); an explicit size gives Content-Length,
    // including "Content-Length: 0" for an empty PUT, never chunked encoding.
    curl_easy_setopt(easy, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(easy, CURLOPT_READFUNCTION, &readBody);
    curl_easy_setopt(easy, CURLOPT_READDATA, &transfer);
    curl_easy_setopt(easy, CURLOPT_SEEKFUNCTION, &seekBody);
    curl_easy_setopt(easy, CURLOPT_SEEKDATA, &transfer);
    curl_easy_setopt(easy, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    if (request.method != "PUT")
      curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  } else {
    curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }

  CURLcode code = curl_easy_perform(easy);
  long status = 0;
  long new_connections = 0;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_getinfo(easy, CURLINFO_NUM_CONNECTS, &new_connections);
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, nullptr);
  curl_slist_free_all(headers);
  shared_->connections_opened += static_cast<size_t>(std::max(0L, new_connections));

  if (code != CURLE_OK) {
    // A handle whose transfer failed may hold a broken connection: curl closes it, but drop the
    // handle anyway so no state of a failed transfer leaks into the next request.
    handle.reset();
    release(nullptr);
    if (transfer.body_too_large) {
      return Error(ErrorKind::kIo, "http: " + request.method + " " + endpoint +
                                       ": response body larger than the limit of " +
                                       std::to_string(options_.max_response_body) + " bytes");
    }
    std::string message = "http: " + request.method + " " + endpoint + ": " + whatHappened(code);
    log::debug("{}", message);
    return Error(kindOf(code), std::move(message));
  }
  release(std::move(handle));
  transfer.response.status = static_cast<int>(status);
  return std::move(transfer.response);
}

const std::string* Response::header(std::string_view lower_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_name) return &value;
  }
  return nullptr;
}

}  // namespace s3cryptfs::http
