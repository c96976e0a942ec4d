// crypto::TlsStream against an HTTPS server (the fake Vault's cpp-httplib server: any TLS server
// does): verification against the given CA, and a write to a connection the server closed,
// which must be an error, not a SIGPIPE that kills the process.
#include "s3cryptfs/crypto/tls_stream.h"

#include <csignal>
#include <cstdlib>
#include <thread>

#include <gtest/gtest.h>

#include "support/fake_vault_transit.h"
#include "unit/keys/keys_test_support.h"

namespace s3cryptfs::crypto {
namespace {

class TlsStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string command =
        "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
        "-addext subjectAltName=IP:127.0.0.1 -keyout " +
        key_ + " -out " + cert_ + " >/dev/null 2>&1";
    ASSERT_EQ(std::system(command.c_str()), 0);
    test::FakeVaultOptions options;
    options.cert_file = cert_;
    options.key_file = key_;
    server_ = std::make_unique<test::FakeVaultTransit>(options);
    std::string address = server_->address();
    port_ = static_cast<uint16_t>(std::stoi(address.substr(address.rfind(':') + 1)));
  }
  TlsStream::Clock::time_point soon() const {
    return TlsStream::Clock::now() + std::chrono::seconds(5);
  }
  keys::testing::TempDir dir_;
  std::string cert_ = dir_.file("s.crt");
  std::string key_ = dir_.file("s.key");
  std::unique_ptr<test::FakeVaultTransit> server_;
  uint16_t port_ = 0;
};

TEST_F(TlsStreamTest, VerifiesTheServerAgainstTheGivenCa) {
  auto stream = TlsStream::connect({"127.0.0.1", port_, cert_, "", ""}, soon());
  ASSERT_TRUE(stream) << stream.error().describe();
  EXPECT_EQ((*stream)->protocolVersion().rfind("TLSv1.", 0), 0u);
  auto untrusted = TlsStream::connect(
      {"127.0.0.1", port_, "/etc/ssl/certs/ca-certificates.crt", "", ""}, soon());
  ASSERT_FALSE(untrusted);
  EXPECT_EQ(untrusted.error().kind(), ErrorKind::kInvalidArgument);
  // Right CA, wrong name: the certificate is for 127.0.0.1, not localhost.
  auto wrong_name = TlsStream::connect({"localhost", port_, cert_, "", ""}, soon());
  ASSERT_FALSE(wrong_name);
  EXPECT_EQ(wrong_name.error().kind(), ErrorKind::kInvalidArgument)
      << wrong_name.error().describe();
}

TEST_F(TlsStreamTest, WritingToAClosedConnectionIsAnErrorNotASignal) {
  auto stream = TlsStream::connect({"127.0.0.1", port_, cert_, "", ""}, soon());
  ASSERT_TRUE(stream) << stream.error().describe();
  // Stopping the server closes its end of our connection.
  server_.reset();
  // cpp-httplib ignores SIGPIPE process-wide; a CLI process would not.
  auto previous = std::signal(SIGPIPE, SIG_DFL);
  Bytes big(1 << 20, 'x');
  Status written = ok();
  for (int i = 0; i < 20 && written; ++i)
    written = (*stream)->writeAll(big, soon());
  std::signal(SIGPIPE, previous);
  ASSERT_FALSE(written);  // and the process is still alive
  EXPECT_EQ(written.error().kind(), ErrorKind::kTransient) << written.error().describe();
}

}  // namespace
}  // namespace s3cryptfs::crypto
