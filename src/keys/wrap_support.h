#pragma once

// Shared by the local protectors: a volume key sealed with AES-256-GCM under a key-encryption
// key, bound to the protector type and the key context.
#include <map>
#include <string>
#include <string_view>

#include "s3cryptfs/core/bytes.h"
#include "s3cryptfs/core/result.h"
#include "s3cryptfs/core/secure_buffer.h"
#include "s3cryptfs/keys/key_protector.h"

namespace s3cryptfs::keys::detail {

// "s3cryptfs keywrap v1" 0 type 0 volume id hex 0 key version (u32 LE).
Bytes contextAad(std::string_view type, const KeyContext& context);

// KEK = HKDF-SHA256(secret, info = label), 32 bytes.
Result<SecureBuffer> deriveKek(const SecureBuffer& secret, std::string_view label);

// nonce (12) || ciphertext (32) || tag (16).
Result<Bytes> sealVolumeKey(const SecureBuffer& kek, std::string_view type,
                            const KeyContext& context, const SecureBuffer& volume_key);
// Any authentication failure becomes kPermissionDenied with `denied_message`: from here a wrong
// key, a tampered copy and a wrong context look the same, and none of them is data loss.
Result<SecureBuffer> openVolumeKey(const SecureBuffer& kek, std::string_view type,
                                   const KeyContext& context, ByteSpan sealed,
                                   std::string_view denied_message);

Status checkVolumeKey(const SecureBuffer& volume_key);
Status checkType(const WrappedKey& wrapped, std::string_view type);

// Parses an unsigned decimal param; kCorrupt naming the param if absent or malformed.
Result<uint64_t> paramU64(const std::map<std::string, std::string>& params, const std::string& name,
                          uint64_t min, uint64_t max);
Result<std::string> paramString(const std::map<std::string, std::string>& params,
                                const std::string& name);

// strerror, thread-safe.
std::string errnoText(int err);

// Reads a small file whole (passphrase, PIN, key file, share list) into locked memory.
Result<SecureBuffer> readSecretFile(const std::string& path, size_t max_size);

// Reads one line from /dev/tty with echo off, after writing prompt there.
Result<SecureBuffer> promptNoEcho(std::string_view prompt);

}  // namespace s3cryptfs::keys::detail
