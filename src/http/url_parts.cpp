#include "url_parts.h"

#include <cctype>

namespace s3cryptfs::http {

Result<UrlParts> parseUrl(std::string_view url) {
  UrlParts parts;
  size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) {
    return Error(ErrorKind::kInvalidArgument, "URL has no scheme (expected http:// or https://)");
  }
  for (char c : url.substr(0, scheme_end)) {
    parts.scheme += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (parts.scheme != "http" && parts.scheme != "https") {
    return Error(ErrorKind::kInvalidArgument, "URL scheme must be http or https");
  }
  std::string_view rest = url.substr(scheme_end + 3);
  size_t fragment = rest.find('#');
  if (fragment != std::string_view::npos) rest = rest.substr(0, fragment);
  size_t authority_end = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, authority_end);
  if (size_t at = authority.rfind('@'); at != std::string_view::npos) {
    authority = authority.substr(at + 1);
  }
  if (authority.empty()) return Error(ErrorKind::kInvalidArgument, "URL has no host");
  std::string_view host = authority;
  std::string_view port;
  size_t colon = authority.rfind(':');
  size_t bracket = authority.rfind(']');
  if (colon != std::string_view::npos && (bracket == std::string_view::npos || colon > bracket)) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  parts.host = std::string(host);
  parts.host_header = parts.host;
  bool default_port =
      (parts.scheme == "http" && port == "80") || (parts.scheme == "https" && port == "443");
  if (!port.empty() && !default_port) parts.host_header += ":" + std::string(port);
  if (authority_end != std::string_view::npos) {
    std::string_view tail = rest.substr(authority_end);
    size_t q = tail.find('?');
    parts.path = std::string(tail.substr(0, q));
    if (q != std::string_view::npos) parts.query = std::string(tail.substr(q + 1));
  }
  return parts;
}

std::string describeEndpoint(std::string_view url) {
  auto parts = parseUrl(url);
  if (!parts) return "(unparsable URL)";
  return parts->scheme + "://" + parts->host_header;
}

}  // namespace s3cryptfs::http
