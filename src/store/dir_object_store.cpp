#include "s3cryptfs/store/dir_object_store.h"

#include <algorithm>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <filesystem>
#include <functional>
#include <map>
#include <sys/file.h>
#include <sys/stat.h>
#include <tuple>
#include <unistd.h>

#include "s3cryptfs/core/log.h"

#include "store_support.h"

namespace s3cryptfs::store {
namespace {

// Object file: "S3CDOBJ1", u32 length of the fields block, the fields block (u16 count, then
// per field u16 name length, name, u16 value length, value), then the body. Fields whose name
// starts with ':' are ours (":etag", ":key", ":initiated"); the rest is user metadata, whose
// names cannot contain ':' (they are HTTP header names on S3).
constexpr std::string_view kMagic = "S3CDOBJ1";
constexpr size_t kFixedHeaderBytes = 12;
constexpr uint32_t kMaxFieldsBytes = 64 * 1024;
constexpr size_t kMaxPieceBytes = 240;  // + 1 tag byte stays well below NAME_MAX (255)
constexpr std::string_view kEtagField = ":etag";
constexpr std::string_view kKeyField = ":key";
constexpr std::string_view kInitiatedField = ":initiated";
constexpr size_t kCopyBufferBytes = 1 << 20;
constexpr int kRenameAttempts = 16;
// Private to the owner: the folder holds the wrapped volume keys (an offline passphrase attack
// needs only read access) and ciphertext. The umask can narrow this further, never widen it.
constexpr mode_t kFolderMode = 0700;
constexpr mode_t kFileMode = 0600;

using Fields = std::map<std::string, std::string>;

Error errnoError(int err, const std::string& what) {
  ErrorKind kind = ErrorKind::kIo;
  switch (err) {
    case ENOENT:
      kind = ErrorKind::kNotFound;
      break;
    case ENOSPC:
    case EDQUOT:
      kind = ErrorKind::kNoSpace;
      break;
    case EACCES:
    case EPERM:
    case EROFS:
      kind = ErrorKind::kPermissionDenied;
      break;
    case ENAMETOOLONG:
      kind = ErrorKind::kNameTooLong;
      break;
    default:
      break;
  }
  char buffer[256];
  // The GNU strerror_r returns the message, in the buffer or in static storage.
  const char* text = ::strerror_r(err, buffer, sizeof buffer);
  return Error(kind, err, what + ": " + text);
}

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

bool isEscaped(unsigned char c) {
  return c == '%' || c < 0x20 || c == 0x7f;
}

std::string escapeComponent(std::string_view component) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(component.size());
  for (unsigned char c : component) {
    if (isEscaped(c)) {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

std::optional<std::string> unescape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;
    Bytes byte;
    if (!fromHex(text.substr(i + 1, 2), byte)) return std::nullopt;
    out.push_back(static_cast<char>(byte[0]));
    i += 2;
  }
  return out;
}

// Appends the folders and the final name of one escaped component to `path`.
void appendComponent(std::string& path, std::string_view escaped, char final_tag) {
  while (escaped.size() > kMaxPieceBytes) {
    size_t cut = kMaxPieceBytes;
    // Never cut inside a %XX escape: each piece must decode on its own while listing.
    if (escaped[cut - 1] == '%') {
      cut -= 1;
    } else if (escaped[cut - 2] == '%') {
      cut -= 2;
    }
    path += 'l';
    path += escaped.substr(0, cut);
    path += '/';
    escaped.remove_prefix(cut);
  }
  path += final_tag;
  path += escaped;
}

Bytes encodeHeader(const Fields& fields) {
  Bytes block;
  putU16(block, static_cast<uint16_t>(fields.size()));
  for (const auto& [name, value] : fields) {
    putU16(block, static_cast<uint16_t>(name.size()));
    block.insert(block.end(), name.begin(), name.end());
    putU16(block, static_cast<uint16_t>(value.size()));
    block.insert(block.end(), value.begin(), value.end());
  }
  Bytes out(kMagic.begin(), kMagic.end());
  putU32(out, static_cast<uint32_t>(block.size()));
  out.insert(out.end(), block.begin(), block.end());
  return out;
}

Status readExactly(int fd, uint8_t* out, size_t length, uint64_t offset, const std::string& what) {
  size_t done = 0;
  while (done < length) {
    ssize_t n = ::pread(fd, out + done, length - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errnoError(errno, "reading " + what);
    if (n == 0) return Error(ErrorKind::kCorrupt, what + " is truncated");
    done += static_cast<size_t>(n);
  }
  return ok();
}

Status writeAll(int fd, ByteSpan data, const std::string& what) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errnoError(errno, "writing " + what);
    data = data.subspan(static_cast<size_t>(n));
  }
  return ok();
}

// Appends source bytes [offset, offset + length) to `out`, in the kernel where it can.
Status copyRange(int out, int in, uint64_t offset, uint64_t length, const std::string& what) {
  auto in_offset = static_cast<loff_t>(offset);
  uint64_t left = length;
  while (left > 0) {
    ssize_t n = ::copy_file_range(in, &in_offset, out, nullptr, left, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;  // not supported here: fall back to read/write below
    if (n == 0) return Error(ErrorKind::kCorrupt, what + " is shorter than its header says");
    left -= static_cast<uint64_t>(n);
  }
  Bytes buffer;
  while (left > 0) {
    buffer.resize(static_cast<size_t>(std::min<uint64_t>(left, kCopyBufferBytes)));
    S3C_RETURN_IF_ERROR(
        readExactly(in, buffer.data(), buffer.size(), static_cast<uint64_t>(in_offset), what));
    S3C_RETURN_IF_ERROR(writeAll(out, buffer, "temp file"));
    in_offset += static_cast<loff_t>(buffer.size());
    left -= buffer.size();
  }
  return ok();
}

// An object file opened for reading: the open descriptor pins this version of the object even
// if a writer renames a new one over it.
struct OpenObject {
  Fd fd;
  Fields fields;
  uint64_t body_offset = 0;
  uint64_t size = 0;
  int64_t mtime = 0;

  std::string etag() const {
    auto it = fields.find(std::string(kEtagField));
    return it == fields.end() ? std::string() : it->second;
  }
  Metadata metadata() const {
    Metadata out;
    for (const auto& [name, value] : fields) {
      if (name.empty() || name[0] != ':') out.emplace(name, value);
    }
    return out;
  }
  ObjectInfo info(std::string_view key) const {
    ObjectInfo out;
    out.key = std::string(key);
    out.size = size;
    out.etag = etag();
    out.last_modified_unix = mtime;
    out.metadata = metadata();
    return out;
  }
};

Result<OpenObject> openObjectFile(const std::string& path, const std::string& what) {
  OpenObject object;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT || errno == ENOTDIR) return Error(ErrorKind::kNotFound, "no " + what);
    return errnoError(errno, "opening " + what);
  }
  object.fd = Fd(fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0) return errnoError(errno, "stat of " + what);
  if (!S_ISREG(st.st_mode)) return Error(ErrorKind::kCorrupt, what + " is not a regular file");
  auto file_size = static_cast<uint64_t>(st.st_size);
  uint8_t fixed[kFixedHeaderBytes];
  if (file_size < kFixedHeaderBytes) return Error(ErrorKind::kCorrupt, what + " has no header");
  S3C_RETURN_IF_ERROR(readExactly(fd, fixed, sizeof fixed, 0, what));
  if (std::memcmp(fixed, kMagic.data(), kMagic.size()) != 0) {
    return Error(ErrorKind::kCorrupt, what + " is not an object file (bad magic)");
  }
  uint32_t block_size = getU32(fixed + kMagic.size());
  if (block_size > kMaxFieldsBytes || kFixedHeaderBytes + block_size > file_size) {
    return Error(ErrorKind::kCorrupt, what + " has a malformed header");
  }
  Bytes block(block_size);
  S3C_RETURN_IF_ERROR(readExactly(fd, block.data(), block.size(), kFixedHeaderBytes, what));
  size_t pos = 0;
  auto take = [&](size_t n) -> const uint8_t* {
    if (pos + n > block.size()) return nullptr;
    const uint8_t* p = block.data() + pos;
    pos += n;
    return p;
  };
  const uint8_t* count_bytes = take(2);
  if (count_bytes == nullptr) return Error(ErrorKind::kCorrupt, what + " has a malformed header");
  uint16_t count = getU16(count_bytes);
  for (uint16_t i = 0; i < count; ++i) {
    std::string parts[2];
    for (std::string& part : parts) {
      const uint8_t* length_bytes = take(2);
      if (length_bytes == nullptr) {
        return Error(ErrorKind::kCorrupt, what + " has a malformed header");
      }
      uint16_t length = getU16(length_bytes);
      const uint8_t* text = take(length);
      if (text == nullptr) return Error(ErrorKind::kCorrupt, what + " has a malformed header");
      part.assign(reinterpret_cast<const char*>(text), length);
    }
    object.fields[std::move(parts[0])] = std::move(parts[1]);
  }
  object.body_offset = kFixedHeaderBytes + block_size;
  object.size = file_size - object.body_offset;
  object.mtime = st.st_mtim.tv_sec;
  return object;
}

// Creates the folders of `relative_dir` under `root`; appends the ones it made to `created`.
Status mkdirs(const std::string& root, const std::string& relative_dir,
              std::vector<std::string>& created) {
  size_t pos = 0;
  while (pos < relative_dir.size()) {
    size_t slash = relative_dir.find('/', pos);
    if (slash == std::string::npos) slash = relative_dir.size();
    std::string path = root + "/" + relative_dir.substr(0, slash);
    if (::mkdir(path.c_str(), kFolderMode) == 0) {
      created.push_back(path);
    } else if (errno != EEXIST) {
      return errnoError(errno, "creating folder " + path);
    }
    pos = slash + 1;
  }
  return ok();
}

Status fsyncPath(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errnoError(errno, "opening folder " + path);
  Fd guard(fd);
  if (::fsync(fd) != 0) return errnoError(errno, "fsync of folder " + path);
  return ok();
}

std::string joinPath(const std::string& dir, const std::string& name) {
  std::string path;
  path.reserve(dir.size() + 1 + name.size());
  path += dir;
  path += '/';
  path += name;
  return path;
}

std::string parentOf(const std::string& relative) {
  size_t slash = relative.rfind('/');
  return slash == std::string::npos ? std::string() : relative.substr(0, slash);
}

bool validUploadId(std::string_view upload_id) {
  if (upload_id.size() != 32) return false;
  return std::all_of(upload_id.begin(), upload_id.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::string partName(uint32_t part_number) {
  char name[16];
  std::snprintf(name, sizeof name, "part-%05u", part_number);
  return name;
}

uint64_t fnv1a(std::string_view text) {
  uint64_t hash = 1469598103934665603ull;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  return hash;
}

bool startsWith(std::string_view text, std::string_view head) {
  return text.substr(0, head.size()) == head;
}

// What readdir says an entry is, asking lstat only when the filesystem does not say.
enum class EntryType { kFile, kDir, kOther };
EntryType entryType(const std::string& dir, const dirent* entry) {
  if (entry->d_type == DT_REG) return EntryType::kFile;
  if (entry->d_type == DT_DIR) return EntryType::kDir;
  if (entry->d_type != DT_UNKNOWN) return EntryType::kOther;
  struct stat st {};
  std::string path = dir + "/" + entry->d_name;
  if (::lstat(path.c_str(), &st) != 0) return EntryType::kOther;
  if (S_ISREG(st.st_mode)) return EntryType::kFile;
  if (S_ISDIR(st.st_mode)) return EntryType::kDir;
  return EntryType::kOther;
}

// Names in a folder, without "." and "..". Errors (a folder removed meanwhile) give none.
std::vector<std::pair<std::string, EntryType>> readFolder(const std::string& dir) {
  std::vector<std::pair<std::string, EntryType>> out;
  DIR* handle = ::opendir(dir.c_str());
  if (handle == nullptr) return out;
  // readdir is safe on a stream no other thread uses; this one is local.
  while (dirent* entry = ::readdir(handle)) {  // NOLINT(concurrency-mt-unsafe)
    std::string_view name = entry->d_name;
    if (name == "." || name == "..") continue;
    out.emplace_back(std::string(name), entryType(dir, entry));
  }
  ::closedir(handle);
  return out;
}

}  // namespace

// Everything that needs the descriptors and locks; kept out of the header.
class DirObjectStore::Impl {
 public:
  Impl(std::string root, DirStoreOptions options)
      : root_(std::move(root)),
        options_(options),
        reserved_(root_ + "/" + std::string(kReservedDir)),
        tmp_dir_(reserved_ + "/tmp"),
        uploads_dir_(reserved_ + "/uploads") {}

  Status init() {
    for (const std::string& dir :
         {root_, reserved_, tmp_dir_, uploads_dir_, reserved_ + "/locks"}) {
      if (::mkdir(dir.c_str(), kFolderMode) != 0 && errno != EEXIST) {
        return errnoError(errno, "creating " + dir);
      }
    }
    for (size_t i = 0; i < kLockStripes; ++i) {
      std::string path = reserved_ + "/locks/" + std::to_string(i);
      int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, kFileMode);
      if (fd < 0) return errnoError(errno, "opening lock file " + path);
      lock_fds_[i] = Fd(fd);
    }
    return ok();
  }

  // Holds a key's stripe: the mutex orders this process's threads (flock does not, on one
  // shared descriptor), the flock orders processes.
  class KeyLock {
   public:
    KeyLock(Impl& impl, std::string_view key) {
      size_t stripe = fnv1a(key) % kLockStripes;
      lock_ = std::unique_lock(impl.lock_mutexes_[stripe]);
      fd_ = impl.lock_fds_[stripe].get();
      while (::flock(fd_, LOCK_EX) != 0 && errno == EINTR) {
      }
    }
    ~KeyLock() { ::flock(fd_, LOCK_UN); }
    KeyLock(const KeyLock&) = delete;
    KeyLock& operator=(const KeyLock&) = delete;
    KeyLock(KeyLock&&) = delete;
    KeyLock& operator=(KeyLock&&) = delete;

   private:
    std::unique_lock<std::mutex> lock_;
    int fd_ = -1;
  };

  // A temp file being written; removed unless committed.
  struct TempFile {
    std::string path;
    Fd fd;
    TempFile() = default;
    TempFile(TempFile&&) = default;
    TempFile& operator=(TempFile&&) = default;
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;
    ~TempFile() {
      if (!path.empty()) ::unlink(path.c_str());
    }
  };

  Result<TempFile> createTemp(const Fields& fields) {
    TempFile temp;
    int fd = -1;
    for (int attempt = 0; fd < 0; ++attempt) {
      std::string path = tmp_dir_ + "/" + support::randomHex128() + ".tmp";
      fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, kFileMode);
      if (fd >= 0) {
        temp.path = std::move(path);
      } else if (errno != EEXIST || attempt >= 3) {
        return errnoError(errno, "creating a temp file in " + tmp_dir_);
      }
    }
    temp.fd = Fd(fd);
    // Marks the file as in use, so the cleaner of another instance leaves it alone.
    ::flock(fd, LOCK_EX | LOCK_NB);
    S3C_RETURN_IF_ERROR(writeAll(fd, encodeHeader(fields), temp.path));
    return temp;
  }

  Status finish(TempFile& temp) {
    if (options_.durable && ::fsync(temp.fd.get()) != 0) {
      return errnoError(errno, "fsync of " + temp.path);
    }
    return ok();
  }

  // Renames the finished temp file to ROOT/relative, creating the folders on the way. A folder
  // emptied and removed by a concurrent delete makes mkdir or rename fail with ENOENT: create it
  // again.
  Status commit(TempFile& temp, const std::string& base, const std::string& relative) {
    std::string parent = parentOf(relative);
    std::string dest = base + "/" + relative;
    std::vector<std::string> created;
    for (int attempt = 1;; ++attempt) {
      if (!parent.empty()) {
        Status made = mkdirs(base, parent, created);
        if (!made) {
          if (made.error().kind() == ErrorKind::kNotFound && attempt < kRenameAttempts) continue;
          return made;
        }
      }
      if (::rename(temp.path.c_str(), dest.c_str()) == 0) break;
      int err = errno;
      if (err != ENOENT || attempt >= kRenameAttempts) {
        return errnoError(err, "renaming into " + dest);
      }
    }
    temp.path.clear();
    if (options_.durable) {
      // The new entry, and the entries of folders made for it, must reach the disk too.
      S3C_RETURN_IF_ERROR(fsyncPath(parent.empty() ? base : base + "/" + parent));
      for (const std::string& folder : created) {
        Status synced = fsyncPath(std::filesystem::path(folder).parent_path().string());
        if (!synced && synced.error().kind() != ErrorKind::kNotFound) return synced;
      }
    }
    return ok();
  }

  Status checkCondition(const std::string& path, std::string_view key,
                        const WriteCondition& condition) {
    if (!condition.if_none_match && !condition.if_match) return ok();
    auto current = openObjectFile(path, "object " + std::string(key));
    if (!current && current.error().kind() != ErrorKind::kNotFound) return current.error();
    if (condition.if_none_match && current) {
      return support::preconditionFailed(key, "exists (If-None-Match: *)");
    }
    if (condition.if_match) {
      if (!current) return support::preconditionFailed(key, "missing (If-Match)");
      if (current->etag() != support::unquoteEtag(*condition.if_match)) {
        return support::preconditionFailed(key, "ETag differs (If-Match)");
      }
    }
    return ok();
  }

  // Writes the finished temp file as the object `key` if `condition` holds.
  Result<ObjectInfo> store(TempFile& temp, std::string_view key, const std::string& relative,
                           const WriteCondition& condition, Metadata metadata, std::string etag,
                           uint64_t size) {
    S3C_RETURN_IF_ERROR(finish(temp));
    {
      KeyLock lock(*this, key);
      S3C_RETURN_IF_ERROR(checkCondition(root_ + "/" + relative, key, condition));
      S3C_RETURN_IF_ERROR(commit(temp, root_, relative));
    }
    ObjectInfo info;
    info.key = std::string(key);
    info.size = size;
    info.etag = std::move(etag);
    info.last_modified_unix = support::nowUnix();
    info.metadata = std::move(metadata);
    return info;
  }

  Result<OpenObject> openObject(std::string_view key) {
    S3C_RETURN_IF_ERROR(support::validateKey(key));
    S3C_ASSIGN_OR_RETURN(std::string relative, relativePathOf(key));
    auto object = openObjectFile(root_ + "/" + relative, "object " + std::string(key));
    if (!object && object.error().kind() == ErrorKind::kNotFound) return support::notFound(key);
    return object;
  }

  // Removes now-empty folders from `relative_dir` up to the root. A folder that a concurrent
  // put has just filled again is not empty, and rmdir leaves it.
  void pruneEmptyFolders(std::string relative_dir) {
    while (!relative_dir.empty()) {
      std::string path = root_ + "/" + relative_dir;
      if (::rmdir(path.c_str()) != 0) return;
      relative_dir = parentOf(relative_dir);
    }
  }

  // ---- listing ----

  struct Listed {
    std::string entry;
    bool is_prefix = false;
    ObjectInfo info;
  };

  bool subtreeHasObject(const std::string& dir) {
    for (const auto& [name, type] : readFolder(dir)) {
      if (name.empty()) continue;
      if (name[0] == 'f' && type == EntryType::kFile) return true;
      if ((name[0] == 'd' || name[0] == 'l') && type == EntryType::kDir &&
          subtreeHasObject(joinPath(dir, name))) {
        return true;
      }
    }
    return false;
  }

  // Walks the folder `dir`, whose keys all start with `key_prefix` followed by the escaped
  // piece `pending` (non-empty inside a long component cut into "l" folders).
  void walk(const std::string& dir, const std::string& key_prefix, const std::string& pending,
            const support::PageBuilder& page, std::vector<Listed>& out) {
    const std::string& prefix = page.prefix();
    const std::string& delimiter = page.delimiter();
    const std::string& start_after = page.startAfter();
    for (const auto& [name, type] : readFolder(dir)) {
      if (name.empty()) continue;
      char tag = name[0];
      std::string escaped = pending + name.substr(1);
      if (tag == 'f' && type == EntryType::kFile) {
        auto component = unescape(escaped);
        if (!component) continue;
        std::string key = key_prefix + *component;
        if (!startsWith(key, prefix) || (!start_after.empty() && key <= start_after)) continue;
        auto object = openObjectFile(joinPath(dir, name), "object " + key);
        if (!object) {
          // Deleted meanwhile is normal; anything else is worth a line.
          if (object.error().kind() != ErrorKind::kNotFound) {
            log::warn("listing {}: skipping {}", root_, object.error().describe());
          }
          continue;
        }
        out.push_back({key, false, object->info(key)});
        out.back().info.metadata.clear();
        continue;
      }
      if ((tag != 'd' && tag != 'l') || type != EntryType::kDir) continue;
      std::string sub_prefix = key_prefix;
      std::string sub_pending;
      std::string partial;  // every key below starts with this
      if (tag == 'd') {
        auto component = unescape(escaped);
        if (!component) continue;
        sub_prefix += *component + "/";
        partial = sub_prefix;
      } else {
        auto component = unescape(escaped);
        if (!component) continue;
        sub_pending = escaped;
        partial = key_prefix + *component;
      }
      // Skip subtrees outside the prefix, and subtrees whose keys all sort before the token.
      if (!startsWith(partial, prefix) && !startsWith(prefix, partial)) continue;
      if (!start_after.empty() && partial < start_after && !startsWith(start_after, partial)) {
        continue;
      }
      // Every key below collapses into one common prefix: no need to read them all.
      if (!delimiter.empty() && startsWith(partial, prefix)) {
        size_t pos = partial.find(delimiter, prefix.size());
        if (pos != std::string::npos) {
          std::string common = partial.substr(0, pos + delimiter.size());
          if (subtreeHasObject(joinPath(dir, name))) out.push_back({common, true, {}});
          continue;
        }
      }
      walk(joinPath(dir, name), sub_prefix, sub_pending, page, out);
    }
  }

  // ---- multipart ----

  std::string uploadDir(std::string_view upload_id) const {
    return uploads_dir_ + "/" + std::string(upload_id);
  }

  // The upload's info file, checking that it belongs to `key`.
  Result<OpenObject> openUpload(std::string_view key, std::string_view upload_id) {
    if (!validUploadId(upload_id)) return support::noSuchUpload(upload_id);
    auto info = openObjectFile(uploadDir(upload_id) + "/info", "upload " + std::string(upload_id));
    if (!info) {
      if (info.error().kind() == ErrorKind::kNotFound) return support::noSuchUpload(upload_id);
      return info.error();
    }
    auto it = info->fields.find(std::string(kKeyField));
    if (it == info->fields.end() || it->second != key) return support::noSuchUpload(upload_id);
    return info;
  }

  // Moves the upload folder into tmp first, so that a concurrent uploadPart fails cleanly
  // instead of writing into a half-removed folder; a crash before removal leaves a ".dead"
  // folder that the cleaner removes.
  Status dropUpload(std::string_view upload_id) {
    std::string dead = tmp_dir_ + "/" + support::randomHex128() + ".dead";
    if (::rename(uploadDir(upload_id).c_str(), dead.c_str()) != 0) {
      if (errno == ENOENT) return support::noSuchUpload(upload_id);
      return errnoError(errno, "removing upload " + std::string(upload_id));
    }
    std::error_code ignored;
    std::filesystem::remove_all(dead, ignored);
    return ok();
  }

  Result<PartInfo> storePart(std::string_view key, std::string_view upload_id, uint32_t part_number,
                             const std::function<Status(int)>& write_body, uint64_t size) {
    S3C_RETURN_IF_ERROR(openUpload(key, upload_id));
    std::string etag = support::randomHex128();
    S3C_ASSIGN_OR_RETURN(TempFile temp, createTemp({{std::string(kEtagField), etag}}));
    S3C_RETURN_IF_ERROR(write_body(temp.fd.get()));
    S3C_RETURN_IF_ERROR(finish(temp));
    std::string dest = uploadDir(upload_id) + "/" + partName(part_number);
    if (::rename(temp.path.c_str(), dest.c_str()) != 0) {
      if (errno == ENOENT) return support::noSuchUpload(upload_id);  // aborted meanwhile
      return errnoError(errno, "storing part " + dest);
    }
    temp.path.clear();
    return PartInfo{part_number, etag, size};
  }

  size_t cleanStale() {
    size_t removed = 0;
    auto now = std::chrono::system_clock::now();
    for (const auto& [name, type] : readFolder(tmp_dir_)) {
      std::string path = tmp_dir_ + "/" + name;
      if (type == EntryType::kDir) {
        // ".dead" folders are aborted or completed uploads whose removal was interrupted.
        std::error_code error;
        if (std::filesystem::remove_all(path, error) > 0 && !error) ++removed;
        continue;
      }
      int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) continue;
      Fd guard(fd);
      // A live writer holds an flock on its temp file.
      if (::flock(fd, LOCK_EX | LOCK_NB) != 0) continue;
      struct stat st {};
      if (::fstat(fd, &st) != 0) continue;
      auto modified =
          std::chrono::system_clock::time_point(std::chrono::seconds(st.st_mtim.tv_sec));
      if (now - modified < options_.stale_temp_age) continue;
      if (::unlink(path.c_str()) == 0) ++removed;
    }
    // An upload folder without its info file is a createMultipart that crashed half-way.
    for (const auto& [name, type] : readFolder(uploads_dir_)) {
      std::string path = joinPath(uploads_dir_, name);
      struct stat st {};
      if (type != EntryType::kDir || ::stat(joinPath(path, "info").c_str(), &st) == 0) continue;
      if (::stat(path.c_str(), &st) != 0) continue;
      auto modified =
          std::chrono::system_clock::time_point(std::chrono::seconds(st.st_mtim.tv_sec));
      if (now - modified < options_.stale_temp_age) continue;
      std::error_code error;
      if (std::filesystem::remove_all(path, error) > 0 && !error) ++removed;
    }
    if (removed > 0) log::info("{}: removed {} stale temp entries", root_, removed);
    return removed;
  }

  const std::string root_;
  const DirStoreOptions options_;
  const std::string reserved_;
  const std::string tmp_dir_;
  const std::string uploads_dir_;
  std::array<Fd, kLockStripes> lock_fds_;
  std::array<std::mutex, kLockStripes> lock_mutexes_;
};

DirObjectStore::DirObjectStore(std::string root, DirStoreOptions options)
    : root_(std::move(root)), options_(options), impl_(std::make_unique<Impl>(root_, options_)) {}

DirObjectStore::~DirObjectStore() = default;

Result<std::unique_ptr<DirObjectStore>> DirObjectStore::open(const std::string& root,
                                                             DirStoreOptions options) {
  if (root.empty() || root.front() != '/') {
    return Error(ErrorKind::kInvalidArgument,
                 "dir store root '" + root + "' is not an absolute path");
  }
  std::string normal = std::filesystem::path(root).lexically_normal().string();
  while (normal.size() > 1 && normal.back() == '/')
    normal.pop_back();
  std::unique_ptr<DirObjectStore> store(new DirObjectStore(normal, options));
  S3C_RETURN_IF_ERROR(store->impl_->init());
  store->cleanStaleTemporaries();
  return store;
}

Result<std::string> DirObjectStore::relativePathOf(std::string_view key) {
  S3C_RETURN_IF_ERROR(support::validateKey(key));
  std::string path;
  size_t pos = 0;
  while (true) {
    size_t slash = key.find('/', pos);
    if (slash == std::string_view::npos) {
      appendComponent(path, escapeComponent(key.substr(pos)), 'f');
      return path;
    }
    appendComponent(path, escapeComponent(key.substr(pos, slash - pos)), 'd');
    path += '/';
    pos = slash + 1;
  }
}

size_t DirObjectStore::cleanStaleTemporaries() {
  return impl_->cleanStale();
}

Result<GetResult> DirObjectStore::get(std::string_view key, std::optional<ByteRange> range) {
  S3C_ASSIGN_OR_RETURN(OpenObject object, impl_->openObject(key));
  S3C_ASSIGN_OR_RETURN(support::Slice slice, support::resolveRange(range, object.size, key));
  GetResult result;
  result.info = object.info(key);
  result.body.resize(static_cast<size_t>(slice.end - slice.begin));
  S3C_RETURN_IF_ERROR(readExactly(object.fd.get(), result.body.data(), result.body.size(),
                                  object.body_offset + slice.begin, "object " + std::string(key)));
  return result;
}

Result<ObjectInfo> DirObjectStore::head(std::string_view key) {
  S3C_ASSIGN_OR_RETURN(OpenObject object, impl_->openObject(key));
  return object.info(key);
}

Result<ObjectInfo> DirObjectStore::put(std::string_view key, ByteSpan body,
                                       const PutOptions& options) {
  S3C_ASSIGN_OR_RETURN(std::string relative, relativePathOf(key));
  S3C_RETURN_IF_ERROR(support::validateMetadata(options.metadata));
  std::string etag = support::randomHex128();
  Fields fields(options.metadata.begin(), options.metadata.end());
  fields[std::string(kEtagField)] = etag;
  S3C_ASSIGN_OR_RETURN(Impl::TempFile temp, impl_->createTemp(fields));
  S3C_RETURN_IF_ERROR(writeAll(temp.fd.get(), body, temp.path));
  return impl_->store(temp, key, relative, options.condition, options.metadata, etag, body.size());
}

Status DirObjectStore::remove(std::string_view key) {
  S3C_ASSIGN_OR_RETURN(std::string relative, relativePathOf(key));
  Impl::KeyLock lock(*impl_, key);
  std::string path = root_ + "/" + relative;
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return ok();
    return errnoError(errno, "deleting " + path);
  }
  impl_->pruneEmptyFolders(parentOf(relative));
  return ok();
}

Result<std::vector<DeleteFailure>> DirObjectStore::removeMany(
    const std::vector<std::string>& keys) {
  if (keys.size() > 1000) {
    return Error(ErrorKind::kInvalidArgument, "more than 1000 keys in one batch delete");
  }
  std::vector<DeleteFailure> failures;
  for (const std::string& key : keys) {
    Status status = remove(key);
    if (!status) failures.push_back({key, status.error()});
  }
  return failures;
}

Result<ListPage> DirObjectStore::list(const ListOptions& options) {
  S3C_ASSIGN_OR_RETURN(support::PageBuilder page, support::PageBuilder::create(options));
  std::vector<Impl::Listed> entries;
  impl_->walk(root_, "", "", page, entries);
  std::sort(entries.begin(), entries.end(),
            [](const Impl::Listed& a, const Impl::Listed& b) { return a.entry < b.entry; });
  for (const Impl::Listed& listed : entries) {
    bool more = listed.is_prefix ? page.addCommonPrefix(listed.entry) : page.addObject(listed.info);
    if (!more) break;
  }
  return std::move(page).finish();
}

Result<ObjectInfo> DirObjectStore::copy(std::string_view source_key, std::string_view dest_key,
                                        const CopyOptions& options) {
  S3C_ASSIGN_OR_RETURN(std::string relative, relativePathOf(dest_key));
  if (options.replace_metadata) {
    S3C_RETURN_IF_ERROR(support::validateMetadata(*options.replace_metadata));
  }
  if (source_key == dest_key && !options.replace_metadata) {
    return Error(ErrorKind::kInvalidArgument,
                 "copying " + std::string(source_key) + " onto itself without REPLACE metadata")
        .setService("InvalidRequest", 400);
  }
  S3C_ASSIGN_OR_RETURN(OpenObject source, impl_->openObject(source_key));
  if (options.source_if_match && source.etag() != support::unquoteEtag(*options.source_if_match)) {
    return support::preconditionFailed(source_key,
                                       "source ETag differs (x-amz-copy-source-if-match)");
  }
  Metadata metadata = options.replace_metadata ? *options.replace_metadata : source.metadata();
  std::string etag = support::randomHex128();
  Fields fields(metadata.begin(), metadata.end());
  fields[std::string(kEtagField)] = etag;
  S3C_ASSIGN_OR_RETURN(Impl::TempFile temp, impl_->createTemp(fields));
  S3C_RETURN_IF_ERROR(copyRange(temp.fd.get(), source.fd.get(), source.body_offset, source.size,
                                "object " + std::string(source_key)));
  return impl_->store(temp, dest_key, relative, options.condition, std::move(metadata), etag,
                      source.size);
}

Result<std::string> DirObjectStore::createMultipart(std::string_view key,
                                                    const PutOptions& options) {
  S3C_RETURN_IF_ERROR(relativePathOf(key));
  S3C_RETURN_IF_ERROR(support::validateMetadata(options.metadata));
  std::string upload_id = support::randomHex128();
  std::string dir = impl_->uploadDir(upload_id);
  if (::mkdir(dir.c_str(), kFolderMode) != 0) return errnoError(errno, "creating " + dir);
  Fields fields(options.metadata.begin(), options.metadata.end());
  fields[std::string(kKeyField)] = std::string(key);
  fields[std::string(kInitiatedField)] = std::to_string(support::nowUnix());
  S3C_ASSIGN_OR_RETURN(Impl::TempFile temp, impl_->createTemp(fields));
  S3C_RETURN_IF_ERROR(impl_->finish(temp));
  // The info file appears last and atomically: an upload folder without it is not listed.
  S3C_RETURN_IF_ERROR(impl_->commit(temp, dir, "info"));
  return upload_id;
}

Result<PartInfo> DirObjectStore::uploadPart(std::string_view key, std::string_view upload_id,
                                            uint32_t part_number, ByteSpan body) {
  S3C_RETURN_IF_ERROR(support::validateKey(key));
  S3C_RETURN_IF_ERROR(support::validatePartNumber(part_number));
  return impl_->storePart(
      key, upload_id, part_number, [&](int fd) { return writeAll(fd, body, "part"); }, body.size());
}

Result<PartInfo> DirObjectStore::uploadPartCopy(std::string_view key, std::string_view upload_id,
                                                uint32_t part_number, std::string_view source_key,
                                                ByteRange range) {
  S3C_RETURN_IF_ERROR(support::validateKey(key));
  S3C_RETURN_IF_ERROR(support::validatePartNumber(part_number));
  S3C_ASSIGN_OR_RETURN(OpenObject source, impl_->openObject(source_key));
  S3C_ASSIGN_OR_RETURN(support::Slice slice, support::resolveRange(range, source.size, source_key));
  uint64_t length = slice.end - slice.begin;
  return impl_->storePart(
      key, upload_id, part_number,
      [&](int fd) {
        return copyRange(fd, source.fd.get(), source.body_offset + slice.begin, length,
                         "object " + std::string(source_key));
      },
      length);
}

Result<ObjectInfo> DirObjectStore::completeMultipart(std::string_view key,
                                                     std::string_view upload_id,
                                                     const std::vector<PartInfo>& parts,
                                                     const WriteCondition& condition) {
  S3C_ASSIGN_OR_RETURN(std::string relative, relativePathOf(key));
  S3C_ASSIGN_OR_RETURN(OpenObject info, impl_->openUpload(key, upload_id));
  std::string dir = impl_->uploadDir(upload_id);

  // Open every requested part (keeping the descriptors pins the versions we validate).
  std::vector<OpenObject> opened;
  std::vector<support::UploadedPart> uploaded;
  for (const PartInfo& part : parts) {
    if (part.part_number < 1 || part.part_number > support::kMaxPartNumber) continue;
    auto file = openObjectFile(dir + "/" + partName(part.part_number), "part");
    if (!file) {
      if (file.error().kind() == ErrorKind::kNotFound) continue;
      return file.error();
    }
    uploaded.push_back({part.part_number, file->etag(), file->size});
    opened.push_back(std::move(file).value());
  }
  S3C_RETURN_IF_ERROR(support::validateCompletion(parts, uploaded, options_.min_part_size));

  Metadata metadata = info.metadata();
  std::string etag = support::randomHex128() + "-" + std::to_string(parts.size());
  Fields fields(metadata.begin(), metadata.end());
  fields[std::string(kEtagField)] = etag;
  S3C_ASSIGN_OR_RETURN(Impl::TempFile temp, impl_->createTemp(fields));
  uint64_t total = 0;
  for (const OpenObject& part : opened) {
    S3C_RETURN_IF_ERROR(
        copyRange(temp.fd.get(), part.fd.get(), part.body_offset, part.size, "part"));
    total += part.size;
  }
  S3C_RETURN_IF_ERROR(impl_->finish(temp));
  {
    Impl::KeyLock lock(*impl_, key);
    // A concurrent complete or abort of the same upload may have won while we assembled.
    S3C_RETURN_IF_ERROR(impl_->openUpload(key, upload_id));
    S3C_RETURN_IF_ERROR(impl_->checkCondition(root_ + "/" + relative, key, condition));
    S3C_RETURN_IF_ERROR(impl_->commit(temp, root_, relative));
    Status dropped = impl_->dropUpload(upload_id);
    if (!dropped) log::warn("{}: {}", root_, dropped.error().describe());
  }
  ObjectInfo out;
  out.key = std::string(key);
  out.size = total;
  out.etag = std::move(etag);
  out.last_modified_unix = support::nowUnix();
  out.metadata = std::move(metadata);
  return out;
}

Status DirObjectStore::abortMultipart(std::string_view key, std::string_view upload_id) {
  S3C_RETURN_IF_ERROR(support::validateKey(key));
  S3C_RETURN_IF_ERROR(impl_->openUpload(key, upload_id));
  Impl::KeyLock lock(*impl_, key);
  return impl_->dropUpload(upload_id);
}

Result<std::vector<MultipartUploadInfo>> DirObjectStore::listMultipartUploads(
    std::string_view prefix) {
  std::vector<MultipartUploadInfo> out;
  for (const auto& [name, type] : readFolder(impl_->uploadDir(""))) {
    if (type != EntryType::kDir || !validUploadId(name)) continue;
    auto info = openObjectFile(impl_->uploadDir(name) + "/info", "upload " + name);
    if (!info) continue;  // being created, or removed meanwhile
    const std::string& key = info->fields[std::string(kKeyField)];
    if (!startsWith(key, prefix)) continue;
    int64_t initiated = std::atoll(info->fields[std::string(kInitiatedField)].c_str());
    out.push_back({key, name, initiated});
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return std::tie(a.key, a.initiated_unix, a.upload_id) <
           std::tie(b.key, b.initiated_unix, b.upload_id);
  });
  return out;
}

}  // namespace s3cryptfs::store
