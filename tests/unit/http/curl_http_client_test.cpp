#include "s3cryptfs/http/curl_http_client.h"

#include <chrono>
#include <netinet/in.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <gtest/gtest.h>

#include "support/fake_http_server.h"

namespace s3cryptfs::http {
namespace {

using test::FakeHttpServer;
using test::Reply;

std::unique_ptr<HttpClient> makeClient(
    size_t max_connections = 4, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  ClientOptions options;
  options.max_connections = max_connections;
  options.connect_timeout = std::chrono::seconds(2);
  options.request_timeout = timeout;
  auto client = CurlHttpClient::create(options);
  EXPECT_TRUE(client.has_value());
  return std::move(client).value();
}

Reply okReply(std::string body) {
  Reply reply;
  reply.body = std::move(body);
  reply.headers = {{"ETag", "\"abc\""}, {"X-Amz-Meta-Thing", "  v  "}};
  return reply;
}

std::string text(const Bytes& bytes) {
  return {bytes.begin(), bytes.end()};
}

TEST(CurlHttpClient, GetReturnsStatusBodyAndLowerCaseHeaders) {
  FakeHttpServer server;
  server.enqueue(okReply("hello"));
  auto client = makeClient();
  auto response = client->send({"GET", server.baseUrl() + "/k?x=1", {{"Range", "bytes=0-4"}}, {}});
  ASSERT_TRUE(response.has_value()) << response.error().message();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(text(response->body), "hello");
  ASSERT_NE(response->header("etag"), nullptr);
  EXPECT_EQ(*response->header("etag"), "\"abc\"");
  EXPECT_EQ(*response->header("x-amz-meta-thing"), "v");
  auto received = server.received();
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0].target, "/k?x=1");
  EXPECT_EQ(*received[0].header("range"), "bytes=0-4");
}

TEST(CurlHttpClient, PutPostHeadDeleteAndEmptyBodies) {
  FakeHttpServer server;
  auto client = makeClient();
  std::string payload = "0123456789";
  Bytes body(payload.begin(), payload.end());
  ASSERT_TRUE(client->send({"PUT", server.baseUrl() + "/a", {}, body}).has_value());
  ASSERT_TRUE(client->send({"PUT", server.baseUrl() + "/empty", {}, {}}).has_value());
  ASSERT_TRUE(client->send({"POST", server.baseUrl() + "/p?uploads", {}, {}}).has_value());
  ASSERT_TRUE(client->send({"POST", server.baseUrl() + "/p", {}, body}).has_value());
  server.enqueue(okReply("must not be read"));
  auto head = client->send({"HEAD", server.baseUrl() + "/a", {}, {}});
  ASSERT_TRUE(head.has_value()) << head.error().message();
  EXPECT_TRUE(head->body.empty());
  EXPECT_EQ(*head->header("content-length"), "16");
  server.enqueue(Reply::withStatus(204));
  auto del = client->send({"DELETE", server.baseUrl() + "/a", {}, {}});
  ASSERT_TRUE(del.has_value());
  EXPECT_EQ(del->status, 204);

  auto received = server.received();
  ASSERT_EQ(received.size(), 6u);
  EXPECT_EQ(received[0].method, "PUT");
  EXPECT_EQ(received[0].body, payload);
  EXPECT_EQ(*received[0].header("content-length"), "10");
  EXPECT_EQ(received[0].header("expect"), nullptr);
  EXPECT_EQ(*received[1].header("content-length"), "0");
  EXPECT_EQ(received[2].method, "POST");
  EXPECT_EQ(*received[2].header("content-length"), "0");
  EXPECT_EQ(received[3].body, payload);
  EXPECT_EQ(received[4].method, "HEAD");
  EXPECT_EQ(received[5].method, "DELETE");
  // All of it over one kept-alive connection.
  EXPECT_EQ(server.connectionsAccepted(), 1u);
}

TEST(CurlHttpClient, HttpErrorStatusIsNotATransportError) {
  FakeHttpServer server;
  server.enqueue(Reply::withStatus(503, "<Error/>"));
  auto response = makeClient()->send({"GET", server.baseUrl() + "/", {}, {}});
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 503);
}

void expectTransient(const Result<Response>& response, const std::string& host_port,
                     const std::string& what) {
  ASSERT_FALSE(response.has_value());
  EXPECT_EQ(response.error().kind(), ErrorKind::kTransient) << response.error().message();
  EXPECT_NE(response.error().message().find(host_port), std::string::npos)
      << response.error().message();
  EXPECT_NE(response.error().message().find(what), std::string::npos) << response.error().message();
  EXPECT_EQ(response.error().message().find("secret"), std::string::npos);
}

TEST(CurlHttpClient, ResponseBodyLimitIsEnforced) {
  FakeHttpServer server;
  server.enqueue(okReply(std::string(1000, 'a')));
  server.enqueue(okReply(std::string(1001, 'a')));
  ClientOptions options;
  options.max_response_body = 1000;
  auto client = CurlHttpClient::create(options);
  ASSERT_TRUE(client);
  auto exact = (*client)->send({"GET", server.baseUrl() + "/a", {}, {}});
  ASSERT_TRUE(exact) << exact.error().describe();
  EXPECT_EQ(exact->body.size(), 1000u);
  auto over = (*client)->send({"GET", server.baseUrl() + "/b", {}, {}});
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error().kind(), ErrorKind::kIo);
  EXPECT_NE(over.error().message().find("larger than the limit of 1000 bytes"), std::string::npos)
      << over.error().message();
}

TEST(CurlHttpClient, TruncatedBodyIsTransient) {
  FakeHttpServer server;
  Reply reply = okReply(std::string(1000, 'x'));
  reply.behaviour = Reply::Behaviour::kTruncate;
  reply.truncate_to = 100;
  server.enqueue(reply);
  auto response =
      makeClient()->send({"GET", server.baseUrl() + "/k?X-Amz-Signature=secret", {}, {}});
  expectTransient(response, "127.0.0.1:" + std::to_string(server.port()), "truncated");
}

TEST(CurlHttpClient, ContentLengthLongerThanBodyIsTransient) {
  FakeHttpServer server;
  Reply reply = okReply("short");
  reply.content_length = "50";
  server.enqueue(reply);
  auto response = makeClient()->send({"GET", server.baseUrl() + "/k", {}, {}});
  expectTransient(response, "127.0.0.1", "truncated");
}

TEST(CurlHttpClient, ResetIsTransient) {
  FakeHttpServer server;
  server.enqueue(Reply::behaving(Reply::Behaviour::kReset));
  auto response = makeClient()->send({"GET", server.baseUrl() + "/k", {}, {}});
  ASSERT_FALSE(response.has_value());
  EXPECT_EQ(response.error().kind(), ErrorKind::kTransient);
  EXPECT_NE(response.error().message().find("127.0.0.1"), std::string::npos);
}

TEST(CurlHttpClient, ClosedWithoutResponseIsTransient) {
  FakeHttpServer server;
  server.enqueue(Reply::behaving(Reply::Behaviour::kCloseOnly));
  auto response = makeClient()->send({"GET", server.baseUrl() + "/k", {}, {}});
  ASSERT_FALSE(response.has_value());
  EXPECT_EQ(response.error().kind(), ErrorKind::kTransient);
}

TEST(CurlHttpClient, UnreachableEndpointIsTransientNamingTheHost) {
  // A port that was just free: bind, read the port, close.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  std::string host_port = "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  auto response = makeClient()->send({"GET", "http://" + host_port + "/k?token=secret", {}, {}});
  expectTransient(response, host_port, "refused");
}

TEST(CurlHttpClient, HangingServerTimesOut) {
  FakeHttpServer server;
  server.enqueue(Reply::behaving(Reply::Behaviour::kHang));
  auto client = makeClient(2, std::chrono::milliseconds(500));
  auto start = std::chrono::steady_clock::now();
  auto response = client->send({"GET", server.baseUrl() + "/k", {}, {}});
  auto elapsed = std::chrono::steady_clock::now() - start;
  expectTransient(response, "127.0.0.1", "timed out");
  EXPECT_LT(elapsed, std::chrono::seconds(5));
  // The client still works afterwards.
  auto next = client->send({"GET", server.baseUrl() + "/k", {}, {}});
  EXPECT_TRUE(next.has_value());
}

TEST(CurlHttpClient, StalledTransferAbortsBeforeRequestTimeout) {
  FakeHttpServer server;
  server.enqueue(Reply::behaving(Reply::Behaviour::kHang));
  ClientOptions options;
  options.request_timeout = std::chrono::seconds(60);
  options.stall_timeout = std::chrono::seconds(1);
  CurlHttpClient client(options);
  auto start = std::chrono::steady_clock::now();
  auto response = client.send({"GET", server.baseUrl() + "/k", {}, {}});
  expectTransient(response, "127.0.0.1", "timed out");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST(CurlHttpClient, SlowButProgressingResponseSucceeds) {
  FakeHttpServer server;
  Reply reply = okReply("slowly");
  reply.behaviour = Reply::Behaviour::kSlow;
  reply.slow_chunk = 16;
  reply.slow_delay = std::chrono::milliseconds(5);
  server.enqueue(reply);
  auto response = makeClient()->send({"GET", server.baseUrl() + "/k", {}, {}});
  ASSERT_TRUE(response.has_value()) << response.error().message();
  EXPECT_EQ(text(response->body), "slowly");
}

TEST(CurlHttpClient, HeaderInjectionIsRejected) {
  FakeHttpServer server;
  auto response =
      makeClient()->send({"GET", server.baseUrl() + "/k", {{"x-amz-meta-a", "v\r\nEvil: 1"}}, {}});
  ASSERT_FALSE(response.has_value());
  EXPECT_EQ(response.error().kind(), ErrorKind::kInvalidArgument);
  EXPECT_EQ(server.requestsServed(), 0u);
}

TEST(CurlHttpClient, InvalidOptionsAreRejected) {
  ClientOptions options;
  options.max_connections = 0;
  auto client = CurlHttpClient::create(options);
  ASSERT_FALSE(client.has_value());
  EXPECT_EQ(client.error().kind(), ErrorKind::kInvalidArgument);
}

// Concurrency: the bounded pool keeps the number of connections at max_connections while many
// threads send; run under TSan too.
TEST(CurlHttpClientConcurrency, ManyRequestsShareBoundedConnections) {
  FakeHttpServer server;
  server.setDefault(okReply("body"));
  ClientOptions options;
  options.max_connections = 4;
  CurlHttpClient client(options);
  for (int i = 0; i < 40; ++i) {
    auto response = client.send({"GET", server.baseUrl() + "/seq", {}, {}});
    ASSERT_TRUE(response.has_value());
  }
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20; ++i) {
        auto response = client.send({"GET", server.baseUrl() + "/par", {}, {}});
        if (!response || text(response->body) != "body") ++failures;
      }
    });
  }
  for (auto& thread : threads)
    thread.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(server.requestsServed(), 200u);
  EXPECT_LE(server.connectionsAccepted(), 4u);
  EXPECT_EQ(client.connectionsOpened(), server.connectionsAccepted());
}

}  // namespace
}  // namespace s3cryptfs::http
