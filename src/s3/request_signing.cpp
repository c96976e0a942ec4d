#include "request_signing.h"

namespace s3cryptfs::s3 {

Status signS3Request(http::Request& request, const http::Credentials& credentials,
                     std::string_view region, bool unsigned_payload,
                     std::chrono::system_clock::time_point now) {
  http::PayloadHash payload =
      unsigned_payload ? http::PayloadHash::unsignedPayload() : http::PayloadHash::bodySha256();
  // S3 signs the path as sent (encoded once): the signer's default.
  return http::signRequest(request, credentials, region, "s3", now, payload);
}

}  // namespace s3cryptfs::s3
