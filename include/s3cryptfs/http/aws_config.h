#pragma once

// Resolution of AWS credentials, region and endpoint the way the AWS CLI and SDKs do it, for
// the credential sources that need no network: explicit values, the environment, the shared
// credentials file and the shared config file.

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "s3cryptfs/core/result.h"
#include "s3cryptfs/http/sigv4.h"

namespace s3cryptfs::http {

// The process environment as a map, so tests can inject their own.
using Environment = std::map<std::string, std::string>;
Environment processEnvironment();

// Values from our own configuration file / command line; each one set wins over everything else.
struct AwsExplicitSettings {
  std::optional<std::string> profile;
  std::optional<std::string> access_key_id;
  std::optional<std::string> secret_access_key;
  std::optional<std::string> session_token;
  std::optional<std::string> region;
  std::optional<std::string> endpoint_url;
  std::optional<std::string> credentials_file;  // instead of ~/.aws/credentials
  std::optional<std::string> config_file;       // instead of ~/.aws/config
};

struct AwsSettings {
  std::string profile;       // the profile used ("default" unless chosen)
  Credentials credentials;   // may be incomplete: the caller decides whether that is an error
  std::string region;        // empty when nothing set one
  std::string endpoint_url;  // empty: the service's AWS endpoint
  // Where the access key came from ("explicit", "environment", "credentials file PATH",
  // "config file PATH"), for log lines; never the key itself.
  std::string credentials_source;
  // Safe for logs: profile, source, region, endpoint, access key id; no secret.
  std::string describe() const;
};

// Resolves settings for `service` ("s3", "kms": picks AWS_ENDPOINT_URL_<SERVICE>).
// Precedence per value: explicit, environment, shared credentials file (keys only), shared
// config file. The access key id, secret and session token always come from one source
// together. Missing files are fine; malformed lines are skipped with a warning naming file and
// line; an unreadable existing file is kIo.
Result<AwsSettings> resolveAwsSettings(const AwsExplicitSettings& explicit_settings,
                                       const Environment& environment,
                                       std::string_view service = "s3");

// A parsed INI file: section name -> key -> value (keys lower-cased, values trimmed).
using IniSections = std::map<std::string, std::map<std::string, std::string>>;
// Parses INI text; `origin` names it in warnings. Lines starting with ';' or '#' are comments;
// indented lines after "key =" (nested values, e.g. `s3 =` blocks) are skipped.
IniSections parseIni(std::string_view text, std::string_view origin,
                     std::vector<std::string>* warnings = nullptr);

}  // namespace s3cryptfs::http
