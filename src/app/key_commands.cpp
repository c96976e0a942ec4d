#include "key_commands.h"

#include <ctime>
#include <iostream>
#include <set>

#include "s3cryptfs/volume/volume_admin.h"

#include "admin_session.h"
#include "compose.h"
#include "protector_choice.h"

namespace s3cryptfs::app {
namespace {

// Slot params worth showing: not the salt, not ciphertexts (noise, and Vault's is long).
std::string describeParams(const format::ProtectorSlot& slot) {
  static const std::set<std::string> kHidden = {"salt", "ciphertext", "set"};
  std::string out;
  for (const auto& [name, value] : slot.params) {
    if (kHidden.count(name)) continue;
    out += (out.empty() ? "" : " ") + name + "=" + value;
  }
  return out;
}

std::string utcTime(int64_t unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%SZ", &tm);
  return text;
}

// The protectors `--protector` names, for a new slot or key version.
std::optional<Protectors> newProtectors(const KeyArgs& args, const config::KeySettings& settings,
                                        ExitCode& code) {
  if (args.new_protectors.empty()) {
    printError("no new protector given: pass --protector SPEC");
    code = ExitCode::kUsage;
    return std::nullopt;
  }
  std::vector<ChosenSpec> specs;
  for (const std::string& text : args.new_protectors) {
    auto chosen = parseChosenSpec(text);
    if (!chosen) {
      printError(chosen.error().message());
      code = ExitCode::kUsage;
      return std::nullopt;
    }
    specs.push_back(std::move(*chosen));
  }
  auto built = buildProtectors(specs, settings, Prompting::kTerminal);
  if (!built) {
    printError(built.error().message());
    code = exitCodeForKeyError(built.error());
    return std::nullopt;
  }
  return std::move(*built);
}

ExitCode addNamedProtectors(const KeyArgs& args, const AdminSession& session) {
  ExitCode code = ExitCode::kOk;
  if (args.new_protectors.size() > 1) {
    // Each slot is one conditional change of the descriptor: one per command keeps it simple.
    printError("one --protector per `key add` / `key recover`");
    return ExitCode::kUsage;
  }
  auto added = newProtectors(args, session.config.key, code);
  if (!added) return code;
  for (const volume::NamedProtector& named : added->named) {
    if (auto done = volume::addProtector(*session.volume, named); !done) {
      return reportChangeError(done.error());
    }
    std::cout << "added a " << named.protector->type() << " protector as slot '"
              << (named.slot_id.empty() ? named.protector->type() : named.slot_id) << "'\n";
  }
  printNewRecoveryShares(*added, session.config.source);
  return ExitCode::kOk;
}

}  // namespace

ExitCode runKeyList(const KeyArgs& args) {
  std::optional<AdminSession> session;
  // Authenticated when a protector to unlock with is named; else decoded as stored.
  const bool unlock = !args.common.protectors.empty() || !args.common.key_file.empty() ||
                      !args.common.passphrase_file.empty() ||
                      !args.common.recovery_share_file.empty();
  if (auto code = openAdminSession(args.common, unlock, session); code != ExitCode::kOk) {
    return code;
  }
  format::VolumeDescriptor descriptor;
  if (session->volume) {
    descriptor = session->volume->descriptor();
  } else {
    auto peeked = volume::Volume::peekDescriptor(*session->store);
    if (!peeked) {
      printError(peeked.error().message());
      return exitCodeForVolumeError(peeked.error());
    }
    descriptor = std::move(*peeked);
  }
  std::cout << "volume " << toHex(descriptor.volume_id) << " at " << session->config.source
            << (unlock ? " (authenticated)" : " (not authenticated: unlock to verify)") << "\n"
            << "cipher " << crypto::cipherName(descriptor.cipher) << ", chunk size "
            << descriptor.chunk_size << ", names "
            << (descriptor.name_mode == format::NameMode::kPlaintext ? "plaintext" : "encrypted")
            << ", created " << utcTime(descriptor.created_unix_seconds) << "\n"
            << "key versions:";
  for (const auto& entry : descriptor.key_versions) {
    std::cout << " " << entry.version << " (" << utcTime(entry.created_unix_seconds)
              << (&entry == &descriptor.newest() ? ", newest" : "") << ")";
  }
  std::cout << "\nslots (wrap key version " << descriptor.newest().version << "):\n";
  const auto& slots = descriptor.newest().slots;
  for (size_t i = 0; i < slots.size(); ++i) {
    std::cout << "  " << i << "  " << slots[i].id << "  " << slots[i].type;
    if (std::string params = describeParams(slots[i]); !params.empty()) {
      std::cout << "  " << params;
    }
    std::cout << "\n";
  }
  return ExitCode::kOk;
}

ExitCode runKeyAdd(const KeyArgs& args) {
  std::optional<AdminSession> session;
  if (auto code = openAdminSession(args.common, true, session); code != ExitCode::kOk) return code;
  return addNamedProtectors(args, *session);
}

ExitCode runKeyRecover(const KeyArgs& args) {
  KeyArgs recovery = args;
  // Only recovery shares unlock here: from the file given, else asked on the terminal.
  recovery.common.protectors.clear();
  recovery.common.key_file.clear();
  recovery.common.passphrase_file.clear();
  if (recovery.common.recovery_share_file.empty()) recovery.common.protectors = {"recovery"};
  std::optional<AdminSession> session;
  if (auto code = openAdminSession(recovery.common, true, session); code != ExitCode::kOk) {
    return code;
  }
  return addNamedProtectors(recovery, *session);
}

ExitCode runKeyRemove(const KeyArgs& args) {
  std::optional<AdminSession> session;
  if (auto code = openAdminSession(args.common, true, session); code != ExitCode::kOk) return code;
  const format::ProtectorSlot* slot = findSlot(session->volume->descriptor(), args.slot);
  if (slot == nullptr) {
    printError("the volume has no slot '" + args.slot + "' (see s3cryptfs key list)");
    return ExitCode::kUsage;
  }
  const std::string id = slot->id;
  if (auto done = volume::removeProtector(*session->volume, id); !done) {
    return reportChangeError(done.error());
  }
  std::cout << "removed slot '" << id
            << "'. Copies of the volume key it made before (backups of the descriptor) still "
               "open data written so far; rotate to cut them off.\n";
  return ExitCode::kOk;
}

ExitCode runRewrap(const KeyArgs& args) {
  std::optional<AdminSession> session;
  if (auto code = openAdminSession(args.common, true, session); code != ExitCode::kOk) return code;
  const format::VolumeDescriptor& descriptor = session->volume->descriptor();
  // Copies: the session (and its descriptor) is reopened between slots.
  std::vector<format::ProtectorSlot> targets;
  if (!args.slot.empty()) {
    const format::ProtectorSlot* slot = findSlot(descriptor, args.slot);
    if (slot == nullptr) {
      printError("the volume has no slot '" + args.slot + "' (see s3cryptfs key list)");
      return ExitCode::kUsage;
    }
    targets.push_back(*slot);
  } else {
    for (const auto& slot : descriptor.newest().slots) {
      if (slot.type == "awskms" || slot.type == "vault" || slot.type == "kmip") {
        targets.push_back(slot);
      }
    }
    if (targets.empty()) {
      printError("the volume has no key-service slot (awskms, kmip, vault) to rewrap");
      return ExitCode::kUsage;
    }
  }
  // The protector for each slot: one given with --protector (same id, else same type), else one
  // built from the slot itself.
  std::vector<ChosenSpec> given;
  for (const std::string& text : args.new_protectors) {
    auto chosen = parseChosenSpec(text);
    if (!chosen) {
      printError(chosen.error().message());
      return ExitCode::kUsage;
    }
    given.push_back(std::move(*chosen));
  }
  // One slot per conditional write: reopen between them.
  for (size_t i = 0; i < targets.size(); ++i) {
    const std::string id = targets[i].id;
    const std::string type = targets[i].type;
    std::vector<ChosenSpec> specs;
    for (const ChosenSpec& chosen : given) {
      if (chosen.slot_id == id || (chosen.slot_id.empty() && chosen.spec.type == type)) {
        specs = {chosen};
        break;
      }
    }
    Result<Protectors> protectors =
        specs.empty() ? slotProtectors({targets[i]}, session->config.key)
                      : buildProtectors(specs, session->config.key, Prompting::kTerminal);
    if (!protectors) {
      printError("slot '" + id + "': " + protectors.error().message() +
                 (specs.empty() ? " (give --protector " + id + "=" + type + ":...)" : ""));
      return exitCodeForKeyError(protectors.error());
    }
    if (i > 0) {
      std::optional<AdminSession> reopened;
      if (auto code = openAdminSession(args.common, true, reopened); code != ExitCode::kOk) {
        return code;
      }
      session = std::move(reopened);
    }
    if (auto done = volume::rewrapSlot(*session->volume, id, *protectors->owned.front()); !done) {
      return reportChangeError(done.error());
    }
    std::cout << "rewrapped slot '" << id << "' (" << type << ")\n";
  }
  return ExitCode::kOk;
}

ExitCode runRotate(const KeyArgs& args) {
  std::optional<AdminSession> session;
  if (auto code = openAdminSession(args.common, true, session); code != ExitCode::kOk) return code;
  ExitCode code = ExitCode::kOk;
  auto protectors = newProtectors(args, session->config.key, code);
  if (!protectors) return code;
  // Every slot of the current key version needs a protector for the new one, or the access it
  // gives would silently end.
  std::set<std::string> new_ids;
  for (const auto& named : protectors->named) {
    new_ids.insert(named.slot_id.empty() ? named.protector->type() : named.slot_id);
  }
  std::string missing;
  for (const auto& slot : session->volume->descriptor().newest().slots) {
    if (!new_ids.count(slot.id)) missing += (missing.empty() ? "'" : ", '") + slot.id + "'";
  }
  if (!missing.empty() && !args.drop_missing) {
    printError("slots " + missing +
               " get no protector for the new key version: give --protector ID=SPEC for each, "
               "or --drop-missing to let them go");
    return ExitCode::kUsage;
  }
  auto version = volume::rotateVolumeKey(*session->volume, protectors->named);
  if (!version) return reportChangeError(version.error());
  std::cout << "rotated to key version " << *version
            << ": new writes use it; older objects stay readable (s3cryptfs reencrypt moves "
               "them)\n";
  printNewRecoveryShares(*protectors, session->config.source);
  return ExitCode::kOk;
}

}  // namespace s3cryptfs::app
