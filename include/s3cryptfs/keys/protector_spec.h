#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "s3cryptfs/core/result.h"
#include "s3cryptfs/keys/key_protector.h"

namespace s3cryptfs::keys {

// A protector as named on the command line (`--protector`):
//   keyfile:/path
//   passphrase | passphrase:file=/path | passphrase:env=VAR
//   recovery:3-of-5 [,shares-file=/path]   (recovery:shares-file=/path to unlock)
//   pkcs11:module=/path.so,token=LABEL,key=LABEL,pin-file=/path|pin-env=VAR
//          [,mechanism=aes-gcm|aes-key-wrap-pad][,create-key=yes]
//   awskms:key-id=ID|ARN|alias/NAME[,region=R][,endpoint=URL][,profile=P][,ca=/path.pem]
//   kmip:host=H[,port=5696],ca=/ca.pem,cert=/client.pem,key=/client.key,
//        key-id=ID|create-key=yes[,version=1.4|2.0]
//   vault:[addr=URL,]key=NAME[,token-file=/path|token-env=VAR|k8s-role=ROLE[,k8s-jwt=/path]
//         [,k8s-mount=kubernetes]][,namespace=NS][,ca=/ca.pem][,mount=transit]
//         (addr defaults to $VAULT_ADDR, the token to $VAULT_TOKEN)
// Secrets are never accepted inline: only where to find them.
struct ProtectorSpec {
  std::string type;
  std::map<std::string, std::string> options;  // "path" for keyfile; "k", "n" for recovery
};

// kInvalidArgument with the list of known types for an unknown type, and a clear message for a
// malformed option list.
Result<ProtectorSpec> parseProtectorSpec(std::string_view text);

// Settings from the configuration that apply to every protector.
struct ProtectorOptions {
  // Each call a network protector makes (KMS, Vault, KMIP), connection included
  // (KeySettings::protector_timeout_ms).
  std::chrono::milliseconds timeout{10000};
};

// The protector a spec names.
Result<std::unique_ptr<KeyProtector>> makeProtector(const ProtectorSpec& spec,
                                                    const ProtectorOptions& options = {});

}  // namespace s3cryptfs::keys
