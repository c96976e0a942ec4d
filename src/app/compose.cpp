#include "compose.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "s3cryptfs/core/log.h"
#include "s3cryptfs/fs/volume_filesystem.h"
#include "s3cryptfs/http/aws_config.h"
#include "s3cryptfs/http/curl_http_client.h"
#include "s3cryptfs/s3/s3_object_store.h"
#include "s3cryptfs/store/dir_object_store.h"
#include "s3cryptfs/store/retrying_object_store.h"
#include "s3cryptfs/store/store_uri.h"

#include "cli_config.h"
#include "protector_choice.h"
#include "store_decorator_hook.h"

namespace s3cryptfs::app {
namespace {

// Set only in the test executable (store_decorator_hook.h); constant-initialised to nullptr.
StoreDecorator test_store_decorator = nullptr;

Result<std::shared_ptr<store::ObjectStore>> openDirStore(const store::StoreUri& uri) {
  struct stat st {};
  if (stat(uri.path.c_str(), &st) != 0) {
    return Error(ErrorKind::kNotFound, "folder " + uri.path + " does not exist");
  }
  if (!S_ISDIR(st.st_mode)) {
    return Error(ErrorKind::kNotDirectory, uri.path + " is not a folder");
  }
  auto opened = store::DirObjectStore::open(uri.path);
  if (!opened) return opened.error();
  return std::shared_ptr<store::ObjectStore>(std::move(*opened));
}

Result<std::shared_ptr<store::ObjectStore>> openS3Store(const store::StoreUri& uri,
                                                        const config::S3Settings& settings) {
  http::AwsExplicitSettings explicit_settings;
  if (!settings.profile.empty()) explicit_settings.profile = settings.profile;
  if (!settings.region.empty()) explicit_settings.region = settings.region;
  if (!settings.endpoint.empty()) explicit_settings.endpoint_url = settings.endpoint;
  auto aws = http::resolveAwsSettings(explicit_settings, http::processEnvironment(), "s3");
  if (!aws) return aws.error();
  if (!aws->credentials.complete()) {
    return Error(ErrorKind::kPermissionDenied,
                 "no S3 credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a "
                 "profile in ~/.aws/credentials (s3.profile)");
  }
  s3::S3Config s3_config;
  s3_config.region = aws->region.empty() ? "us-east-1" : aws->region;
  s3_config.endpoint = aws->endpoint_url.empty()
                           ? "https://s3." + s3_config.region + ".amazonaws.com"
                           : aws->endpoint_url;
  s3_config.bucket = uri.bucket;
  s3_config.prefix = uri.prefix;
  s3_config.addressing =
      settings.path_style ? s3::AddressingStyle::kPath : s3::AddressingStyle::kVirtualHosted;
  s3_config.credentials = aws->credentials;
  s3_config.max_single_copy_bytes = settings.max_single_copy_bytes;
  s3_config.payload_signing =
      settings.unsigned_payload ? s3::PayloadSigning::kUnsigned : s3::PayloadSigning::kSha256;
  log::info("S3: {}", aws->describe());

  http::ClientOptions client_options;
  client_options.max_connections = settings.max_connections;
  client_options.connect_timeout = std::chrono::milliseconds(settings.connect_timeout_ms);
  client_options.request_timeout = std::chrono::milliseconds(settings.request_timeout_ms);
  client_options.ca_bundle = settings.ca_bundle;
  client_options.insecure_skip_verify = settings.insecure_skip_verify;
  auto client = http::CurlHttpClient::create(client_options);
  if (!client) return client.error();
  auto s3_store = s3::S3ObjectStore::create(std::move(s3_config),
                                            std::shared_ptr<http::HttpClient>(std::move(*client)));
  if (!s3_store) return s3_store.error();
  return std::shared_ptr<store::ObjectStore>(std::move(*s3_store));
}

// One listing with few retries, so a wrong bucket, rejected credentials or a dead endpoint is
// told at once and apart, before anything else is tried.
Status checkReadable(const std::shared_ptr<store::ObjectStore>& raw) {
  store::RetryOptions quick;
  quick.max_attempts = 3;
  quick.base_delay = std::chrono::milliseconds(100);
  quick.max_delay = std::chrono::milliseconds(500);
  store::RetryingObjectStore checker(raw, quick);
  store::ListOptions list;
  list.max_keys = 1;
  auto page = checker.list(list);
  if (!page) return page.error().withContext(raw->describe());
  return ok();
}

}  // namespace

void setTestStoreDecorator(StoreDecorator decorator) {
  test_store_decorator = decorator;
}

Result<std::shared_ptr<store::ObjectStore>> openStore(const config::MountConfig& config) {
  auto uri = store::parseStoreUri(config.source);
  if (!uri) return uri.error();
  std::shared_ptr<store::ObjectStore> raw;
  if (uri->scheme == store::StoreUri::Scheme::kDir) {
    auto opened = openDirStore(*uri);
    if (!opened) return opened.error();
    raw = std::move(*opened);
  } else {
    auto opened = openS3Store(*uri, config.s3);
    if (!opened) return opened.error();
    raw = *opened;
    if (auto readable = checkReadable(raw); !readable) return readable.error();
    // Which optional features the server lacks (each logged once with its fallback).
    auto* s3_store = dynamic_cast<s3::S3ObjectStore*>(raw.get());
    if (auto probed = s3_store->probeCapabilities(); !probed) {
      return probed.error().withContext("probing " + raw->describe());
    }
  }
  if (uri->scheme == store::StoreUri::Scheme::kDir) {
    if (auto readable = checkReadable(raw); !readable) return readable.error();
  }
  if (test_store_decorator != nullptr) {
    auto decorated = test_store_decorator(raw);
    if (!decorated) return decorated.error();
    raw = std::move(*decorated);
  }
  store::RetryOptions retry;
  retry.max_attempts = config.retry.max_attempts;
  retry.base_delay = std::chrono::milliseconds(config.retry.base_delay_ms);
  retry.max_delay = std::chrono::milliseconds(config.retry.max_delay_ms);
  return std::shared_ptr<store::ObjectStore>(
      std::make_shared<store::RetryingObjectStore>(raw, retry));
}

ExitCode exitCodeForStoreError(const Error& error) {
  switch (error.kind()) {
    case ErrorKind::kInvalidArgument:
      return ExitCode::kUsage;
    case ErrorKind::kNotFound:
    case ErrorKind::kNotDirectory:
      return ExitCode::kNoSuchBucket;
    case ErrorKind::kPermissionDenied:
      return ExitCode::kAccessDenied;
    case ErrorKind::kTransient:
    case ErrorKind::kThrottled:
      return ExitCode::kStoreUnreachable;
    default:
      return ExitCode::kError;
  }
}

ExitCode exitCodeForVolumeError(const Error& error) {
  if (error.serviceCode() == volume::kUnlockFailedCode ||
      error.serviceCode() == kProtectorUsageCode || error.serviceCode() == kProtectorSetupCode) {
    return exitCodeForKeyError(error);
  }
  switch (error.kind()) {
    case ErrorKind::kNotFound:
      return error.serviceCode() == "NoSuchBucket" ? ExitCode::kNoSuchBucket : ExitCode::kNoVolume;
    case ErrorKind::kAlreadyExists:
      return ExitCode::kVolumeExists;
    case ErrorKind::kPermissionDenied:
      return ExitCode::kWrongKey;
    case ErrorKind::kCorrupt:
    case ErrorKind::kUnsupported:
      return ExitCode::kVolumeCorrupt;
    case ErrorKind::kTransient:
    case ErrorKind::kThrottled:
      return ExitCode::kStoreUnreachable;
    default:
      return ExitCode::kError;
  }
}

Result<std::string> stagingDirFor(const config::MountConfig& config, const volume::Volume& volume) {
  std::string dir = config.cache.staging_dir;
  if (dir.empty()) {
    const std::string base = userStateDir();
    if (base.empty()) {
      return Error(ErrorKind::kInvalidArgument,
                   "no staging folder: set cache.staging_dir (-o staging_dir=PATH)");
    }
    dir = base + "/staging/" + toHex(volume.descriptor().volume_id);
  }
  // Staging holds ciphertext only, but its file sizes and times are still nobody else's business.
  if (auto made = makeDirs(dir); !made) return made.error().withContext("staging folder");
  return dir;
}

Status lockStagingDir(const std::string& staging_dir) {
  const std::string path = staging_dir + ".lock";
  // Never closed: the lock lives as long as the process (and is not inherited by children).
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return Error(ErrorKind::kIo, "cannot open " + path + ": " + std::strerror(errno));
  }
  // A mount that was just unmounted still holds the lock while its process winds down (after
  // umount returns); wait a little for it before calling the folder taken.
  constexpr int kLockAttempts = 100;  // 100 × 50 ms = 5 s
  int err = 0;
  for (int attempt = 0; attempt < kLockAttempts; ++attempt) {
    err = flock(fd, LOCK_EX | LOCK_NB) == 0 ? 0 : errno;
    if (err != EWOULDBLOCK) break;
    if (attempt == 0)
      log::info("waiting for the staging folder {} (held by another mount)", staging_dir);
    usleep(50 * 1000);
  }
  if (err != 0) {
    char holder[32] = {};
    ssize_t n = pread(fd, holder, sizeof holder - 1, 0);
    close(fd);
    if (err == EWOULDBLOCK) {
      std::string pid = n > 0 ? std::string(holder, static_cast<size_t>(n)) : "?";
      while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' '))
        pid.pop_back();
      return Error(ErrorKind::kAlreadyExists,
                   "the staging folder " + staging_dir +
                       " is in use by another s3cryptfs mount of this volume (pid " + pid +
                       "); give this mount its own with -o staging_dir=PATH");
    }
    return Error(ErrorKind::kIo, "cannot lock " + path + ": " + std::strerror(err));
  }
  std::string pid = std::to_string(getpid()) + "\n";
  if (ftruncate(fd, 0) == 0) {
    ssize_t written = pwrite(fd, pid.data(), pid.size(), 0);
    (void)written;  // the PID is only for the message above
  }
  return ok();
}

Result<std::unique_ptr<fs::Filesystem>> openFilesystem(std::shared_ptr<volume::Volume> volume,
                                                       const config::MountConfig& config,
                                                       const std::string& staging_dir) {
  fs::FilesystemOptions options;
  options.cache_bytes = config.cache.memory_bytes;
  if (!config.cache.disk_dir.empty()) {
    // Accepted so that configurations written for it keep mounting; said, not silently dropped.
    log::warn("cache.disk_dir ({}) is ignored: the ciphertext disk cache is not built yet",
              config.cache.disk_dir);
  }
  options.staging_dir = staging_dir;
  options.upload_concurrency = config.upload.concurrency;
  options.part_bytes = config.upload.part_bytes;
  options.metadata_ttl = std::chrono::milliseconds(config.cache.metadata_ttl_ms);
  options.negative_ttl = std::chrono::milliseconds(config.cache.negative_ttl_ms);
  options.default_uid = geteuid();
  options.default_gid = getegid();
  return fs::openVolumeFilesystem(std::move(volume), options);
}

}  // namespace s3cryptfs::app
