#pragma once

// Shared by the network protectors (AWS KMS, Vault transit, KMIP): the HTTP client they use,
// scrubbing of ordinary memory that briefly held a secret, and secret-free error text.
#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "s3cryptfs/core/bytes.h"
#include "s3cryptfs/core/result.h"
#include "s3cryptfs/core/secure_buffer.h"
#include "s3cryptfs/http/http_client.h"

namespace s3cryptfs::keys::detail {

// One HTTP client for one protector call: one connection, the whole call (connect included)
// bounded by `timeout`, the connect alone by min(timeout, 5 s), a response body by 1 MiB.
Result<std::unique_ptr<http::HttpClient>> makeRemoteClient(std::chrono::milliseconds timeout,
                                                           const std::string& ca_bundle);

// Zeroises then clears. For std::string / Bytes that held key material or a token.
void scrub(std::string& text);
void scrub(Bytes& bytes);

// Decodes base64 text into locked memory; the temporary copy is scrubbed. kCorrupt naming
// `what` if the text is not base64 or the size is not `expected_size` (0: any size).
Result<SecureBuffer> decodeSecretBase64(std::string_view text, size_t expected_size,
                                        std::string_view what);

// The start of a server's error body for a message, with control characters replaced: enough
// to see what went wrong, short enough never to carry a whole response.
std::string bodyExcerpt(ByteSpan body, size_t limit = 200);

// Prefixes a transport error with the protector's name and the timeout, keeping its kind.
Error remoteError(const Error& error, std::string_view what, std::chrono::milliseconds timeout);

}  // namespace s3cryptfs::keys::detail
