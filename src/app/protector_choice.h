#pragma once

// Which key protectors a command uses: those the command line and the configuration name
// (`--protector [ID=]SPEC`, `--key-file`, `--passphrase-file`, `--recovery-share-file`,
// key.protectors, key.key_file, key.passphrase_file, key.passphrase_env), or, at unlock when
// none is named, the volume's own slots whose protector needs no interaction.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "s3cryptfs/config/mount_config.h"
#include "s3cryptfs/core/result.h"
#include "s3cryptfs/format/volume_descriptor.h"
#include "s3cryptfs/keys/key_protector.h"
#include "s3cryptfs/keys/protector_spec.h"
#include "s3cryptfs/volume/volume.h"

#include "exit_codes.h"

namespace s3cryptfs::app {

// The environment variable a bare `passphrase` protector reads when it is set (instead of
// prompting).
inline constexpr std::string_view kPassphraseEnv = "S3CRYPTFS_PASSPHRASE";

// serviceCode() of the errors of choosing and building protectors, for exitCodeForVolumeError:
// a malformed spec or nothing usable to unlock with (exit 2), and a protector that cannot be
// built because its secret cannot be read (exit 16).
inline constexpr std::string_view kProtectorUsageCode = "s3cryptfs:protector-usage";
inline constexpr std::string_view kProtectorSetupCode = "s3cryptfs:protector-setup";

struct ChosenSpec {
  std::string slot_id;  // "" : the protector type (create), any slot of the type (unlock)
  keys::ProtectorSpec spec;
};

// "[ID=]TYPE[:OPTIONS]" (ID: letters, digits, '-', '_', '.'); relative paths made absolute.
Result<ChosenSpec> parseChosenSpec(std::string_view text);

// Every protector the settings name, in order: key.protectors (the command line's first), then
// key.key_file, key.passphrase_file, key.passphrase_env.
Result<std::vector<ChosenSpec>> specsFromSettings(const config::KeySettings& settings);

struct Protectors {
  std::vector<std::unique_ptr<keys::KeyProtector>> owned;
  std::vector<volume::NamedProtector> named;
};

// How prompts are allowed: kTerminal asks on /dev/tty when a secret is asked for;
// kReadNow asks for passphrases at once (before the mount forks into the background, which
// loses the terminal) and refuses PIN and share prompts (use pin-file=, shares-file= or -f).
enum class Prompting { kTerminal, kReadNow };

// The protectors of `specs`, with the settings' per-call timeout. A key file is read once here
// so a missing or malformed one is told as such (kNotFound / kInvalidArgument).
Result<Protectors> buildProtectors(const std::vector<ChosenSpec>& specs,
                                   const config::KeySettings& settings, Prompting prompting);

// For an unlock where nothing is named: one protector per slot (of the newest key version) that
// can be built with no interaction (awskms from the slot and the standard AWS credentials,
// vault from the slot, $VAULT_ADDR and $VAULT_TOKEN, passphrase from $S3CRYPTFS_PASSPHRASE), in
// slot order. kInvalidArgument listing the slots when there is none.
Result<Protectors> slotProtectors(const std::vector<format::ProtectorSlot>& slots,
                                  const config::KeySettings& settings);

// The protectors to unlock with: the named ones, else slotProtectors; key.protector (an id or a
// type) first.
Result<Protectors> unlockProtectors(store::ObjectStore& store, const config::KeySettings& settings,
                                    Prompting prompting);

// key.protector (a slot id or a type): those candidates first, the order otherwise kept.
void preferFirst(Protectors& protectors, const std::string& preferred);

// The shares of every recovery protector that just wrapped, printed once on stdout.
void printNewRecoveryShares(const Protectors& protectors, const std::string& volume_source);

// The exit code of a failed unlock (Volume::open's kUnlockFailedCode errors) or a failed wrap:
// 15 refused, 16 secret unreadable, 24 key service unreachable, 17 malformed slot. The errors
// tagged kProtectorUsageCode are 2 and kProtectorSetupCode 16.
ExitCode exitCodeForKeyError(const Error& error);

}  // namespace s3cryptfs::app
