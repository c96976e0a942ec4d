// The daemon's metrics through a real mount over Ceph RGW: the Prometheus listener
// (metrics.listen) and the file written on SIGUSR1 and at unmount (metrics.file). The counters
// must move with what the test does through the mount: a file written is PUT, a file read after
// a remount is fetched, a listing is counted, and they never hold a name.

#include <arpa/inet.h>
#include <chrono>
#include <csignal>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <map>
#include <netinet/in.h>
#include <regex>
#include <string>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "support/mounted_volume.h"

namespace s3cryptfs::test {
namespace {

constexpr size_t kFileBytes = size_t{3} << 20;  // more than one 64 KiB chunk, less than a part

sockaddr_in loopback(int port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(port));
  return address;
}

// A TCP port free right now on 127.0.0.1.
int freePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address = loopback(0);
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    close(fd);
    return 0;
  }
  socklen_t length = sizeof address;
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return ntohs(address.sin_port);
}

// One HTTP/1.1 request to 127.0.0.1:port; the whole answer (status line, headers, body).
std::string httpRequest(int port, const std::string& request) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  timeval timeout{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  sockaddr_in address = loopback(port);
  std::string answer;
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
      send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(request.size())) {
    char buffer[4096];
    ssize_t n = 0;
    while ((n = recv(fd, buffer, sizeof buffer, 0)) > 0)
      answer.append(buffer, static_cast<size_t>(n));
  }
  close(fd);
  return answer;
}

// Series name (with labels) → value, from the Prometheus text format.
std::map<std::string, double> parseMetrics(const std::string& text) {
  std::map<std::string, double> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    start = end + 1;
    if (line.empty() || line[0] == '#') continue;
    size_t space = line.rfind(' ');
    if (space == std::string::npos) continue;
    out[line.substr(0, space)] = std::strtod(line.c_str() + space + 1, nullptr);
  }
  return out;
}

std::map<std::string, double> scrape(int port) {
  std::string answer = httpRequest(port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  size_t body = answer.find("\r\n\r\n");
  if (answer.rfind("HTTP/1.1 200", 0) != 0 || body == std::string::npos) return {};
  return parseMetrics(answer.substr(body + 4));
}

double of(const std::map<std::string, double>& metrics, const std::string& series) {
  auto found = metrics.find(series);
  return found == metrics.end() ? 0 : found->second;
}

std::string op(const std::string& name, const std::string& operation) {
  return name + "{operation=\"" + operation + "\"}";
}

bool dropCaches() {
  sync();
  int fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
  if (fd < 0) return false;
  bool done = write(fd, "3", 1) == 1;
  close(fd);
  return done;
}

std::string content() {
  std::string data(kFileBytes, '\0');
  for (size_t i = 0; i < data.size(); ++i)
    data[i] = static_cast<char>((i * 131 + i / 4096) & 0xff);
  return data;
}

class MetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    volume_ = std::make_unique<MountedVolume>(
        "ceph", std::string(info->test_suite_name()) + "." + info->name());
    ASSERT_TRUE(volume_->ok()) << volume_->initResult().output;
    port_ = freePort();
    ASSERT_NE(port_, 0);
    file_ = volume_->scratch() + "/metrics.prom";
  }
  CommandResult mount() {
    return volume_->mount(
        {"-o", "metrics=127.0.0.1:" + std::to_string(port_) + ",metrics_file=" + file_});
  }
  std::unique_ptr<MountedVolume> volume_;
  int port_ = 0;
  std::string file_;
};

TEST_F(MetricsTest, CountersFollowWritesReadsAndListings) {
  ASSERT_EQ(mount().exit_code, 0) << volume_->log();
  auto before = scrape(port_);
  ASSERT_FALSE(before.empty()) << "no answer on port " << port_ << "\n" << volume_->log();
  EXPECT_GT(of(before, "s3cryptfs_process_resident_memory_bytes"), 1 << 20);
  EXPECT_GT(of(before, "s3cryptfs_process_threads"), 1);

  const std::string data = content();
  ASSERT_TRUE(writeWholeFile(volume_->path("secret-name.bin"), data));
  auto written = scrape(port_);
  // The whole file went to the store: at least its bytes (plus header and tags) were sent.
  double put_bytes = of(written, op("s3cryptfs_s3_sent_bytes_total", "PutObject")) +
                     of(written, op("s3cryptfs_s3_sent_bytes_total", "UploadPart"));
  EXPECT_GE(put_bytes, static_cast<double>(kFileBytes));
  EXPECT_LT(put_bytes, 1.1 * static_cast<double>(kFileBytes));
  EXPECT_GE(of(written, op("s3cryptfs_fuse_requests_total", "write")), 3);
  EXPECT_EQ(of(written, "s3cryptfs_fuse_written_bytes_total"), static_cast<double>(kFileBytes));
  EXPECT_GT(of(written, op("s3cryptfs_s3_requests_total", "HeadObject")),
            of(before, op("s3cryptfs_s3_requests_total", "HeadObject")));
  EXPECT_EQ(of(written, "s3cryptfs_s3_requests_in_flight{operation=\"PutObject\"}"), 0);

  // Remounted and with the kernel's caches dropped, a read fetches the file from the store.
  ASSERT_TRUE(volume_->unmount());
  ASSERT_EQ(mount().exit_code, 0) << volume_->log();
  ASSERT_TRUE(dropCaches());
  EXPECT_EQ(readWholeFile(volume_->path("secret-name.bin")), data);
  auto read = scrape(port_);
  double got = of(read, op("s3cryptfs_s3_received_bytes_total", "GetObject"));
  EXPECT_GE(got, static_cast<double>(kFileBytes));
  EXPECT_LT(got, 1.1 * static_cast<double>(kFileBytes)) << "the file was fetched more than once";
  EXPECT_EQ(of(read, "s3cryptfs_fuse_read_bytes_total"), static_cast<double>(kFileBytes));
  EXPECT_GT(of(read, "s3cryptfs_block_cache_misses_total"), 0);
  EXPECT_GT(of(read, "s3cryptfs_block_cache_bytes"), 0);
  EXPECT_GT(of(read, "s3cryptfs_s3_responses_total{operation=\"GetObject\",status=\"2xx\"}"), 0);

  DIR* dir = opendir(volume_->mountpoint().c_str());
  ASSERT_NE(dir, nullptr);
  while (readdir(dir) != nullptr) {
  }
  closedir(dir);
  auto listed = scrape(port_);
  EXPECT_GT(of(listed, op("s3cryptfs_s3_requests_total", "ListObjectsV2")),
            of(read, op("s3cryptfs_s3_requests_total", "ListObjectsV2")));

  // Nothing in the text names the file.
  std::string text = httpRequest(port_, "GET /metrics HTTP/1.0\r\n\r\n");
  EXPECT_EQ(text.find("secret-name"), std::string::npos);
  EXPECT_NE(text.find("# TYPE s3cryptfs_s3_requests_total counter"), std::string::npos);
  EXPECT_TRUE(volume_->unmount());
}

TEST_F(MetricsTest, OtherPathsAndMethodsAreRefused) {
  ASSERT_EQ(mount().exit_code, 0) << volume_->log();
  EXPECT_EQ(httpRequest(port_, "GET / HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 404", 0), 0u);
  EXPECT_EQ(httpRequest(port_, "POST /metrics HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 405", 0), 0u);
  // A client that sends nothing does not block the next scrape for longer than its timeout.
  int idle = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address = loopback(port_);
  ASSERT_EQ(connect(idle, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  EXPECT_FALSE(scrape(port_).empty());
  close(idle);
  EXPECT_TRUE(volume_->unmount());
}

TEST_F(MetricsTest, FileWrittenOnSigusr1AndAtUnmount) {
  ASSERT_EQ(mount().exit_code, 0) << volume_->log();
  ASSERT_TRUE(writeWholeFile(volume_->path("f"), "hello"));
  ASSERT_TRUE(volume_->signalDaemon(SIGUSR1, false));
  ASSERT_TRUE(waitFor([&] { return access(file_.c_str(), F_OK) == 0; }, std::chrono::seconds(10)));
  auto dumped = parseMetrics(readWholeFile(file_));
  EXPECT_GE(of(dumped, op("s3cryptfs_s3_requests_total", "PutObject")), 1);
  EXPECT_TRUE(isMounted(volume_->mountpoint()));  // SIGUSR1 does not end the daemon
  unlink(file_.c_str());
  ASSERT_TRUE(volume_->unmount());
  auto final_dump = parseMetrics(readWholeFile(file_));
  EXPECT_GE(of(final_dump, op("s3cryptfs_fuse_requests_total", "create")), 1);
}

TEST_F(MetricsTest, BadListenAddressFailsTheMount) {
  auto result = volume_->mount({"-o", "metrics=not-an-address"});
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("metrics.listen"), std::string::npos) << result.output;
  // The port is taken: the mount fails rather than running without the metrics asked for.
  int taken = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address = loopback(port_);
  ASSERT_EQ(bind(taken, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(listen(taken, 1), 0);
  result = mount();
  EXPECT_NE(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("cannot bind"), std::string::npos) << result.output;
  close(taken);
}

}  // namespace
}  // namespace s3cryptfs::test
