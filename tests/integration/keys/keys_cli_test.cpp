// The key protectors through the real `s3cryptfs` binary and a real FUSE mount: for each
// protector (key file, passphrase, recovery shares, PKCS#11 on SoftHSM2, AWS KMS on moto, KMIP on
// PyKMIP, Vault transit on the documented fake), init with it, mount with it, write, unmount,
// remount with another protector of the same volume and read back; key list/add/remove/recover,
// rewrap, rotate and reencrypt; and the bad-input matrix: each failure exits with one message
// and its documented exit code (docs/OPERATIONS.md) and leaves the store byte for byte as it
// was. Logs, the store and the staging folder are checked for every secret used.

#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

#include <gtest/gtest.h>

#include "s3cryptfs/keys/kmip_client.h"

#include "support/fake_http_server.h"
#include "support/fake_vault_transit.h"
#include "support/mounted_volume.h"
#include "support/test_servers.h"
#include "unit/keys/kms_test_client.h"

namespace s3cryptfs::test {
namespace {

std::string testName() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return std::string(info->test_suite_name()) + "." + info->name();
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Every file of a dir:// store (the dir store's lock files aside): path -> content.
std::map<std::string, std::string> snapshot(const std::string& dir) {
  std::map<std::string, std::string> files;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::string path = entry.path().string();
    if (contains(path, "/.s3c-store/locks/")) continue;
    files[path] = readWholeFile(path);
  }
  return files;
}

// Every file under `dir` holding `secret` (empty: none).
std::vector<std::string> filesContaining(const std::string& dir, const std::string& secret) {
  std::vector<std::string> hits;
  if (!std::filesystem::exists(dir)) return hits;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file() && contains(readWholeFile(entry.path().string()), secret)) {
      hits.push_back(entry.path().string());
    }
  }
  return hits;
}

// The recovery share texts `init` or `key add` printed.
std::vector<std::string> sharesIn(const std::string& output) {
  std::vector<std::string> shares;
  std::regex share("share [0-9]+: ([0-9A-Z-]+)");
  for (std::sregex_iterator it(output.begin(), output.end(), share), end; it != end; ++it) {
    shares.push_back((*it)[1]);
  }
  return shares;
}

size_t occurrences(const std::string& text, const std::string& part) {
  size_t count = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1))
    ++count;
  return count;
}

// The lines of a command's output that are not empty.
size_t lineCount(const std::string& output) {
  size_t lines = 0;
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);)
    lines += line.empty() ? 0 : 1;
  return lines;
}

// A dir:// volume made by the harness (with its key file as slot 'keyfile') plus the protectors
// a test adds to init, and the commands around it.
class KeyVolume {
 public:
  KeyVolume(const std::string& name, const std::vector<std::string>& init_args)
      : volume_(std::make_unique<MountedVolume>("dir", name, init_args)) {}

  MountedVolume& harness() { return *volume_; }
  bool ok() const { return volume_->ok(); }
  std::string initOutput() const { return volume_->initResult().output; }
  const std::string& source() const { return volume_->source(); }
  std::string file(const std::string& name) const { return volume_->scratch() + "/" + name; }

  // `s3cryptfs mount` with only the given unlock arguments (no key file unless given).
  CommandResult mount(const std::vector<std::string>& unlock) {
    std::vector<std::string> args = volume_->mountArgs(volume_->mountpoint());
    args.erase(args.begin() + 2, args.begin() + 4);  // "--key-file KEY"
    std::vector<std::string> argv = {s3cryptfsBinary(), "mount"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), unlock.begin(), unlock.end());
    return runCommand(argv, {}, std::chrono::seconds(90));
  }
  CommandResult run(const std::vector<std::string>& command_and_args) {
    std::vector<std::string> argv = {s3cryptfsBinary()};
    argv.insert(argv.end(), command_and_args.begin(), command_and_args.end());
    return runCommand(argv, {}, std::chrono::seconds(90));
  }
  bool unmount() { return volume_->unmount(); }
  std::vector<std::string> keyFile() const { return {"--key-file", volume_->keyFile()}; }

  // Mount with `unlock`, write files, unmount; mount with the key file, read them back.
  void writeThenReadWithKeyFile(const std::vector<std::string>& unlock) {
    auto mounted = mount(unlock);
    ASSERT_EQ(mounted.exit_code, 0) << mounted.output << volume_->log();
    ASSERT_TRUE(writeWholeFile(volume_->path("hello.txt"), "hello from " + testName()));
    std::filesystem::create_directories(volume_->path("dir"));
    ASSERT_TRUE(writeWholeFile(volume_->path("dir/big"), std::string(300000, 'b')));
    ASSERT_TRUE(unmount());
    checkReadable(keyFile());
  }
  void checkReadable(const std::vector<std::string>& unlock) {
    auto mounted = mount(unlock);
    ASSERT_EQ(mounted.exit_code, 0) << mounted.output << volume_->log();
    EXPECT_EQ(readWholeFile(volume_->path("hello.txt")), "hello from " + testName());
    EXPECT_EQ(readWholeFile(volume_->path("dir/big")), std::string(300000, 'b'));
    ASSERT_TRUE(unmount());
  }

  // The key version in the header of every content object of the store (FORMAT.md §3: u32 at
  // offset 12 of the header, which starts with the magic "s3cf"; the dir store keeps its own
  // record before the body).
  std::set<uint32_t> contentKeyVersions() const {
    std::set<uint32_t> versions;
    for (const auto& [path, content] : snapshot(volume_->storeDir())) {
      size_t header = content.find("s3cf");
      if (header == std::string::npos || content.size() < header + 64) continue;
      uint32_t version = 0;
      for (size_t i = 0; i < 4; ++i)
        version |= static_cast<uint32_t>(static_cast<uint8_t>(content[header + 12 + i])) << (8 * i);
      versions.insert(version);
    }
    return versions;
  }

  // No secret in the daemon's log, the store, the staging folder or the output of a command.
  void expectNoSecret(const std::string& secret, const std::string& output = "") {
    ASSERT_FALSE(secret.empty());
    EXPECT_FALSE(contains(volume_->log(), secret)) << "secret in the daemon log";
    EXPECT_EQ(filesContaining(volume_->storeDir(), secret), std::vector<std::string>());
    EXPECT_EQ(filesContaining(volume_->stagingDir(), secret), std::vector<std::string>());
    EXPECT_FALSE(contains(output, secret)) << output;
  }

  // A failing command: its exit code, one message naming `expected`, and the store untouched.
  void expectRefused(const std::vector<std::string>& unlock, int exit_code,
                     const std::string& expected) {
    auto before = snapshot(volume_->storeDir());
    auto result = mount(unlock);
    EXPECT_EQ(result.exit_code, exit_code) << result.output;
    EXPECT_TRUE(contains(result.output, expected)) << result.output;
    EXPECT_EQ(lineCount(result.output), 1u) << result.output;
    EXPECT_FALSE(isMounted(volume_->mountpoint()));
    EXPECT_TRUE(snapshot(volume_->storeDir()) == before) << "the store changed";
  }

 private:
  std::unique_ptr<MountedVolume> volume_;
};

// --- every protector, end to end ----------------------------------------------------------------

TEST(KeyProtectorsEndToEnd, KeyFileAsProtectorSpec) {
  KeyVolume volume(testName(), {});
  ASSERT_TRUE(volume.ok()) << volume.initOutput();
  volume.writeThenReadWithKeyFile({"--protector", "keyfile:" + volume.harness().keyFile()});
  // The same from the YAML file's key.protectors list, the first entry wrong: the next unlocks.
  const std::string other = volume.file("other.key");
  ASSERT_EQ(volume.run({"keygen", other}).exit_code, 0);
  const std::string yaml = volume.file("config.yaml");
  ASSERT_TRUE(writeWholeFile(yaml, "key:\n  protectors:\n    - \"keyfile:" + other +
                                       "\"\n    - \"keyfile:" + volume.harness().keyFile() +
                                       "\"\n  protector_timeout_ms: 3000\n"));
  volume.checkReadable({"--config", yaml});
}

TEST(KeyProtectorsEndToEnd, PassphraseFromFileAndFromTheEnvironment) {
  const std::string passphrase = "correct horse battery staple 4711";
  const std::string root = mountTestRoot();
  const std::string pass_file = root + "/passphrase-" + std::to_string(getpid());
  ASSERT_TRUE(writeWholeFile(pass_file, passphrase + "\n"));
  KeyVolume volume(testName(), {"--protector", "passphrase:file=" + pass_file});
  ASSERT_TRUE(volume.ok()) << volume.initOutput();
  volume.writeThenReadWithKeyFile({"--passphrase-file", pass_file});
  // The environment variable, with no protector named: the volume's passphrase slot is used.
  ::setenv("S3CRYPTFS_PASSPHRASE", passphrase.c_str(), 1);
  volume.checkReadable({});
  ::unsetenv("S3CRYPTFS_PASSPHRASE");
  volume.expectNoSecret(passphrase);
  // Wrong passphrase: exit 15, nothing changed.
  ASSERT_TRUE(writeWholeFile(pass_file, "not the passphrase\n"));
  volume.expectRefused({"--passphrase-file", pass_file}, 15, "passphrase does not unlock");
  std::filesystem::remove(pass_file);
}

TEST(KeyProtectorsEndToEnd, RecoverySharesAtMountAndKeyRecover) {
  KeyVolume volume(testName(), {"--protector", "recovery:2-of-3"});
  ASSERT_TRUE(volume.ok()) << volume.initOutput();
  auto shares = sharesIn(volume.initOutput());
  ASSERT_EQ(shares.size(), 3u) << volume.initOutput();
  const std::string two = volume.file("two-shares");
  ASSERT_TRUE(writeWholeFile(two, shares[0] + "\n# a comment\n" + shares[2] + "\n"));
  volume.writeThenReadWithKeyFile({"--recovery-share-file", two});

  // Too few shares, a mistyped share, a share of another set: exit 16, one message each.
  const std::string one = volume.file("one-share");
  ASSERT_TRUE(writeWholeFile(one, shares[1] + "\n"));
  volume.expectRefused({"--recovery-share-file", one}, 16, "share");
  std::string typo = shares[1];
  typo[3] = typo[3] == 'A' ? 'B' : 'A';
  const std::string bad = volume.file("bad-shares");
  ASSERT_TRUE(writeWholeFile(bad, shares[0] + "\n" + typo + "\n"));
  volume.expectRefused({"--recovery-share-file", bad}, 16, "share");

  // key recover: the shares unlock, a new key file is added as a protector.
  const std::string new_key = volume.file("recovered.key");
  ASSERT_EQ(volume.run({"keygen", new_key}).exit_code, 0);
  auto recovered = volume.run({"key", "recover", volume.source(), "--recovery-share-file", two,
                               "--protector", "rescued=keyfile:" + new_key});
  ASSERT_EQ(recovered.exit_code, 0) << recovered.output;
  volume.checkReadable({"--key-file", new_key});
  for (const auto& share : shares)
    volume.expectNoSecret(share, recovered.output);
}

struct SoftHsmToken {
  std::string conf;
  std::string pin_file;
  std::string pin = "918273";
};

SoftHsmToken makeSoftHsmToken(const std::string& dir) {
  SoftHsmToken token;
  std::filesystem::create_directories(dir + "/tokens");
  token.conf = dir + "/softhsm2.conf";
  writeWholeFile(token.conf, "directories.tokendir = " + dir +
                                 "/tokens\nobjectstore.backend = file\nlog.level = ERROR\n");
  token.pin_file = dir + "/pin";
  writeWholeFile(token.pin_file, token.pin + "\n");
  ::setenv("SOFTHSM2_CONF", token.conf.c_str(), 1);
  auto made = runCommand({"/usr/bin/softhsm2-util", "--init-token", "--free", "--label", "e2e",
                          "--so-pin", "56781234", "--pin", token.pin});
  if (made.exit_code != 0) throw std::runtime_error("softhsm2-util: " + made.output);
  return token;
}

TEST(KeyProtectorsEndToEnd, Pkcs11OnSoftHsm) {
  const std::string hsm_dir = mountTestRoot() + "/softhsm-" + std::to_string(getpid());
  SoftHsmToken token = makeSoftHsmToken(hsm_dir);
  const std::string spec = "pkcs11:token=e2e,key=volume-kek,create-key=yes,pin-file=";
  KeyVolume volume(testName(), {"--protector", spec + token.pin_file});
  ASSERT_TRUE(volume.ok()) << volume.initOutput();
  volume.writeThenReadWithKeyFile({"--protector", spec + token.pin_file});
  // A wrong PIN: refused by the token, exit 15.
  const std::string wrong = volume.file("wrong-pin");
  ASSERT_TRUE(writeWholeFile(wrong, "000000\n"));
  volume.expectRefused({"--protector", spec + wrong}, 15, "PIN");
  volume.expectNoSecret(token.pin);
  std::filesystem::remove_all(hsm_dir);
}

TEST(KeyProtectorsEndToEnd, AwsKmsOnMotoRewrapAndUnreachable) {
  const S3TestServer moto = requireTestServer("moto");
  auto created = keys::testing::kmsAdmin(moto, "CreateKey", {{"Description", "e2e"}});
  const std::string key_id = created["KeyMetadata"]["KeyId"].get<std::string>();
  ::setenv("AWS_ACCESS_KEY_ID", moto.access_key.c_str(), 1);
  ::setenv("AWS_SECRET_ACCESS_KEY", moto.secret_key.c_str(), 1);
  ::setenv("AWS_REGION", moto.region.c_str(), 1);
  KeyVolume volume(testName(),
                   {"--protector", "awskms:key-id=" + key_id + ",endpoint=" + moto.endpoint});
  ASSERT_TRUE(volume.ok()) << volume.initOutput();
  // No protector named: the awskms slot is built from the descriptor and the AWS environment.
  volume.writeThenReadWithKeyFile({});
  auto listed = volume.run({"key", "list", volume.source()});
  EXPECT_TRUE(contains(listed.output, "awskms")) << listed.output;
  EXPECT_TRUE(contains(listed.output, key_id)) << listed.output;
  // rewrap (KMS ReEncrypt) keeps the volume openable by KMS.
  auto rewrapped =
      volume.run({"rewrap", volume.source(), "--key-file", volume.harness().keyFile()});
  ASSERT_EQ(rewrapped.exit_code, 0) << rewrapped.output;
  volume.checkReadable({"--protector", "awskms"});
  // The KMS endpoint down: exit 24 (key service unreachable), nothing changed.
  volume.expectRefused({"--protector", "awskms:endpoint=http://127.0.0.1:9"}, 24, "AWS KMS");
  // A key disabled on the KMS side (moto lets a disabled key decrypt, so AWS's documented
  // DisabledException is replayed by a scripted server): exit 15, naming the cause.
  FakeHttpServer disabled;
  Reply refusal =
      Reply::withStatus(400, R"({"__type":"DisabledException","message":"the key is disabled."})");
  refusal.headers = {{"Content-Type", "application/x-amz-json-1.1"}};
  disabled.setDefault(refusal);
  volume.expectRefused({"--protector", "awskms:endpoint=" + disabled.baseUrl()}, 15, "disabled");
  // A KMS that never answers: exit 24 once key.protector_timeout_ms has passed.
  FakeHttpServer silent;
  Reply hang;
  hang.behaviour = Reply::Behaviour::kHang;
  silent.setDefault(hang);
  volume.expectRefused(
      {"--protector", "awskms:endpoint=" + silent.baseUrl(), "-o", "key.protector_timeout_ms=1500"},
      24, "timeout 1500 ms");
  silent.stop();
  volume.expectNoSecret(moto.secret_key);
  ::unsetenv("AWS_ACCESS_KEY_ID");
  ::unsetenv("AWS_SECRET_ACCESS_KEY");
  ::unsetenv("AWS_REGION");
}

TEST(KeyProtectorsEndToEnd, KmipOnPyKmipRevokeAndWrongCa) {
  const KmipTestServer kmip = requireKmipServer();
  const std::string base =
      "kmip:host=" + kmip.host + ",port=" + kmip.port + ",cert=" + kmip.cert + ",key=" + kmip.key;
  KeyVolume volume(testName(), {"--protector", base + ",ca=" + kmip.ca + ",create-key=yes"});
  ASSERT_TRUE(volume.ok()) << volume.initOutput();
  const std::vector<std::string> unlock = {"--protector", base + ",ca=" + kmip.ca};
  volume.writeThenReadWithKeyFile(unlock);
  // The server's certificate does not verify against another CA: exit 16.
  volume.expectRefused({"--protector", base + ",ca=" + kmip.wrong_ca}, 16, "verify");
  // The key revoked on the server: exit 15 (refused), the key file still opens the volume.
  auto listed = volume.run({"key", "list", volume.source()});
  std::smatch id;
  ASSERT_TRUE(std::regex_search(listed.output, id, std::regex("key-id=([^ \n]+)")))
      << listed.output;
  keys::KmipClientConfig admin_config;
  admin_config.host = kmip.host;
  admin_config.port = static_cast<uint16_t>(std::stoi(kmip.port));
  admin_config.ca_file = kmip.ca;
  admin_config.cert_file = kmip.cert;
  admin_config.key_file = kmip.key;
  auto admin = keys::KmipClient::connect(admin_config);
  ASSERT_TRUE(admin) << admin.error().describe();
  ASSERT_TRUE((*admin)->revoke(id[1], keys::KmipRevocationReason::kCessationOfOperation));
  volume.expectRefused(unlock, 15, "KMIP");
  volume.checkReadable(volume.keyFile());
}

TEST(KeyProtectorsEndToEnd, VaultTransitOnTheFakeRewrapAndUnreachable) {
  // FAKE Vault (tests/support/fake_vault_transit.h): no Vault can be installed here.
  FakeVaultOptions options;
  options.token = "s.e2e-secret-token-31337";
  FakeVaultTransit vault(options);
  vault.createKey("s3c");
  const std::string token_file = mountTestRoot() + "/vault-token-" + std::to_string(getpid());
  ASSERT_TRUE(writeWholeFile(token_file, options.token + "\n"));
  const std::string spec = "vault:addr=" + vault.address() + ",key=s3c,token-file=" + token_file;
  KeyVolume volume(testName(), {"--protector", "transit=" + spec});
  ASSERT_TRUE(volume.ok()) << volume.initOutput();
  volume.writeThenReadWithKeyFile({"--protector", spec});
  // Vault rotates its key: rewrap moves the copy to version 2, data stays readable.
  vault.rotateKey("s3c");
  auto rewrapped = volume.run({"rewrap", volume.source(), "--slot", "transit", "--protector",
                               "transit=" + spec, "--key-file", volume.harness().keyFile()});
  ASSERT_EQ(rewrapped.exit_code, 0) << rewrapped.output;
  auto listed = volume.run({"key", "list", volume.source()});
  EXPECT_TRUE(contains(listed.output, "key-version=2")) << listed.output;
  vault.setMinDecryptionVersion("s3c", 2);
  volume.checkReadable({"--protector", spec});
  // Two Vault slots, one more rotation on Vault's side: rewrap without --slot does both (one
  // conditional descriptor write each).
  auto added = volume.run({"key", "add", volume.source(), "--key-file", volume.harness().keyFile(),
                           "--protector", "transit2=" + spec});
  ASSERT_EQ(added.exit_code, 0) << added.output;
  vault.rotateKey("s3c");
  auto both = volume.run(
      {"rewrap", volume.source(), "--protector", spec, "--key-file", volume.harness().keyFile()});
  ASSERT_EQ(both.exit_code, 0) << both.output;
  EXPECT_TRUE(contains(both.output, "rewrapped slot 'transit'")) << both.output;
  EXPECT_TRUE(contains(both.output, "rewrapped slot 'transit2'")) << both.output;
  listed = volume.run({"key", "list", volume.source()});
  EXPECT_EQ(occurrences(listed.output, "key-version=3"), 2u) << listed.output;
  vault.setMinDecryptionVersion("s3c", 3);
  volume.checkReadable({"--protector", spec});
  // A wrong token: exit 15. Vault down: exit 24.
  const std::string wrong_token = volume.file("wrong-token");
  ASSERT_TRUE(writeWholeFile(wrong_token, "s.not-the-token\n"));
  volume.expectRefused(
      {"--protector", "vault:addr=" + vault.address() + ",key=s3c,token-file=" + wrong_token}, 15,
      "permission denied");
  volume.expectRefused(
      {"--protector", "vault:addr=http://127.0.0.1:9,key=s3c,token-file=" + token_file}, 24,
      "Vault");
  volume.expectNoSecret(options.token, listed.output + rewrapped.output);
  std::filesystem::remove(token_file);
}

// On a terminal (a pty from script(1)): a new passphrase is asked twice with echo off, and
// reencrypt draws a bar with an ETA.
TEST(KeyProtectorsEndToEnd, TerminalPromptAskedTwiceWithoutEchoAndProgressBar) {
  const std::string root = mountTestRoot() + "/pty-" + std::to_string(getpid());
  std::filesystem::create_directories(root);
  const std::string secret = "typed on a terminal 5150";
  auto onTerminal = [&](const std::string& command, const std::string& first,
                        const std::string& second) {
    // The answers seconds apart, so each prompt has turned echo off before its answer arrives.
    const std::string feed = "sleep 2; printf '%s\\n' '" + first + "'; sleep 1; printf '%s\\n' '" +
                             second + "'; sleep 2";
    return runCommand(
        {"/bin/sh", "-c", "(" + feed + ") | script -qec \"" + command + "\" /dev/null"}, {},
        std::chrono::seconds(60));
  };
  const std::string source = "dir://" + root + "/vol";
  auto differ = onTerminal(s3cryptfsBinary() + " init " + source + " --protector passphrase",
                           secret, secret + "x");
  EXPECT_NE(differ.exit_code, 0) << differ.output;
  EXPECT_TRUE(contains(differ.output, "do not match")) << differ.output;
  EXPECT_FALSE(std::filesystem::exists(root + "/vol/f.s3cryptfs.volume"));
  auto created =
      onTerminal(s3cryptfsBinary() + " init " + source + " --protector passphrase", secret, secret);
  ASSERT_EQ(created.exit_code, 0) << created.output;
  EXPECT_TRUE(contains(created.output, "Repeat")) << created.output;
  EXPECT_FALSE(contains(created.output, secret)) << "echoed: " << created.output;
  const std::string pass_file = root + "/pass";
  ASSERT_TRUE(writeWholeFile(pass_file, secret + "\n"));
  auto rotated = runCommand({s3cryptfsBinary(), "rotate", source, "--passphrase-file", pass_file,
                             "--protector", "passphrase:file=" + pass_file});
  ASSERT_EQ(rotated.exit_code, 0) << rotated.output;
  auto bar = onTerminal(
      s3cryptfsBinary() + " reencrypt " + source + " --passphrase-file " + pass_file, "", "");
  ASSERT_EQ(bar.exit_code, 0) << bar.output;
  EXPECT_TRUE(contains(bar.output, "] 100%")) << bar.output;
  EXPECT_TRUE(contains(bar.output, "ETA")) << bar.output;
  std::filesystem::remove_all(root);
}

// --- key management -----------------------------------------------------------------------------

TEST(KeyManagement, AddListRemoveAndTheLastSlotIsKept) {
  KeyVolume volume(testName(), {});
  ASSERT_TRUE(volume.ok()) << volume.initOutput();
  const std::string second = volume.file("second.key");
  ASSERT_EQ(volume.run({"keygen", second}).exit_code, 0);
  // Adding needs an unlock first: a key file that does not open the volume is refused (15).
  auto refused = volume.run({"key", "add", volume.source(), "--key-file", second, "--protector",
                             "backup=keyfile:" + second});
  EXPECT_EQ(refused.exit_code, 15) << refused.output;
  auto added = volume.run({"key", "add", volume.source(), "--key-file", volume.harness().keyFile(),
                           "--protector", "backup=keyfile:" + second});
  ASSERT_EQ(added.exit_code, 0) << added.output;
  auto duplicate = volume.run({"key", "add", volume.source(), "--key-file", second, "--protector",
                               "backup=keyfile:" + second});
  EXPECT_EQ(duplicate.exit_code, 2) << duplicate.output;
  auto listed = volume.run({"key", "list", volume.source(), "--key-file", second});
  ASSERT_EQ(listed.exit_code, 0) << listed.output;
  EXPECT_TRUE(contains(listed.output, "(authenticated)")) << listed.output;
  EXPECT_TRUE(contains(listed.output, "1  backup  keyfile")) << listed.output;
  volume.writeThenReadWithKeyFile({"--key-file", second});
  auto removed = volume.run({"key", "remove", volume.source(), "keyfile", "--key-file", second});
  ASSERT_EQ(removed.exit_code, 0) << removed.output;
  volume.expectRefused(volume.keyFile(), 15, "does not unlock");
  auto last = volume.run({"key", "remove", volume.source(), "0", "--key-file", second});
  EXPECT_EQ(last.exit_code, 2) << last.output;
  EXPECT_TRUE(contains(last.output, "last")) << last.output;
  volume.checkReadable({"--key-file", second});
}

TEST(KeyManagement, RotateThenReencryptLeavesOnlyTheNewestKeyVersion) {
  const std::string pass_file = mountTestRoot() + "/rotate-pass-" + std::to_string(getpid());
  ASSERT_TRUE(writeWholeFile(pass_file, "rotate me please\n"));
  KeyVolume volume(testName(), {"--protector", "pp=passphrase:file=" + pass_file});
  ASSERT_TRUE(volume.ok()) << volume.initOutput();
  volume.writeThenReadWithKeyFile({"--passphrase-file", pass_file});
  EXPECT_EQ(volume.contentKeyVersions(), std::set<uint32_t>{1});
  // Every slot needs a protector for the new version (or --drop-missing).
  auto partial = volume.run({"rotate", volume.source(), "--key-file", volume.harness().keyFile(),
                             "--protector", "keyfile:" + volume.harness().keyFile()});
  EXPECT_EQ(partial.exit_code, 2) << partial.output;
  EXPECT_TRUE(contains(partial.output, "'pp'")) << partial.output;
  auto rotated = volume.run({"rotate", volume.source(), "--key-file", volume.harness().keyFile(),
                             "--protector", "keyfile:" + volume.harness().keyFile(), "--protector",
                             "pp=passphrase:file=" + pass_file});
  ASSERT_EQ(rotated.exit_code, 0) << rotated.output;
  // Old objects readable; new writes use version 2.
  auto mounted = volume.mount({"--passphrase-file", pass_file});
  ASSERT_EQ(mounted.exit_code, 0) << mounted.output;
  EXPECT_EQ(readWholeFile(volume.harness().path("dir/big")), std::string(300000, 'b'));
  ASSERT_TRUE(writeWholeFile(volume.harness().path("after-rotate"), "v2 data"));
  ASSERT_TRUE(volume.unmount());
  EXPECT_EQ(volume.contentKeyVersions(), (std::set<uint32_t>{1, 2}));
  // reencrypt moves everything to version 2; the data is unchanged. Given the mount point of an
  // (idle) mount, it finds the source in /proc/self/mountinfo. Not on a terminal: plain
  // progress lines.
  ASSERT_EQ(volume.mount({"--key-file", volume.harness().keyFile()}).exit_code, 0);
  auto moved = volume.run(
      {"reencrypt", volume.harness().mountpoint(), "--key-file", volume.harness().keyFile()});
  ASSERT_TRUE(volume.unmount());
  ASSERT_EQ(moved.exit_code, 0) << moved.output;
  EXPECT_TRUE(contains(moved.output, "moved to key version 2")) << moved.output;
  EXPECT_TRUE(contains(moved.output, "reencrypt: 100% ")) << moved.output;
  auto not_a_mount = volume.run(
      {"reencrypt", volume.harness().mountpoint(), "--key-file", volume.harness().keyFile()});
  EXPECT_EQ(not_a_mount.exit_code, 2) << not_a_mount.output;
  EXPECT_EQ(volume.contentKeyVersions(), std::set<uint32_t>{2});
  volume.checkReadable({"--passphrase-file", pass_file});
  auto again = volume.run({"reencrypt", volume.source(), "--key-file", volume.harness().keyFile()});
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_TRUE(contains(again.output, "reencrypt: 0 objects moved")) << again.output;
  std::filesystem::remove(pass_file);
}

TEST(KeyManagement, TamperedDescriptorIsRefusedAndNeverOverwritten) {
  KeyVolume volume(testName(), {});
  ASSERT_TRUE(volume.ok()) << volume.initOutput();
  // A descriptor edited by hand fails its MAC: exit 17, and no admin command writes over it.
  // (The dir store keeps object ".s3cryptfs.volume" in file "f.s3cryptfs.volume", its own
  // record first, then the body.)
  const std::string descriptor = volume.harness().storeDir() + "/f.s3cryptfs.volume";
  std::string bytes = readWholeFile(descriptor);
  const size_t magic = bytes.find("s3cryptv");
  ASSERT_NE(magic, std::string::npos);
  bytes[magic + 14] ^= 0x03;  // the cipher byte (FORMAT.md §7): AES-256-GCM becomes ChaCha20
  ASSERT_TRUE(writeWholeFile(descriptor, bytes));
  volume.expectRefused(volume.keyFile(), 17, "MAC");
  const std::string other = volume.file("other.key");
  ASSERT_EQ(volume.run({"keygen", other}).exit_code, 0);
  auto before = snapshot(volume.harness().storeDir());
  auto added = volume.run({"key", "add", volume.source(), "--key-file", volume.harness().keyFile(),
                           "--protector", "x=keyfile:" + other});
  EXPECT_EQ(added.exit_code, 17) << added.output;
  EXPECT_TRUE(snapshot(volume.harness().storeDir()) == before);
}

// The same commands over S3 (Ceph RGW checks signatures and honours If-Match on PUT).
TEST(KeyManagement, AddRotateAndReencryptOverCeph) {
  MountedVolume volume("ceph", testName());
  ASSERT_TRUE(volume.ok()) << volume.initResult().output;
  const std::string endpoint = "endpoint=" + volume.server()->endpoint;
  auto run = [&](std::vector<std::string> args) {
    args.insert(args.begin(), s3cryptfsBinary());
    args.insert(args.end(), {"-o", endpoint});
    return runCommand(args, volume.env(), std::chrono::seconds(90));
  };
  ASSERT_EQ(volume.mount().exit_code, 0) << volume.log();
  ASSERT_TRUE(writeWholeFile(volume.path("on-ceph"), "stored in RGW"));
  // Bigger than one reencrypt part: rewritten by a multipart upload, whose completion RGW 16.2
  // cannot make conditional.
  const std::string big(12 << 20, 'r');
  ASSERT_TRUE(writeWholeFile(volume.path("big"), big));
  ASSERT_TRUE(volume.unmount());
  const std::string second = volume.scratch() + "/second.key";
  ASSERT_EQ(runCommand({s3cryptfsBinary(), "keygen", second}).exit_code, 0);
  auto added = run({"key", "add", volume.source(), "--key-file", volume.keyFile(), "--protector",
                    "second=keyfile:" + second});
  ASSERT_EQ(added.exit_code, 0) << added.output;
  auto rotated = run({"rotate", volume.source(), "--key-file", second, "--protector",
                      "keyfile:" + volume.keyFile(), "--protector", "second=keyfile:" + second});
  ASSERT_EQ(rotated.exit_code, 0) << rotated.output;
  auto moved = run({"reencrypt", volume.source(), "--key-file", second});
  ASSERT_EQ(moved.exit_code, 0) << moved.output;
  EXPECT_TRUE(contains(moved.output, "moved to key version 2")) << moved.output;
  auto listed = run({"key", "list", volume.source(), "--key-file", second});
  EXPECT_TRUE(contains(listed.output, "1  second  keyfile")) << listed.output;
  ASSERT_EQ(volume.mount().exit_code, 0) << volume.log();
  EXPECT_EQ(readWholeFile(volume.path("on-ceph")), "stored in RGW");
  EXPECT_TRUE(readWholeFile(volume.path("big")) == big);
  ASSERT_TRUE(volume.unmount());
}

TEST(KeyManagement, WrongKeyFileAndNoKeyGiven) {
  KeyVolume volume(testName(), {});
  ASSERT_TRUE(volume.ok()) << volume.initOutput();
  const std::string other = volume.file("other.key");
  ASSERT_EQ(volume.run({"keygen", other}).exit_code, 0);
  volume.expectRefused({"--key-file", other}, 15, "key file does not unlock");
  volume.expectRefused({"--key-file", volume.file("missing.key")}, 16, "missing.key");
  volume.expectRefused({}, 2, "no key given");
  volume.expectRefused({"--protector", "passphrase:pin=1234"}, 2, "never accepted");
  // init refuses to overwrite, and asks nothing first.
  auto again = volume.run({"init", volume.source(), "--key-file", other});
  EXPECT_EQ(again.exit_code, 14) << again.output;
}

}  // namespace
}  // namespace s3cryptfs::test
