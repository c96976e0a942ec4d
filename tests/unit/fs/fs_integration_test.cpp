// A subset of the filesystem tests against real S3 servers on 127.0.0.1 (the ctest fixture
// "servers"): Ceph RGW, which behaves like AWS S3, and s3rver, a limited S3 (no conditional
// writes, no UploadPartCopy) on which the filesystem must fall back and still be correct.
#include <fcntl.h>

#include <gtest/gtest.h>

#include "s3cryptfs/http/curl_http_client.h"
#include "s3cryptfs/s3/s3_object_store.h"
#include "s3cryptfs/store/retrying_object_store.h"

#include "support/test_servers.h"
#include "unit/fs/fs_test_support.h"

namespace s3cryptfs::fs {
namespace {

using test::FsHarness;
using test::pattern;

std::shared_ptr<http::HttpClient> sharedClient() {
  static std::shared_ptr<http::HttpClient> client = [] {
    http::ClientOptions options;
    options.connect_timeout = std::chrono::milliseconds(3000);
    options.request_timeout = std::chrono::milliseconds(120000);
    return std::shared_ptr<http::HttpClient>(std::make_shared<http::CurlHttpClient>(options));
  }();
  return client;
}

class FsIntegrationTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    auto server = ::s3cryptfs::test::testServer(GetParam());
    ASSERT_TRUE(server.has_value()) << ::s3cryptfs::test::missingTestServerMessage(GetParam());
    s3::S3Config config;
    config.endpoint = server->endpoint;
    config.region = server->region.empty() ? "us-east-1" : server->region;
    config.bucket = server->bucket;
    config.prefix = ::s3cryptfs::test::uniquePrefix(
        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    config.credentials.access_key_id = server->access_key;
    config.credentials.secret_access_key = server->secret_key;
    auto made = s3::S3ObjectStore::create(config, sharedClient());
    ASSERT_TRUE(made) << made.error().describe();
    auto caps = (*made)->probeCapabilities();
    ASSERT_TRUE(caps) << caps.error().describe();
    caps_ = *caps;
    std::shared_ptr<store::ObjectStore> s3(std::move(made).value());
    store::RetryOptions retry;
    retry.base_delay = std::chrono::milliseconds(20);
    FilesystemOptions options;
    options.part_bytes = 5 << 20;  // S3's smallest part
    h_ = std::make_unique<FsHarness>(std::make_shared<store::RetryingObjectStore>(s3, retry), 4096,
                                     options);
  }
  std::unique_ptr<FsHarness> h_;
  store::Capabilities caps_;
};

TEST_P(FsIntegrationTest, FilesDirectoriesAndAttributesPersist) {
  S3C_ASSERT_OK(h_->mkdirPath("/docs", 0750));
  S3C_ASSERT_OK(h_->writeFile("/docs/a", pattern(10000, 1)));
  S3C_ASSERT_OK(h_->writeFile("/docs/b", pattern(0, 2)));
  S3C_ASSERT_OK(h_->fs().symlink(kRootInode, "link", "docs/a", h_->caller_));
  S3C_ASSERT_OK(h_->fs().setxattr(*h_->resolve("/docs/a"), "user.k", asBytes("v"), 0));
  SetAttrRequest chmod;
  chmod.mode = 0600;
  S3C_ASSERT_OK(h_->fs().setattr(*h_->resolve("/docs/a"), chmod, h_->caller_));
  S3C_ASSERT_OK(h_->fs().rename(kRootInode, "docs", kRootInode, "papers", 0));
  h_->reopen();
  EXPECT_EQ(h_->list("/", true), (std::vector<std::string>{"link", "papers"}));
  EXPECT_EQ(h_->list("/papers", true), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(*h_->readFile("/papers/a"), pattern(10000, 1));
  EXPECT_EQ(h_->fs().getattr(*h_->resolve("/papers/a"))->mode, S_IFREG | 0600u);
  EXPECT_EQ(h_->fs().getattr(*h_->resolve("/papers"))->mode, S_IFDIR | 0750u);
  EXPECT_EQ(*h_->fs().getxattr(*h_->resolve("/papers/a"), "user.k"), toBytes("v"));
  EXPECT_EQ(*h_->fs().readlink(*h_->resolve("/link")), "docs/a");
  S3C_EXPECT_ERRNO(h_->fs().rmdir(kRootInode, "papers"), ENOTEMPTY);
}

TEST_P(FsIntegrationTest, MultipartRewriteOfOneByte) {
  Bytes data = pattern(11 << 20, 3);  // three parts of 5 MiB
  S3C_ASSERT_OK(h_->writeFile("/big", data, 1 << 20));
  h_->reopen();
  auto handle = h_->fs().open(*h_->resolve("/big"), O_RDWR);
  S3C_ASSERT_OK(handle);
  S3C_ASSERT_OK(h_->fs().write(*handle, 6 << 20, asBytes("#")));
  S3C_ASSERT_OK(h_->fs().release(*handle));
  data[6 << 20] = '#';
  h_->reopen();
  auto back = h_->readFile("/big", 1 << 20);
  S3C_ASSERT_OK(back);
  EXPECT_TRUE(*back == data);
}

TEST_P(FsIntegrationTest, KilledDaemonsWritesComeBack) {
  S3C_ASSERT_OK(h_->writeFile("/f", pattern(9000, 4)));
  auto handle = h_->fs().open(*h_->resolve("/f"), O_RDWR);
  S3C_ASSERT_OK(handle);
  S3C_ASSERT_OK(h_->fs().write(*handle, 100, asBytes("journal")));
  h_->kill();
  h_->reopen(false);
  Bytes expected = pattern(9000, 4);
  std::string patch = "journal";
  std::copy(patch.begin(), patch.end(), expected.begin() + 100);
  EXPECT_EQ(*h_->readFile("/f"), expected);
}

TEST_P(FsIntegrationTest, ConcurrentWriterLosesToAConflictCopyWhereTheServerCanTell) {
  S3C_ASSERT_OK(h_->writeFile("/f", pattern(100, 1)));
  auto other = h_->openSecond();
  auto theirs = other->open(other->lookup(kRootInode, "f")->attr.ino, O_RDWR);
  auto ours = h_->fs().open(*h_->resolve("/f"), O_RDWR);
  S3C_ASSERT_OK(theirs);
  S3C_ASSERT_OK(ours);
  S3C_ASSERT_OK(other->write(*theirs, 0, asBytes("THEIRS")));
  S3C_ASSERT_OK(h_->fs().write(*ours, 0, asBytes("OURS")));
  S3C_ASSERT_OK(other->release(*theirs));
  S3C_ASSERT_OK(h_->fs().release(*ours));
  h_->reopen();
  auto names = h_->list("/");
  if (!caps_.conditional_put_if_match) {
    // A server that ignores If-Match cannot tell us we lost: the last writer wins
    // (docs/SEMANTICS.md, "Consistency").
    EXPECT_EQ(names, std::vector<std::string>{"f"});
    EXPECT_EQ(asChars(*h_->readFile("/f")).substr(0, 4), "OURS");
    return;
  }
  ASSERT_EQ(names.size(), 2u);
  EXPECT_TRUE(names[1].starts_with("f.conflict-"));
  EXPECT_EQ(asChars(*h_->readFile("/f")).substr(0, 6), "THEIRS");
  EXPECT_EQ(asChars(*h_->readFile("/" + names[1])).substr(0, 4), "OURS");
}

INSTANTIATE_TEST_SUITE_P(Servers, FsIntegrationTest, ::testing::Values("ceph", "s3rver"));

}  // namespace
}  // namespace s3cryptfs::fs
