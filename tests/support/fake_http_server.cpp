#include "support/fake_http_server.h"

#include <algorithm>
#include <arpa/inet.h>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace s3cryptfs::test {
namespace {

std::string lower(std::string text) {
  for (char& c : text)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

bool sendAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

const char* reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 404:
      return "Not Found";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Status";
  }
}

}  // namespace

const std::string* ReceivedRequest::header(const std::string& lower_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_name) return &value;
  }
  return nullptr;
}

FakeHttpServer::FakeHttpServer() {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listen_fd_, 64) != 0) {
    std::perror("FakeHttpServer: cannot listen on 127.0.0.1");
    std::abort();
  }
  socklen_t len = sizeof addr;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  accept_thread_ = std::thread([this] { acceptLoop(); });
}

FakeHttpServer::~FakeHttpServer() {
  stop();
}

std::string FakeHttpServer::baseUrl() const {
  return "http://127.0.0.1:" + std::to_string(port_);
}

void FakeHttpServer::enqueue(Reply reply) {
  std::lock_guard lock(mutex_);
  script_.push_back(std::move(reply));
}

void FakeHttpServer::setDefault(Reply reply) {
  std::lock_guard lock(mutex_);
  default_reply_ = std::move(reply);
}

void FakeHttpServer::setHandler(std::function<Reply(const ReceivedRequest&)> handler) {
  std::lock_guard lock(mutex_);
  handler_ = std::move(handler);
}

std::vector<ReceivedRequest> FakeHttpServer::received() const {
  std::lock_guard lock(mutex_);
  return received_;
}

void FakeHttpServer::stop() {
  if (stopping_.exchange(true)) return;
  stop_cv_.notify_all();
  ::shutdown(listen_fd_, SHUT_RDWR);
  if (accept_thread_.joinable()) accept_thread_.join();
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mutex_);
    // Wakes connection threads blocked in recv; each thread closes its own fd.
    for (int fd : open_fds_)
      ::shutdown(fd, SHUT_RDWR);
    threads = std::move(threads_);
  }
  for (auto& thread : threads)
    thread.join();
  ::close(listen_fd_);
}

bool FakeHttpServer::waitStopFor(std::chrono::milliseconds duration) {
  std::unique_lock lock(mutex_);
  return stop_cv_.wait_for(lock, duration, [&] { return stopping_.load(); });
}

void FakeHttpServer::acceptLoop() {
  while (!stopping_) {
    pollfd pfd{listen_fd_, POLLIN, 0};
    int ready = ::poll(&pfd, 1, 50);
    if (ready <= 0) continue;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ++connections_;
    std::lock_guard lock(mutex_);
    if (stopping_) {
      ::close(fd);
      break;
    }
    open_fds_.push_back(fd);
    threads_.emplace_back([this, fd] { serve(fd); });
  }
}

Reply FakeHttpServer::nextReply(const ReceivedRequest& request) {
  std::lock_guard lock(mutex_);
  received_.push_back(request);
  if (!script_.empty()) {
    Reply reply = std::move(script_.front());
    script_.pop_front();
    return reply;
  }
  if (handler_) return handler_(request);
  return default_reply_;
}

void FakeHttpServer::serve(int fd) {
  std::string buffer;
  char chunk[16384];
  bool close_clean = true;
  auto readMore = [&]() -> bool {
    ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    buffer.append(chunk, static_cast<size_t>(n));
    return true;
  };
  while (!stopping_) {
    size_t header_end;
    while ((header_end = buffer.find("\r\n\r\n")) == std::string::npos) {
      if (!readMore()) goto done;
    }
    {
      ReceivedRequest request;
      std::string head = buffer.substr(0, header_end);
      buffer.erase(0, header_end + 4);
      size_t line_end = head.find("\r\n");
      std::string request_line = head.substr(0, line_end);
      size_t sp1 = request_line.find(' ');
      size_t sp2 = request_line.rfind(' ');
      request.method = request_line.substr(0, sp1);
      request.target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
      size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
      while (pos < head.size()) {
        size_t end = head.find("\r\n", pos);
        if (end == std::string::npos) end = head.size();
        std::string line = head.substr(pos, end - pos);
        pos = end + 2;
        size_t colon = line.find(':');
        if (colon == std::string::npos) continue;
        std::string value = line.substr(colon + 1);
        value.erase(0, value.find_first_not_of(" \t"));
        request.headers.emplace_back(lower(line.substr(0, colon)), value);
      }
      size_t content_length = 0;
      if (const std::string* cl = request.header("content-length")) {
        content_length = std::strtoull(cl->c_str(), nullptr, 10);
      }
      while (buffer.size() < content_length) {
        if (!readMore()) goto done;
      }
      request.body = buffer.substr(0, content_length);
      buffer.erase(0, content_length);
      ++requests_;

      Reply reply = nextReply(request);
      if (reply.behaviour == Reply::Behaviour::kReset) {
        linger hard{1, 0};
        ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
        close_clean = false;
        goto done;
      }
      if (reply.behaviour == Reply::Behaviour::kCloseOnly) goto done;
      if (reply.behaviour == Reply::Behaviour::kHang) {
        waitStopFor(std::chrono::hours(1));
        goto done;
      }
      std::string response =
          "HTTP/1.1 " + std::to_string(reply.status) + " " + reason(reply.status) + "\r\n";
      bool has_length = false;
      for (const auto& [name, value] : reply.headers) {
        if (lower(name) == "content-length") has_length = true;
        response += name + ": " + value + "\r\n";
      }
      if (!has_length) {
        response += "Content-Length: " +
                    (reply.content_length.empty() ? std::to_string(reply.body.size())
                                                  : reply.content_length) +
                    "\r\n";
      }
      response += "\r\n";
      bool head_request = request.method == "HEAD";
      size_t header_size = response.size();
      if (!head_request) response += reply.body;
      if (reply.behaviour == Reply::Behaviour::kTruncate) {
        response.resize(header_size + std::min(reply.truncate_to, reply.body.size()));
        sendAll(fd, response.data(), response.size());
        goto done;
      }
      if (reply.behaviour == Reply::Behaviour::kSlow) {
        for (size_t off = 0; off < response.size() && !stopping_; off += reply.slow_chunk) {
          size_t n = std::min(reply.slow_chunk, response.size() - off);
          if (!sendAll(fd, response.data() + off, n)) goto done;
          if (waitStopFor(reply.slow_delay)) goto done;
        }
        continue;
      }
      if (!sendAll(fd, response.data(), response.size())) goto done;
      if (!reply.content_length.empty()) goto done;  // a lying length: the stream is unusable
    }
  }
done:
  (void)close_clean;
  {
    std::lock_guard lock(mutex_);
    open_fds_.erase(std::remove(open_fds_.begin(), open_fds_.end(), fd), open_fds_.end());
  }
  ::close(fd);
}

}  // namespace s3cryptfs::test
