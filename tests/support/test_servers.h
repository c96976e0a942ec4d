#pragma once
// Access to the S3 test servers started by tests/servers/all.sh (the ctest fixture "servers").
//
// all.sh writes their endpoints and credentials as KEY=value lines to an env file:
//   S3C_<NAME>_ENDPOINT, _ACCESS_KEY, _SECRET_KEY, _BUCKET, _REGION   (NAME = CEPH, MOTO, S3RVER)
// found at $S3C_TEST_SERVERS_ENV, else <build dir>/test-servers/env.
//
// A test that needs a server declares `FIXTURES servers` in s3c_add_test and calls
// requireTestServer("ceph") (throws: gtest reports the test as FAILED with the message) or uses
// S3C_ASSERT_TEST_SERVER. A missing server is a failure, never a silent skip.
//
// To run the same tests against another S3 service (MinIO, AWS...), either point
// S3C_TEST_SERVERS_ENV at an env file of your own, or export S3C_<NAME>_ENDPOINT and friends:
// when S3C_<NAME>_ENDPOINT is set in the process environment, all of that server's fields come
// from the process environment instead of the file.

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace s3cryptfs::test {

struct S3TestServer {
  std::string name;      // "ceph", "moto", "s3rver" (lower case)
  std::string endpoint;  // "http://127.0.0.1:PORT", no trailing slash
  std::string access_key;
  std::string secret_key;
  std::string bucket;  // exists and is shared by all tests: use uniquePrefix() for keys
  std::string region;  // "us-east-1" unless the file says otherwise
};

// The servers all.sh starts, in that order: "ceph" (Ceph RGW, checks signatures, the reference),
// "moto", "s3rver" (a limited S3: see tests/servers/README.md).
const std::vector<std::string>& testServerNames();

// The env file path: $S3C_TEST_SERVERS_ENV if set and non-empty, else
// $S3C_TEST_BINARY_DIR/test-servers/env (environment variable, else the compile-time
// build directory).
std::string testServersEnvPath();

// All KEY=value lines of the env file (comments and blank lines skipped, surrounding quotes
// removed); empty if the file does not exist.
std::map<std::string, std::string> readTestServersEnv();

// The server `name` (case-insensitive), or nullopt when the environment / env file does not
// describe it completely (endpoint, access key, secret key and bucket are required).
std::optional<S3TestServer> testServer(const std::string& name);

// Why testServer(name) is nullopt, with what to do about it (for failure messages).
std::string missingTestServerMessage(const std::string& name);

// testServer(name), or throws std::runtime_error(missingTestServerMessage(name)).
S3TestServer requireTestServer(const std::string& name);

// The PyKMIP server of the fixture (tests/servers/pykmip.sh), from the same env file (or, when
// S3C_PYKMIP_HOST is set in the process environment, from the environment):
//   S3C_PYKMIP_HOST, _PORT, _CA, _CERT, _KEY, _OTHER_CERT, _OTHER_KEY, _WRONG_CA
struct KmipTestServer {
  std::string host;
  std::string port;
  std::string ca;          // the CA that signed the server and client certificates
  std::string cert, key;   // client "s3cryptfs-test"
  std::string other_cert;  // client "s3cryptfs-other" (another identity, same CA)
  std::string other_key;
  std::string wrong_ca;  // a CA that signed nothing here
};
std::optional<KmipTestServer> testKmipServer();
// testKmipServer(), or throws std::runtime_error with what is missing and what to do.
KmipTestServer requireKmipServer();

// A fresh key prefix for one test, so tests sharing a bucket never collide:
// "s3c-tests/<test_name sanitised>-<UTC yyyymmddThhmmss>-<16 random hex>/" (ends with '/').
std::string uniquePrefix(const std::string& test_name);

}  // namespace s3cryptfs::test

// In a gtest body (or any void function): declares `const S3TestServer& var` for server `name`,
// or fails the test (fatally) with missingTestServerMessage(name).
#define S3C_ASSERT_TEST_SERVER(var, name)                                                      \
  const auto var##_lookup_ = ::s3cryptfs::test::testServer(name);                              \
  ASSERT_TRUE(var##_lookup_.has_value()) << ::s3cryptfs::test::missingTestServerMessage(name); \
  const ::s3cryptfs::test::S3TestServer& var = *var##_lookup_
