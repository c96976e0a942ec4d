#include "s3cryptfs/keys/pkcs11_protector.h"

#include <array>
#include <cstdio>
#include <dlfcn.h>
#include <map>
#include <mutex>
#include <vector>

// p11-kit's copy of the OASIS PKCS#11 v2.40 header (types, constants, the function list).
#include "s3cryptfs/core/log.h"
#include "s3cryptfs/crypto/aead.h"
#include "s3cryptfs/crypto/random.h"

#include "wrap_support.h"
#include <p11-kit/pkcs11.h>

namespace s3cryptfs::keys {

namespace {
constexpr std::string_view kDenied = "HSM key does not unlock this volume";
constexpr std::string_view kKeyWrapLabel = "s3cryptfs pkcs11 key wrap pad v1";
constexpr std::string_view kGcmName = "aes-gcm";
constexpr std::string_view kKeyWrapPadName = "aes-key-wrap-pad";
constexpr size_t kGcmIvSize = 12;
constexpr size_t kGcmTagBits = 128;
constexpr size_t kIntermediateKeySize = 32;

std::string rvName(CK_RV rv) {
  switch (rv) {
    case CKR_OK:
      return "CKR_OK";
    case CKR_GENERAL_ERROR:
      return "CKR_GENERAL_ERROR";
    case CKR_FUNCTION_FAILED:
      return "CKR_FUNCTION_FAILED";
    case CKR_ARGUMENTS_BAD:
      return "CKR_ARGUMENTS_BAD";
    case CKR_ATTRIBUTE_VALUE_INVALID:
      return "CKR_ATTRIBUTE_VALUE_INVALID";
    case CKR_DEVICE_ERROR:
      return "CKR_DEVICE_ERROR";
    case CKR_ENCRYPTED_DATA_INVALID:
      return "CKR_ENCRYPTED_DATA_INVALID";
    case CKR_ENCRYPTED_DATA_LEN_RANGE:
      return "CKR_ENCRYPTED_DATA_LEN_RANGE";
    case CKR_KEY_FUNCTION_NOT_PERMITTED:
      return "CKR_KEY_FUNCTION_NOT_PERMITTED";
    case CKR_MECHANISM_INVALID:
      return "CKR_MECHANISM_INVALID";
    case CKR_MECHANISM_PARAM_INVALID:
      return "CKR_MECHANISM_PARAM_INVALID";
    case CKR_PIN_INCORRECT:
      return "CKR_PIN_INCORRECT";
    case CKR_PIN_LOCKED:
      return "CKR_PIN_LOCKED";
    case CKR_SESSION_HANDLE_INVALID:
      return "CKR_SESSION_HANDLE_INVALID";
    case CKR_TOKEN_NOT_PRESENT:
      return "CKR_TOKEN_NOT_PRESENT";
    case CKR_USER_NOT_LOGGED_IN:
      return "CKR_USER_NOT_LOGGED_IN";
    case CKR_WRAPPED_KEY_INVALID:
      return "CKR_WRAPPED_KEY_INVALID";
    case CKR_BUFFER_TOO_SMALL:
      return "CKR_BUFFER_TOO_SMALL";
    case CKR_CRYPTOKI_NOT_INITIALIZED:
      return "CKR_CRYPTOKI_NOT_INITIALIZED";
    default: {
      char text[32];
      std::snprintf(text, sizeof text, "CKR 0x%lx", static_cast<unsigned long>(rv));
      return text;
    }
  }
}

Error ckError(CK_RV rv, std::string_view what) {
  ErrorKind kind = ErrorKind::kIo;
  if (rv == CKR_DEVICE_REMOVED || rv == CKR_TOKEN_NOT_PRESENT || rv == CKR_DEVICE_ERROR) {
    kind = ErrorKind::kTransient;
  }
  return Error(kind, "PKCS#11 " + std::string(what) + " failed: " + rvName(rv));
}

// A loaded and initialised module. Kept for the life of the process: C_Initialize is
// process-wide, other code (or another protector) may use the same module, and several PKCS#11
// modules misbehave when finalised and initialised again.
struct Module {
  void* handle = nullptr;
  CK_FUNCTION_LIST* functions = nullptr;
};

Result<Module*> loadModule(const std::string& path) {
  static std::mutex mutex;
  static auto* modules = new std::map<std::string, Module>();  // never freed, see above
  std::lock_guard lock(mutex);
  if (auto it = modules->find(path); it != modules->end()) return &it->second;

  void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = ::dlerror();  // NOLINT(concurrency-mt-unsafe): under the registry mutex
    return Error(ErrorKind::kNotFound, "cannot load PKCS#11 module " + path + ": " +
                                           (why != nullptr ? why : "unknown error"));
  }
  auto get_list = reinterpret_cast<CK_C_GetFunctionList>(::dlsym(handle, "C_GetFunctionList"));
  if (get_list == nullptr) {
    ::dlclose(handle);
    return Error(ErrorKind::kInvalidArgument,
                 path + " is not a PKCS#11 module (no C_GetFunctionList)");
  }
  CK_FUNCTION_LIST* functions = nullptr;
  CK_RV rv = get_list(&functions);
  if (rv != CKR_OK || functions == nullptr) {
    ::dlclose(handle);
    return ckError(rv, "C_GetFunctionList of " + path);
  }
  CK_C_INITIALIZE_ARGS args{};
  args.flags = CKF_OS_LOCKING_OK;
  rv = functions->C_Initialize(&args);
  if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
    ::dlclose(handle);
    return ckError(rv, "C_Initialize of " + path);
  }
  auto [it, inserted] = modules->emplace(path, Module{handle, functions});
  return &it->second;
}

std::string trimmedLabel(const unsigned char* padded, size_t size) {
  std::string label(reinterpret_cast<const char*>(padded), size);
  while (!label.empty() && (label.back() == ' ' || label.back() == '\0'))
    label.pop_back();
  return label;
}

// A logged-in session on the token with the given label. Closing the last session of the
// process logs the user out (PKCS#11 v2.40 §11.6), so no explicit C_Logout is needed.
class Session {
 public:
  Session(CK_FUNCTION_LIST* f, CK_SESSION_HANDLE h) : f_(f), handle_(h) {}
  ~Session() {
    if (handle_ != CK_INVALID_HANDLE) f_->C_CloseSession(handle_);
  }
  Session(Session&& other) noexcept : f_(other.f_), handle_(other.handle_) {
    other.handle_ = CK_INVALID_HANDLE;
  }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  Session& operator=(Session&&) = delete;
  CK_FUNCTION_LIST* f() const { return f_; }
  CK_SESSION_HANDLE handle() const { return handle_; }

 private:
  CK_FUNCTION_LIST* f_;
  CK_SESSION_HANDLE handle_;
};

Result<Session> openSession(const Pkcs11Config& config, const std::string& token_label) {
  S3C_ASSIGN_OR_RETURN(Module * module, loadModule(config.module_path));
  CK_FUNCTION_LIST* f = module->functions;
  CK_ULONG count = 0;
  CK_RV rv = f->C_GetSlotList(CK_TRUE, nullptr, &count);
  if (rv != CKR_OK) return ckError(rv, "C_GetSlotList");
  std::vector<CK_SLOT_ID> slots(count);
  if (count > 0) {
    rv = f->C_GetSlotList(CK_TRUE, slots.data(), &count);
    if (rv != CKR_OK) return ckError(rv, "C_GetSlotList");
    slots.resize(count);
  }
  std::optional<CK_SLOT_ID> found;
  for (CK_SLOT_ID slot : slots) {
    CK_TOKEN_INFO info{};
    if (f->C_GetTokenInfo(slot, &info) != CKR_OK) continue;
    if ((info.flags & CKF_TOKEN_INITIALIZED) == 0) continue;
    if (trimmedLabel(info.label, sizeof info.label) == token_label) {
      found = slot;
      break;
    }
  }
  if (!found) {
    return Error(ErrorKind::kNotFound,
                 "no PKCS#11 token labelled '" + token_label + "' in " + config.module_path);
  }
  CK_SESSION_HANDLE handle = CK_INVALID_HANDLE;
  rv = f->C_OpenSession(*found, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &handle);
  if (rv != CKR_OK) return ckError(rv, "C_OpenSession on token '" + token_label + "'");
  Session session(f, handle);

  if (!config.pin) {
    return Error(ErrorKind::kInvalidArgument,
                 "no PIN source for PKCS#11 token '" + token_label + "' (pin-file= or pin-env=)");
  }
  S3C_ASSIGN_OR_RETURN(SecureBuffer pin, config.pin->read(/*confirm=*/false));
  rv = f->C_Login(handle, CKU_USER, pin.data(), pin.size());
  if (rv == CKR_PIN_INCORRECT || rv == CKR_PIN_INVALID || rv == CKR_PIN_LEN_RANGE) {
    return Error(ErrorKind::kPermissionDenied,
                 "PKCS#11 PIN rejected for token '" + token_label + "'");
  }
  if (rv == CKR_PIN_LOCKED) {
    return Error(ErrorKind::kPermissionDenied,
                 "PKCS#11 PIN locked for token '" + token_label + "'");
  }
  if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
    return ckError(rv, "C_Login on token '" + token_label + "'");
  }
  return session;
}

Result<std::optional<CK_OBJECT_HANDLE>> findKey(const Session& s, const std::string& key_label) {
  CK_OBJECT_CLASS key_class = CKO_SECRET_KEY;
  CK_KEY_TYPE key_type = CKK_AES;
  std::array<CK_ATTRIBUTE, 3> query{{
      {CKA_CLASS, &key_class, sizeof key_class},
      {CKA_KEY_TYPE, &key_type, sizeof key_type},
      {CKA_LABEL, const_cast<char*>(key_label.data()), key_label.size()},
  }};
  CK_RV rv = s.f()->C_FindObjectsInit(s.handle(), query.data(), query.size());
  if (rv != CKR_OK) return ckError(rv, "C_FindObjectsInit");
  std::array<CK_OBJECT_HANDLE, 2> objects{};
  CK_ULONG found = 0;
  rv = s.f()->C_FindObjects(s.handle(), objects.data(), objects.size(), &found);
  s.f()->C_FindObjectsFinal(s.handle());
  if (rv != CKR_OK) return ckError(rv, "C_FindObjects");
  if (found > 1) {
    return Error(ErrorKind::kInvalidArgument,
                 "more than one AES key labelled '" + key_label + "' on the token");
  }
  if (found == 0) return std::optional<CK_OBJECT_HANDLE>();
  return std::optional<CK_OBJECT_HANDLE>(objects[0]);
}

Result<CK_OBJECT_HANDLE> createKey(const Session& s, const std::string& key_label) {
  CK_OBJECT_CLASS key_class = CKO_SECRET_KEY;
  CK_KEY_TYPE key_type = CKK_AES;
  CK_ULONG length = 32;
  CK_BBOOL yes = CK_TRUE;
  CK_BBOOL no = CK_FALSE;
  // Least privilege: SoftHSM would otherwise default CKA_VERIFY to true for a secret key.
  std::array<CK_ATTRIBUTE, 15> attributes{{
      {CKA_CLASS, &key_class, sizeof key_class},
      {CKA_KEY_TYPE, &key_type, sizeof key_type},
      {CKA_VALUE_LEN, &length, sizeof length},
      {CKA_LABEL, const_cast<char*>(key_label.data()), key_label.size()},
      {CKA_TOKEN, &yes, sizeof yes},
      {CKA_PRIVATE, &yes, sizeof yes},
      {CKA_SENSITIVE, &yes, sizeof yes},
      {CKA_EXTRACTABLE, &no, sizeof no},
      {CKA_ENCRYPT, &yes, sizeof yes},
      {CKA_DECRYPT, &yes, sizeof yes},
      {CKA_WRAP, &yes, sizeof yes},
      {CKA_UNWRAP, &yes, sizeof yes},
      {CKA_SIGN, &no, sizeof no},
      {CKA_VERIFY, &no, sizeof no},
      {CKA_DERIVE, &no, sizeof no},
  }};
  CK_MECHANISM mechanism{CKM_AES_KEY_GEN, nullptr, 0};
  CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;
  CK_RV rv =
      s.f()->C_GenerateKey(s.handle(), &mechanism, attributes.data(), attributes.size(), &key);
  if (rv != CKR_OK) return ckError(rv, "C_GenerateKey of '" + key_label + "'");
  log::info("created AES-256 key '{}' on the PKCS#11 token", key_label);
  return key;
}

Result<CK_OBJECT_HANDLE> requireKey(const Session& s, const std::string& key_label,
                                    const std::string& token_label, bool create) {
  S3C_ASSIGN_OR_RETURN(auto key, findKey(s, key_label));
  if (key) return *key;
  if (create) return createKey(s, key_label);
  return Error(ErrorKind::kNotFound,
               "no AES key labelled '" + key_label + "' on PKCS#11 token '" + token_label + "'");
}

// A temporary session object holding a secret, destroyed on every path out.
class SessionObject {
 public:
  SessionObject(const Session& s, CK_OBJECT_HANDLE h) : s_(s), handle_(h) {}
  ~SessionObject() {
    if (handle_ != CK_INVALID_HANDLE) s_.f()->C_DestroyObject(s_.handle(), handle_);
  }
  SessionObject(const SessionObject&) = delete;
  SessionObject& operator=(const SessionObject&) = delete;
  SessionObject(SessionObject&&) = delete;
  SessionObject& operator=(SessionObject&&) = delete;
  CK_OBJECT_HANDLE get() const { return handle_; }

 private:
  const Session& s_;
  CK_OBJECT_HANDLE handle_;
};

// CKM_AES_GCM parameters: our 12-byte IV, the key context as AAD, a 128-bit tag.
CK_GCM_PARAMS gcmParams(const uint8_t* iv, const Bytes& aad) {
  CK_GCM_PARAMS params{};
  params.pIv = const_cast<uint8_t*>(iv);
  params.ulIvLen = kGcmIvSize;
  params.ulIvBits = kGcmIvSize * 8;
  params.pAAD = const_cast<uint8_t*>(aad.data());
  params.ulAADLen = aad.size();
  params.ulTagBits = kGcmTagBits;
  return params;
}

Result<Bytes> gcmWrap(const Session& s, CK_OBJECT_HANDLE key, const SecureBuffer& volume_key,
                      const Bytes& aad) {
  Bytes out(kGcmIvSize + volume_key.size() + kGcmTagBits / 8);
  S3C_RETURN_IF_ERROR(crypto::fillRandom(MutableByteSpan(out.data(), kGcmIvSize)));
  CK_GCM_PARAMS params = gcmParams(out.data(), aad);
  CK_MECHANISM mechanism{CKM_AES_GCM, &params, sizeof params};
  CK_RV rv = s.f()->C_EncryptInit(s.handle(), &mechanism, key);
  if (rv != CKR_OK) return ckError(rv, "C_EncryptInit (AES-GCM)");
  CK_ULONG length = out.size() - kGcmIvSize;
  rv = s.f()->C_Encrypt(s.handle(), const_cast<uint8_t*>(volume_key.data()), volume_key.size(),
                        out.data() + kGcmIvSize, &length);
  if (rv != CKR_OK) return ckError(rv, "C_Encrypt (AES-GCM)");
  if (length != out.size() - kGcmIvSize) {
    return Error(ErrorKind::kInternal, "PKCS#11 AES-GCM returned an unexpected length");
  }
  return out;
}

Result<SecureBuffer> gcmUnwrap(const Session& s, CK_OBJECT_HANDLE key, const Bytes& wrapped,
                               const Bytes& aad) {
  if (wrapped.size() != kGcmIvSize + kVolumeKeySize + kGcmTagBits / 8) {
    return Error(ErrorKind::kCorrupt, "wrapped pkcs11 key has " + std::to_string(wrapped.size()) +
                                          " bytes, expected " +
                                          std::to_string(kGcmIvSize + kVolumeKeySize + 16));
  }
  CK_GCM_PARAMS params = gcmParams(wrapped.data(), aad);
  CK_MECHANISM mechanism{CKM_AES_GCM, &params, sizeof params};
  CK_RV rv = s.f()->C_DecryptInit(s.handle(), &mechanism, key);
  if (rv != CKR_OK) return ckError(rv, "C_DecryptInit (AES-GCM)");
  // Room for the whole input: some modules check the output size before removing the tag.
  SecureBuffer plain(wrapped.size());
  CK_ULONG length = plain.size();
  rv = s.f()->C_Decrypt(s.handle(), const_cast<uint8_t*>(wrapped.data()) + kGcmIvSize,
                        wrapped.size() - kGcmIvSize, plain.data(), &length);
  // SoftHSM reports a bad tag as CKR_GENERAL_ERROR; the spec's code is ENCRYPTED_DATA_INVALID.
  if (rv == CKR_GENERAL_ERROR || rv == CKR_ENCRYPTED_DATA_INVALID || rv == CKR_FUNCTION_FAILED) {
    return Error(ErrorKind::kPermissionDenied, std::string(kDenied));
  }
  if (rv != CKR_OK) return ckError(rv, "C_Decrypt (AES-GCM)");
  if (length != kVolumeKeySize) return Error(ErrorKind::kPermissionDenied, std::string(kDenied));
  return SecureBuffer(plain.span().first(length));
}

// The template of key-wrap-pad's intermediate key: a session object (not on the token),
// extractable (it exists to be wrapped), with its value when creating it. Holds the values its
// attributes point at, so it is neither copied nor moved.
class IntermediateKeyTemplate {
 public:
  explicit IntermediateKeyTemplate(const SecureBuffer* value)
      : attributes_{{
            {CKA_CLASS, &key_class_, sizeof key_class_},
            {CKA_KEY_TYPE, &key_type_, sizeof key_type_},
            {CKA_TOKEN, &no_, sizeof no_},
            {CKA_SENSITIVE, &no_, sizeof no_},
            {CKA_EXTRACTABLE, &yes_, sizeof yes_},
            {CKA_VALUE, value != nullptr ? const_cast<uint8_t*>(value->data()) : nullptr,
             value != nullptr ? value->size() : 0},
        }},
        count_(value != nullptr ? 6 : 5) {}
  IntermediateKeyTemplate(const IntermediateKeyTemplate&) = delete;
  IntermediateKeyTemplate& operator=(const IntermediateKeyTemplate&) = delete;
  CK_ATTRIBUTE* data() { return attributes_.data(); }
  CK_ULONG size() const { return count_; }

 private:
  CK_OBJECT_CLASS key_class_ = CKO_SECRET_KEY;
  CK_KEY_TYPE key_type_ = CKK_GENERIC_SECRET;
  CK_BBOOL yes_ = CK_TRUE;
  CK_BBOOL no_ = CK_FALSE;
  std::array<CK_ATTRIBUTE, 6> attributes_;
  CK_ULONG count_;
};

// Key wrap pad has no associated data: the token wraps a random intermediate key, which seals
// the volume key with the context as AAD. Layout: u16 LE length of the token's blob, the blob,
// then the local seal.
Result<Bytes> keyWrapPadWrap(const Session& s, CK_OBJECT_HANDLE key, const SecureBuffer& volume_key,
                             const KeyContext& context) {
  S3C_ASSIGN_OR_RETURN(SecureBuffer intermediate, crypto::randomKey(kIntermediateKeySize));
  IntermediateKeyTemplate attributes(&intermediate);
  CK_OBJECT_HANDLE object = CK_INVALID_HANDLE;
  CK_RV rv = s.f()->C_CreateObject(s.handle(), attributes.data(), attributes.size(), &object);
  if (rv != CKR_OK) return ckError(rv, "C_CreateObject (intermediate key)");
  SessionObject guard(s, object);
  CK_MECHANISM mechanism{CKM_AES_KEY_WRAP_PAD, nullptr, 0};
  CK_ULONG length = 0;
  rv = s.f()->C_WrapKey(s.handle(), &mechanism, key, object, nullptr, &length);
  if (rv != CKR_OK) return ckError(rv, "C_WrapKey (AES key wrap pad)");
  Bytes blob(length);
  rv = s.f()->C_WrapKey(s.handle(), &mechanism, key, object, blob.data(), &length);
  if (rv != CKR_OK) return ckError(rv, "C_WrapKey (AES key wrap pad)");
  blob.resize(length);
  S3C_ASSIGN_OR_RETURN(SecureBuffer kek, detail::deriveKek(intermediate, kKeyWrapLabel));
  S3C_ASSIGN_OR_RETURN(Bytes sealed,
                       detail::sealVolumeKey(kek, kPkcs11ProtectorType, context, volume_key));
  Bytes out;
  putU16(out, static_cast<uint16_t>(blob.size()));
  out.insert(out.end(), blob.begin(), blob.end());
  out.insert(out.end(), sealed.begin(), sealed.end());
  return out;
}

Result<SecureBuffer> keyWrapPadUnwrap(const Session& s, CK_OBJECT_HANDLE key, const Bytes& wrapped,
                                      const KeyContext& context) {
  if (wrapped.size() < 2 || getU16(wrapped.data()) > wrapped.size() - 2) {
    return Error(ErrorKind::kCorrupt, "wrapped pkcs11 key is truncated");
  }
  size_t blob_size = getU16(wrapped.data());
  IntermediateKeyTemplate attributes(nullptr);
  CK_MECHANISM mechanism{CKM_AES_KEY_WRAP_PAD, nullptr, 0};
  CK_OBJECT_HANDLE object = CK_INVALID_HANDLE;
  CK_RV rv =
      s.f()->C_UnwrapKey(s.handle(), &mechanism, key, const_cast<uint8_t*>(wrapped.data()) + 2,
                         blob_size, attributes.data(), attributes.size(), &object);
  if (rv == CKR_WRAPPED_KEY_INVALID || rv == CKR_GENERAL_ERROR || rv == CKR_FUNCTION_FAILED ||
      rv == CKR_ENCRYPTED_DATA_INVALID || rv == CKR_WRAPPED_KEY_LEN_RANGE) {
    return Error(ErrorKind::kPermissionDenied, std::string(kDenied));
  }
  if (rv != CKR_OK) return ckError(rv, "C_UnwrapKey (AES key wrap pad)");
  SessionObject guard(s, object);
  SecureBuffer intermediate(kIntermediateKeySize);
  CK_ATTRIBUTE value{CKA_VALUE, intermediate.data(), intermediate.size()};
  rv = s.f()->C_GetAttributeValue(s.handle(), object, &value, 1);
  if (rv != CKR_OK) return ckError(rv, "C_GetAttributeValue (intermediate key)");
  if (value.ulValueLen != kIntermediateKeySize) {
    return Error(ErrorKind::kPermissionDenied, std::string(kDenied));
  }
  S3C_ASSIGN_OR_RETURN(SecureBuffer kek, detail::deriveKek(intermediate, kKeyWrapLabel));
  return detail::openVolumeKey(kek, kPkcs11ProtectorType, context,
                               ByteSpan(wrapped).subspan(2 + blob_size), kDenied);
}
}  // namespace

Pkcs11Protector::Pkcs11Protector(Pkcs11Config config) : config_(std::move(config)) {}
Pkcs11Protector::~Pkcs11Protector() = default;

Result<WrappedKey> Pkcs11Protector::wrap(const SecureBuffer& volume_key,
                                         const KeyContext& context) {
  S3C_RETURN_IF_ERROR(detail::checkVolumeKey(volume_key));
  if (config_.token_label.empty() || config_.key_label.empty()) {
    return Error(ErrorKind::kInvalidArgument, "a pkcs11 protector needs token= and key= labels");
  }
  S3C_ASSIGN_OR_RETURN(Session session, openSession(config_, config_.token_label));
  S3C_ASSIGN_OR_RETURN(
      CK_OBJECT_HANDLE key,
      requireKey(session, config_.key_label, config_.token_label, config_.create_key_if_missing));
  WrappedKey out;
  out.type = type();
  out.params["token"] = config_.token_label;
  out.params["key"] = config_.key_label;
  if (config_.mechanism == Pkcs11Mechanism::kAesGcm) {
    out.params["mechanism"] = std::string(kGcmName);
    S3C_ASSIGN_OR_RETURN(out.wrapped,
                         gcmWrap(session, key, volume_key, detail::contextAad(out.type, context)));
  } else {
    out.params["mechanism"] = std::string(kKeyWrapPadName);
    S3C_ASSIGN_OR_RETURN(out.wrapped, keyWrapPadWrap(session, key, volume_key, context));
  }
  return out;
}

Result<SecureBuffer> Pkcs11Protector::unwrap(const WrappedKey& wrapped, const KeyContext& context) {
  S3C_RETURN_IF_ERROR(detail::checkType(wrapped, type()));
  S3C_ASSIGN_OR_RETURN(std::string mechanism, detail::paramString(wrapped.params, "mechanism"));
  if (mechanism != kGcmName && mechanism != kKeyWrapPadName) {
    return Error(ErrorKind::kCorrupt, "pkcs11 copy uses unknown mechanism '" + mechanism + "'");
  }
  std::string token = config_.token_label;
  if (token.empty()) {
    S3C_ASSIGN_OR_RETURN(token, detail::paramString(wrapped.params, "token"));
  }
  std::string key_label = config_.key_label;
  if (key_label.empty()) {
    S3C_ASSIGN_OR_RETURN(key_label, detail::paramString(wrapped.params, "key"));
  }
  S3C_ASSIGN_OR_RETURN(Session session, openSession(config_, token));
  S3C_ASSIGN_OR_RETURN(CK_OBJECT_HANDLE key, requireKey(session, key_label, token, false));
  if (mechanism == kGcmName) {
    return gcmUnwrap(session, key, wrapped.wrapped, detail::contextAad(type(), context));
  }
  return keyWrapPadUnwrap(session, key, wrapped.wrapped, context);
}

}  // namespace s3cryptfs::keys
