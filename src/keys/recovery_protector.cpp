#include "s3cryptfs/keys/recovery_protector.h"

#include <array>
#include <set>

#include "s3cryptfs/crypto/hash.h"
#include "s3cryptfs/crypto/random.h"
#include "s3cryptfs/keys/shamir.h"

#include "wrap_support.h"

namespace s3cryptfs::keys {

namespace {
constexpr std::string_view kWrapLabel = "s3cryptfs recovery wrap v1";
constexpr std::string_view kVolumeTagLabel = "s3cryptfs recovery volume v1";
constexpr std::string_view kCheckLabel = "s3cryptfs recovery share v1";
constexpr std::string_view kDenied = "recovery shares do not unlock this volume";
// Crockford's base32: no I, L, O, U, so the usual misreadings cannot happen.
constexpr std::string_view kAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
constexpr size_t kBodySize = 6 + kRecoveryShareValueSize;  // everything before the check
constexpr size_t kBinarySize = kBodySize + 2;              // 40 bytes = 64 characters
constexpr size_t kTextChars = kBinarySize * 8 / 5;
constexpr size_t kGroupChars = 4;
constexpr size_t kMaxShareFileSize = size_t{64} * 1024;

std::array<uint8_t, 2> volumeTag(std::string_view volume_id_hex) {
  Bytes input(kVolumeTagLabel.begin(), kVolumeTagLabel.end());
  input.insert(input.end(), volume_id_hex.begin(), volume_id_hex.end());
  auto digest = crypto::sha256(input);
  return {digest[0], digest[1]};
}

std::array<uint8_t, 2> shareCheck(std::string_view volume_id_hex, ByteSpan body) {
  SecureBuffer input(kCheckLabel.size() + volume_id_hex.size() + body.size());
  uint8_t* p = input.data();
  p = std::copy(kCheckLabel.begin(), kCheckLabel.end(), p);
  p = std::copy(volume_id_hex.begin(), volume_id_hex.end(), p);
  std::copy(body.begin(), body.end(), p);
  auto digest = crypto::sha256(input.span());
  std::array<uint8_t, 2> check{digest[0], digest[1]};
  secureZero(digest.data(), digest.size());
  return check;
}

int base32Value(char c) {
  if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  if (c == 'O') c = '0';
  if (c == 'I' || c == 'L') c = '1';
  auto pos = kAlphabet.find(c);
  return pos == std::string_view::npos ? -1 : static_cast<int>(pos);
}

std::string hex4(uint16_t v) {
  Bytes b{static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v & 0xFF)};
  return toHex(b);
}

std::vector<SecureBuffer> splitLines(const SecureBuffer& content) {
  std::vector<SecureBuffer> lines;
  size_t start = 0;
  for (size_t i = 0; i <= content.size(); ++i) {
    if (i == content.size() || content.data()[i] == '\n') {
      size_t b = start;
      size_t e = i;
      while (b < e && (content.data()[b] == ' ' || content.data()[b] == '\t'))
        ++b;
      while (e > b && (content.data()[e - 1] == '\r' || content.data()[e - 1] == ' ' ||
                       content.data()[e - 1] == '\t')) {
        --e;
      }
      if (e > b && content.data()[b] != '#') {
        lines.emplace_back(content.span().subspan(b, e - b));
      }
      start = i + 1;
    }
  }
  return lines;
}
}  // namespace

Result<SecureBuffer> encodeRecoveryShare(const RecoveryShare& share,
                                         std::string_view volume_id_hex) {
  if (share.value.size() != kRecoveryShareValueSize || share.index == 0 || share.threshold == 0) {
    return Error(ErrorKind::kInvalidArgument, "malformed recovery share");
  }
  SecureBuffer binary(kBinarySize);
  uint8_t* b = binary.data();
  auto tag = volumeTag(volume_id_hex);
  b[0] = share.threshold;
  b[1] = share.index;
  b[2] = tag[0];
  b[3] = tag[1];
  b[4] = static_cast<uint8_t>(share.set_id >> 8);
  b[5] = static_cast<uint8_t>(share.set_id & 0xFF);
  std::copy(share.value.data(), share.value.data() + kRecoveryShareValueSize, b + 6);
  auto check = shareCheck(volume_id_hex, binary.span().first(kBodySize));
  b[kBodySize] = check[0];
  b[kBodySize + 1] = check[1];

  SecureBuffer text(kTextChars + kTextChars / kGroupChars - 1);
  size_t out = 0;
  uint32_t acc = 0;
  int bits = 0;
  size_t chars = 0;
  for (size_t i = 0; i < kBinarySize; ++i) {
    acc = (acc << 8) | b[i];
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      if (chars > 0 && chars % kGroupChars == 0) text.data()[out++] = '-';
      text.data()[out++] = static_cast<uint8_t>(kAlphabet[(acc >> bits) & 0x1F]);
      ++chars;
    }
  }
  return text;
}

Result<RecoveryShare> decodeRecoveryShare(std::string_view text, std::string_view volume_id_hex) {
  SecureBuffer binary(kBinarySize);
  size_t out = 0;
  uint32_t acc = 0;
  int bits = 0;
  size_t chars = 0;
  for (char c : text) {
    if (c == '-' || c == ' ' || c == '\t') continue;
    int v = base32Value(c);
    if (v < 0) {
      return Error(ErrorKind::kInvalidArgument,
                   "recovery share has a character outside the share alphabet");
    }
    if (++chars > kTextChars) break;
    acc = (acc << 5) | static_cast<uint32_t>(v);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      binary.data()[out++] = static_cast<uint8_t>(acc >> bits);
    }
  }
  if (chars != kTextChars) {
    return Error(
        ErrorKind::kInvalidArgument,
        "recovery share must have " + std::to_string(kTextChars) + " characters (dashes aside)");
  }
  const uint8_t* b = binary.data();
  auto check = shareCheck(volume_id_hex, binary.span().first(kBodySize));
  if (check[0] != b[kBodySize] || check[1] != b[kBodySize + 1]) {
    auto tag = volumeTag(volume_id_hex);
    if (tag[0] != b[2] || tag[1] != b[3]) {
      return Error(ErrorKind::kInvalidArgument,
                   "recovery share belongs to another volume (or is mistyped)");
    }
    return Error(ErrorKind::kInvalidArgument, "recovery share is mistyped (checksum mismatch)");
  }
  RecoveryShare share;
  share.threshold = b[0];
  share.index = b[1];
  share.set_id = static_cast<uint16_t>((b[4] << 8) | b[5]);
  share.value = SecureBuffer(binary.span().subspan(6, kRecoveryShareValueSize));
  if (share.threshold == 0 || share.index == 0) {
    return Error(ErrorKind::kInvalidArgument, "recovery share is malformed");
  }
  return share;
}

ShareSource sharesFromFile(std::string path) {
  return [path = std::move(path)](uint8_t) -> Result<std::vector<SecureBuffer>> {
    S3C_ASSIGN_OR_RETURN(SecureBuffer content, detail::readSecretFile(path, kMaxShareFileSize));
    return splitLines(content);
  };
}

ShareSource sharesFromTerminal() {
  return [](uint8_t threshold) -> Result<std::vector<SecureBuffer>> {
    std::vector<SecureBuffer> texts;
    for (unsigned i = 1; i <= threshold; ++i) {
      std::string prompt =
          "Recovery share " + std::to_string(i) + " of " + std::to_string(threshold) + ": ";
      S3C_ASSIGN_OR_RETURN(SecureBuffer text, detail::promptNoEcho(prompt));
      texts.push_back(std::move(text));
    }
    return texts;
  };
}

ShareSource sharesFromList(std::vector<SecureBuffer> texts) {
  auto shared = std::make_shared<std::vector<SecureBuffer>>(std::move(texts));
  return [shared](uint8_t) -> Result<std::vector<SecureBuffer>> {
    std::vector<SecureBuffer> copy;
    for (const auto& t : *shared)
      copy.push_back(t.clone());
    return copy;
  };
}

RecoveryProtector::RecoveryProtector(uint8_t threshold, uint8_t count, ShareSource source)
    : threshold_(threshold), count_(count), source_(std::move(source)) {}

RecoveryProtector::RecoveryProtector(ShareSource source) : source_(std::move(source)) {}

std::vector<SecureBuffer> RecoveryProtector::takeShares() {
  return std::move(shares_);
}

Result<WrappedKey> RecoveryProtector::wrap(const SecureBuffer& volume_key,
                                           const KeyContext& context) {
  S3C_RETURN_IF_ERROR(detail::checkVolumeKey(volume_key));
  if (threshold_ < 1 || count_ < threshold_) {
    return Error(ErrorKind::kInvalidArgument, "recovery shares need 1 <= k <= n <= 255, got " +
                                                  std::to_string(threshold_) + "-of-" +
                                                  std::to_string(count_));
  }
  S3C_ASSIGN_OR_RETURN(SecureBuffer secret, crypto::randomKey(kRecoveryShareValueSize));
  S3C_ASSIGN_OR_RETURN(auto parts, splitSecret(secret, threshold_, count_));
  S3C_ASSIGN_OR_RETURN(Bytes set_bytes, crypto::randomBytes(2));
  uint16_t set_id = static_cast<uint16_t>((set_bytes[0] << 8) | set_bytes[1]);
  std::vector<SecureBuffer> texts;
  for (auto& part : parts) {
    RecoveryShare share{threshold_, part.index, set_id, std::move(part.value)};
    S3C_ASSIGN_OR_RETURN(SecureBuffer text, encodeRecoveryShare(share, context.volume_id_hex));
    texts.push_back(std::move(text));
  }
  S3C_ASSIGN_OR_RETURN(SecureBuffer kek, detail::deriveKek(secret, kWrapLabel));
  WrappedKey out;
  out.type = type();
  out.params["k"] = std::to_string(threshold_);
  out.params["n"] = std::to_string(count_);
  out.params["set"] = hex4(set_id);
  S3C_ASSIGN_OR_RETURN(out.wrapped, detail::sealVolumeKey(kek, out.type, context, volume_key));
  shares_ = std::move(texts);
  return out;
}

Result<SecureBuffer> RecoveryProtector::unwrap(const WrappedKey& wrapped,
                                               const KeyContext& context) {
  S3C_RETURN_IF_ERROR(detail::checkType(wrapped, type()));
  S3C_ASSIGN_OR_RETURN(uint64_t k, detail::paramU64(wrapped.params, "k", 1, 255));
  S3C_ASSIGN_OR_RETURN(uint64_t n, detail::paramU64(wrapped.params, "n", k, 255));
  (void)n;
  S3C_ASSIGN_OR_RETURN(std::string set_hex, detail::paramString(wrapped.params, "set"));
  Bytes set_bytes;
  if (!fromHex(set_hex, set_bytes) || set_bytes.size() != 2) {
    return Error(ErrorKind::kCorrupt, "wrapped key parameter 'set' is invalid");
  }
  uint16_t set_id = static_cast<uint16_t>((set_bytes[0] << 8) | set_bytes[1]);
  if (!source_) {
    return Error(ErrorKind::kInvalidArgument, "no recovery shares given to unlock with");
  }
  S3C_ASSIGN_OR_RETURN(auto texts, source_(static_cast<uint8_t>(k)));
  std::vector<SecretShare> parts;
  std::set<uint8_t> indices;
  for (size_t i = 0; i < texts.size(); ++i) {
    std::string which = "share " + std::to_string(i + 1) + " given: ";
    auto decoded = decodeRecoveryShare(asChars(texts[i].span()), context.volume_id_hex);
    if (!decoded) return decoded.error().withContext(which.substr(0, which.size() - 2));
    if (decoded->set_id != set_id || decoded->threshold != k) {
      return Error(ErrorKind::kInvalidArgument,
                   which + "it is from another share set of this volume (set " +
                       hex4(decoded->set_id) + ", " + std::to_string(decoded->threshold) +
                       "-of-n; the volume's set is " + set_hex + ", " + std::to_string(k) + "-of-" +
                       std::to_string(n) + ")");
    }
    if (!indices.insert(decoded->index).second) continue;  // the same share twice counts once
    parts.push_back(SecretShare{decoded->index, std::move(decoded->value)});
  }
  if (parts.size() < k) {
    return Error(ErrorKind::kInvalidArgument, "recovery needs " + std::to_string(k) +
                                                  " different shares, got " +
                                                  std::to_string(parts.size()));
  }
  S3C_ASSIGN_OR_RETURN(SecureBuffer secret, combineShares(parts));
  S3C_ASSIGN_OR_RETURN(SecureBuffer kek, detail::deriveKek(secret, kWrapLabel));
  return detail::openVolumeKey(kek, type(), context, wrapped.wrapped, kDenied);
}

}  // namespace s3cryptfs::keys
