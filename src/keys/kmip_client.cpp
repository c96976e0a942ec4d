#include "s3cryptfs/keys/kmip_client.h"

#include <array>

#include "s3cryptfs/core/log.h"

#include "remote_support.h"

namespace s3cryptfs::keys {

namespace {
using kmip::Item;
namespace tag = kmip::tag;

// Operation values (KMIP 1.4 §9.1.3.2.27).
constexpr uint32_t kOpCreate = 0x01;
constexpr uint32_t kOpActivate = 0x12;
constexpr uint32_t kOpRevoke = 0x13;
constexpr uint32_t kOpDestroy = 0x14;
constexpr uint32_t kOpEncrypt = 0x1F;
constexpr uint32_t kOpDecrypt = 0x20;

// Enumerations (KMIP 1.4 §9.1.3.2).
constexpr uint32_t kObjectTypeSymmetricKey = 0x02;     // §9.1.3.2.12
constexpr uint32_t kAlgorithmAes = 0x03;               // §9.1.3.2.13
constexpr uint32_t kBlockCipherModeGcm = 0x09;         // §9.1.3.2.14
constexpr uint32_t kResultStatusSuccess = 0x00;        // §9.1.3.2.28
constexpr int32_t kUsageEncryptDecrypt = 0x04 | 0x08;  // §9.1.3.3.1: Encrypt, Decrypt
constexpr int32_t kGcmTagLength = 16;

std::string operationName(uint32_t operation) {
  switch (operation) {
    case kOpCreate:
      return "Create";
    case kOpActivate:
      return "Activate";
    case kOpRevoke:
      return "Revoke";
    case kOpDestroy:
      return "Destroy";
    case kOpEncrypt:
      return "Encrypt";
    case kOpDecrypt:
      return "Decrypt";
    default:
      return "operation " + std::to_string(operation);
  }
}

// Result Reason names (KMIP 1.4 §9.1.3.2.29).
std::string reasonName(uint32_t reason) {
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
  if (reason == kmip::reason::kGeneralFailure) return "General Failure";
  return "reason " + std::to_string(reason);
}

Item cryptographicParametersGcm() {
  // Field order of Cryptographic Parameters, KMIP 1.4 §2.1.5.
  return Item::structure(tag::kCryptographicParameters,
                         {Item::enumeration(tag::kBlockCipherMode, kBlockCipherModeGcm),
                          Item::enumeration(tag::kCryptographicAlgorithm, kAlgorithmAes),
                          Item::integer(tag::kTagLength, kGcmTagLength)});
}

Status statusOf(Result<Item> result) {
  if (!result) return std::move(result).error();
  return ok();
}

Item templateAttribute(const char* name, Item value) {
  value.tag = tag::kAttributeValue;
  return Item::structure(tag::kAttribute,
                         {Item::text(tag::kAttributeName, name), std::move(value)});
}
}  // namespace

KmipClient::KmipClient(KmipClientConfig config, std::unique_ptr<crypto::TlsStream> stream,
                       crypto::TlsStream::Clock::time_point deadline)
    : config_(std::move(config)), stream_(std::move(stream)), deadline_(deadline) {}
KmipClient::~KmipClient() = default;

Result<std::unique_ptr<KmipClient>> KmipClient::connect(const KmipClientConfig& config) {
  if (!((config.version.major == 1 && config.version.minor == 4) ||
        (config.version.major == 2 && config.version.minor == 0))) {
    return Error(ErrorKind::kInvalidArgument,
                 "KMIP version " + config.version.text() + " is not supported (1.4 or 2.0)");
  }
  auto deadline = crypto::TlsStream::Clock::now() + config.timeout;
  crypto::TlsClientOptions tls{config.host, config.port, config.ca_file, config.cert_file,
                               config.key_file};
  auto stream = crypto::TlsStream::connect(tls, deadline);
  if (!stream) return detail::remoteError(stream.error(), "KMIP", config.timeout);
  log::debug("KMIP: connected to {}:{} over {}", config.host, config.port,
             (*stream)->protocolVersion());
  return std::unique_ptr<KmipClient>(new KmipClient(config, std::move(*stream), deadline));
}

Result<Item> KmipClient::call(uint32_t operation, Item payload, bool secret_request,
                              bool secret_response) {
  const std::string op = operationName(operation);
  const std::string where =
      "KMIP " + op + " at " + config_.host + ":" + std::to_string(config_.port);
  // Request Message, KMIP 1.4 §7.1–7.2: header (version, batch count), one batch item.
  Item request = Item::structure(
      tag::kRequestMessage,
      {Item::structure(
           tag::kRequestHeader,
           {Item::structure(tag::kProtocolVersion,
                            {Item::integer(tag::kProtocolVersionMajor, config_.version.major),
                             Item::integer(tag::kProtocolVersionMinor, config_.version.minor)}),
            Item::integer(tag::kBatchCount, 1)}),
       Item::structure(tag::kBatchItem,
                       {Item::enumeration(tag::kOperation, operation), std::move(payload)})});
  request.children[1].children[1].tag = tag::kRequestPayload;
  Bytes encoded = kmip::encode(request);
  if (secret_request) kmip::scrub(request);
  auto written = stream_->writeAll(encoded, deadline_);
  if (secret_request) kmip::scrub(encoded);
  if (!written) return detail::remoteError(written.error(), where, config_.timeout);

  std::array<uint8_t, 8> header{};
  auto read = stream_->readExact(header, deadline_);
  if (!read) return detail::remoteError(read.error(), where, config_.timeout);
  uint32_t length = kmip::announcedLength(header.data());
  if (header[0] != 0x42 || header[1] != 0x00 || header[2] != 0x7B ||
      header[3] != static_cast<uint8_t>(kmip::ItemType::kStructure) ||
      length > kmip::kMaxMessageSize - header.size() || length % 8 != 0) {
    return Error(ErrorKind::kIo, where +
                                     ": the server did not answer with a KMIP response "
                                     "message (is this a KMIP port?)");
  }
  Bytes message(header.begin(), header.end());
  message.resize(header.size() + length);
  read = stream_->readExact(MutableByteSpan(message).subspan(header.size()), deadline_);
  if (!read) return detail::remoteError(read.error(), where, config_.timeout);
  auto decoded = kmip::decode(message);
  if (secret_response) kmip::scrub(message);
  if (!decoded) return Error(ErrorKind::kIo, where + ": " + decoded.error().message());
  Item& response = *decoded;

  const Item* batch = response.find(tag::kBatchItem);
  const Item* status = batch != nullptr ? batch->find(tag::kResultStatus) : nullptr;
  if (status == nullptr) {
    if (secret_response) kmip::scrub(response);
    return Error(ErrorKind::kIo, where + ": the response has no batch item with a result status");
  }
  if (status->number != kResultStatusSuccess) {
    const Item* reason_item = batch->find(tag::kResultReason);
    const Item* message_item = batch->find(tag::kResultMessage);
    auto reason = static_cast<uint32_t>(reason_item != nullptr ? reason_item->number : 0);
    std::string text = reasonName(reason);
    if (message_item != nullptr && !message_item->bytes.empty()) {
      text += ": " + detail::bodyExcerpt(message_item->bytes);
    }
    ErrorKind kind = ErrorKind::kIo;
    if (reason == kmip::reason::kItemNotFound) kind = ErrorKind::kNotFound;
    if (reason == kmip::reason::kPermissionDenied ||
        reason == kmip::reason::kAuthenticationNotSuccessful) {
      kind = ErrorKind::kPermissionDenied;
    }
    Error error(kind, where + " failed: " + text);
    error.setService(reasonName(reason), static_cast<int>(reason));
    return error;
  }
  const Item* payload_item = batch->find(tag::kResponsePayload);
  Item out = payload_item != nullptr ? *payload_item : Item::structure(tag::kResponsePayload, {});
  if (secret_response) kmip::scrub(response);
  return out;
}

Result<std::string> KmipClient::createAesKey(int bits) {
  Item attributes;
  if (config_.version.major >= 2) {
    // KMIP 2.0 §4.3 / §7.1: attributes directly in an Attributes structure.
    attributes = Item::structure(
        tag::kAttributes, {Item::enumeration(tag::kCryptographicAlgorithm, kAlgorithmAes),
                           Item::integer(tag::kCryptographicLength, bits),
                           Item::integer(tag::kCryptographicUsageMask, kUsageEncryptDecrypt)});
  } else {
    // KMIP 1.4 §4.1: a Template-Attribute of named attributes (§2.1.1).
    attributes = Item::structure(
        tag::kTemplateAttribute,
        {templateAttribute("Cryptographic Algorithm", Item::enumeration(0, kAlgorithmAes)),
         templateAttribute("Cryptographic Length", Item::integer(0, bits)),
         templateAttribute("Cryptographic Usage Mask", Item::integer(0, kUsageEncryptDecrypt))});
  }
  S3C_ASSIGN_OR_RETURN(
      Item payload,
      call(kOpCreate,
           Item::structure(0, {Item::enumeration(tag::kObjectType, kObjectTypeSymmetricKey),
                               std::move(attributes)}),
           false, false));
  const Item* id = payload.find(tag::kUniqueIdentifier);
  if (id == nullptr || id->type != kmip::ItemType::kTextString || id->bytes.empty()) {
    return Error(ErrorKind::kIo, "KMIP Create: the response has no Unique Identifier");
  }
  return std::string(id->textValue());
}

Status KmipClient::activate(const std::string& id) {
  return statusOf(call(kOpActivate, Item::structure(0, {Item::text(tag::kUniqueIdentifier, id)}),
                       false, false));
}

Status KmipClient::revoke(const std::string& id, KmipRevocationReason reason) {
  return statusOf(call(
      kOpRevoke,
      Item::structure(0, {Item::text(tag::kUniqueIdentifier, id),
                          Item::structure(tag::kRevocationReason,
                                          {Item::enumeration(tag::kRevocationReasonCode,
                                                             static_cast<uint32_t>(reason))})}),
      false, false));
}

Status KmipClient::destroy(const std::string& id) {
  return statusOf(
      call(kOpDestroy, Item::structure(0, {Item::text(tag::kUniqueIdentifier, id)}), false, false));
}

Result<KmipClient::GcmSealed> KmipClient::encryptGcm(const std::string& id, ByteSpan plaintext,
                                                     ByteSpan iv, ByteSpan additional_data) {
  // Encrypt request fields in the order of KMIP 1.4 §4.29.
  S3C_ASSIGN_OR_RETURN(
      Item payload,
      call(kOpEncrypt,
           Item::structure(
               0,
               {Item::text(tag::kUniqueIdentifier, id), cryptographicParametersGcm(),
                Item::byteString(tag::kData, plaintext), Item::byteString(tag::kIvCounterNonce, iv),
                Item::byteString(tag::kAuthenticatedEncryptionAdditionalData, additional_data)}),
           /*secret_request=*/true, false));
  const Item* data = payload.find(tag::kData);
  const Item* auth_tag = payload.find(tag::kAuthenticatedEncryptionTag);
  if (data == nullptr || auth_tag == nullptr || auth_tag->bytes.size() != kGcmTagLength ||
      data->bytes.size() != plaintext.size()) {
    return Error(ErrorKind::kIo,
                 "KMIP Encrypt: the response lacks the ciphertext or a 16-byte authentication "
                 "tag (does the server support authenticated encryption at KMIP " +
                     config_.version.text() + "?)");
  }
  if (const Item* echoed = payload.find(tag::kIvCounterNonce);
      echoed != nullptr &&
      !std::equal(echoed->bytes.begin(), echoed->bytes.end(), iv.begin(), iv.end())) {
    return Error(ErrorKind::kIo, "KMIP Encrypt: the server used another IV than the one sent");
  }
  return GcmSealed{data->bytes, auth_tag->bytes};
}

Result<SecureBuffer> KmipClient::decryptGcm(const std::string& id, ByteSpan ciphertext, ByteSpan iv,
                                            ByteSpan additional_data, ByteSpan tag) {
  // Decrypt request fields in the order of KMIP 1.4 §4.30.
  S3C_ASSIGN_OR_RETURN(
      Item payload,
      call(kOpDecrypt,
           Item::structure(
               0, {Item::text(tag::kUniqueIdentifier, id), cryptographicParametersGcm(),
                   Item::byteString(tag::kData, ciphertext),
                   Item::byteString(tag::kIvCounterNonce, iv),
                   Item::byteString(tag::kAuthenticatedEncryptionAdditionalData, additional_data),
                   Item::byteString(tag::kAuthenticatedEncryptionTag, tag)}),
           false, /*secret_response=*/true));
  Item* data = nullptr;
  for (Item& child : payload.children) {
    if (child.tag == tag::kData) data = &child;
  }
  if (data == nullptr) {
    kmip::scrub(payload);
    return Error(ErrorKind::kIo, "KMIP Decrypt: the response has no Data");
  }
  SecureBuffer out(data->bytes);
  kmip::scrub(payload);
  return out;
}

}  // namespace s3cryptfs::keys
