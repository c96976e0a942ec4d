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

namespace {

using s3cryptfs::app::ExitCode;

bool isSubcommand(const std::string& word) {
  return word == "keygen" || word == "init" || word == "mount" || word == "version" ||
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
  init->add_option("--key-file", init_args.common.key_file, "Key file that will unlock it");
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
  mount->add_flag("-f,--foreground", mount_args.foreground,
                  "Stay in the foreground, log to stderr");

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
  return toInt(ExitCode::kOk);
}
