#include "volume_filesystem_impl.h"

namespace s3cryptfs::fs {

// ===================================================================== extended attributes

Result<Bytes> VolumeFilesystem::getxattr(InodeId ino, std::string_view name) {
  std::shared_lock ns(namespace_mutex_);
  S3C_ASSIGN_OR_RETURN(NodePtr node, nodeOf(ino));
  S3C_RETURN_IF_ERROR(refreshNode(node));
  std::lock_guard lock(table_mutex_);
  auto found = node->attrs.xattrs.find(std::string(name));
  if (found == node->attrs.xattrs.end()) {
    return errnoError(ErrorKind::kNotFound, ENODATA, "no such extended attribute");
  }
  return found->second;
}

Status VolumeFilesystem::setxattr(InodeId ino, std::string_view name, ByteSpan value, int flags) {
  if (name.empty() || name.size() > format::kMaxXattrNameBytes) {
    return errnoError(ErrorKind::kInvalidArgument, ERANGE, "bad extended attribute name length");
  }
  if (value.size() > format::kMaxXattrValueBytes) {
    return errnoError(ErrorKind::kInvalidArgument, E2BIG, "extended attribute value too big");
  }
  if (name.starts_with("system.")) {
    return Error(ErrorKind::kUnsupported, "system.* attributes (ACLs) are not supported");
  }
  std::unique_lock ns(namespace_mutex_);
  S3C_ASSIGN_OR_RETURN(NodePtr node, nodeOf(ino));
  S3C_RETURN_IF_ERROR(refreshNode(node));
  format::Attributes saved;
  {
    std::lock_guard lock(table_mutex_);
    saved = node->attrs;
    bool exists = node->attrs.xattrs.contains(std::string(name));
    if ((flags & kXattrCreate) != 0 && exists) {
      return Error(ErrorKind::kAlreadyExists, "extended attribute exists");
    }
    if ((flags & kXattrReplace) != 0 && !exists) {
      return errnoError(ErrorKind::kNotFound, ENODATA, "no such extended attribute");
    }
    node->attrs.xattrs[std::string(name)] = Bytes(value.begin(), value.end());
    node->attrs.ctime_ns = nowNs();
  }
  Status persisted = persistAttributes(node);
  if (!persisted) {
    std::lock_guard lock(table_mutex_);
    node->attrs = saved;
  }
  return persisted;
}

Result<std::vector<std::string>> VolumeFilesystem::listxattr(InodeId ino) {
  std::shared_lock ns(namespace_mutex_);
  S3C_ASSIGN_OR_RETURN(NodePtr node, nodeOf(ino));
  S3C_RETURN_IF_ERROR(refreshNode(node));
  std::lock_guard lock(table_mutex_);
  std::vector<std::string> names;
  for (const auto& [name, value] : node->attrs.xattrs)
    names.push_back(name);
  return names;
}

Status VolumeFilesystem::removexattr(InodeId ino, std::string_view name) {
  std::unique_lock ns(namespace_mutex_);
  S3C_ASSIGN_OR_RETURN(NodePtr node, nodeOf(ino));
  S3C_RETURN_IF_ERROR(refreshNode(node));
  format::Attributes saved;
  {
    std::lock_guard lock(table_mutex_);
    saved = node->attrs;
    if (node->attrs.xattrs.erase(std::string(name)) == 0) {
      return errnoError(ErrorKind::kNotFound, ENODATA, "no such extended attribute");
    }
    node->attrs.ctime_ns = nowNs();
  }
  Status persisted = persistAttributes(node);
  if (!persisted) {
    std::lock_guard lock(table_mutex_);
    node->attrs = saved;
  }
  return persisted;
}

}  // namespace s3cryptfs::fs
