#pragma once

#include <string>
#include <string_view>

#include "s3cryptfs/core/result.h"

namespace s3cryptfs::http {

// The pieces of an absolute http(s) URL the signer and the error messages need.
struct UrlParts {
  std::string scheme;       // "http" or "https", lower case
  std::string host;         // without port
  std::string host_header;  // host[:port], the port only when not the scheme's default
  std::string path;         // as in the URL (still encoded), may be empty
  std::string query;        // after '?', without the fragment, may be empty
};

Result<UrlParts> parseUrl(std::string_view url);

// "scheme://host[:port]" of a URL, for error messages: never the path or the query, which may
// carry presigned credentials. Falls back to "(unparsable URL)".
std::string describeEndpoint(std::string_view url);

}  // namespace s3cryptfs::http
