// Checks the "servers" ctest fixture from the C++ side: the env file written by all.sh parses
// into complete S3TestServer entries whose endpoints answer HTTP, and uniquePrefix() is unique.
#include "support/test_servers.h"

#include <arpa/inet.h>
#include <cstdlib>
#include <fstream>
#include <netinet/in.h>
#include <set>
#include <string>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

namespace {

using s3cryptfs::test::S3TestServer;

// Sends "GET / HTTP/1.1" to an http://127.0.0.1:PORT endpoint; returns the status line.
std::string httpStatusLine(const std::string& endpoint) {
  const std::string scheme = "http://";
  if (endpoint.rfind(scheme, 0) != 0) return "bad endpoint";
  const std::string hostport = endpoint.substr(scheme.size());
  const auto colon = hostport.rfind(':');
  if (colon == std::string::npos) return "no port";
  const std::string host = hostport.substr(0, colon);
  const int port = std::atoi(hostport.c_str() + colon + 1);
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "socket failed";
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1 ||
      ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return "connect failed";
  }
  const std::string req = "GET / HTTP/1.1\r\nHost: " + hostport + "\r\nConnection: close\r\n\r\n";
  if (::write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) {
    ::close(fd);
    return "write failed";
  }
  std::string resp;
  char buf[512];
  ssize_t n;
  while (resp.find("\r\n") == std::string::npos && (n = ::read(fd, buf, sizeof buf)) > 0) {
    resp.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return resp.substr(0, resp.find("\r\n"));
}

class TestServersFixture : public ::testing::TestWithParam<std::string> {};

TEST_P(TestServersFixture, EnvFileDescribesAnAnsweringServer) {
  S3C_ASSERT_TEST_SERVER(server, GetParam());
  EXPECT_EQ(server.name, GetParam());
  EXPECT_EQ(server.endpoint.rfind("http://127.0.0.1:", 0), 0U) << server.endpoint;
  EXPECT_FALSE(server.access_key.empty());
  EXPECT_FALSE(server.secret_key.empty());
  EXPECT_EQ(server.bucket, "s3c-test");
  EXPECT_EQ(server.region, "us-east-1");
  EXPECT_EQ(httpStatusLine(server.endpoint).rfind("HTTP/1.", 0), 0U)
      << server.endpoint << ": " << httpStatusLine(server.endpoint);
}

INSTANTIATE_TEST_SUITE_P(All, TestServersFixture,
                         ::testing::ValuesIn(s3cryptfs::test::testServerNames()));

// PyKMIP: the env file names a listening port and readable certificate files.
TEST(TestServers, KmipServerIsDescribedAndListens) {
  const auto kmip = s3cryptfs::test::requireKmipServer();
  EXPECT_EQ(kmip.host, "127.0.0.1");
  for (const std::string& file :
       {kmip.ca, kmip.cert, kmip.key, kmip.other_cert, kmip.other_key, kmip.wrong_ca}) {
    EXPECT_TRUE(std::ifstream(file).good()) << file;
  }
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(std::atoi(kmip.port.c_str())));
  ASSERT_EQ(::inet_pton(AF_INET, kmip.host.c_str(), &addr.sin_addr), 1);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0)
      << "nothing listens on " << kmip.host << ":" << kmip.port;
  ::close(fd);
}

TEST(TestServers, MissingServerIsAnErrorWithAClearMessage) {
  EXPECT_FALSE(s3cryptfs::test::testServer("no-such-server").has_value());
  const std::string msg = s3cryptfs::test::missingTestServerMessage("no-such-server");
  EXPECT_NE(msg.find("S3C_NO-SUCH-SERVER_"), std::string::npos) << msg;
  EXPECT_THROW(s3cryptfs::test::requireTestServer("no-such-server"), std::runtime_error);
}

TEST(TestServers, ReadsAnExplicitEnvFile) {
  const std::string path = ::testing::TempDir() + "s3c_test_servers_env";
  {
    std::ofstream out(path);
    out << "# comment\n\nexport S3C_FOO_ENDPOINT=http://127.0.0.1:1/\n"
           "S3C_FOO_ACCESS_KEY='ak'\nS3C_FOO_SECRET_KEY=\"sk\"\nS3C_FOO_BUCKET=b\n";
  }
  const char* old = std::getenv("S3C_TEST_SERVERS_ENV");
  const std::string saved = old != nullptr ? old : "";
  ::setenv("S3C_TEST_SERVERS_ENV", path.c_str(), 1);
  const auto s = s3cryptfs::test::testServer("foo");
  if (old != nullptr) {
    ::setenv("S3C_TEST_SERVERS_ENV", saved.c_str(), 1);
  } else {
    ::unsetenv("S3C_TEST_SERVERS_ENV");
  }
  std::remove(path.c_str());
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->endpoint, "http://127.0.0.1:1");
  EXPECT_EQ(s->access_key, "ak");
  EXPECT_EQ(s->secret_key, "sk");
  EXPECT_EQ(s->bucket, "b");
  EXPECT_EQ(s->region, "us-east-1");
}

TEST(TestServers, UniquePrefixIsFreshAndKeySafe) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const std::string p = s3cryptfs::test::uniquePrefix("Suite.Name/with spaces");
    EXPECT_TRUE(seen.insert(p).second) << p;
    EXPECT_EQ(p.rfind("s3c-tests/Suite.Name-with-spaces-", 0), 0U) << p;
    EXPECT_EQ(p.back(), '/');
  }
}

}  // namespace
