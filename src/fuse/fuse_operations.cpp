#include "fuse_operations.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <vector>

#include "s3cryptfs/core/log.h"
#include "s3cryptfs/core/metrics.h"

namespace s3cryptfs::fuse {
namespace {

using fs::Attr;
using fs::Entry;
using fs::Filesystem;

// Writes bigger than this are split by the kernel; 1 MiB matches libfuse's default buffer.
constexpr unsigned kMaxWrite = 1u << 20;
// Directory entries asked of the filesystem per readdir reply; more than fit in a 4 KiB
// buffer is wasteful, fewer costs round trips.
constexpr size_t kMinDirBatch = 16;

// Requests from the kernel by operation, and the bytes read and written through the mount.
void countOperation(const char* op) {
  metrics::counter("s3cryptfs_fuse_requests_total", "FUSE requests from the kernel, by operation.",
                   {{"operation", op}})
      .add();
}
metrics::Counter& readBytes() {
  static metrics::Counter& c =
      metrics::counter("s3cryptfs_fuse_read_bytes_total", "Bytes returned to read requests.");
  return c;
}
metrics::Counter& writtenBytes() {
  static metrics::Counter& c =
      metrics::counter("s3cryptfs_fuse_written_bytes_total", "Bytes accepted by write requests.");
  return c;
}

OperationsContext& context(fuse_req_t req) {
  return *static_cast<OperationsContext*>(fuse_req_userdata(req));
}
Filesystem& filesystem(fuse_req_t req) {
  return *context(req).filesystem;
}

// One line per failed request, never a name (plaintext names are secret): the operation, the
// inode and the error. Expected outcomes (ENOENT, EEXIST...) only at debug level.
void replyError(fuse_req_t req, const char* op, uint64_t ino, const Error& error) {
  int err = error.errnoValue();
  if (err <= 0) err = EIO;
  switch (err) {
    case ENOENT:
    case EEXIST:
    case ENOTEMPTY:
    case ENOTDIR:
    case EISDIR:
    case ENODATA:
    case ERANGE:
    case EACCES:
    case EPERM:
    case ENAMETOOLONG:
    case EINVAL:
    case ENOTSUP:
    case EXDEV:
      log::debug("fuse {} ino {}: {}", op, ino, error.describe());
      break;
    default:
      log::warn("fuse {} ino {}: {}", op, ino, error.describe());
      break;
  }
  fuse_reply_err(req, err);
}

struct stat toStat(const Attr& attr) {
  struct stat st {};
  st.st_ino = attr.ino;
  st.st_mode = attr.mode;
  st.st_nlink = attr.nlink;
  st.st_uid = attr.uid;
  st.st_gid = attr.gid;
  st.st_size = static_cast<off_t>(attr.size);
  st.st_blocks = static_cast<blkcnt_t>(attr.blocks);
  st.st_blksize = 4096;
  st.st_atim.tv_sec = attr.atime.sec;
  st.st_atim.tv_nsec = attr.atime.nsec;
  st.st_mtim.tv_sec = attr.mtime.sec;
  st.st_mtim.tv_nsec = attr.mtime.nsec;
  st.st_ctim.tv_sec = attr.ctime.sec;
  st.st_ctim.tv_nsec = attr.ctime.nsec;
  return st;
}

fuse_entry_param toEntryParam(fuse_req_t req, const Entry& entry) {
  const FuseOptions& options = context(req).options;
  fuse_entry_param param{};
  param.ino = entry.attr.ino;
  param.generation = entry.generation;
  param.attr = toStat(entry.attr);
  param.attr_timeout = options.attr_ttl_s;
  param.entry_timeout = options.entry_ttl_s;
  return param;
}

void replyEntry(fuse_req_t req, const char* op, uint64_t ino, const Result<Entry>& entry) {
  if (!entry) return replyError(req, op, ino, entry.error());
  fuse_entry_param param = toEntryParam(req, *entry);
  // If the kernel cannot take the reply (the caller was interrupted), it will not count the
  // lookup: give it back so the inode can be forgotten.
  if (fuse_reply_entry(req, &param) != 0) filesystem(req).forget(param.ino, 1);
}

void replyAttr(fuse_req_t req, const char* op, uint64_t ino, const Result<Attr>& attr) {
  if (!attr) return replyError(req, op, ino, attr.error());
  struct stat st = toStat(*attr);
  fuse_reply_attr(req, &st, context(req).options.attr_ttl_s);
}

void replyStatus(fuse_req_t req, const char* op, uint64_t ino, const Status& status) {
  if (!status) return replyError(req, op, ino, status.error());
  fuse_reply_err(req, 0);
}

fs::Caller callerOf(fuse_req_t req) {
  const fuse_ctx* ctx = fuse_req_ctx(req);
  fs::Caller caller;
  caller.uid = ctx->uid;
  caller.gid = ctx->gid;
  caller.pid = static_cast<uint32_t>(ctx->pid);
  caller.umask = ctx->umask;
  return caller;
}

fs::Timespec toTimespec(const timespec& ts) {
  return {ts.tv_sec, ts.tv_nsec};
}

// --- the trampolines, in the order of fuse_lowlevel_ops ---

void opInit(void* userdata, fuse_conn_info* conn) {
  (void)userdata;
  // Reads of one file may run in parallel (the filesystem core is thread-safe).
  if (conn->capable & FUSE_CAP_ASYNC_READ) conn->want |= FUSE_CAP_ASYNC_READ;
  // ls -l gets names and attributes in one round trip. Always, not in the kernel's auto mode:
  // that mode sends plain readdir after the first batch when the attributes it got were not
  // asked for again, and ls then looks each name up, one request at a time, once the entry
  // timeout has passed; readdirplus serves them from one listing and parallel HEADs.
  if (conn->capable & FUSE_CAP_READDIRPLUS) conn->want |= FUSE_CAP_READDIRPLUS;
  conn->want &= ~static_cast<unsigned>(FUSE_CAP_READDIRPLUS_AUTO);
  if (conn->capable & FUSE_CAP_PARALLEL_DIROPS) conn->want |= FUSE_CAP_PARALLEL_DIROPS;
  // Writeback caching would let the kernel hold dirty pages after close(2) returns, breaking
  // close-to-open consistency and the rule that fsync means "in the store": off.
  conn->want &= ~static_cast<unsigned>(FUSE_CAP_WRITEBACK_CACHE);
  // Locks are local to this host either way; the kernel handles them when we do not.
  conn->want &= ~static_cast<unsigned>(FUSE_CAP_POSIX_LOCKS | FUSE_CAP_FLOCK_LOCKS);
  // open(O_TRUNC) arrives as setattr(size 0), which the filesystem handles as a truncate.
  conn->want &= ~static_cast<unsigned>(FUSE_CAP_ATOMIC_O_TRUNC);
  // Big writes: whole megabytes per request instead of 4 KiB pages.
  conn->max_write = std::max(conn->max_write, kMaxWrite);
  conn->max_background = std::max<unsigned>(conn->max_background, 32);
}

void opLookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  countOperation("lookup");
  replyEntry(req, "lookup", parent, filesystem(req).lookup(parent, name));
}

void opForget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) {
  filesystem(req).forget(ino, nlookup);
  fuse_reply_none(req);
}

void opForgetMulti(fuse_req_t req, size_t count, fuse_forget_data* forgets) {
  for (size_t i = 0; i < count; ++i)
    filesystem(req).forget(forgets[i].ino, forgets[i].nlookup);
  fuse_reply_none(req);
}

void opGetattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info* /*fi*/) {
  countOperation("getattr");
  replyAttr(req, "getattr", ino, filesystem(req).getattr(ino));
}

void opSetattr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set, fuse_file_info* fi) {
  countOperation("setattr");
  fs::SetAttrRequest request;
  if (to_set & FUSE_SET_ATTR_MODE) request.mode = attr->st_mode & 07777;
  if (to_set & FUSE_SET_ATTR_UID) request.uid = attr->st_uid;
  if (to_set & FUSE_SET_ATTR_GID) request.gid = attr->st_gid;
  if (to_set & FUSE_SET_ATTR_SIZE) request.size = static_cast<uint64_t>(attr->st_size);
  if (to_set & FUSE_SET_ATTR_ATIME_NOW) {
    request.atime_now = true;
  } else if (to_set & FUSE_SET_ATTR_ATIME) {
    request.atime = toTimespec(attr->st_atim);
  }
  if (to_set & FUSE_SET_ATTR_MTIME_NOW) {
    request.mtime_now = true;
  } else if (to_set & FUSE_SET_ATTR_MTIME) {
    request.mtime = toTimespec(attr->st_mtim);
  }
  if (fi != nullptr) request.handle = fi->fh;
  replyAttr(req, "setattr", ino, filesystem(req).setattr(ino, request, callerOf(req)));
}

void opReadlink(fuse_req_t req, fuse_ino_t ino) {
  auto target = filesystem(req).readlink(ino);
  if (!target) return replyError(req, "readlink", ino, target.error());
  fuse_reply_readlink(req, target->c_str());
}

void opMknod(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, dev_t /*rdev*/) {
  replyEntry(req, "mknod", parent, filesystem(req).mknod(parent, name, mode, callerOf(req)));
}

void opMkdir(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode) {
  replyEntry(req, "mkdir", parent, filesystem(req).mkdir(parent, name, mode, callerOf(req)));
}

void opUnlink(fuse_req_t req, fuse_ino_t parent, const char* name) {
  countOperation("unlink");
  replyStatus(req, "unlink", parent, filesystem(req).unlink(parent, name));
}

void opRmdir(fuse_req_t req, fuse_ino_t parent, const char* name) {
  replyStatus(req, "rmdir", parent, filesystem(req).rmdir(parent, name));
}

void opSymlink(fuse_req_t req, const char* target, fuse_ino_t parent, const char* name) {
  replyEntry(req, "symlink", parent, filesystem(req).symlink(parent, name, target, callerOf(req)));
}

void opRename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t new_parent,
              const char* new_name, unsigned int flags) {
  replyStatus(req, "rename", parent,
              filesystem(req).rename(parent, name, new_parent, new_name, flags));
}

void opLink(fuse_req_t req, fuse_ino_t ino, fuse_ino_t new_parent, const char* new_name) {
  replyEntry(req, "link", ino, filesystem(req).link(ino, new_parent, new_name));
}

void opOpen(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  countOperation("open");
  auto handle = filesystem(req).open(ino, fi->flags);
  if (!handle) return replyError(req, "open", ino, handle.error());
  fi->fh = *handle;
  // Close-to-open consistency: the kernel keeps the pages it cached only when the object in the
  // store is still the version they came from (the filesystem checks); else it drops them.
  fi->keep_cache = filesystem(req).keepKernelCache(*handle) ? 1 : 0;
  fi->direct_io = 0;
  if (fuse_reply_open(req, fi) != 0) (void)filesystem(req).release(*handle);
}

void opRead(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
  // One buffer per worker thread, grown to the largest read (1 MiB with the kernel's defaults),
  // so reads do not allocate and zero a fresh megabyte each.
  countOperation("read");
  thread_local std::vector<uint8_t> buffer;
  if (buffer.size() < size) buffer.resize(size);
  auto got = filesystem(req).read(fi->fh, static_cast<uint64_t>(off),
                                  MutableByteSpan(buffer.data(), size));
  if (!got) return replyError(req, "read", ino, got.error());
  readBytes().add(std::min(*got, size));
  fuse_reply_buf(req, reinterpret_cast<const char*>(buffer.data()), std::min(*got, size));
}

void opWrite(fuse_req_t req, fuse_ino_t ino, const char* buf, size_t size, off_t off,
             fuse_file_info* fi) {
  countOperation("write");
  auto written = filesystem(req).write(fi->fh, static_cast<uint64_t>(off),
                                       ByteSpan(reinterpret_cast<const uint8_t*>(buf), size));
  if (!written) return replyError(req, "write", ino, written.error());
  writtenBytes().add(*written);
  fuse_reply_write(req, *written);
}

void opFlush(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  replyStatus(req, "flush", ino, filesystem(req).flush(fi->fh));
}

void opRelease(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  countOperation("release");
  replyStatus(req, "release", ino, filesystem(req).release(fi->fh));
}

void opFsync(fuse_req_t req, fuse_ino_t ino, int datasync, fuse_file_info* fi) {
  replyStatus(req, "fsync", ino, filesystem(req).fsync(fi->fh, datasync != 0));
}

void opOpendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  countOperation("opendir");
  auto handle = filesystem(req).opendir(ino);
  if (!handle) return replyError(req, "opendir", ino, handle.error());
  fi->fh = *handle;
  if (fuse_reply_open(req, fi) != 0) (void)filesystem(req).releasedir(*handle);
}

bool isDotOrDotDot(const std::string& name) {
  return name == "." || name == "..";
}

// readdir and readdirplus: asks the filesystem for about as many entries as fit in `size`,
// adds those that fit, and leaves the rest for the next request (it resumes at the cookie
// of the last entry added). With `plus`, the filesystem counted one lookup for every entry it
// returned with attributes (but "." and ".."); entries that did not fit give theirs back.
void readDirectory(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi,
                   bool plus) {
  countOperation(plus ? "readdirplus" : "readdir");
  Filesystem& fsys = filesystem(req);
  const size_t per_entry = plus ? 160 : 32;
  const size_t batch = std::max(kMinDirBatch, size / per_entry);
  auto entries = fsys.readdir(fi->fh, static_cast<uint64_t>(off), batch, plus);
  if (!entries) return replyError(req, plus ? "readdirplus" : "readdir", ino, entries.error());

  std::vector<char> buffer(size);
  size_t used = 0;
  size_t index = 0;
  for (; index < entries->size(); ++index) {
    const fs::DirEntry& entry = (*entries)[index];
    size_t needed = 0;
    if (plus && entry.entry) {
      fuse_entry_param param = toEntryParam(req, *entry.entry);
      needed = fuse_add_direntry_plus(req, buffer.data() + used, size - used, entry.name.c_str(),
                                      &param, static_cast<off_t>(entry.next_cookie));
    } else {
      struct stat st {};
      st.st_ino = entry.ino;
      st.st_mode = entry.type;
      if (plus) {
        // No attributes for this one: an entry with ino 0 makes the kernel look it up itself.
        fuse_entry_param param{};
        param.attr = st;
        param.ino = 0;
        needed = fuse_add_direntry_plus(req, buffer.data() + used, size - used, entry.name.c_str(),
                                        &param, static_cast<off_t>(entry.next_cookie));
      } else {
        needed = fuse_add_direntry(req, buffer.data() + used, size - used, entry.name.c_str(), &st,
                                   static_cast<off_t>(entry.next_cookie));
      }
    }
    if (needed > size - used) break;
    used += needed;
  }
  if (plus) {
    for (size_t rest = index; rest < entries->size(); ++rest) {
      const fs::DirEntry& entry = (*entries)[rest];
      if (entry.entry && !isDotOrDotDot(entry.name)) fsys.forget(entry.entry->attr.ino, 1);
    }
  }
  fuse_reply_buf(req, buffer.data(), used);
}

void opReaddir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
  readDirectory(req, ino, size, off, fi, false);
}

void opReaddirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
  readDirectory(req, ino, size, off, fi, true);
}

void opReleasedir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  replyStatus(req, "releasedir", ino, filesystem(req).releasedir(fi->fh));
}

void opFsyncdir(fuse_req_t req, fuse_ino_t /*ino*/, int /*datasync*/, fuse_file_info* /*fi*/) {
  // Directory changes are written to the store before their operation returns.
  fuse_reply_err(req, 0);
}

void opStatfs(fuse_req_t req, fuse_ino_t ino) {
  auto stats = filesystem(req).statfs();
  if (!stats) return replyError(req, "statfs", ino, stats.error());
  struct statvfs st {};
  st.f_bsize = stats->block_size;
  st.f_frsize = stats->block_size;
  st.f_blocks = stats->blocks;
  st.f_bfree = stats->blocks_free;
  st.f_bavail = stats->blocks_free;
  st.f_files = stats->files;
  st.f_ffree = stats->files_free;
  st.f_favail = stats->files_free;
  st.f_namemax = stats->name_max;
  fuse_reply_statfs(req, &st);
}

void opSetxattr(fuse_req_t req, fuse_ino_t ino, const char* name, const char* value, size_t size,
                int flags) {
  replyStatus(req, "setxattr", ino,
              filesystem(req).setxattr(
                  ino, name, ByteSpan(reinterpret_cast<const uint8_t*>(value), size), flags));
}

void opGetxattr(fuse_req_t req, fuse_ino_t ino, const char* name, size_t size) {
  auto value = filesystem(req).getxattr(ino, name);
  if (!value) return replyError(req, "getxattr", ino, value.error());
  if (size == 0) return (void)fuse_reply_xattr(req, value->size());
  if (value->size() > size) return (void)fuse_reply_err(req, ERANGE);
  fuse_reply_buf(req, reinterpret_cast<const char*>(value->data()), value->size());
}

void opListxattr(fuse_req_t req, fuse_ino_t ino, size_t size) {
  auto names = filesystem(req).listxattr(ino);
  if (!names) return replyError(req, "listxattr", ino, names.error());
  std::string packed;  // "a\0b\0"
  for (const std::string& name : *names) {
    packed += name;
    packed.push_back('\0');
  }
  if (size == 0) return (void)fuse_reply_xattr(req, packed.size());
  if (packed.size() > size) return (void)fuse_reply_err(req, ERANGE);
  fuse_reply_buf(req, packed.data(), packed.size());
}

void opRemovexattr(fuse_req_t req, fuse_ino_t ino, const char* name) {
  replyStatus(req, "removexattr", ino, filesystem(req).removexattr(ino, name));
}

void opCreate(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode,
              fuse_file_info* fi) {
  countOperation("create");
  auto created = filesystem(req).create(parent, name, mode, fi->flags, callerOf(req));
  if (!created) return replyError(req, "create", parent, created.error());
  fuse_entry_param param = toEntryParam(req, created->entry);
  fi->fh = created->handle;
  fi->keep_cache = 0;
  fi->direct_io = 0;
  if (fuse_reply_create(req, &param, fi) != 0) {
    (void)filesystem(req).release(created->handle);
    filesystem(req).forget(param.ino, 1);
  }
}

fuse_lowlevel_ops buildOperations() {
  fuse_lowlevel_ops ops{};
  ops.init = opInit;
  ops.lookup = opLookup;
  ops.forget = opForget;
  ops.forget_multi = opForgetMulti;
  ops.getattr = opGetattr;
  ops.setattr = opSetattr;
  ops.readlink = opReadlink;
  ops.mknod = opMknod;
  ops.mkdir = opMkdir;
  ops.unlink = opUnlink;
  ops.rmdir = opRmdir;
  ops.symlink = opSymlink;
  ops.rename = opRename;
  ops.link = opLink;
  ops.open = opOpen;
  ops.read = opRead;
  ops.write = opWrite;
  ops.flush = opFlush;
  ops.release = opRelease;
  ops.fsync = opFsync;
  ops.opendir = opOpendir;
  ops.readdir = opReaddir;
  ops.readdirplus = opReaddirplus;
  ops.releasedir = opReleasedir;
  ops.fsyncdir = opFsyncdir;
  ops.statfs = opStatfs;
  ops.setxattr = opSetxattr;
  ops.getxattr = opGetxattr;
  ops.listxattr = opListxattr;
  ops.removexattr = opRemovexattr;
  ops.create = opCreate;
  return ops;
}

}  // namespace

const fuse_lowlevel_ops& lowLevelOperations() {
  static const fuse_lowlevel_ops kOperations = buildOperations();
  return kOperations;
}

}  // namespace s3cryptfs::fuse
