#include "s3cryptfs/keys/kmip_client.h"

#include <array>

#include "s3cryptfs/core/log.h"

#include "remote_support.h"

namespace s3cryptfs::keys {

namespace {
using kmip::Item;
namespace tag = kmip::tag;

constexpr uint32_t kResultStatusSuccess = 0x00;  // §9.1.3.2.28

Status statusOf(Result<Item> result) {
  if (!result) return std::move(result).error();
  return ok();
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
  const std::string op = kmip::operationName(operation);
  const std::string where =
      "KMIP " + op + " at " + config_.host + ":" + std::to_string(config_.port);
  Item request = kmip::requestMessage(config_.version, operation, std::move(payload));
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
    std::string text = kmip::resultReasonName(reason);
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
    error.setService(kmip::resultReasonName(reason), static_cast<int>(reason));
    return error;
  }
  const Item* payload_item = batch->find(tag::kResponsePayload);
  Item out = payload_item != nullptr ? *payload_item : Item::structure(tag::kResponsePayload, {});
  if (secret_response) kmip::scrub(response);
  return out;
}

Result<std::string> KmipClient::createAesKey(int bits) {
  S3C_ASSIGN_OR_RETURN(
      Item payload, call(kmip::operation::kCreate, kmip::createAesKeyPayload(config_.version, bits),
                         false, false));
  const Item* id = payload.find(tag::kUniqueIdentifier);
  if (id == nullptr || id->type != kmip::ItemType::kTextString || id->bytes.empty()) {
    return Error(ErrorKind::kIo, "KMIP Create: the response has no Unique Identifier");
  }
  return std::string(id->textValue());
}

Status KmipClient::activate(const std::string& id) {
  return statusOf(
      call(kmip::operation::kActivate, kmip::uniqueIdentifierPayload(id), false, false));
}

Status KmipClient::revoke(const std::string& id, KmipRevocationReason reason) {
  return statusOf(call(kmip::operation::kRevoke, kmip::revokePayload(id, reason), false, false));
}

Status KmipClient::destroy(const std::string& id) {
  return statusOf(call(kmip::operation::kDestroy, kmip::uniqueIdentifierPayload(id), false, false));
}

Result<KmipClient::GcmSealed> KmipClient::encryptGcm(const std::string& id, ByteSpan plaintext,
                                                     ByteSpan iv, ByteSpan additional_data) {
  S3C_ASSIGN_OR_RETURN(
      Item payload,
      call(kmip::operation::kEncrypt, kmip::encryptGcmPayload(id, plaintext, iv, additional_data),
           /*secret_request=*/true, false));
  const Item* data = payload.find(tag::kData);
  const Item* auth_tag = payload.find(tag::kAuthenticatedEncryptionTag);
  if (data == nullptr || auth_tag == nullptr || auth_tag->bytes.size() != kmip::kGcmTagLength ||
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
  S3C_ASSIGN_OR_RETURN(
      Item payload, call(kmip::operation::kDecrypt,
                         kmip::decryptGcmPayload(id, ciphertext, iv, additional_data, tag), false,
                         /*secret_response=*/true));
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
