#include "support/in_memory_filesystem.h"

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <sys/stat.h>
#include <sys/xattr.h>

namespace s3cryptfs::test {
namespace {

fs::Timespec now() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return {ts.tv_sec, ts.tv_nsec};
}

Error notFound() {
  return Error(ErrorKind::kNotFound, "no such entry");
}

}  // namespace

InMemoryFilesystem::InMemoryFilesystem() {
  Node root;
  root.attr.ino = fs::kRootInode;
  root.attr.mode = S_IFDIR | 0755;
  root.attr.nlink = 2;
  root.attr.atime = root.attr.mtime = root.attr.ctime = now();
  root.parent = fs::kRootInode;
  nodes_.emplace(fs::kRootInode, std::move(root));
}

InMemoryFilesystem::Node* InMemoryFilesystem::find(fs::InodeId ino) {
  auto it = nodes_.find(ino);
  return it == nodes_.end() ? nullptr : &it->second;
}

Result<InMemoryFilesystem::Node*> InMemoryFilesystem::directory(fs::InodeId ino) {
  Node* node = find(ino);
  if (node == nullptr) return notFound();
  if (!S_ISDIR(node->attr.mode)) return Error(ErrorKind::kNotDirectory, "not a directory");
  return node;
}

fs::Entry InMemoryFilesystem::entryOf(Node& node) {
  ++node.lookups;
  node.attr.size = S_ISLNK(node.attr.mode) ? node.target.size() : node.data.size();
  node.attr.blocks = (node.attr.size + 511) / 512;
  fs::Entry entry;
  entry.attr = node.attr;
  return entry;
}

void InMemoryFilesystem::touch(Node& node, bool content) {
  fs::Timespec t = now();
  node.attr.ctime = t;
  if (content) node.attr.mtime = t;
}

Result<fs::Entry> InMemoryFilesystem::lookup(fs::InodeId parent, std::string_view name) {
  std::lock_guard lock(mutex_);
  auto dir = directory(parent);
  if (!dir) return dir.error();
  auto it = (*dir)->children.find(name);
  if (it == (*dir)->children.end()) return notFound();
  return entryOf(*find(it->second));
}

void InMemoryFilesystem::forget(fs::InodeId ino, uint64_t count) {
  std::lock_guard lock(mutex_);
  if (Node* node = find(ino)) node->lookups -= std::min(node->lookups, count);
}

Result<fs::Attr> InMemoryFilesystem::getattr(fs::InodeId ino) {
  std::lock_guard lock(mutex_);
  Node* node = find(ino);
  if (node == nullptr) return notFound();
  node->attr.size = S_ISLNK(node->attr.mode) ? node->target.size() : node->data.size();
  node->attr.blocks = (node->attr.size + 511) / 512;
  return node->attr;
}

Result<fs::Attr> InMemoryFilesystem::setattr(fs::InodeId ino, const fs::SetAttrRequest& request,
                                             const fs::Caller& /*caller*/) {
  std::lock_guard lock(mutex_);
  Node* node = find(ino);
  if (node == nullptr) return notFound();
  if (request.mode) node->attr.mode = (node->attr.mode & S_IFMT) | (*request.mode & 07777);
  if (request.uid) node->attr.uid = *request.uid;
  if (request.gid) node->attr.gid = *request.gid;
  if (request.size) {
    if (S_ISDIR(node->attr.mode)) return Error(ErrorKind::kIsDirectory, "is a directory");
    node->data.resize(*request.size);
    touch(*node, true);
  }
  if (request.atime_now) node->attr.atime = now();
  if (request.atime) node->attr.atime = *request.atime;
  if (request.mtime_now) node->attr.mtime = now();
  if (request.mtime) node->attr.mtime = *request.mtime;
  node->attr.ctime = now();
  node->attr.size = node->data.size();
  return node->attr;
}

Result<fs::Entry> InMemoryFilesystem::makeNode(fs::InodeId parent, std::string_view name,
                                               uint32_t mode, const fs::Caller& caller) {
  auto dir = directory(parent);
  if (!dir) return dir.error();
  if (name.size() > 255) return Error(ErrorKind::kNameTooLong, "name too long");
  if ((*dir)->children.count(name) != 0) return Error(ErrorKind::kAlreadyExists, "exists");
  Node node;
  node.attr.ino = next_ino_++;
  node.attr.mode = mode;
  node.attr.nlink = S_ISDIR(mode) ? 2 : 1;
  node.attr.uid = caller.uid;
  node.attr.gid = caller.gid;
  node.attr.atime = node.attr.mtime = node.attr.ctime = now();
  node.parent = parent;
  fs::InodeId ino = node.attr.ino;
  (*dir)->children.emplace(std::string(name), ino);
  touch(**dir, true);
  return entryOf(nodes_.emplace(ino, std::move(node)).first->second);
}

Result<fs::Entry> InMemoryFilesystem::mkdir(fs::InodeId parent, std::string_view name,
                                            uint32_t mode, const fs::Caller& caller) {
  std::lock_guard lock(mutex_);
  return makeNode(parent, name, S_IFDIR | (mode & 07777), caller);
}

Result<fs::Entry> InMemoryFilesystem::mknod(fs::InodeId parent, std::string_view name,
                                            uint32_t mode, const fs::Caller& caller) {
  std::lock_guard lock(mutex_);
  if (!S_ISFIFO(mode)) return Error(ErrorKind::kUnsupported, ENOTSUP, "only FIFOs");
  return makeNode(parent, name, mode, caller);
}

Result<fs::Entry> InMemoryFilesystem::symlink(fs::InodeId parent, std::string_view name,
                                              std::string_view target, const fs::Caller& caller) {
  std::lock_guard lock(mutex_);
  auto entry = makeNode(parent, name, S_IFLNK | 0777, caller);
  if (!entry) return entry;
  Node* node = find(entry->attr.ino);
  node->target = std::string(target);
  entry->attr.size = target.size();
  node->attr.size = target.size();
  return entry;
}

Result<std::string> InMemoryFilesystem::readlink(fs::InodeId ino) {
  std::lock_guard lock(mutex_);
  Node* node = find(ino);
  if (node == nullptr) return notFound();
  if (!S_ISLNK(node->attr.mode)) return Error(ErrorKind::kInvalidArgument, "not a symlink");
  return node->target;
}

Status InMemoryFilesystem::unlink(fs::InodeId parent, std::string_view name) {
  std::lock_guard lock(mutex_);
  auto dir = directory(parent);
  if (!dir) return dir.error();
  auto it = (*dir)->children.find(name);
  if (it == (*dir)->children.end()) return notFound();
  if (S_ISDIR(find(it->second)->attr.mode)) return Error(ErrorKind::kIsDirectory, "directory");
  (*dir)->children.erase(it);
  touch(**dir, true);
  return ok();
}

Status InMemoryFilesystem::rmdir(fs::InodeId parent, std::string_view name) {
  std::lock_guard lock(mutex_);
  auto dir = directory(parent);
  if (!dir) return dir.error();
  auto it = (*dir)->children.find(name);
  if (it == (*dir)->children.end()) return notFound();
  Node* child = find(it->second);
  if (!S_ISDIR(child->attr.mode)) return Error(ErrorKind::kNotDirectory, "not a directory");
  if (!child->children.empty()) return Error(ErrorKind::kNotEmpty, "not empty");
  (*dir)->children.erase(it);
  touch(**dir, true);
  return ok();
}

Status InMemoryFilesystem::rename(fs::InodeId parent, std::string_view name, fs::InodeId new_parent,
                                  std::string_view new_name, unsigned flags) {
  std::lock_guard lock(mutex_);
  if (flags & fs::kRenameExchange) return Error(ErrorKind::kInvalidArgument, EINVAL, "exchange");
  auto from = directory(parent);
  if (!from) return from.error();
  auto to = directory(new_parent);
  if (!to) return to.error();
  auto it = (*from)->children.find(name);
  if (it == (*from)->children.end()) return notFound();
  fs::InodeId moving = it->second;
  auto existing = (*to)->children.find(new_name);
  if (existing != (*to)->children.end()) {
    if (flags & fs::kRenameNoReplace) return Error(ErrorKind::kAlreadyExists, "exists");
    Node* victim = find(existing->second);
    if (S_ISDIR(victim->attr.mode) && !victim->children.empty()) {
      return Error(ErrorKind::kNotEmpty, "not empty");
    }
    (*to)->children.erase(existing);
  }
  (*from)->children.erase((*from)->children.find(name));
  (*to)->children.emplace(std::string(new_name), moving);
  find(moving)->parent = new_parent;
  touch(**from, true);
  touch(**to, true);
  return ok();
}

Result<fs::Entry> InMemoryFilesystem::link(fs::InodeId, fs::InodeId, std::string_view) {
  return Error(ErrorKind::kUnsupported, EPERM, "hard links are not supported");
}

Result<fs::Filesystem::Created> InMemoryFilesystem::create(fs::InodeId parent,
                                                           std::string_view name, uint32_t mode,
                                                           int /*flags*/,
                                                           const fs::Caller& caller) {
  std::lock_guard lock(mutex_);
  auto entry = makeNode(parent, name, S_IFREG | (mode & 07777), caller);
  if (!entry) return entry.error();
  fs::HandleId handle = next_handle_++;
  handles_[handle] = entry->attr.ino;
  return Created{*entry, handle};
}

Result<fs::HandleId> InMemoryFilesystem::open(fs::InodeId ino, int /*flags*/) {
  std::lock_guard lock(mutex_);
  Node* node = find(ino);
  if (node == nullptr) return notFound();
  if (S_ISDIR(node->attr.mode)) return Error(ErrorKind::kIsDirectory, "is a directory");
  fs::HandleId handle = next_handle_++;
  handles_[handle] = ino;
  return handle;
}

Result<size_t> InMemoryFilesystem::read(fs::HandleId handle, uint64_t offset, MutableByteSpan out) {
  std::lock_guard lock(mutex_);
  auto it = handles_.find(handle);
  if (it == handles_.end()) return Error(ErrorKind::kInvalidArgument, EBADF, "bad handle");
  const Bytes& data = find(it->second)->data;
  if (offset >= data.size()) return size_t{0};
  size_t n = std::min<size_t>(out.size(), data.size() - offset);
  std::copy_n(data.begin() + static_cast<std::ptrdiff_t>(offset), n, out.begin());
  return n;
}

Result<size_t> InMemoryFilesystem::write(fs::HandleId handle, uint64_t offset, ByteSpan data) {
  std::lock_guard lock(mutex_);
  auto it = handles_.find(handle);
  if (it == handles_.end()) return Error(ErrorKind::kInvalidArgument, EBADF, "bad handle");
  Node* node = find(it->second);
  if (node->data.size() < offset + data.size()) node->data.resize(offset + data.size());
  std::copy(data.begin(), data.end(), node->data.begin() + static_cast<std::ptrdiff_t>(offset));
  touch(*node, true);
  return data.size();
}

Status InMemoryFilesystem::flush(fs::HandleId) {
  std::lock_guard lock(mutex_);
  ++flush_calls_;
  return ok();
}

Status InMemoryFilesystem::fsync(fs::HandleId, bool) {
  return ok();
}

Status InMemoryFilesystem::release(fs::HandleId handle) {
  std::lock_guard lock(mutex_);
  handles_.erase(handle);
  return ok();
}

Result<fs::HandleId> InMemoryFilesystem::opendir(fs::InodeId ino) {
  std::lock_guard lock(mutex_);
  auto dir = directory(ino);
  if (!dir) return dir.error();
  fs::HandleId handle = next_handle_++;
  handles_[handle] = ino;
  return handle;
}

Result<std::vector<fs::DirEntry>> InMemoryFilesystem::readdir(fs::HandleId handle, uint64_t cookie,
                                                              size_t max_entries, bool plus) {
  std::lock_guard lock(mutex_);
  auto it = handles_.find(handle);
  if (it == handles_.end()) return Error(ErrorKind::kInvalidArgument, EBADF, "bad handle");
  Node* dir = find(it->second);
  // Cookie i+1 resumes after the i-th entry: 0 ".", 1 "..", then the children in name order.
  std::vector<std::pair<std::string, fs::InodeId>> all = {{".", dir->attr.ino},
                                                          {"..", dir->parent}};
  for (const auto& [name, ino] : dir->children)
    all.emplace_back(name, ino);
  std::vector<fs::DirEntry> out;
  for (uint64_t i = cookie; i < all.size() && out.size() < max_entries; ++i) {
    Node* node = find(all[i].second);
    fs::DirEntry entry;
    entry.name = all[i].first;
    entry.ino = all[i].second;
    entry.type = node->attr.mode & S_IFMT;
    entry.next_cookie = i + 1;
    if (plus) {
      if (entry.name == "." || entry.name == "..") {
        fs::Entry plain;
        plain.attr = node->attr;
        entry.entry = plain;
      } else {
        entry.entry = entryOf(*node);
      }
    }
    out.push_back(std::move(entry));
  }
  return out;
}

Status InMemoryFilesystem::releasedir(fs::HandleId handle) {
  return release(handle);
}

Result<fs::StatFs> InMemoryFilesystem::statfs() {
  fs::StatFs stats;
  stats.blocks = 1 << 20;
  stats.blocks_free = 1 << 19;
  stats.files = 1000;
  stats.files_free = 900;
  return stats;
}

Result<Bytes> InMemoryFilesystem::getxattr(fs::InodeId ino, std::string_view name) {
  std::lock_guard lock(mutex_);
  Node* node = find(ino);
  if (node == nullptr) return notFound();
  auto it = node->xattrs.find(name);
  if (it == node->xattrs.end()) return Error(ErrorKind::kNotFound, ENODATA, "no such attribute");
  return it->second;
}

Status InMemoryFilesystem::setxattr(fs::InodeId ino, std::string_view name, ByteSpan value,
                                    int flags) {
  std::lock_guard lock(mutex_);
  Node* node = find(ino);
  if (node == nullptr) return notFound();
  bool exists = node->xattrs.count(name) != 0;
  if ((flags & XATTR_CREATE) && exists) return Error(ErrorKind::kAlreadyExists, "exists");
  if ((flags & XATTR_REPLACE) && !exists) {
    return Error(ErrorKind::kNotFound, ENODATA, "no such attribute");
  }
  node->xattrs[std::string(name)] = Bytes(value.begin(), value.end());
  return ok();
}

Result<std::vector<std::string>> InMemoryFilesystem::listxattr(fs::InodeId ino) {
  std::lock_guard lock(mutex_);
  Node* node = find(ino);
  if (node == nullptr) return notFound();
  std::vector<std::string> names;
  for (const auto& [name, value] : node->xattrs)
    names.push_back(name);
  return names;
}

Status InMemoryFilesystem::removexattr(fs::InodeId ino, std::string_view name) {
  std::lock_guard lock(mutex_);
  Node* node = find(ino);
  if (node == nullptr) return notFound();
  if (node->xattrs.erase(std::string(name)) == 0) {
    return Error(ErrorKind::kNotFound, ENODATA, "no such attribute");
  }
  return ok();
}

Status InMemoryFilesystem::syncAll() {
  std::lock_guard lock(mutex_);
  ++sync_all_calls_;
  return ok();
}

uint64_t InMemoryFilesystem::syncAllCalls() const {
  std::lock_guard lock(mutex_);
  return sync_all_calls_;
}

uint64_t InMemoryFilesystem::flushCalls() const {
  std::lock_guard lock(mutex_);
  return flush_calls_;
}

uint64_t InMemoryFilesystem::lookupCount(fs::InodeId ino) const {
  std::lock_guard lock(mutex_);
  auto it = nodes_.find(ino);
  return it == nodes_.end() ? 0 : it->second.lookups;
}

}  // namespace s3cryptfs::test
