#pragma once

// The KMIP request messages and payloads the KMIP client sends, as pure functions (no I/O), so
// their encodings can be compared byte for byte with another implementation's
// (tests/unit/keys/kmip/pykmip_vectors.py). Field orders follow KMIP Specification v1.4 §4 (and
// v2.0 §6.1 for Create's Attributes); enumeration values §9.1.3.2.
#include <cstdint>
#include <string>

#include "s3cryptfs/core/bytes.h"
#include "s3cryptfs/keys/kmip_ttlv.h"

namespace s3cryptfs::keys {

struct KmipVersion {
  int major = 1;
  int minor = 4;
  std::string text() const { return std::to_string(major) + "." + std::to_string(minor); }
};

// Revocation Reason Code values (KMIP 1.4 §9.1.3.2.19).
enum class KmipRevocationReason : uint32_t {
  kUnspecified = 0x01,
  kKeyCompromise = 0x02,
  kCessationOfOperation = 0x06,
};

namespace kmip {

// Operation values (KMIP 1.4 §9.1.3.2.27).
namespace operation {
inline constexpr uint32_t kCreate = 0x01;
inline constexpr uint32_t kActivate = 0x12;
inline constexpr uint32_t kRevoke = 0x13;
inline constexpr uint32_t kDestroy = 0x14;
inline constexpr uint32_t kEncrypt = 0x1F;
inline constexpr uint32_t kDecrypt = 0x20;
}  // namespace operation

inline constexpr int32_t kGcmTagLength = 16;

// Request Message (§7.1): Request Header {Protocol Version, Batch Count 1}, one Batch Item
// {Operation, Request Payload}. `payload` is any structure; its tag becomes Request Payload.
Item requestMessage(const KmipVersion& version, uint32_t operation, Item payload);

// Create (§4.1) of a symmetric AES key of `bits` with usage mask Encrypt|Decrypt: a
// Template-Attribute of named attributes at 1.x, an Attributes structure at 2.0.
Item createAesKeyPayload(const KmipVersion& version, int bits);
// Activate (§4.19) and Destroy (§4.21): just the Unique Identifier.
Item uniqueIdentifierPayload(const std::string& id);
// Revoke (§4.20) with a Revocation Reason code.
Item revokePayload(const std::string& id, KmipRevocationReason reason);
// Encrypt (§4.29) / Decrypt (§4.30) with AES-GCM and a 16-byte tag.
Item encryptGcmPayload(const std::string& id, ByteSpan plaintext, ByteSpan iv,
                       ByteSpan additional_data);
Item decryptGcmPayload(const std::string& id, ByteSpan ciphertext, ByteSpan iv,
                       ByteSpan additional_data, ByteSpan tag);

// "Item Not Found" etc. for a Result Reason value (§9.1.3.2.29).
std::string resultReasonName(uint32_t reason);
std::string operationName(uint32_t operation);

}  // namespace kmip
}  // namespace s3cryptfs::keys
