#pragma once
// A small misbehaving HTTP/1.1 server on 127.0.0.1 (ephemeral port) for client tests: it answers
// each request with the next scripted Reply (or the default one), and can truncate bodies, reset
// connections, hang or trickle bytes. It counts accepted connections so tests can prove reuse.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace s3cryptfs::test {

struct ReceivedRequest {
  std::string method;
  std::string target;                                        // path and query as sent
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  const std::string* header(const std::string& lower_name) const;
};

struct Reply {
  enum class Behaviour : uint8_t {
    kNormal,     // status, headers, body, keep-alive
    kTruncate,   // Content-Length of the full body, sends only `truncate_to` bytes, then closes
    kReset,      // reads the request, then closes with RST (SO_LINGER 0)
    kHang,       // reads the request, never answers (until the server stops)
    kSlow,       // sends the response in `slow_chunk` byte pieces, `slow_delay` apart
    kCloseOnly,  // reads the request, closes cleanly without answering
  };
  Behaviour behaviour = Behaviour::kNormal;
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  size_t truncate_to = 0;
  size_t slow_chunk = 1;
  std::chrono::milliseconds slow_delay{10};
  // Overrides the Content-Length header value (e.g. longer than the body); empty: body size.
  std::string content_length;

  static Reply withStatus(int status, std::string body = {}) {
    Reply reply;
    reply.status = status;
    reply.body = std::move(body);
    return reply;
  }
  static Reply behaving(Behaviour behaviour) {
    Reply reply;
    reply.behaviour = behaviour;
    return reply;
  }
};

class FakeHttpServer {
 public:
  FakeHttpServer();  // listens at once; aborts the test process if it cannot
  ~FakeHttpServer();
  FakeHttpServer(const FakeHttpServer&) = delete;
  FakeHttpServer& operator=(const FakeHttpServer&) = delete;

  uint16_t port() const { return port_; }
  std::string baseUrl() const;  // "http://127.0.0.1:PORT"

  // Replies used in order, one per request; when empty, the default reply (200, empty body), or
  // the handler when one is set.
  void enqueue(Reply reply);
  void setDefault(Reply reply);
  void setHandler(std::function<Reply(const ReceivedRequest&)> handler);

  size_t connectionsAccepted() const { return connections_.load(); }
  size_t requestsServed() const { return requests_.load(); }
  std::vector<ReceivedRequest> received() const;

  void stop();

 private:
  void acceptLoop();
  void serve(int fd);
  Reply nextReply(const ReceivedRequest& request);
  bool waitStopFor(std::chrono::milliseconds duration);

  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<size_t> connections_{0};
  std::atomic<size_t> requests_{0};
  mutable std::mutex mutex_;
  std::condition_variable stop_cv_;
  std::deque<Reply> script_;
  Reply default_reply_;
  std::function<Reply(const ReceivedRequest&)> handler_;
  std::vector<ReceivedRequest> received_;
  std::vector<int> open_fds_;
  std::vector<std::thread> threads_;
  std::thread accept_thread_;
};

}  // namespace s3cryptfs::test
