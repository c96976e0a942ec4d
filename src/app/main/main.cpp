// The s3cryptfs command. Also what mount(8) runs for an /etc/fstab line of type fuse.s3cryptfs
// (through mount.fuse3, or as /sbin/mount.fuse.s3cryptfs): `s3cryptfs SOURCE MOUNTPOINT -o OPTS`.

#include <cstdlib>
#include <cstring>
#include <iostream>
#include <pwd.h>
#include <string>
#include <unistd.h>
#include <vector>

#include <CLI/CLI.hpp>

#include "commands.h"
#include "exit_codes.h"
#include "key_commands.h"

namespace {

using s3cryptfs::app::ExitCode;

bool isSubcommand(const std::string& word) {
  return word == "keygen" || word == "init" || word == "mount" || word == "key" ||
         word == "rewrap" || word == "rotate" || word == "reencrypt" || word == "version" ||
         word == "help";
}

// mount(8) calls helpers as `mount.fuse.s3cryptfs SOURCE MOUNTPOINT -o OPTS`, and mount.fuse3
// calls `s3cryptfs SOURCE MOUNTPOINT -o OPTS`: both are the mount command without its name.
std::vector<std::string> normalisedArguments(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  std::string program = argv[0];
  if (auto slash = program.rfind('/'); slash != std::string::npos) {
    program = program.substr(slash + 1);
  }
  const bool helper_name = program.rfind("mount.", 0) == 0;
  if (!args.empty() && (helper_name || (!isSubcommand(args[0]) && args[0].front() != '-'))) {
    args.insert(args.begin(), "mount");
  }
  return args;
}

// mount(8) runs helpers with an environment that has no HOME (nor PATH): without HOME, the AWS
// shared credentials and config files (~/.aws) would not be found for an /etc/fstab mount.
void ensureHome() {
  if (const char* home = std::getenv("HOME"); home != nullptr && *home) return;
  if (const struct passwd* user = getpwuid(geteuid()); user != nullptr && user->pw_dir != nullptr) {
    setenv("HOME", user->pw_dir, 1);
  }
}

const char* const kProtectorHelp =
    "Key protector [ID=]TYPE[:OPTIONS]: keyfile:/path, passphrase[:file=/path|env=VAR], "
    "recovery:K-of-N, pkcs11:..., awskms:..., kmip:..., vault:... (docs/SECURITY.md)";

// Where the volume source and the settings come from, for every command that opens a volume.
void addSourceOptions(CLI::App* command, s3cryptfs::app::CommonArgs& common) {
  command->add_option("-o", common.options, "Options name[=value],... (as for mount)");
  command->add_option("--config", common.config_file, "YAML configuration file");
}

// How an admin command unlocks the volume (default: the volume's non-interactive slots).
void addUnlockOptions(CLI::App* command, s3cryptfs::app::CommonArgs& common) {
  command->add_option("--unlock", common.protectors, "Protector that unlocks the volume");
  command->add_option("--key-file", common.key_file, "Key file that unlocks the volume");
  command->add_option("--passphrase-file", common.passphrase_file,
                      "File whose first line is the passphrase");
  command->add_option("--recovery-share-file", common.recovery_share_file,
                      "File with recovery shares, one per line");
}

}  // namespace

int main(int argc, char** argv) {
  using namespace s3cryptfs::app;
  ensureHome();
  CLI::App app{"s3cryptfs: an encrypted filesystem over S3-compatible object storage"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "s3cryptfs 0.1.0");

  std::string keygen_path;
  auto* keygen = app.add_subcommand("keygen", "Create a key file of 32 random bytes (mode 0600)");
  keygen->add_option("FILE", keygen_path, "The key file to create (never overwritten)")->required();

  InitArgs init_args;
  auto* init = app.add_subcommand("init", "Create a new volume at SOURCE");
  init->add_option("SOURCE", init_args.common.source, "dir:///path or s3://bucket/prefix")
      ->required();
  init->add_option("--protector", init_args.common.protectors, kProtectorHelp);
  init->add_option("--key-file", init_args.common.key_file, "Key file that will unlock it");
  init->add_option("--passphrase-file", init_args.common.passphrase_file,
                   "File whose first line is the new passphrase");
  init->add_option("--cipher", init_args.cipher, "aes-256-gcm (default) or chacha20-poly1305");
  init->add_option("--chunk-size", init_args.chunk_size, "Plaintext chunk size (default 64KiB)");
  init->add_flag("--plaintext-names", init_args.plaintext_names,
                 "Store file names unencrypted (content stays encrypted)");
  init->add_option("--config", init_args.common.config_file, "YAML configuration file");
  init->add_option("-o", init_args.common.options, "Options name[=value],... (as for mount)");

  MountArgs mount_args;
  auto* mount = app.add_subcommand("mount", "Mount the volume at SOURCE on MOUNTPOINT");
  mount->add_option("SOURCE", mount_args.common.source, "dir:///path or s3://bucket/prefix")
      ->required();
  mount->add_option("MOUNTPOINT", mount_args.mountpoint, "An empty directory")->required();
  mount->add_option("-o", mount_args.common.options,
                    "Options name[=value],... (see "
                    "docs/CONFIGURATION.md)");
  mount->add_option("--config", mount_args.common.config_file, "YAML configuration file");
  mount->add_option("--key-file", mount_args.common.key_file, "Key file that unlocks the volume");
  mount->add_option("--protector", mount_args.common.protectors, kProtectorHelp);
  mount->add_option("--passphrase-file", mount_args.common.passphrase_file,
                    "File whose first line is the passphrase");
  mount->add_option("--recovery-share-file", mount_args.common.recovery_share_file,
                    "File with recovery shares, one per line");
  mount->add_flag("-f,--foreground", mount_args.foreground,
                  "Stay in the foreground, log to stderr");

  KeyArgs key_args;
  auto* key = app.add_subcommand("key", "List, add, remove or recover key protectors");
  key->require_subcommand(1);
  auto* key_list = key->add_subcommand("list", "Show the volume's key versions and slots");
  auto* key_add = key->add_subcommand("add", "Add a protector (unlock with an existing one)");
  auto* key_remove = key->add_subcommand("remove", "Remove a protector slot (not the last)");
  auto* key_recover =
      key->add_subcommand("recover", "Unlock with recovery shares and add a new protector");
  auto* rewrap =
      app.add_subcommand("rewrap", "Rewrap key-service slots under the KMS's newest key");
  auto* rotate = app.add_subcommand("rotate", "New volume key version for new writes");
  auto* reencrypt =
      app.add_subcommand("reencrypt", "Move every object to the newest key version (resumable)");
  for (CLI::App* command :
       {key_list, key_add, key_remove, key_recover, rewrap, rotate, reencrypt}) {
    command
        ->add_option("SOURCE", key_args.common.source,
                     command == reencrypt ? "Source URI or s3cryptfs mount point"
                                          : "dir:///path or s3://bucket/prefix")
        ->required();
    addSourceOptions(command, key_args.common);
    if (command == key_recover) {
      command->add_option("--recovery-share-file", key_args.common.recovery_share_file,
                          "File with recovery shares, one per line (else asked)");
    } else {
      addUnlockOptions(command, key_args.common);
    }
  }
  key_remove->add_option("SLOT", key_args.slot, "Slot index or id (see key list)")->required();
  for (CLI::App* command : {key_add, key_recover, rotate}) {
    command->add_option("--protector", key_args.new_protectors, kProtectorHelp)->required();
  }
  rewrap->add_option("--protector", key_args.new_protectors,
                     "Protector for a slot (default: built from the slot)");
  rewrap->add_option("--slot", key_args.slot, "Only this slot (index or id)");
  rotate->add_flag("--drop-missing", key_args.drop_missing,
                   "Slots without a --protector do not carry over");

  app.add_subcommand("version", "Print the version")->callback([] {
    std::cout << "s3cryptfs 0.1.0\n";
  });

  std::vector<std::string> args = normalisedArguments(argc, argv);
  try {
    // CLI11 wants the arguments in reverse order.
    std::vector<std::string> reversed(args.rbegin(), args.rend());
    app.parse(reversed);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return toInt(ExitCode::kUsage);
  }

  if (keygen->parsed()) return toInt(runKeygen(keygen_path));
  if (init->parsed()) return toInt(runInit(init_args));
  if (mount->parsed()) return toInt(runMount(mount_args));
  if (key_list->parsed()) return toInt(runKeyList(key_args));
  if (key_add->parsed()) return toInt(runKeyAdd(key_args));
  if (key_remove->parsed()) return toInt(runKeyRemove(key_args));
  if (key_recover->parsed()) return toInt(runKeyRecover(key_args));
  if (rewrap->parsed()) return toInt(runRewrap(key_args));
  if (rotate->parsed()) return toInt(runRotate(key_args));
  if (reencrypt->parsed()) return toInt(runReencrypt(key_args));
  return toInt(ExitCode::kOk);
}
