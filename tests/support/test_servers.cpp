#include "support/test_servers.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <random>
#include <stdexcept>

namespace s3cryptfs::test {
namespace {

std::string getenvString(const std::string& key) {
  const char* v = std::getenv(key.c_str());
  return v != nullptr ? std::string(v) : std::string();
}

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return s;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return {};
  const auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

bool fromProcessEnv(const std::string& prefix) {
  return !getenvString(prefix + "ENDPOINT").empty();
}

}  // namespace

const std::vector<std::string>& testServerNames() {
  static const std::vector<std::string> names{"ceph", "moto", "s3rver"};
  return names;
}

std::string testServersEnvPath() {
  if (auto p = getenvString("S3C_TEST_SERVERS_ENV"); !p.empty()) return p;
  std::string bin = getenvString("S3C_TEST_BINARY_DIR");
#ifdef S3C_TEST_BINARY_DIR
  if (bin.empty()) bin = S3C_TEST_BINARY_DIR;
#endif
  if (bin.empty()) return "test-servers/env";
  return bin + "/test-servers/env";
}

std::map<std::string, std::string> readTestServersEnv() {
  std::map<std::string, std::string> out;
  std::ifstream in(testServersEnvPath());
  std::string line;
  while (std::getline(in, line)) {
    line = trim(line);
    if (line.empty() || line[0] == '#') continue;
    if (line.rfind("export ", 0) == 0) line = trim(line.substr(7));
    const auto eq = line.find('=');
    if (eq == std::string::npos || eq == 0) continue;
    std::string key = trim(line.substr(0, eq));
    std::string value = trim(line.substr(eq + 1));
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
        value.back() == value.front()) {
      value = value.substr(1, value.size() - 2);
    }
    out[key] = value;
  }
  return out;
}

std::optional<S3TestServer> testServer(const std::string& name) {
  const std::string prefix = "S3C_" + upper(name) + "_";
  std::map<std::string, std::string> file;
  const bool use_env = fromProcessEnv(prefix);
  if (!use_env) file = readTestServersEnv();
  auto get = [&](const std::string& field) -> std::string {
    if (use_env) return getenvString(prefix + field);
    auto it = file.find(prefix + field);
    return it != file.end() ? it->second : std::string();
  };
  S3TestServer s;
  s.name = lower(name);
  s.endpoint = get("ENDPOINT");
  while (!s.endpoint.empty() && s.endpoint.back() == '/')
    s.endpoint.pop_back();
  s.access_key = get("ACCESS_KEY");
  s.secret_key = get("SECRET_KEY");
  s.bucket = get("BUCKET");
  s.region = get("REGION");
  if (s.region.empty()) s.region = "us-east-1";
  if (s.endpoint.empty() || s.access_key.empty() || s.secret_key.empty() || s.bucket.empty()) {
    return std::nullopt;
  }
  return s;
}

std::string missingTestServerMessage(const std::string& name) {
  const std::string prefix = "S3C_" + upper(name) + "_";
  const std::string path = testServersEnvPath();
  std::string why;
  if (fromProcessEnv(prefix)) {
    why = prefix + "ENDPOINT is set in the environment but " + prefix +
          "ACCESS_KEY, _SECRET_KEY or _BUCKET is not";
  } else if (!std::ifstream(path).good()) {
    why = "the env file " + path + " does not exist";
  } else {
    why = "the env file " + path + " has no complete " + prefix + "* entries (ENDPOINT, " +
          "ACCESS_KEY, SECRET_KEY, BUCKET)";
  }
  return "S3 test server '" + name + "' not available: " + why +
         ". Run the tests through ctest (the 'servers' fixture starts the servers: "
         "ctest -L integration), or start them by hand with "
         "`bash tests/servers/all.sh start <build>/test-servers`, or set S3C_TEST_SERVERS_ENV "
         "to an env file (see tests/servers/README.md).";
}

S3TestServer requireTestServer(const std::string& name) {
  auto s = testServer(name);
  if (!s) throw std::runtime_error(missingTestServerMessage(name));
  return *s;
}

std::optional<KmipTestServer> testKmipServer() {
  const bool use_env = !getenvString("S3C_PYKMIP_HOST").empty();
  std::map<std::string, std::string> file;
  if (!use_env) file = readTestServersEnv();
  auto get = [&](const std::string& field) -> std::string {
    if (use_env) return getenvString("S3C_PYKMIP_" + field);
    auto it = file.find("S3C_PYKMIP_" + field);
    return it != file.end() ? it->second : std::string();
  };
  KmipTestServer s{get("HOST"), get("PORT"),       get("CA"),        get("CERT"),
                   get("KEY"),  get("OTHER_CERT"), get("OTHER_KEY"), get("WRONG_CA")};
  if (s.host.empty() || s.port.empty() || s.ca.empty() || s.cert.empty() || s.key.empty()) {
    return std::nullopt;
  }
  return s;
}

KmipTestServer requireKmipServer() {
  auto s = testKmipServer();
  if (!s) {
    throw std::runtime_error(
        "KMIP test server not available: no complete S3C_PYKMIP_* entries (HOST, PORT, CA, "
        "CERT, KEY) in " +
        testServersEnvPath() +
        ". Run the tests through ctest (the 'servers' fixture starts PyKMIP), or start it with "
        "`bash tests/servers/pykmip.sh start DIR` and set S3C_TEST_SERVERS_ENV=DIR/env.");
  }
  return *s;
}

std::string uniquePrefix(const std::string& test_name) {
  std::string clean;
  clean.reserve(test_name.size());
  for (unsigned char c : test_name) {
    clean.push_back(
        (std::isalnum(c) != 0 || c == '.' || c == '_' || c == '-') ? static_cast<char>(c) : '-');
  }
  if (clean.size() > 100) clean.resize(100);
  if (clean.empty()) clean = "test";

  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&now, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%S", &tm);

  static thread_local std::mt19937_64 rng{[] {
    std::random_device rd;
    return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  }()};
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(rng()));
  return "s3c-tests/" + clean + "-" + stamp + "-" + hex + "/";
}

}  // namespace s3cryptfs::test
