#include "staging_file.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <sstream>
#include <unistd.h>

#include "s3cryptfs/crypto/random.h"
#include "s3cryptfs/format/attributes.h"

namespace s3cryptfs::fs {

namespace {

constexpr std::string_view kJournalMagic = "s3cryptfs-journal 1";
constexpr std::string_view kJournalSuffix = ".journal";
constexpr std::string_view kDataSuffix = ".data";

Error ioError(int err, const std::string& what) {
  ErrorKind kind = (err == ENOSPC || err == EDQUOT) ? ErrorKind::kNoSpace : ErrorKind::kIo;
  return Error(kind, err, what + ": " + std::strerror(err));
}

Status writeAll(int fd, const uint8_t* data, size_t size, uint64_t offset,
                const std::string& path) {
  while (size > 0) {
    ssize_t n = ::pwrite(fd, data, size, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ioError(errno, "writing staging file " + path);
    }
    data += n;
    size -= static_cast<size_t>(n);
    offset += static_cast<uint64_t>(n);
  }
  return ok();
}

}  // namespace

std::string encodeJournal(const JournalRecord& record) {
  std::ostringstream out;
  out << kJournalMagic << "\n";
  out << "key " << toHex(asBytes(record.key)) << "\n";
  out << "base " << (record.base_etag.empty() ? "-" : toHex(asBytes(record.base_etag))) << "\n";
  out << "size " << record.size << "\n";
  out << "header " << toHex(record.header) << "\n";
  out << "attributes " << record.attributes_text << "\n";
  if (!record.upload_id.empty()) {
    out << "upload " << toHex(asBytes(record.upload_id)) << " " << record.chunks_per_part << " "
        << record.sidecar_tag << "\n";
    for (const store::PartInfo& part : record.parts) {
      out << "part " << part.part_number << " " << toHex(asBytes(part.etag)) << " " << part.size
          << "\n";
    }
  }
  // Runs of chunks ("0-15 20-20"), so a long sequential write keeps the record short.
  out << "chunks";
  for (size_t i = 0; i < record.chunks.size();) {
    size_t j = i;
    while (j + 1 < record.chunks.size() && record.chunks[j + 1] == record.chunks[j] + 1)
      ++j;
    out << " " << record.chunks[i] << "-" << record.chunks[j];
    i = j + 1;
  }
  out << "\nend\n";
  return out.str();
}

Result<JournalRecord> decodeJournal(std::string_view text) {
  auto bad = [](const std::string& why) {
    return Error(ErrorKind::kCorrupt, "staging journal: " + why);
  };
  std::istringstream in{std::string(text)};
  std::string line;
  if (!std::getline(in, line) || line != kJournalMagic) return bad("unknown header");
  JournalRecord record;
  bool ended = false;
  while (std::getline(in, line)) {
    auto space = line.find(' ');
    std::string field = line.substr(0, space);
    std::string value = space == std::string::npos ? "" : line.substr(space + 1);
    Bytes bytes;
    if (field == "key") {
      if (!fromHex(value, bytes) || bytes.empty()) return bad("bad key");
      record.key.assign(bytes.begin(), bytes.end());
    } else if (field == "base") {
      if (value != "-") {
        if (!fromHex(value, bytes)) return bad("bad base");
        record.base_etag.assign(bytes.begin(), bytes.end());
      }
    } else if (field == "size") {
      try {
        record.size = std::stoull(value);
      } catch (...) {
        return bad("bad size");
      }
    } else if (field == "header") {
      if (!fromHex(value, record.header)) return bad("bad header");
    } else if (field == "attributes") {
      record.attributes_text = value;
    } else if (field == "upload") {
      std::istringstream fields(value);
      std::string id;
      if (!(fields >> id >> record.chunks_per_part >> record.sidecar_tag) || !fromHex(id, bytes) ||
          bytes.empty() || record.chunks_per_part == 0 ||
          format::sidecarTagOf(std::string(format::kSidecarTagPrefix) + record.sidecar_tag)
              .value_or("")
              .empty()) {
        return bad("bad upload");
      }
      record.upload_id.assign(bytes.begin(), bytes.end());
    } else if (field == "part") {
      std::istringstream fields(value);
      store::PartInfo part;
      std::string etag;
      if (!(fields >> part.part_number >> etag >> part.size) || !fromHex(etag, bytes) ||
          part.part_number == 0 ||
          (!record.parts.empty() && part.part_number <= record.parts.back().part_number)) {
        return bad("bad part");
      }
      part.etag.assign(bytes.begin(), bytes.end());
      record.parts.push_back(std::move(part));
    } else if (field == "chunks") {
      std::istringstream chunks(value);
      std::string run;
      while (chunks >> run) {
        auto dash = run.find('-');
        if (dash == std::string::npos) return bad("bad chunk run");
        uint64_t first = 0;
        uint64_t last = 0;
        try {
          first = std::stoull(run.substr(0, dash));
          last = std::stoull(run.substr(dash + 1));
        } catch (...) {
          return bad("bad chunk run");
        }
        if (last < first || (!record.chunks.empty() && first <= record.chunks.back())) {
          return bad("chunk runs out of order");
        }
        for (uint64_t c = first; c <= last; ++c)
          record.chunks.push_back(c);
      }
    } else if (field == "end") {
      ended = true;
      break;
    } else {
      return bad("unknown field");
    }
  }
  // A record without its end line was cut short: treat it as damaged, never half-apply it.
  if (!ended || record.key.empty() || record.header.empty()) return bad("incomplete record");
  if (!record.parts.empty() && record.upload_id.empty()) return bad("parts without an upload");
  return record;
}

StagingFile::StagingFile(std::string base, int fd)
    : data_path_(base + std::string(kDataSuffix)),
      journal_path_(base + std::string(kJournalSuffix)),
      fd_(fd) {}

StagingFile::~StagingFile() {
  if (fd_ >= 0) ::close(fd_);
  if (journal_fd_ >= 0) ::close(journal_fd_);
}

Result<std::unique_ptr<StagingFile>> StagingFile::create(const std::string& dir) {
  if (dir.empty()) {
    return Error(ErrorKind::kInvalidArgument, "no staging folder is configured");
  }
  S3C_ASSIGN_OR_RETURN(Bytes id, crypto::randomBytes(12));
  std::string base = dir + "/s3c-" + toHex(id);
  std::string data = base + std::string(kDataSuffix);
  int fd = ::open(data.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return ioError(errno, "creating staging file " + data);
  return std::unique_ptr<StagingFile>(new StagingFile(base, fd));
}

Result<std::unique_ptr<StagingFile>> StagingFile::adopt(const std::string& journal_path) {
  std::string base = journal_path.substr(0, journal_path.size() - kJournalSuffix.size());
  std::string data = base + std::string(kDataSuffix);
  int fd = ::open(data.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return ioError(errno, "opening staging file " + data);
  return std::unique_ptr<StagingFile>(new StagingFile(base, fd));
}

Status StagingFile::write(uint64_t offset, ByteSpan bytes) {
  return writeAll(fd_, bytes.data(), bytes.size(), offset, data_path_);
}

Status StagingFile::reserve(uint64_t offset, uint64_t length) {
  if (length == 0) return ok();
  int rc = 0;
  do {
    rc = ::fallocate(fd_, 0, static_cast<off_t>(offset), static_cast<off_t>(length));
  } while (rc != 0 && errno == EINTR);
  // A filesystem without fallocate keeps the old behaviour (the write itself reports ENOSPC).
  if (rc != 0 && errno != EOPNOTSUPP) return ioError(errno, "reserving staging file " + data_path_);
  return ok();
}

Status StagingFile::release(uint64_t offset, uint64_t length) {
  if (length == 0) return ok();
  int rc = 0;
  do {
    rc = ::fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset),
                     static_cast<off_t>(length));
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) return ioError(errno, "releasing space of staging file " + data_path_);
  return ok();
}

Status StagingFile::read(uint64_t offset, MutableByteSpan out) const {
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n =
        ::pread(fd_, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ioError(errno, "reading staging file " + data_path_);
    }
    if (n == 0) {
      return Error(ErrorKind::kCorrupt, "staging file " + data_path_ +
                                            " is shorter than its "
                                            "journal says");
    }
    done += static_cast<size_t>(n);
  }
  return ok();
}

Status StagingFile::writeJournal(const JournalRecord& record) {
  // Rewritten in place (one pwrite of a small record, then a trim), not through a temp file and
  // a rename: this runs on every write that grows a file, and a file creation per update cost
  // more than the write itself. A kill cannot tear a single small pwrite into the page cache;
  // a record left with an old tail after it still decodes, since decoding stops at "end".
  std::string text = encodeJournal(record);
  if (journal_fd_ < 0) {
    journal_fd_ = ::open(journal_path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (journal_fd_ < 0) return ioError(errno, "writing staging journal " + journal_path_);
  }
  S3C_RETURN_IF_ERROR(writeAll(journal_fd_, asBytes(text).data(), text.size(), 0, journal_path_));
  if (text.size() < journal_size_ &&
      ::ftruncate(journal_fd_, static_cast<off_t>(text.size())) != 0) {
    return ioError(errno, "trimming staging journal " + journal_path_);
  }
  journal_size_ = text.size();
  return ok();
}

Result<JournalRecord> StagingFile::readJournal() const {
  int fd = ::open(journal_path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ioError(errno, "reading staging journal " + journal_path_);
  std::string text;
  char buffer[4096];
  ssize_t n = 0;
  while ((n = ::read(fd, buffer, sizeof(buffer))) > 0)
    text.append(buffer, static_cast<size_t>(n));
  ::close(fd);
  return decodeJournal(text);
}

void StagingFile::dropJournal() {
  if (journal_fd_ >= 0) ::close(journal_fd_);
  journal_fd_ = -1;
  journal_size_ = 0;
  ::unlink(journal_path_.c_str());
}

void StagingFile::discard() {
  dropJournal();
  ::unlink(journal_path_.c_str());
  ::unlink(data_path_.c_str());
}

std::vector<std::string> StagingFile::listJournals(const std::string& dir) {
  std::vector<std::string> out;
  DIR* handle = ::opendir(dir.c_str());
  if (handle == nullptr) return out;
  while (dirent* entry = ::readdir(handle)) {
    std::string_view name(entry->d_name);
    if (name.starts_with("s3c-") && name.ends_with(kJournalSuffix)) {
      out.push_back(dir + "/" + std::string(name));
    }
  }
  ::closedir(handle);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace s3cryptfs::fs
