#include "commands.h"

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <sys/stat.h>
#include <unistd.h>

#include "s3cryptfs/config/mount_config.h"
#include "s3cryptfs/core/log.h"
#include "s3cryptfs/fuse/fuse_session.h"
#include "s3cryptfs/http/aws_config.h"
#include "s3cryptfs/keys/keyfile_protector.h"
#include "s3cryptfs/store/store_uri.h"
#include "s3cryptfs/volume/volume.h"

#include "compose.h"
#include "daemon.h"
#include "metrics_reporter.h"
#include "process_setup.h"
#include "protector_choice.h"

namespace s3cryptfs::app {
namespace {

ExitCode exitCodeForMountError(const Error& error) {
  switch (error.kind()) {
    case ErrorKind::kNotFound:
    case ErrorKind::kNotDirectory:
      return ExitCode::kMountPointMissing;
    case ErrorKind::kAlreadyExists:
      return ExitCode::kMountPointBusy;
    default:
      return ExitCode::kMountFailed;
  }
}

}  // namespace

ExitCode runKeygen(const std::string& path) {
  disableCoreDumps();
  if (auto made = keys::generateKeyFile(path); !made) {
    printError("keygen: " + made.error().message());
    return made.error().kind() == ErrorKind::kAlreadyExists ? ExitCode::kKeyUnavailable
                                                            : ExitCode::kError;
  }
  std::cout << "wrote a new key file " << path
            << " (mode 0600). Keep a copy in a safe place: without it the volume cannot be "
               "opened.\n";
  return ExitCode::kOk;
}

ExitCode runInit(const InitArgs& args) {
  disableCoreDumps();
  auto config = buildConfig(args.common);
  if (!config) {
    printError(config.error().message());
    return ExitCode::kUsage;
  }
  // The command prints its own result; the log only adds warnings.
  log::setLevel(log::Level::kWarn);

  volume::CreateOptions options;
  if (args.cipher == "aes-256-gcm") {
    options.cipher = crypto::Cipher::kAes256Gcm;
  } else if (args.cipher == "chacha20-poly1305") {
    options.cipher = crypto::Cipher::kChaCha20Poly1305;
  } else {
    printError("--cipher '" + args.cipher + "' is not aes-256-gcm or chacha20-poly1305");
    return ExitCode::kUsage;
  }
  if (!args.chunk_size.empty()) {
    auto size = config::parseSize(args.chunk_size);
    if (!size || *size > UINT32_MAX || !format::isValidChunkSize(static_cast<uint32_t>(*size))) {
      printError("--chunk-size '" + args.chunk_size +
                 "' is not a power of two between 4KiB and 4MiB");
      return ExitCode::kUsage;
    }
    options.chunk_size = static_cast<uint32_t>(*size);
  }
  options.name_mode =
      args.plaintext_names ? format::NameMode::kPlaintext : format::NameMode::kEncrypted;

  auto specs = specsFromSettings(config->key);
  if (!specs) {
    printError(specs.error().message());
    return ExitCode::kUsage;
  }
  if (specs->empty()) {
    printError("no protector given: pass --protector SPEC (one or more) or --key-file FILE");
    return ExitCode::kUsage;
  }
  auto protectors = buildProtectors(*specs, config->key, Prompting::kTerminal);
  if (!protectors) {
    printError(protectors.error().message());
    return exitCodeForKeyError(protectors.error());
  }
  // A first volume in a plain folder: create the folder.
  if (auto uri = store::parseStoreUri(config->source);
      uri && uri->scheme == store::StoreUri::Scheme::kDir) {
    if (auto made = makeDirs(uri->path); !made) {
      printError(made.error().message());
      return ExitCode::kError;
    }
  }
  auto store = openStore(*config);
  if (!store) {
    printError(store.error().message());
    return exitCodeForStoreError(store.error());
  }
  auto created = volume::Volume::create(*store, protectors->named, options);
  if (!created) {
    printError(created.error().message());
    // A new passphrase typed differently twice, two slots with one id: the user's to fix.
    return created.error().kind() == ErrorKind::kInvalidArgument
               ? ExitCode::kUsage
               : exitCodeForVolumeError(created.error());
  }
  std::cout << "created an s3cryptfs volume at " << config->source << " (" << args.cipher << ", "
            << options.chunk_size << "-byte chunks, "
            << (args.plaintext_names ? "plaintext" : "encrypted") << " names), protectors:";
  for (const auto& slot : (*created)->descriptor().newest().slots) {
    std::cout << " '" << slot.id << "' (" << slot.type << ")";
  }
  std::cout << "\n";
  printNewRecoveryShares(*protectors, config->source);
  return ExitCode::kOk;
}

ExitCode runMount(const MountArgs& args) {
  auto config = buildConfig(args.common);
  if (!config) {
    printError(config.error().message());
    return ExitCode::kUsage;
  }
  if (args.foreground) config->fuse.foreground = true;
  const std::string mountpoint = absolutePath(args.mountpoint);
  // Named protectors are built (and a passphrase prompt answered) before the fork: the
  // background daemon has no terminal. Without any, the volume's own slots are tried later.
  auto specs = specsFromSettings(config->key);
  if (!specs) {
    printError(specs.error().message());
    return ExitCode::kUsage;
  }
  std::optional<Protectors> named_protectors;
  if (!specs->empty()) {
    auto built = buildProtectors(
        *specs, config->key, config->fuse.foreground ? Prompting::kTerminal : Prompting::kReadNow);
    if (!built) {
      printError(built.error().message());
      return exitCodeForKeyError(built.error());
    }
    preferFirst(*built, config->key.protector);
    named_protectors = std::move(*built);
  }
  // Nothing before the fork may start a thread: the daemon is a fork of this process.
  Readiness readiness = Readiness::foreground();
  if (!config->fuse.foreground) {
    auto daemon = Readiness::daemonize();
    if (!daemon) {
      printError(daemon.error().message());
      return ExitCode::kError;
    }
    readiness = std::move(*daemon);
  }
  disableCoreDumps();
  auto log_file = setUpLogging(config->log, readiness.background(), mountpoint);
  if (!log_file) {
    readiness.failed(ExitCode::kUsage, log_file.error().message());
    return ExitCode::kUsage;
  }
  auto fail = [&](ExitCode code, const std::string& message) {
    log::error("mount of {} on {} failed: {}", config->source, mountpoint, message);
    readiness.failed(code, message);
    return code;
  };

  if (auto usable = fuse::checkMountPoint(mountpoint); !usable) {
    return fail(exitCodeForMountError(usable.error()), usable.error().message());
  }
  auto store = openStore(*config);
  if (!store) return fail(exitCodeForStoreError(store.error()), store.error().message());
  auto protectors = named_protectors ? Result<Protectors>(std::move(*named_protectors))
                                     : unlockProtectors(**store, config->key, Prompting::kTerminal);
  if (!protectors) {
    return fail(exitCodeForVolumeError(protectors.error()), protectors.error().message());
  }
  auto volume = volume::Volume::open(*store, protectors->named);
  if (!volume) return fail(exitCodeForVolumeError(volume.error()), volume.error().message());
  protectors->owned.clear();  // the volume key is unwrapped: the protectors' keys can go

  auto staging = stagingDirFor(*config, **volume);
  if (!staging) return fail(ExitCode::kError, staging.error().message());
  if (auto locked = lockStagingDir(*staging); !locked) {
    return fail(locked.error().kind() == ErrorKind::kAlreadyExists ? ExitCode::kStagingInUse
                                                                   : ExitCode::kError,
                locked.error().message());
  }
  auto filesystem = openFilesystem(*volume, *config, *staging);
  if (!filesystem) {
    return fail(ExitCode::kError, filesystem.error().message());
  }
  std::shared_ptr<fs::Filesystem> shared_fs(std::move(*filesystem));
  auto reporter = MetricsReporter::start(config->metrics.listen, config->metrics.file);
  if (!reporter) {
    return fail(reporter.error().kind() == ErrorKind::kInvalidArgument ? ExitCode::kUsage
                                                                       : ExitCode::kError,
                reporter.error().message());
  }
  if (!(*reporter)->address().empty())
    log::info("metrics on http://{}/metrics", (*reporter)->address());

  fuse::FuseOptions fuse_options;
  fuse_options.attr_ttl_s = config->fuse.attr_ttl_s;
  fuse_options.entry_ttl_s = config->fuse.entry_ttl_s;
  fuse_options.allow_other = config->fuse.allow_other;
  fuse_options.default_permissions = config->fuse.default_permissions;
  fuse_options.read_only = config->fuse.read_only;
  fuse_options.max_threads = config->fuse.max_threads;
  fuse_options.fs_name = config->source;
  auto mounted = fuse::FuseSession::mount(shared_fs, mountpoint, fuse_options);
  if (!mounted) return fail(exitCodeForMountError(mounted.error()), mounted.error().message());
  std::shared_ptr<fuse::FuseSession> session(std::move(*mounted));

  log::info("mounted {} on {} ({} threads max, attr/entry ttl {}s/{}s{})", config->source,
            mountpoint, fuse_options.max_threads, fuse_options.attr_ttl_s, fuse_options.entry_ttl_s,
            readiness.background() ? ", background" : "");
  readiness.ready();

  // One shutdown at a time: the signal thread's and the one after the loop ends.
  auto shutdown_mutex = std::make_shared<std::mutex>();
  handleShutdownSignals([session, shared_fs, shutdown_mutex](int signal) {
    std::lock_guard lock(*shutdown_mutex);
    log::info("signal {}: uploading dirty data, then unmounting", strsignal(signal));
    if (auto synced = shared_fs->syncAll(); !synced) {
      log::error("sync before unmount: {}", synced.error().describe());
    }
    session->requestExit();
  });

  auto ran = session->run();
  std::lock_guard lock(*shutdown_mutex);
  if (!ran) log::error("{}", ran.error().describe());
  ExitCode code = ExitCode::kOk;
  if (auto synced = shared_fs->syncAll(); !synced) {
    log::error(
        "dirty data could not be uploaded; it stays in the staging journal for the next "
        "mount: {}",
        synced.error().describe());
    code = ExitCode::kDirtyDataLeft;
  }
  if (auto written = (*reporter)->writeFile(); !written) log::warn("{}", written.error().message());
  log::info("unmounted {}", mountpoint);
  log::flush();
  // Worker threads of the store may still be parked; exiting here does not wait for them.
  std::_Exit(toInt(code));
}

}  // namespace s3cryptfs::app
