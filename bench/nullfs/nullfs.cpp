// s3cryptfs_nullfs: the null FUSE filesystem, the ceiling of the FUSE data path on this machine.
//
//   s3cryptfs_nullfs MOUNTPOINT [-f] [-o opts]
//
// One flat directory. Files keep only a size: writes are accepted and dropped, reads return
// zeros up to the size, nothing is stored or encrypted. bench/run reads and writes through it
// with the same requests as through s3cryptfs, so s3cryptfs's warm sequential read can be
// compared with what FUSE itself allows here (the target is at least 0.8 of it). No page cache
// is kept across opens (no kernel_cache), so every read is a FUSE request, as it is for a
// filesystem that must check the store for changes at open.
#define FUSE_USE_VERSION 35
#include <cerrno>
#include <cstring>
#include <ctime>
#include <map>
#include <mutex>
#include <string>
#include <sys/stat.h>

#include <fuse3/fuse.h>

namespace {

struct Node {
  off_t size = 0;
  mode_t mode = S_IFREG | 0644;
  timespec mtime{};
};

std::mutex g_mu;
std::map<std::string, Node> g_files;  // key: name without the leading '/'

bool split(const char* path, std::string& name) {
  if (path[0] != '/') return false;
  name = path + 1;
  return name.find('/') == std::string::npos;
}

void now(timespec& t) {
  clock_gettime(CLOCK_REALTIME, &t);
}

int nf_getattr(const char* path, struct stat* st, fuse_file_info*) {
  std::memset(st, 0, sizeof *st);
  if (std::strcmp(path, "/") == 0) {
    st->st_mode = S_IFDIR | 0755;
    st->st_nlink = 2;
    return 0;
  }
  std::string name;
  if (!split(path, name)) return -ENOENT;
  std::lock_guard lock(g_mu);
  auto it = g_files.find(name);
  if (it == g_files.end()) return -ENOENT;
  st->st_mode = it->second.mode;
  st->st_nlink = 1;
  st->st_size = it->second.size;
  st->st_blocks = (it->second.size + 511) / 512;
  st->st_mtim = st->st_ctim = st->st_atim = it->second.mtime;
  return 0;
}

int nf_readdir(const char* path, void* buf, fuse_fill_dir_t fill, off_t, fuse_file_info*,
               fuse_readdir_flags) {
  if (std::strcmp(path, "/") != 0) return -ENOTDIR;
  fill(buf, ".", nullptr, 0, FUSE_FILL_DIR_PLUS);
  fill(buf, "..", nullptr, 0, FUSE_FILL_DIR_PLUS);
  std::lock_guard lock(g_mu);
  for (auto& [name, node] : g_files)
    fill(buf, name.c_str(), nullptr, 0, FUSE_FILL_DIR_PLUS);
  return 0;
}

int nf_create(const char* path, mode_t mode, fuse_file_info*) {
  std::string name;
  if (!split(path, name) || name.empty()) return -EACCES;
  std::lock_guard lock(g_mu);
  Node& n = g_files[name];
  n.mode = S_IFREG | (mode & 07777);
  now(n.mtime);
  return 0;
}

int nf_open(const char* path, fuse_file_info* fi) {
  std::string name;
  if (!split(path, name)) return -ENOENT;
  std::lock_guard lock(g_mu);
  auto it = g_files.find(name);
  if (it == g_files.end()) return -ENOENT;
  if (fi->flags & O_TRUNC) it->second.size = 0;
  return 0;
}

int nf_read(const char* path, char* buf, size_t size, off_t off, fuse_file_info*) {
  std::string name;
  if (!split(path, name)) return -ENOENT;
  off_t fsize;
  {
    std::lock_guard lock(g_mu);
    auto it = g_files.find(name);
    if (it == g_files.end()) return -ENOENT;
    fsize = it->second.size;
  }
  if (off >= fsize) return 0;
  size_t n = static_cast<size_t>(std::min<off_t>(static_cast<off_t>(size), fsize - off));
  std::memset(buf, 0, n);
  return static_cast<int>(n);
}

int nf_write(const char* path, const char*, size_t size, off_t off, fuse_file_info*) {
  std::string name;
  if (!split(path, name)) return -ENOENT;
  std::lock_guard lock(g_mu);
  auto it = g_files.find(name);
  if (it == g_files.end()) return -ENOENT;
  if (off + static_cast<off_t>(size) > it->second.size)
    it->second.size = off + static_cast<off_t>(size);
  now(it->second.mtime);
  return static_cast<int>(size);
}

int nf_truncate(const char* path, off_t size, fuse_file_info*) {
  std::string name;
  if (!split(path, name)) return -ENOENT;
  std::lock_guard lock(g_mu);
  auto it = g_files.find(name);
  if (it == g_files.end()) return -ENOENT;
  it->second.size = size;
  return 0;
}

int nf_unlink(const char* path) {
  std::string name;
  if (!split(path, name)) return -ENOENT;
  std::lock_guard lock(g_mu);
  return g_files.erase(name) ? 0 : -ENOENT;
}

int nf_rename(const char* from, const char* to, unsigned int) {
  std::string a, b;
  if (!split(from, a) || !split(to, b)) return -EXDEV;
  std::lock_guard lock(g_mu);
  auto it = g_files.find(a);
  if (it == g_files.end()) return -ENOENT;
  Node n = it->second;
  g_files.erase(it);
  g_files[b] = n;
  return 0;
}

int nf_utimens(const char*, const timespec*, fuse_file_info*) {
  return 0;
}
int nf_chmod(const char*, mode_t, fuse_file_info*) {
  return 0;
}
int nf_fsync(const char*, int, fuse_file_info*) {
  return 0;
}

void* nf_init(fuse_conn_info*, fuse_config* cfg) {
  cfg->kernel_cache = 0;
  cfg->use_ino = 0;
  return nullptr;
}

}  // namespace

int main(int argc, char* argv[]) {
  fuse_operations ops{};
  ops.init = nf_init;
  ops.getattr = nf_getattr;
  ops.readdir = nf_readdir;
  ops.create = nf_create;
  ops.open = nf_open;
  ops.read = nf_read;
  ops.write = nf_write;
  ops.truncate = nf_truncate;
  ops.unlink = nf_unlink;
  ops.rename = nf_rename;
  ops.utimens = nf_utimens;
  ops.chmod = nf_chmod;
  ops.fsync = nf_fsync;
  return fuse_main(argc, argv, &ops, nullptr);
}
