#include "admin_session.h"

#include <charconv>

#include "s3cryptfs/core/log.h"

#include "compose.h"
#include "process_setup.h"

namespace s3cryptfs::app {

ExitCode openAdminSession(const CommonArgs& args, bool unlock, std::optional<AdminSession>& out) {
  disableCoreDumps();
  auto config = buildConfig(args);
  if (!config) {
    printError(config.error().message());
    return ExitCode::kUsage;
  }
  // The command prints its own result; the log only adds warnings.
  log::setLevel(log::Level::kWarn);
  auto store = openStore(*config);
  if (!store) {
    printError(store.error().message());
    return exitCodeForStoreError(store.error());
  }
  AdminSession session{std::move(*config), *store, nullptr};
  if (unlock) {
    auto protectors = unlockProtectors(**store, session.config.key, Prompting::kTerminal);
    if (!protectors) {
      printError(protectors.error().message());
      return exitCodeForVolumeError(protectors.error());
    }
    auto volume = volume::Volume::open(*store, protectors->named);
    if (!volume) {
      printError(volume.error().message());
      return exitCodeForVolumeError(volume.error());
    }
    session.volume = std::move(*volume);
  }
  out = std::move(session);
  return ExitCode::kOk;
}

const format::ProtectorSlot* findSlot(const format::VolumeDescriptor& descriptor,
                                      const std::string& text) {
  const auto& slots = descriptor.newest().slots;
  size_t index = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), index);
  if (ec == std::errc() && end == text.data() + text.size() && index < slots.size()) {
    return &slots[index];
  }
  for (const format::ProtectorSlot& slot : slots) {
    if (slot.id == text) return &slot;
  }
  return nullptr;
}

ExitCode reportChangeError(const Error& error) {
  printError(error.message());
  switch (error.kind()) {
    case ErrorKind::kPreconditionFailed:
      return ExitCode::kConflict;
    case ErrorKind::kInvalidArgument:
    case ErrorKind::kAlreadyExists:
    case ErrorKind::kNotFound:
      return ExitCode::kUsage;
    default:
      return exitCodeForKeyError(error);
  }
}

}  // namespace s3cryptfs::app
