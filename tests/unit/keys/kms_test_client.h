#pragma once

// Administrative AWS KMS calls for tests (CreateKey, DisableKey, ...), signed with our SigV4
// signer, against the moto server of the `servers` fixture.
#include <string>

#include <nlohmann/json.hpp>

#include "s3cryptfs/http/curl_http_client.h"
#include "s3cryptfs/keys/awskms_protector.h"

#include "support/test_servers.h"

namespace s3cryptfs::keys::testing {

// The JSON response of `operation` (throws std::runtime_error on any failure, so a broken
// fixture fails the test loudly).
inline nlohmann::json kmsAdmin(const test::S3TestServer& server, const std::string& operation,
                               const nlohmann::json& body) {
  auto client = http::CurlHttpClient::create(http::ClientOptions{});
  if (!client) throw std::runtime_error(client.error().describe());
  http::Credentials credentials{server.access_key, server.secret_key, ""};
  const std::string text = body.dump();  // the request points at it until sent
  auto request = signedKmsRequest(server.endpoint, operation, text, credentials, server.region);
  if (!request) throw std::runtime_error(request.error().describe());
  auto response = (*client)->send(*request);
  if (!response) throw std::runtime_error(response.error().describe());
  if (response->status != 200) {
    throw std::runtime_error("KMS " + operation + ": HTTP " + std::to_string(response->status) +
                             ": " + std::string(asChars(response->body)));
  }
  return nlohmann::json::parse(response->body.begin(), response->body.end());
}

}  // namespace s3cryptfs::keys::testing
