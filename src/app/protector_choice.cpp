#include "protector_choice.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <iostream>
#include <set>

#include "s3cryptfs/keys/keyfile_protector.h"
#include "s3cryptfs/keys/passphrase_protector.h"
#include "s3cryptfs/keys/recovery_protector.h"

#include "cli_config.h"

namespace s3cryptfs::app {
namespace {

bool isSlotIdChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
}

bool envSet(std::string_view name) {
  const char* value = std::getenv(std::string(name).c_str());
  return value != nullptr && *value != '\0';
}

// Options that hold a path, per protector type: taken relative to where the command started.
void absolutisePaths(keys::ProtectorSpec& spec) {
  static const std::set<std::string> kCommon = {"path", "file",   "shares-file", "pin-file", "ca",
                                                "cert", "module", "token-file",  "k8s-jwt"};
  for (auto& [name, value] : spec.options) {
    bool is_path = kCommon.count(name) != 0 || (spec.type == "kmip" && name == "key");
    if (is_path && (name != "module" || value.find('/') != std::string::npos)) {
      value = absolutePath(value);
    }
  }
}

bool needsTerminal(const keys::ProtectorSpec& spec) {
  if (spec.type == "pkcs11")
    return !spec.options.count("pin-file") && !spec.options.count("pin-env");
  if (spec.type == "recovery") return !spec.options.count("shares-file");
  return false;
}

Result<std::unique_ptr<keys::KeyProtector>> buildOne(const keys::ProtectorSpec& spec,
                                                     const keys::ProtectorOptions& options,
                                                     Prompting prompting) {
  const bool bare_passphrase = spec.type == "passphrase" && spec.options.empty();
  if (prompting == Prompting::kReadNow && bare_passphrase) {
    // Asked now, in the foreground: the background daemon has no terminal.
    auto secret = keys::terminalPassphrase("Passphrase: ")->read(/*confirm=*/false);
    if (!secret) return secret.error();
    return std::unique_ptr<keys::KeyProtector>(
        std::make_unique<keys::PassphraseProtector>(keys::fixedPassphrase(std::move(*secret))));
  }
  if (prompting == Prompting::kReadNow && needsTerminal(spec)) {
    return Error(ErrorKind::kInvalidArgument,
                 "--protector " + spec.type +
                     " would prompt, but a background mount has no terminal: give " +
                     (spec.type == "pkcs11" ? "pin-file= or pin-env=" : "shares-file=") +
                     " (or --recovery-share-file), or mount with -f");
  }
  if (spec.type == "keyfile") {
    // Read once here so a missing or malformed key file is reported as such, not as a key that
    // does not unlock the volume.
    const std::string& path = spec.options.at("path");
    auto key = keys::readKeyFile(path);
    if (!key) return key.error().withContext("key file " + path);
    auto protector = keys::KeyFileProtector::fromKey(std::move(*key));
    if (!protector) return protector.error();
    return std::unique_ptr<keys::KeyProtector>(
        std::make_unique<keys::KeyFileProtector>(std::move(*protector)));
  }
  return keys::makeProtector(spec, options);
}

keys::ProtectorOptions protectorOptions(const config::KeySettings& settings) {
  keys::ProtectorOptions options;
  options.timeout = std::chrono::milliseconds(settings.protector_timeout_ms);
  return options;
}

void nameAll(Protectors& protectors, const std::vector<std::string>& slot_ids) {
  for (size_t i = 0; i < protectors.owned.size(); ++i) {
    protectors.named.push_back(volume::NamedProtector{slot_ids[i], protectors.owned[i].get()});
  }
}

Error tagged(Error error, std::string_view code) {
  error.setService(std::string(code), 0);
  return error;
}

}  // namespace

Result<ChosenSpec> parseChosenSpec(std::string_view text) {
  ChosenSpec chosen;
  const size_t colon = text.find(':');
  const size_t equals = text.find('=');
  // An "ID=" prefix: an '=' before the type's ':' (types never contain '=').
  if (equals != std::string_view::npos && (colon == std::string_view::npos || equals < colon)) {
    chosen.slot_id = std::string(text.substr(0, equals));
    text = text.substr(equals + 1);
    if (chosen.slot_id.empty() ||
        !std::all_of(chosen.slot_id.begin(), chosen.slot_id.end(), isSlotIdChar)) {
      return Error(ErrorKind::kInvalidArgument,
                   "--protector: a slot id is letters, digits, '-', '_' and '.' (ID=TYPE:...)");
    }
  }
  auto spec = keys::parseProtectorSpec(text);
  if (!spec) return spec.error();
  chosen.spec = std::move(*spec);
  absolutisePaths(chosen.spec);
  if (chosen.spec.type == "passphrase" && chosen.spec.options.empty() && envSet(kPassphraseEnv)) {
    chosen.spec.options["env"] = std::string(kPassphraseEnv);
  }
  return chosen;
}

Result<std::vector<ChosenSpec>> specsFromSettings(const config::KeySettings& settings) {
  std::vector<ChosenSpec> specs;
  for (const std::string& text : settings.protectors) {
    auto chosen = parseChosenSpec(text);
    if (!chosen) return tagged(chosen.error(), kProtectorUsageCode);
    specs.push_back(std::move(*chosen));
  }
  auto add = [&specs](std::string type, std::string option, std::string value) {
    ChosenSpec chosen;
    chosen.spec.type = std::move(type);
    chosen.spec.options[std::move(option)] = std::move(value);
    specs.push_back(std::move(chosen));
  };
  if (!settings.key_file.empty()) add("keyfile", "path", settings.key_file);
  if (!settings.passphrase_file.empty()) add("passphrase", "file", settings.passphrase_file);
  if (!settings.passphrase_env.empty()) add("passphrase", "env", settings.passphrase_env);
  return specs;
}

Result<Protectors> buildProtectors(const std::vector<ChosenSpec>& specs,
                                   const config::KeySettings& settings, Prompting prompting) {
  Protectors protectors;
  std::vector<std::string> slot_ids;
  for (const ChosenSpec& chosen : specs) {
    auto protector = buildOne(chosen.spec, protectorOptions(settings), prompting);
    if (!protector) {
      const bool usage = prompting == Prompting::kReadNow && needsTerminal(chosen.spec);
      return tagged(protector.error(), usage ? kProtectorUsageCode : kProtectorSetupCode);
    }
    protectors.owned.push_back(std::move(*protector));
    slot_ids.push_back(chosen.slot_id);
  }
  nameAll(protectors, slot_ids);
  return protectors;
}

Result<Protectors> slotProtectors(const std::vector<format::ProtectorSlot>& slots,
                                  const config::KeySettings& settings) {
  Protectors protectors;
  std::vector<std::string> slot_ids;
  std::string listed;
  for (const format::ProtectorSlot& slot : slots) {
    listed += (listed.empty() ? "" : ", ") + ("'" + slot.id + "' (" + slot.type + ")");
    keys::ProtectorSpec spec;
    spec.type = slot.type;
    if (slot.type == "awskms") {
      // Key ARN, region and endpoint come from the slot, credentials from the usual places.
    } else if (slot.type == "vault" && envSet("VAULT_ADDR") && envSet("VAULT_TOKEN") &&
               slot.params.count("key")) {
      spec.options["key"] = slot.params.at("key");
    } else if (slot.type == "passphrase" && envSet(kPassphraseEnv)) {
      spec.options["env"] = std::string(kPassphraseEnv);
    } else {
      continue;
    }
    auto protector = keys::makeProtector(spec, protectorOptions(settings));
    if (!protector) continue;
    protectors.owned.push_back(std::move(*protector));
    slot_ids.push_back(slot.id);
  }
  if (protectors.owned.empty()) {
    return tagged(Error(ErrorKind::kInvalidArgument,
                        "no key given, and none of the volume's protector slots (" + listed +
                            ") can be used without one: pass --protector SPEC (or --key-file FILE, "
                            "--passphrase-file FILE, --recovery-share-file FILE, key.protectors in "
                            "the configuration)"),
                  kProtectorUsageCode);
  }
  nameAll(protectors, slot_ids);
  return protectors;
}

Result<Protectors> unlockProtectors(store::ObjectStore& store, const config::KeySettings& settings,
                                    Prompting prompting) {
  auto specs = specsFromSettings(settings);
  if (!specs) return specs.error();
  Result<Protectors> protectors = Error(ErrorKind::kInternal, "unset");
  if (!specs->empty()) {
    protectors = buildProtectors(*specs, settings, prompting);
  } else {
    auto descriptor = volume::Volume::peekDescriptor(store);
    if (!descriptor) return descriptor.error();
    protectors = slotProtectors(descriptor->newest().slots, settings);
  }
  if (protectors) preferFirst(*protectors, settings.protector);
  return protectors;
}

void preferFirst(Protectors& protectors, const std::string& preferred) {
  if (preferred.empty()) return;
  std::stable_partition(protectors.named.begin(), protectors.named.end(),
                        [&](const volume::NamedProtector& named) {
                          return named.slot_id == preferred || named.protector->type() == preferred;
                        });
}

void printNewRecoveryShares(const Protectors& protectors, const std::string& volume_source) {
  for (const auto& owned : protectors.owned) {
    auto* recovery = dynamic_cast<keys::RecoveryProtector*>(owned.get());
    if (recovery == nullptr) continue;
    std::vector<SecureBuffer> shares = recovery->takeShares();
    if (shares.empty()) continue;
    std::cout << "\nRecovery shares for " << volume_source << " (shown once, never stored):\n";
    for (size_t i = 0; i < shares.size(); ++i) {
      std::cout << "  share " << (i + 1) << ": ";
      std::cout.write(reinterpret_cast<const char*>(shares[i].data()),
                      static_cast<std::streamsize>(shares[i].size()));
      std::cout << "\n";
    }
    std::cout << "Give each share to a different custodian; any threshold of them unlocks the "
                 "volume (s3cryptfs key recover, or --recovery-share-file at mount).\n"
              << std::flush;
  }
}

ExitCode exitCodeForKeyError(const Error& error) {
  if (error.serviceCode() == kProtectorUsageCode) return ExitCode::kUsage;
  if (error.serviceCode() == kProtectorSetupCode) return ExitCode::kKeyUnavailable;
  switch (error.kind()) {
    case ErrorKind::kPermissionDenied:
      return ExitCode::kWrongKey;
    case ErrorKind::kTransient:
    case ErrorKind::kThrottled:
    case ErrorKind::kIo:
      return ExitCode::kKeyServiceUnreachable;
    case ErrorKind::kCorrupt:
      return ExitCode::kVolumeCorrupt;
    default:
      return ExitCode::kKeyUnavailable;
  }
}

}  // namespace s3cryptfs::app
