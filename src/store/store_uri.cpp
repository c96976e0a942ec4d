#include "s3cryptfs/store/store_uri.h"

#include <filesystem>

namespace s3cryptfs::store {
namespace {

constexpr std::string_view kDirScheme = "dir://";
constexpr std::string_view kS3Scheme = "s3://";

Error bad(std::string_view text, std::string_view why) {
  return Error(ErrorKind::kInvalidArgument,
               "invalid store URI '" + std::string(text) + "': " + std::string(why));
}

bool startsWith(std::string_view text, std::string_view head) {
  return text.substr(0, head.size()) == head;
}

// The S3 bucket naming rules (DNS-compatible names), which every server we target accepts.
bool validBucket(std::string_view bucket) {
  if (bucket.size() < 3 || bucket.size() > 63) return false;
  for (char c : bucket) {
    bool allowed = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
    if (!allowed) return false;
  }
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(bucket.front()) || !alnum(bucket.back())) return false;
  return bucket.find("..") == std::string_view::npos;
}

}  // namespace

std::string StoreUri::toString() const {
  if (scheme == Scheme::kDir) return std::string(kDirScheme) + path;
  return std::string(kS3Scheme) + bucket + "/" + prefix;
}

Result<StoreUri> parseStoreUri(std::string_view text) {
  if (text.find_first_of("?#") != std::string_view::npos) {
    return bad(text, "query strings and fragments are not supported");
  }
  for (unsigned char c : text) {
    if (c < 0x20 || c == 0x7f) return bad(text, "contains a control character");
  }
  StoreUri uri;
  if (startsWith(text, kDirScheme)) {
    std::string_view rest = text.substr(kDirScheme.size());
    if (rest.empty()) return bad(text, "missing path; expected dir:///absolute/path");
    if (rest.front() != '/') {
      return bad(text, "dir URIs take no host; expected dir:///absolute/path (three slashes)");
    }
    std::filesystem::path normal = std::filesystem::path(std::string(rest)).lexically_normal();
    std::string path = normal.string();
    while (path.size() > 1 && path.back() == '/')
      path.pop_back();
    uri.scheme = StoreUri::Scheme::kDir;
    uri.path = std::move(path);
    return uri;
  }
  if (startsWith(text, kS3Scheme)) {
    std::string_view rest = text.substr(kS3Scheme.size());
    size_t slash = rest.find('/');
    std::string_view bucket = rest.substr(0, slash);
    std::string_view prefix = slash == std::string_view::npos ? "" : rest.substr(slash + 1);
    if (bucket.empty()) return bad(text, "missing bucket; expected s3://bucket/prefix");
    if (!validBucket(bucket)) {
      return bad(text, "bucket '" + std::string(bucket) +
                           "' is not a valid S3 bucket name (3-63 characters: a-z, 0-9, '-', "
                           "'.'; starting and ending with a letter or digit)");
    }
    while (!prefix.empty() && prefix.front() == '/')
      prefix.remove_prefix(1);
    while (!prefix.empty() && prefix.back() == '/')
      prefix.remove_suffix(1);
    if (prefix.find("//") != std::string_view::npos) {
      return bad(text, "empty path component in the prefix ('//')");
    }
    uri.scheme = StoreUri::Scheme::kS3;
    uri.bucket = std::string(bucket);
    uri.prefix = std::string(prefix);
    if (!uri.prefix.empty()) uri.prefix += '/';
    if (uri.prefix.size() > 512) {
      return bad(text, "prefix longer than 512 bytes leaves too little of the 1024-byte key");
    }
    return uri;
  }
  size_t colon = text.find("://");
  if (colon == std::string_view::npos) {
    return bad(text, "missing scheme; expected dir:///absolute/path or s3://bucket/prefix");
  }
  return bad(text, "unknown scheme '" + std::string(text.substr(0, colon)) +
                       "'; expected dir:// or s3://");
}

}  // namespace s3cryptfs::store
