#include "metrics_reporter.h"

#include <arpa/inet.h>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "s3cryptfs/core/log.h"
#include "s3cryptfs/core/metrics.h"

namespace s3cryptfs::app {
namespace {

constexpr size_t kMaxRequestBytes = 8192;
constexpr int kRequestTimeoutMs = 2000;
constexpr char kStop = 'q';
constexpr char kDump = 'd';

// The wake pipe's write end, for the SIGUSR1 handler (one reporter per process).
std::atomic<int> g_dump_fd{-1};

void onDumpSignal(int /*signal*/) {
  int fd = g_dump_fd.load();
  if (fd < 0) return;
  char byte = kDump;
  ssize_t ignored = write(fd, &byte, 1);
  (void)ignored;
}

Result<sockaddr_in> parseListen(const std::string& listen) {
  size_t colon = listen.rfind(':');
  auto bad = [&] {
    return Error(ErrorKind::kInvalidArgument,
                 "metrics.listen '" + listen + "' is not an IPv4 HOST:PORT (e.g. 127.0.0.1:9464)");
  };
  if (colon == std::string::npos || colon == 0 || colon + 1 == listen.size()) return bad();
  std::string host = listen.substr(0, colon);
  if (host == "localhost") host = "127.0.0.1";
  sockaddr_in address{};
  address.sin_family = AF_INET;
  if (inet_pton(AF_INET, host.c_str(), &address.sin_addr) != 1) return bad();
  unsigned long port = 0;
  for (size_t i = colon + 1; i < listen.size(); ++i) {
    if (listen[i] < '0' || listen[i] > '9') return bad();
    port = port * 10 + static_cast<unsigned long>(listen[i] - '0');
    if (port > 65535) return bad();
  }
  address.sin_port = htons(static_cast<uint16_t>(port));
  return address;
}

void sendAll(int fd, const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = send(fd, text.data() + done, text.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

std::string reply(const std::string& status, const std::string& type, const std::string& body) {
  return "HTTP/1.1 " + status + "\r\nContent-Type: " + type +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" +
         body;
}

}  // namespace

Result<std::unique_ptr<MetricsReporter>> MetricsReporter::start(const std::string& listen,
                                                                const std::string& file) {
  int listen_fd = -1;
  std::string bound;
  if (!listen.empty()) {
    S3C_ASSIGN_OR_RETURN(sockaddr_in address, parseListen(listen));
    listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listen_fd < 0) {
      return Error(ErrorKind::kIo, std::string("metrics listener: ") + std::strerror(errno));
    }
    int one = 1;
    setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(listen_fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(listen_fd, 16) != 0) {
      int err = errno;
      close(listen_fd);
      return Error(ErrorKind::kIo,
                   "metrics listener cannot bind " + listen + ": " + std::strerror(err));
    }
    socklen_t length = sizeof address;
    getsockname(listen_fd, reinterpret_cast<sockaddr*>(&address), &length);
    char host[INET_ADDRSTRLEN] = {};
    inet_ntop(AF_INET, &address.sin_addr, host, sizeof host);
    bound = std::string(host) + ":" + std::to_string(ntohs(address.sin_port));
  }
  std::unique_ptr<MetricsReporter> reporter(new MetricsReporter(listen_fd, std::move(bound), file));
  if (pipe2(reporter->wake_, O_CLOEXEC | O_NONBLOCK) != 0) {
    return Error(ErrorKind::kIo, std::string("metrics reporter: ") + std::strerror(errno));
  }
  metrics::registerProcessMetrics();
  if (!file.empty()) {
    g_dump_fd = reporter->wake_[1];
    struct sigaction action {};
    action.sa_handler = onDumpSignal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    sigaction(SIGUSR1, &action, nullptr);
  }
  reporter->thread_ = std::thread([raw = reporter.get()] { raw->serve(); });
  return reporter;
}

MetricsReporter::MetricsReporter(int listen_fd, std::string address, std::string file)
    : listen_fd_(listen_fd), address_(std::move(address)), file_(std::move(file)) {}

MetricsReporter::~MetricsReporter() {
  if (thread_.joinable()) {
    char byte = kStop;
    ssize_t ignored = write(wake_[1], &byte, 1);
    (void)ignored;
    thread_.join();
  }
  if (g_dump_fd.load() == wake_[1]) g_dump_fd = -1;
  for (int fd : {listen_fd_, wake_[0], wake_[1]}) {
    if (fd >= 0) close(fd);
  }
}

void MetricsReporter::serve() {
  for (;;) {
    pollfd fds[2] = {{wake_[0], POLLIN, 0}, {listen_fd_, POLLIN, 0}};
    int ready = poll(fds, listen_fd_ >= 0 ? 2 : 1, -1);
    if (ready < 0) {
      if (errno == EINTR) continue;
      log::error("metrics reporter: poll failed: {}", std::strerror(errno));
      return;
    }
    if (fds[0].revents & POLLIN) {
      char bytes[16];
      ssize_t n = read(wake_[0], bytes, sizeof bytes);
      for (ssize_t i = 0; i < n; ++i) {
        if (bytes[i] == kStop) return;
      }
      if (auto written = writeFile(); !written) log::warn("{}", written.error().message());
    }
    if (listen_fd_ >= 0 && (fds[1].revents & POLLIN)) {
      int connection = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (connection < 0) continue;
      answer(connection);
      close(connection);
    }
  }
}

void MetricsReporter::answer(int connection) const {
  // One request, read until the end of its headers, bounded in size and time: a slow or
  // hostile client cannot hold the reporter for more than kRequestTimeoutMs.
  timeval timeout{kRequestTimeoutMs / 1000, (kRequestTimeoutMs % 1000) * 1000};
  setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  setsockopt(connection, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  std::string request;
  char buffer[1024];
  while (request.find("\r\n\r\n") == std::string::npos && request.size() < kMaxRequestBytes) {
    ssize_t n = recv(connection, buffer, sizeof buffer, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    request.append(buffer, static_cast<size_t>(n));
  }
  std::string line = request.substr(0, request.find("\r\n"));
  std::string method = line.substr(0, line.find(' '));
  std::string target;
  if (size_t space = line.find(' '); space != std::string::npos) {
    target = line.substr(space + 1, line.find(' ', space + 1) - space - 1);
  }
  if (method != "GET" && method != "HEAD") {
    return sendAll(connection, reply("405 Method Not Allowed", "text/plain", "GET only\n"));
  }
  if (target != "/metrics" && target.rfind("/metrics?", 0) != 0) {
    return sendAll(connection, reply("404 Not Found", "text/plain", "try /metrics\n"));
  }
  std::string text =
      reply("200 OK", "text/plain; version=0.0.4; charset=utf-8", metrics::global().render());
  if (method == "HEAD") text = text.substr(0, text.find("\r\n\r\n") + 4);
  sendAll(connection, text);
}

Status MetricsReporter::writeFile() const {
  if (file_.empty()) return ok();
  std::lock_guard lock(file_mutex_);
  std::string text = metrics::global().render();
  std::string temporary = file_ + ".tmp";
  int fd = open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return Error(ErrorKind::kIo,
                 "cannot write metrics to " + temporary + ": " + std::strerror(errno));
  }
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  bool complete = done == text.size();
  if (close(fd) != 0) complete = false;
  if (!complete || rename(temporary.c_str(), file_.c_str()) != 0) {
    int err = errno;
    unlink(temporary.c_str());
    return Error(ErrorKind::kIo, "cannot write metrics to " + file_ + ": " + std::strerror(err));
  }
  return ok();
}

}  // namespace s3cryptfs::app
