#pragma once

// One SoftHSM2 token store per test process: SOFTHSM2_CONF is read once, at the first
// C_Initialize, and the module stays initialised for the life of the process.
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>

#include "s3cryptfs/keys/pkcs11_protector.h"

#include "unit/keys/keys_test_support.h"

namespace s3cryptfs::keys::testing {

struct SoftHsm {
  TempDir dir;
  std::string module = std::string(kDefaultPkcs11Module);
  std::string token = "s3c-test-token";
  std::string pin = "4321";
  std::string pin_file;

  Pkcs11Config config(const std::string& key_label,
                      Pkcs11Mechanism mechanism = Pkcs11Mechanism::kAesGcm) const {
    Pkcs11Config c;
    c.module_path = module;
    c.token_label = token;
    c.key_label = key_label;
    c.pin = filePassphrase(pin_file);
    c.mechanism = mechanism;
    return c;
  }
};

// nullptr (and a reason) when SoftHSM2 is not installed.
inline const SoftHsm* softHsm(std::string* why = nullptr) {
  static std::unique_ptr<SoftHsm> instance = []() -> std::unique_ptr<SoftHsm> {
    auto hsm = std::make_unique<SoftHsm>();
    if (::access(hsm->module.c_str(), R_OK) != 0) return nullptr;
    std::string tokens = hsm->dir.file("tokens");
    std::filesystem::create_directories(tokens);
    std::string conf =
        hsm->dir.write("softhsm2.conf", "directories.tokendir = " + tokens +
                                            "\nobjectstore.backend = file\nlog.level = ERROR\n");
    ::setenv("SOFTHSM2_CONF", conf.c_str(), 1);
    hsm->pin_file = hsm->dir.write("pin", hsm->pin + "\n");
    std::string command = "softhsm2-util --init-token --free --label " + hsm->token +
                          " --so-pin 87654321 --pin " + hsm->pin + " >/dev/null 2>&1";
    if (std::system(command.c_str()) != 0) return nullptr;
    return hsm;
  }();
  if (!instance && why != nullptr) *why = "softhsm2 is not installed";
  return instance.get();
}

}  // namespace s3cryptfs::keys::testing
