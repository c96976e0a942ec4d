#include "s3cryptfs/keys/kmip_messages.h"

#include <array>

namespace s3cryptfs::keys::kmip {

namespace {
// Enumerations (KMIP 1.4 §9.1.3.2) and masks (§9.1.3.3).
constexpr uint32_t kObjectTypeSymmetricKey = 0x02;     // §9.1.3.2.12
constexpr uint32_t kAlgorithmAes = 0x03;               // §9.1.3.2.13
constexpr uint32_t kBlockCipherModeGcm = 0x09;         // §9.1.3.2.14
constexpr int32_t kUsageEncryptDecrypt = 0x04 | 0x08;  // §9.1.3.3.1: Encrypt, Decrypt

Item cryptographicParametersGcm() {
  // Field order of Cryptographic Parameters, §2.1.5.
  return Item::structure(tag::kCryptographicParameters,
                         {Item::enumeration(tag::kBlockCipherMode, kBlockCipherModeGcm),
                          Item::enumeration(tag::kCryptographicAlgorithm, kAlgorithmAes),
                          Item::integer(tag::kTagLength, kGcmTagLength)});
}

// A named attribute of a Template-Attribute (§2.1.1): Attribute Name, Attribute Value.
Item namedAttribute(const char* name, Item value) {
  value.tag = tag::kAttributeValue;
  return Item::structure(tag::kAttribute,
                         {Item::text(tag::kAttributeName, name), std::move(value)});
}

Item payload(std::vector<Item> fields) {
  return Item::structure(tag::kRequestPayload, std::move(fields));
}
}  // namespace

Item requestMessage(const KmipVersion& version, uint32_t op, Item request_payload) {
  request_payload.tag = tag::kRequestPayload;
  return Item::structure(
      tag::kRequestMessage,
      {Item::structure(tag::kRequestHeader,
                       {Item::structure(tag::kProtocolVersion,
                                        {Item::integer(tag::kProtocolVersionMajor, version.major),
                                         Item::integer(tag::kProtocolVersionMinor, version.minor)}),
                        Item::integer(tag::kBatchCount, 1)}),
       Item::structure(tag::kBatchItem,
                       {Item::enumeration(tag::kOperation, op), std::move(request_payload)})});
}

Item createAesKeyPayload(const KmipVersion& version, int bits) {
  Item attributes;
  if (version.major >= 2) {
    attributes = Item::structure(
        tag::kAttributes, {Item::enumeration(tag::kCryptographicAlgorithm, kAlgorithmAes),
                           Item::integer(tag::kCryptographicLength, bits),
                           Item::integer(tag::kCryptographicUsageMask, kUsageEncryptDecrypt)});
  } else {
    attributes = Item::structure(
        tag::kTemplateAttribute,
        {namedAttribute("Cryptographic Algorithm", Item::enumeration(0, kAlgorithmAes)),
         namedAttribute("Cryptographic Length", Item::integer(0, bits)),
         namedAttribute("Cryptographic Usage Mask", Item::integer(0, kUsageEncryptDecrypt))});
  }
  return payload(
      {Item::enumeration(tag::kObjectType, kObjectTypeSymmetricKey), std::move(attributes)});
}

Item uniqueIdentifierPayload(const std::string& id) {
  return payload({Item::text(tag::kUniqueIdentifier, id)});
}

Item revokePayload(const std::string& id, KmipRevocationReason reason) {
  return payload({Item::text(tag::kUniqueIdentifier, id),
                  Item::structure(tag::kRevocationReason,
                                  {Item::enumeration(tag::kRevocationReasonCode,
                                                     static_cast<uint32_t>(reason))})});
}

Item encryptGcmPayload(const std::string& id, ByteSpan plaintext, ByteSpan iv,
                       ByteSpan additional_data) {
  return payload({Item::text(tag::kUniqueIdentifier, id), cryptographicParametersGcm(),
                  Item::byteString(tag::kData, plaintext),
                  Item::byteString(tag::kIvCounterNonce, iv),
                  Item::byteString(tag::kAuthenticatedEncryptionAdditionalData, additional_data)});
}

Item decryptGcmPayload(const std::string& id, ByteSpan ciphertext, ByteSpan iv,
                       ByteSpan additional_data, ByteSpan auth_tag) {
  return payload({Item::text(tag::kUniqueIdentifier, id), cryptographicParametersGcm(),
                  Item::byteString(tag::kData, ciphertext),
                  Item::byteString(tag::kIvCounterNonce, iv),
                  Item::byteString(tag::kAuthenticatedEncryptionAdditionalData, additional_data),
                  Item::byteString(tag::kAuthenticatedEncryptionTag, auth_tag)});
}

std::string operationName(uint32_t op) {
  switch (op) {
    case operation::kCreate:
      return "Create";
    case operation::kActivate:
      return "Activate";
    case operation::kRevoke:
      return "Revoke";
    case operation::kDestroy:
      return "Destroy";
    case operation::kEncrypt:
      return "Encrypt";
    case operation::kDecrypt:
      return "Decrypt";
    default:
      return "operation " + std::to_string(op);
  }
}

std::string resultReasonName(uint32_t reason) {
  static constexpr std::array<const char*, 25> kNames = {
      "",
      "Item Not Found",
      "Response Too Large",
      "Authentication Not Successful",
      "Invalid Message",
      "Operation Not Supported",
      "Missing Data",
      "Invalid Field",
      "Feature Not Supported",
      "Operation Canceled By Requester",
      "Cryptographic Failure",
      "Illegal Operation",
      "Permission Denied",
      "Object archived",
      "Index Out of Bounds",
      "Application Namespace Not Supported",
      "Key Format Type Not Supported",
      "Key Compression Type Not Supported",
      "Encoding Option Error",
      "Key Value Not Present",
      "Attestation Required",
      "Attestation Failed",
      "Sensitive",
      "Not Extractable",
      "Object Already Exists",
  };
  if (reason > 0 && reason < kNames.size()) return kNames.at(reason);
  if (reason == 0x100) return "General Failure";
  return "reason " + std::to_string(reason);
}

}  // namespace s3cryptfs::keys::kmip
