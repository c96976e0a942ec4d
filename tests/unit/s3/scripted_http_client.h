#pragma once

// A scripted http::HttpClient for unit tests of the S3 store: it records every request and
// answers from a queue of canned responses (or a handler), so malformed and unusual server
// answers can be tested without a server.

#include <algorithm>
#include <cctype>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "s3cryptfs/http/http_client.h"

namespace s3cryptfs::s3::test {

struct RecordedRequest {
  std::string method;
  std::string url;
  http::Headers headers;
  std::string body;

  // The first header with this name (case-insensitive), or "" when absent.
  std::string header(std::string_view name) const {
    for (const auto& [key, value] : headers) {
      if (key.size() != name.size()) continue;
      bool same = true;
      for (size_t i = 0; i < key.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(key[i])) !=
            std::tolower(static_cast<unsigned char>(name[i]))) {
          same = false;
        }
      }
      if (same) return value;
    }
    return {};
  }
  bool hasHeader(std::string_view name) const {
    for (const auto& [key, value] : headers) {
      if (key.size() == name.size() &&
          std::equal(key.begin(), key.end(), name.begin(), [](char a, char b) {
            return std::tolower(static_cast<unsigned char>(a)) ==
                   std::tolower(static_cast<unsigned char>(b));
          })) {
        return true;
      }
    }
    return false;
  }
};

inline http::Response response(int status, const std::string& body = {},
                               const http::Headers& headers = {}) {
  http::Response out;
  out.status = status;
  out.body = Bytes(body.begin(), body.end());
  for (const auto& [name, value] : headers) {
    std::string lower = name;
    for (char& c : lower)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.headers.emplace_back(lower, value);
  }
  return out;
}

class ScriptedHttpClient : public http::HttpClient {
 public:
  using Handler = std::function<Result<http::Response>(const RecordedRequest&)>;

  // Answers the next request with this (in order).
  void enqueue(Result<http::Response> answer) {
    std::lock_guard lock(mutex_);
    queue_.push_back(std::move(answer));
  }
  // Answers requests once the queue is empty.
  void setHandler(Handler handler) {
    std::lock_guard lock(mutex_);
    handler_ = std::move(handler);
  }

  Result<http::Response> send(const http::Request& request) override {
    RecordedRequest recorded{request.method, request.url, request.headers,
                             std::string(asChars(request.body))};
    std::lock_guard lock(mutex_);
    requests_.push_back(recorded);
    if (!queue_.empty()) {
      auto answer = std::move(queue_.front());
      queue_.pop_front();
      return answer;
    }
    if (handler_) return handler_(recorded);
    return Error(ErrorKind::kInternal, "ScriptedHttpClient: no answer scripted for " +
                                           request.method + " " + request.url);
  }

  std::vector<RecordedRequest> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  RecordedRequest last() const {
    std::lock_guard lock(mutex_);
    return requests_.empty() ? RecordedRequest{} : requests_.back();
  }
  size_t pending() const {
    std::lock_guard lock(mutex_);
    return queue_.size();
  }

 private:
  mutable std::mutex mutex_;
  std::deque<Result<http::Response>> queue_;
  Handler handler_;
  std::vector<RecordedRequest> requests_;
};

}  // namespace s3cryptfs::s3::test
