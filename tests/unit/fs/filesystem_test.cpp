// The Filesystem interface operation by operation, with the errno of each failure, on the
// local-directory store and the in-memory store. Every change is checked again after a remount.
#include <fcntl.h>
#include <sys/stat.h>

#include <gtest/gtest.h>

#include "s3cryptfs/core/log.h"

#include "unit/fs/fs_test_support.h"

namespace s3cryptfs::fs {
namespace {

using test::FsHarness;
using test::pattern;

class FilesystemTest : public ::testing::TestWithParam<std::string> {
 protected:
  FsHarness h_{test::makeStore(GetParam()), 4096, {}, test::nameModeOf(GetParam())};
  Filesystem& fs() { return h_.fs(); }
};

TEST_P(FilesystemTest, RootIsAnEmptyDirectory) {
  auto attr = fs().getattr(kRootInode);
  S3C_ASSERT_OK(attr);
  EXPECT_TRUE(S_ISDIR(attr->mode));
  EXPECT_TRUE(h_.list("/").empty());
  S3C_EXPECT_ERRNO(fs().lookup(kRootInode, "missing"), ENOENT);
  S3C_EXPECT_ERRNO(fs().open(kRootInode, O_RDONLY), EISDIR);
}

TEST_P(FilesystemTest, FilesPersistAcrossRemount) {
  Bytes small = pattern(10, 1);
  Bytes big = pattern(50000, 2);
  S3C_ASSERT_OK(h_.writeFile("/small", small));
  S3C_ASSERT_OK(h_.writeFile("/big", big, 3000));
  S3C_ASSERT_OK(h_.writeFile("/empty", {}));
  h_.reopen();
  EXPECT_EQ(*h_.readFile("/small"), small);
  EXPECT_EQ(*h_.readFile("/big", 777), big);
  EXPECT_TRUE(h_.readFile("/empty")->empty());
  auto ino = h_.resolve("/big");
  S3C_ASSERT_OK(ino);
  auto attr = fs().getattr(*ino);
  S3C_ASSERT_OK(attr);
  EXPECT_EQ(attr->size, big.size());
  EXPECT_TRUE(S_ISREG(attr->mode));
  EXPECT_EQ(attr->mode & 07777, 0644u & ~022u);
  EXPECT_EQ(attr->uid, 1000u);
  EXPECT_EQ(h_.list("/"), (std::vector<std::string>{"big", "empty", "small"}));
}

TEST_P(FilesystemTest, CreateHonoursExclTruncAndAppend) {
  S3C_ASSERT_OK(h_.writeFile("/f", pattern(100, 3)));
  S3C_EXPECT_ERRNO(fs().create(kRootInode, "f", 0644, O_WRONLY | O_CREAT | O_EXCL, h_.caller_),
                   EEXIST);
  auto created = fs().create(kRootInode, "f", 0644, O_WRONLY | O_CREAT | O_APPEND, h_.caller_);
  S3C_ASSERT_OK(created);
  EXPECT_EQ(created->entry.attr.size, 100u);
  S3C_ASSERT_OK(fs().write(created->handle, 0, asBytes("tail")));  // offset ignored: append
  S3C_ASSERT_OK(fs().release(created->handle));
  Bytes expected = pattern(100, 3);
  for (char c : std::string("tail"))
    expected.push_back(static_cast<uint8_t>(c));
  EXPECT_EQ(*h_.readFile("/f"), expected);

  auto ino = h_.resolve("/f");
  S3C_ASSERT_OK(ino);
  auto handle = fs().open(*ino, O_WRONLY | O_TRUNC);
  S3C_ASSERT_OK(handle);
  EXPECT_EQ(fs().getattr(*ino)->size, 0u);
  S3C_ASSERT_OK(fs().release(*handle));
  h_.reopen();
  EXPECT_TRUE(h_.readFile("/f")->empty());
  S3C_EXPECT_ERRNO(fs().create(kRootInode, std::string(256, 'x'), 0644, O_WRONLY, h_.caller_),
                   ENAMETOOLONG);
}

TEST_P(FilesystemTest, HandleModesAreEnforced) {
  S3C_ASSERT_OK(h_.writeFile("/f", pattern(10, 1)));
  auto ino = h_.resolve("/f");
  auto reader = fs().open(*ino, O_RDONLY);
  S3C_ASSERT_OK(reader);
  S3C_EXPECT_ERRNO(fs().write(*reader, 0, asBytes("x")), EBADF);
  auto writer = fs().open(*ino, O_WRONLY);
  S3C_ASSERT_OK(writer);
  Bytes buffer(4);
  S3C_EXPECT_ERRNO(fs().read(*writer, 0, buffer), EBADF);
  S3C_ASSERT_OK(fs().release(*reader));
  S3C_ASSERT_OK(fs().release(*writer));
  S3C_EXPECT_ERRNO(fs().read(*reader, 0, buffer), EBADF);
}

TEST_P(FilesystemTest, RandomSparseAndPastEndWrites) {
  auto created = fs().create(kRootInode, "sparse", 0600, O_RDWR, h_.caller_);
  S3C_ASSERT_OK(created);
  HandleId handle = created->handle;
  Bytes model;
  auto put = [&](uint64_t offset, const Bytes& data) {
    auto n = fs().write(handle, offset, data);
    ASSERT_TRUE(n) << n.error().describe();
    if (model.size() < offset + data.size()) model.resize(offset + data.size(), 0);
    std::copy(data.begin(), data.end(), model.begin() + static_cast<long>(offset));
  };
  put(20000, pattern(10, 1));  // a hole of 20000 bytes first
  put(5, pattern(4096, 2));    // across a chunk boundary
  put(4095, pattern(2, 3));
  put(30000, pattern(1, 4));
  Bytes out(model.size() + 100);
  auto n = fs().read(handle, 0, out);
  S3C_ASSERT_OK(n);
  ASSERT_EQ(*n, model.size());
  out.resize(*n);
  EXPECT_EQ(out, model);
  Bytes past(10);
  EXPECT_EQ(*fs().read(handle, model.size() + 5, past), 0u);
  S3C_ASSERT_OK(fs().flush(handle));
  put(1, pattern(3, 5));  // after a flush, the same handle keeps writing
  S3C_ASSERT_OK(fs().release(handle));
  h_.reopen();
  EXPECT_EQ(*h_.readFile("/sparse", 1000), model);
}

TEST_P(FilesystemTest, TruncateUpAndDownAlsoOnOpenFiles) {
  Bytes data = pattern(10000, 7);
  S3C_ASSERT_OK(h_.writeFile("/t", data));
  auto ino = h_.resolve("/t");
  SetAttrRequest shrink;
  shrink.size = 5000;
  auto attr = fs().setattr(*ino, shrink, h_.caller_);
  S3C_ASSERT_OK(attr);
  EXPECT_EQ(attr->size, 5000u);
  h_.reopen();
  data.resize(5000);
  EXPECT_EQ(*h_.readFile("/t"), data);

  ino = h_.resolve("/t");
  auto handle = fs().open(*ino, O_RDWR);
  S3C_ASSERT_OK(handle);
  SetAttrRequest grow;
  grow.size = 9000;
  grow.handle = *handle;
  S3C_ASSERT_OK(fs().setattr(*ino, grow, h_.caller_));
  data.resize(9000, 0);
  Bytes out(10000);
  auto n = fs().read(*handle, 0, out);
  S3C_ASSERT_OK(n);
  out.resize(*n);
  EXPECT_EQ(out, data);
  SetAttrRequest to_chunk_boundary;
  to_chunk_boundary.size = 4096;
  S3C_ASSERT_OK(fs().setattr(*ino, to_chunk_boundary, h_.caller_));
  S3C_ASSERT_OK(fs().release(*handle));
  data.resize(4096);
  h_.reopen();
  EXPECT_EQ(*h_.readFile("/t"), data);
  auto dir = h_.mkdirPath("/d");
  S3C_ASSERT_OK(dir);
  S3C_EXPECT_ERRNO(fs().setattr(dir->attr.ino, shrink, h_.caller_), EISDIR);
}

TEST_P(FilesystemTest, ChmodChownUtimensPersist) {
  S3C_ASSERT_OK(h_.writeFile("/f", pattern(10, 1)));
  auto dir = h_.mkdirPath("/d", 0700);
  S3C_ASSERT_OK(dir);
  auto ino = h_.resolve("/f");
  SetAttrRequest request;
  request.mode = 0600;
  request.uid = 42;
  request.gid = 43;
  request.mtime = Timespec{1000000000, 123};
  request.atime = Timespec{999, 5};
  S3C_ASSERT_OK(fs().setattr(*ino, request, h_.caller_));
  SetAttrRequest dir_request;
  dir_request.mode = 0711;
  dir_request.mtime_now = true;
  auto before = fs().getattr(dir->attr.ino);
  S3C_ASSERT_OK(fs().setattr(dir->attr.ino, dir_request, h_.caller_));
  h_.reopen();
  auto attr = fs().getattr(*h_.resolve("/f"));
  S3C_ASSERT_OK(attr);
  EXPECT_EQ(attr->mode, S_IFREG | 0600u);
  EXPECT_EQ(attr->uid, 42u);
  EXPECT_EQ(attr->gid, 43u);
  EXPECT_EQ(attr->mtime, (Timespec{1000000000, 123}));
  EXPECT_EQ(attr->atime, (Timespec{999, 5}));
  EXPECT_EQ(attr->size, 10u);
  EXPECT_EQ(*h_.readFile("/f"), pattern(10, 1));  // content untouched by a metadata change
  auto dir_attr = fs().getattr(*h_.resolve("/d"));
  S3C_ASSERT_OK(dir_attr);
  EXPECT_EQ(dir_attr->mode, S_IFDIR | 0711u);
  EXPECT_GE(dir_attr->mtime.sec, before->mtime.sec);
}

TEST_P(FilesystemTest, AttributeChangesOnAnOpenDirtyFileAreUploadedWithIt) {
  auto created = fs().create(kRootInode, "f", 0644, O_RDWR, h_.caller_);
  S3C_ASSERT_OK(created);
  S3C_ASSERT_OK(fs().write(created->handle, 0, pattern(6000, 1)));
  SetAttrRequest chmod;
  chmod.mode = 0640;
  S3C_ASSERT_OK(fs().setattr(created->entry.attr.ino, chmod, h_.caller_));
  S3C_ASSERT_OK(fs().setxattr(created->entry.attr.ino, "user.open", asBytes("1"), 0));
  auto attr = fs().getattr(created->entry.attr.ino);
  EXPECT_EQ(attr->mode, S_IFREG | 0640u);
  EXPECT_EQ(attr->size, 6000u);
  S3C_ASSERT_OK(fs().release(created->handle));
  h_.reopen();
  auto ino = *h_.resolve("/f");
  EXPECT_EQ(fs().getattr(ino)->mode, S_IFREG | 0640u);
  EXPECT_EQ(*fs().getxattr(ino, "user.open"), toBytes("1"));
  EXPECT_EQ(*h_.readFile("/f"), pattern(6000, 1));
}

TEST_P(FilesystemTest, MkdirRmdirAndTheirErrors) {
  S3C_ASSERT_OK(h_.mkdirPath("/a"));
  S3C_ASSERT_OK(h_.mkdirPath("/a/b"));
  S3C_ASSERT_OK(h_.writeFile("/a/b/f", pattern(3, 1)));
  S3C_EXPECT_ERRNO(h_.mkdirPath("/a"), EEXIST);
  S3C_EXPECT_ERRNO(h_.mkdirPath("/a/b/f"), EEXIST);
  S3C_EXPECT_ERRNO(h_.mkdirPath("/a/b/f/x"), ENOTDIR);
  auto a = h_.resolve("/a");
  S3C_EXPECT_ERRNO(fs().rmdir(*a, "b"), ENOTEMPTY);
  auto b = h_.resolve("/a/b");
  S3C_EXPECT_ERRNO(fs().rmdir(*b, "f"), ENOTDIR);
  S3C_EXPECT_ERRNO(fs().unlink(*a, "b"), EISDIR);
  S3C_EXPECT_ERRNO(fs().rmdir(*a, "nothing"), ENOENT);
  h_.reopen();
  EXPECT_EQ(h_.list("/a"), std::vector<std::string>{"b"});
  b = h_.resolve("/a/b");
  S3C_ASSERT_OK(fs().unlink(*b, "f"));
  a = h_.resolve("/a");
  S3C_ASSERT_OK(fs().rmdir(*a, "b"));
  S3C_EXPECT_ERRNO(fs().lookup(*a, "b"), ENOENT);
  h_.reopen();
  EXPECT_TRUE(h_.list("/a").empty());
  S3C_EXPECT_ERRNO(h_.resolve("/a/b"), ENOENT);
  // Only the descriptor and the marker of /a are left.
  auto all = store::listAll(h_.store(), {});
  ASSERT_TRUE(all);
  EXPECT_EQ(all->objects.size(), 2u);
}

TEST_P(FilesystemTest, UnlinkedOpenFileStaysReadableUntilRelease) {
  Bytes data = pattern(20000, 9);
  S3C_ASSERT_OK(h_.writeFile("/gone", data));
  auto ino = h_.resolve("/gone");
  auto handle = fs().open(*ino, O_RDWR);
  S3C_ASSERT_OK(handle);
  S3C_ASSERT_OK(fs().write(*handle, 0, asBytes("new")));
  S3C_ASSERT_OK(fs().unlink(kRootInode, "gone"));
  S3C_EXPECT_ERRNO(fs().lookup(kRootInode, "gone"), ENOENT);
  EXPECT_TRUE(h_.list("/").empty());
  Bytes out(30000);
  auto n = fs().read(*handle, 0, out);
  S3C_ASSERT_OK(n);
  out.resize(*n);
  data[0] = 'n';
  data[1] = 'e';
  data[2] = 'w';
  EXPECT_EQ(out, data);
  S3C_ASSERT_OK(fs().flush(*handle));
  S3C_ASSERT_OK(fs().release(*handle));
  h_.reopen();
  S3C_EXPECT_ERRNO(h_.resolve("/gone"), ENOENT);  // the flush did not bring it back
  EXPECT_TRUE(std::filesystem::is_empty(h_.stagingDir()));
}

TEST_P(FilesystemTest, RenameFilesWithPosixReplaceRules) {
  S3C_ASSERT_OK(h_.writeFile("/a", pattern(100, 1)));
  S3C_ASSERT_OK(h_.writeFile("/b", pattern(200, 2)));
  S3C_ASSERT_OK(h_.mkdirPath("/d"));
  S3C_ASSERT_OK(h_.mkdirPath("/e"));
  S3C_ASSERT_OK(h_.writeFile("/e/x", pattern(1, 1)));
  auto d = h_.resolve("/d");
  S3C_EXPECT_ERRNO(fs().rename(kRootInode, "a", kRootInode, "b", kRenameNoReplace), EEXIST);
  S3C_EXPECT_ERRNO(fs().rename(kRootInode, "a", kRootInode, "b", kRenameExchange), EINVAL);
  S3C_EXPECT_ERRNO(fs().rename(kRootInode, "a", kRootInode, "d", 0), EISDIR);
  S3C_EXPECT_ERRNO(fs().rename(kRootInode, "d", kRootInode, "a", 0), ENOTDIR);
  S3C_EXPECT_ERRNO(fs().rename(kRootInode, "d", kRootInode, "e", 0), ENOTEMPTY);
  S3C_EXPECT_ERRNO(fs().rename(kRootInode, "d", *d, "inside", 0), EINVAL);
  S3C_EXPECT_ERRNO(fs().rename(kRootInode, "missing", kRootInode, "z", 0), ENOENT);
  auto a_ino = h_.resolve("/a");
  S3C_ASSERT_OK(fs().rename(kRootInode, "a", kRootInode, "b", 0));  // replaces b
  EXPECT_EQ(*h_.resolve("/b"), *a_ino);                             // same inode, new name
  S3C_ASSERT_OK(fs().rename(kRootInode, "b", *d, "moved", 0));
  S3C_ASSERT_OK(h_.writeFile("/f", pattern(5, 5)));
  S3C_ASSERT_OK(fs().rename(kRootInode, "f", kRootInode, "f", 0));  // to itself: nothing
  h_.reopen();
  EXPECT_EQ(h_.list("/"), (std::vector<std::string>{"d", "e", "f"}));
  EXPECT_EQ(*h_.readFile("/d/moved"), pattern(100, 1));
  auto attr = fs().getattr(*h_.resolve("/d/moved"));
  EXPECT_EQ(attr->mode & 07777, 0644u & ~022u);
  // An empty directory is replaced by a directory.
  S3C_ASSERT_OK(h_.mkdirPath("/empty"));
  S3C_ASSERT_OK(fs().rename(kRootInode, "d", kRootInode, "empty", 0));
  h_.reopen();
  EXPECT_EQ(*h_.readFile("/empty/moved"), pattern(100, 1));
  S3C_EXPECT_ERRNO(h_.resolve("/d"), ENOENT);
}

TEST_P(FilesystemTest, RenameDirectoryMovesEverythingBelow) {
  S3C_ASSERT_OK(h_.mkdirPath("/src"));
  S3C_ASSERT_OK(h_.mkdirPath("/src/sub", 0700));
  S3C_ASSERT_OK(h_.mkdirPath("/src/sub/deeper"));
  S3C_ASSERT_OK(h_.writeFile("/src/one", pattern(5000, 1)));
  S3C_ASSERT_OK(h_.writeFile("/src/sub/two", pattern(6000, 2)));
  S3C_ASSERT_OK(h_.writeFile("/src/sub/deeper/three", pattern(7, 3)));
  S3C_ASSERT_OK(fs().symlink(*h_.resolve("/src"), "link", "sub/two", h_.caller_));
  // An open file below the directory keeps working through the move.
  auto open_ino = h_.resolve("/src/one");
  auto handle = fs().open(*open_ino, O_RDWR);
  S3C_ASSERT_OK(handle);
  S3C_ASSERT_OK(fs().write(*handle, 0, asBytes("XY")));
  S3C_ASSERT_OK(h_.mkdirPath("/dst"));
  S3C_ASSERT_OK(fs().rename(kRootInode, "src", *h_.resolve("/dst"), "moved", 0));
  S3C_ASSERT_OK(fs().write(*handle, 2, asBytes("Z")));
  S3C_ASSERT_OK(fs().release(*handle));
  h_.reopen();
  S3C_EXPECT_ERRNO(h_.resolve("/src"), ENOENT);
  EXPECT_EQ(h_.list("/dst/moved"), (std::vector<std::string>{"link", "one", "sub"}));
  Bytes one = pattern(5000, 1);
  one[0] = 'X';
  one[1] = 'Y';
  one[2] = 'Z';
  EXPECT_EQ(*h_.readFile("/dst/moved/one"), one);
  EXPECT_EQ(*h_.readFile("/dst/moved/sub/two"), pattern(6000, 2));
  EXPECT_EQ(*h_.readFile("/dst/moved/sub/deeper/three"), pattern(7, 3));
  EXPECT_EQ(*fs().readlink(*h_.resolve("/dst/moved/link")), "sub/two");
  EXPECT_EQ(fs().getattr(*h_.resolve("/dst/moved/sub"))->mode, S_IFDIR | 0700u);
}

TEST_P(FilesystemTest, ReaddirPagesDotsAndPlus) {
  std::vector<std::string> expected;
  for (int i = 0; i < 25; ++i) {
    std::string name = "file" + std::to_string(100 + i);
    S3C_ASSERT_OK(h_.writeFile("/" + name, pattern(static_cast<size_t>(i), i)));
    expected.push_back(name);
  }
  S3C_ASSERT_OK(h_.mkdirPath("/zdir"));
  expected.push_back("zdir");
  h_.reopen();
  EXPECT_EQ(h_.list("/"), expected);
  EXPECT_EQ(h_.list("/", true), expected);
  auto handle = fs().opendir(kRootInode);
  S3C_ASSERT_OK(handle);
  auto first = fs().readdir(*handle, 0, 4, true);
  S3C_ASSERT_OK(first);
  ASSERT_EQ(first->size(), 4u);
  EXPECT_EQ((*first)[0].name, ".");
  EXPECT_EQ((*first)[1].name, "..");
  EXPECT_EQ((*first)[0].ino, kRootInode);
  ASSERT_TRUE((*first)[2].entry.has_value());
  EXPECT_EQ((*first)[2].entry->attr.size, 0u);
  EXPECT_EQ((*first)[3].entry->attr.size, 1u);
  EXPECT_TRUE(S_ISREG((*first)[3].entry->attr.mode));
  // Resuming from a cookie gives the same entries again (stable cookies).
  auto again = fs().readdir(*handle, (*first)[2].next_cookie, 1, false);
  S3C_ASSERT_OK(again);
  ASSERT_EQ(again->size(), 1u);
  EXPECT_EQ((*again)[0].name, (*first)[3].name);
  EXPECT_EQ((*again)[0].ino, (*first)[3].ino);
  auto rest = fs().readdir(*handle, (*first)[3].next_cookie, 100, true);
  S3C_ASSERT_OK(rest);
  EXPECT_EQ(rest->size(), 26u - 2u);
  EXPECT_EQ(rest->back().name, "zdir");
  EXPECT_EQ(rest->back().type, static_cast<uint32_t>(S_IFDIR));
  S3C_ASSERT_OK(fs().releasedir(*handle));
  auto file = h_.resolve("/file100");
  S3C_EXPECT_ERRNO(fs().opendir(*file), ENOTDIR);
}

TEST_P(FilesystemTest, TwoListingsOfOneDirectoryDoNotDisturbEachOther) {
  for (int i = 0; i < 6; ++i)
    S3C_ASSERT_OK(h_.writeFile("/f" + std::to_string(i), {}));
  h_.reopen();
  auto first = fs().opendir(kRootInode);
  auto second = fs().opendir(kRootInode);
  S3C_ASSERT_OK(first);
  S3C_ASSERT_OK(second);
  S3C_ASSERT_OK(fs().readdir(*first, 0, 100, false));
  auto head = fs().readdir(*second, 0, 3, false);
  S3C_ASSERT_OK(head);
  S3C_ASSERT_OK(fs().releasedir(*first));  // drops the inodes nobody looked up
  auto rest = fs().readdir(*second, head->back().next_cookie, 100, true);
  S3C_ASSERT_OK(rest);
  ASSERT_EQ(rest->size(), 5u);
  for (const auto& entry : *rest) {
    ASSERT_TRUE(entry.entry.has_value()) << entry.name;
    auto attr = fs().getattr(entry.ino);
    S3C_ASSERT_OK(attr);
    EXPECT_TRUE(S_ISREG(attr->mode));
  }
  S3C_ASSERT_OK(fs().releasedir(*second));
}

TEST_P(FilesystemTest, SymlinksPersist) {
  auto made = fs().symlink(kRootInode, "l", "../some/where", h_.caller_);
  S3C_ASSERT_OK(made);
  EXPECT_TRUE(S_ISLNK(made->attr.mode));
  EXPECT_EQ(made->attr.size, 13u);
  S3C_EXPECT_ERRNO(fs().symlink(kRootInode, "l", "x", h_.caller_), EEXIST);
  S3C_EXPECT_ERRNO(fs().symlink(kRootInode, "toolong", std::string(4096, 't'), h_.caller_),
                   ENAMETOOLONG);
  std::string long_target(3000, 't');  // too long for user metadata: the sidecar holds it
  S3C_ASSERT_OK(fs().symlink(kRootInode, "long", long_target, h_.caller_));
  h_.reopen();
  EXPECT_EQ(*fs().readlink(*h_.resolve("/l")), "../some/where");
  EXPECT_EQ(*fs().readlink(*h_.resolve("/long")), long_target);
  S3C_EXPECT_ERRNO(fs().open(*h_.resolve("/l"), O_RDONLY), ELOOP);
  S3C_ASSERT_OK(h_.writeFile("/f", pattern(1, 1)));
  S3C_EXPECT_ERRNO(fs().readlink(*h_.resolve("/f")), EINVAL);
  S3C_ASSERT_OK(fs().unlink(kRootInode, "long"));
  auto all = store::listAll(h_.store(), {});
  for (const auto& object : all->objects) {
    EXPECT_EQ(object.key.find(".s3cryptfs.attr"), std::string::npos) << "sidecar left behind";
  }
}

TEST_P(FilesystemTest, ExtendedAttributes) {
  S3C_ASSERT_OK(h_.writeFile("/f", pattern(10, 1)));
  auto ino = *h_.resolve("/f");
  S3C_EXPECT_ERRNO(fs().getxattr(ino, "user.a"), ENODATA);
  S3C_EXPECT_ERRNO(fs().setxattr(ino, "user.a", asBytes("1"), 2 /*XATTR_REPLACE*/), ENODATA);
  S3C_ASSERT_OK(fs().setxattr(ino, "user.a", asBytes("1"), 1 /*XATTR_CREATE*/));
  S3C_EXPECT_ERRNO(fs().setxattr(ino, "user.a", asBytes("2"), 1), EEXIST);
  S3C_ASSERT_OK(fs().setxattr(ino, "user.a", asBytes("2"), 2));
  S3C_ASSERT_OK(fs().setxattr(ino, "user.big", Bytes(5000, 7), 0));  // goes to the sidecar
  S3C_EXPECT_ERRNO(fs().setxattr(ino, "user.huge", Bytes(70000, 7), 0), E2BIG);
  S3C_EXPECT_ERRNO(fs().setxattr(ino, std::string(300, 'n'), asBytes("1"), 0), ERANGE);
  S3C_EXPECT_ERRNO(fs().setxattr(ino, "system.posix_acl_access", asBytes("1"), 0), ENOTSUP);
  auto dir = h_.mkdirPath("/d");
  S3C_ASSERT_OK(fs().setxattr(dir->attr.ino, "user.dir", asBytes("yes"), 0));
  h_.reopen();
  ino = *h_.resolve("/f");
  EXPECT_EQ(*fs().getxattr(ino, "user.a"), toBytes("2"));
  EXPECT_EQ(*fs().getxattr(ino, "user.big"), Bytes(5000, 7));
  EXPECT_EQ(*fs().listxattr(ino), (std::vector<std::string>{"user.a", "user.big"}));
  EXPECT_EQ(*fs().getxattr(*h_.resolve("/d"), "user.dir"), toBytes("yes"));
  EXPECT_EQ(*h_.readFile("/f"), pattern(10, 1));
  S3C_ASSERT_OK(fs().removexattr(ino, "user.big"));
  S3C_EXPECT_ERRNO(fs().removexattr(ino, "user.big"), ENODATA);
  h_.reopen();
  EXPECT_EQ(*fs().listxattr(*h_.resolve("/f")), std::vector<std::string>{"user.a"});
}

TEST_P(FilesystemTest, MknodLinkStatfsAndForget) {
  auto fifo = fs().mknod(kRootInode, "pipe", S_IFIFO | 0640, h_.caller_);
  S3C_ASSERT_OK(fifo);
  EXPECT_TRUE(S_ISFIFO(fifo->attr.mode));
  S3C_EXPECT_ERRNO(fs().mknod(kRootInode, "dev", S_IFCHR | 0640, h_.caller_), ENOTSUP);
  S3C_EXPECT_ERRNO(fs().mknod(kRootInode, "pipe", S_IFIFO | 0640, h_.caller_), EEXIST);
  S3C_ASSERT_OK(h_.writeFile("/f", pattern(1, 1)));
  S3C_EXPECT_ERRNO(fs().link(*h_.resolve("/f"), kRootInode, "hard"), EPERM);
  auto stats = fs().statfs();
  S3C_ASSERT_OK(stats);
  EXPECT_GT(stats->blocks_free, 0u);
  EXPECT_EQ(stats->name_max, 255u);
  SetAttrRequest truncate;
  truncate.size = 0;
  S3C_EXPECT_ERRNO(fs().setattr(fifo->attr.ino, truncate, h_.caller_), EINVAL);
  h_.reopen();
  auto attr = fs().getattr(*h_.resolve("/pipe"));
  EXPECT_EQ(attr->mode, S_IFIFO | 0640u);
  // forget drops the inode; a new lookup gives a working (possibly new) inode.
  auto ino = *h_.resolve("/f");
  fs().forget(ino, 1);
  S3C_EXPECT_ERRNO(fs().getattr(ino), ESTALE);
  EXPECT_EQ(*h_.readFile("/f"), pattern(1, 1));
}

TEST_P(FilesystemTest, ForeignObjectsAreSkippedNeverShownNeverDeleted) {
  S3C_ASSERT_OK(h_.mkdirPath("/d"));
  S3C_ASSERT_OK(h_.writeFile("/d/mine", pattern(3, 1)));
  ASSERT_TRUE(h_.store().put("holiday.jpg", asBytes("not ours"), {}));
  std::string d_key;
  auto listing = store::listAll(h_.store(), {});
  ASSERT_TRUE(listing);
  for (const auto& object : listing->objects) {
    if (object.key.find(".s3cryptfs.dir") != std::string::npos && object.key.find('/') != 0 &&
        object.key != ".s3cryptfs.dir") {
      d_key = object.key.substr(0, object.key.rfind('/') + 1);
    }
  }
  ASSERT_FALSE(d_key.empty());
  ASSERT_TRUE(h_.store().put(d_key + "stray", asBytes("not ours either"), {}));
  // Shared, so a failing assertion below cannot leave the logger writing into a dead vector.
  auto captured = std::make_shared<std::vector<std::string>>();
  log::toCallback([captured](std::string_view line) { captured->emplace_back(line); });
  h_.reopen();
  EXPECT_TRUE(h_.list("/") == std::vector<std::string>{"d"});
  EXPECT_TRUE(h_.list("/") == std::vector<std::string>{"d"});  // listed twice, logged once
  EXPECT_EQ(h_.list("/d"), std::vector<std::string>{"mine"});
  S3C_EXPECT_ERRNO(fs().lookup(kRootInode, "holiday.jpg"), ENOENT);
  // The directory holding a foreign object is not empty, and the object survives.
  S3C_ASSERT_OK(fs().unlink(*h_.resolve("/d"), "mine"));
  S3C_EXPECT_ERRNO(fs().rmdir(kRootInode, "d"), ENOTEMPTY);
  EXPECT_TRUE(h_.store().head("holiday.jpg"));
  EXPECT_TRUE(h_.store().head(d_key + "stray"));
  log::toStderr();
  auto mentions = [&captured](const std::string& key) {
    return std::count_if(captured->begin(), captured->end(), [&key](const std::string& line) {
      return line.find(key) != std::string::npos;
    });
  };
  EXPECT_EQ(mentions("holiday.jpg"), 1);
  EXPECT_EQ(mentions(d_key + "stray"), 1);
}

TEST_P(FilesystemTest, BadNamesGetClearErrors) {
  S3C_EXPECT_ERRNO(fs().lookup(kRootInode, std::string(256, 'a')), ENAMETOOLONG);
  S3C_EXPECT_ERRNO(fs().mkdir(kRootInode, "a/b", 0755, h_.caller_), EINVAL);
  S3C_EXPECT_ERRNO(fs().getattr(123456), ESTALE);
  S3C_EXPECT_ERRNO(fs().read(999, 0, MutableByteSpan()), EBADF);
}

INSTANTIATE_TEST_SUITE_P(Stores, FilesystemTest,
                         ::testing::Values("memory", "dir", "memory-plaintext-names"));

}  // namespace
}  // namespace s3cryptfs::fs
