#pragma once

// The one place the S3 store meets the SigV4 signer of the http module.

#include <chrono>
#include <string_view>

#include "s3cryptfs/core/result.h"
#include "s3cryptfs/http/http_client.h"
#include "s3cryptfs/http/sigv4.h"

namespace s3cryptfs::s3 {

// Adds x-amz-date, x-amz-content-sha256 (the body's SHA-256, or UNSIGNED-PAYLOAD), the session
// token when there is one, and Authorization.
Status signS3Request(http::Request& request, const http::Credentials& credentials,
                     std::string_view region, bool unsigned_payload,
                     std::chrono::system_clock::time_point now);

}  // namespace s3cryptfs::s3
