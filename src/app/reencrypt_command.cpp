// `s3cryptfs reencrypt SOURCE|MOUNTPOINT`: runs volume::reencryptVolume with a progress record
// (so a rerun continues where a stopped one ended) and a progress display.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <unistd.h>

#include "s3cryptfs/volume/reencrypt.h"

#include "admin_session.h"
#include "key_commands.h"

namespace s3cryptfs::app {
namespace {

// The source of the s3cryptfs mount at `path` (its fsname in /proc/self/mountinfo), or "".
std::string sourceOfMountPoint(const std::string& path) {
  std::ifstream mountinfo("/proc/self/mountinfo");
  std::string line;
  while (std::getline(mountinfo, line)) {
    // ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS ... - FSTYPE SOURCE SUPER_OPTIONS
    std::istringstream fields(line);
    std::string id, parent, dev, root, mountpoint;
    fields >> id >> parent >> dev >> root >> mountpoint;
    size_t dash = line.find(" - ");
    if (mountpoint != path || dash == std::string::npos) continue;
    std::istringstream tail(line.substr(dash + 3));
    std::string type, source;
    tail >> type >> source;
    if (type == "fuse.s3cryptfs" || type == "fuse") return source;
  }
  return "";
}

// The progress record: "<state>/reencrypt/<volume id>": "version N" and "after KEY" lines. The
// key is an object key (ciphertext names, except on --plaintext-names volumes).
std::string progressPath(const volume::Volume& volume) {
  std::string base = userStateDir();
  if (base.empty()) base = "/tmp/s3cryptfs-" + std::to_string(geteuid());
  (void)makeDirs(base + "/reencrypt");
  return base + "/reencrypt/" + toHex(volume.descriptor().volume_id);
}

std::string resumePoint(const std::string& path, uint32_t version) {
  std::ifstream in(path);
  std::string word;
  uint32_t recorded = 0;
  std::string after;
  while (in >> word) {
    if (word == "version") in >> recorded;
    if (word == "after") std::getline(in >> std::ws, after);
  }
  return recorded == version ? after : "";
}

void saveProgress(const std::string& path, uint32_t version, const std::string& last_key) {
  const std::string temp = path + ".tmp";
  {
    std::ofstream out(temp, std::ios::trunc);
    out << "version " << version << "\nafter " << last_key << "\n";
  }
  std::rename(temp.c_str(), path.c_str());
}

std::string formatDuration(double seconds) {
  long s = static_cast<long>(seconds);
  char text[32];
  if (s >= 3600) {
    std::snprintf(text, sizeof text, "%ldh%02ldm", s / 3600, (s / 60) % 60);
  } else {
    std::snprintf(text, sizeof text, "%ldm%02lds", s / 60, s % 60);
  }
  return text;
}

// A bar with an ETA on a terminal; otherwise a plain line at most every 5 s.
class ProgressDisplay {
 public:
  ProgressDisplay() : terminal_(isatty(STDERR_FILENO) == 1), start_(Clock::now()) {}

  void update(const volume::ReencryptProgress& p, bool final) {
    auto now = Clock::now();
    if (!final &&
        now - last_ < (terminal_ ? std::chrono::milliseconds(200) : std::chrono::seconds(5))) {
      return;
    }
    last_ = now;
    const double fraction =
        p.total_bytes > 0 ? static_cast<double>(p.bytes_done) / static_cast<double>(p.total_bytes)
        : p.total_objects > 0
            ? static_cast<double>(p.objects_done) / static_cast<double>(p.total_objects)
            : 1.0;
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    const std::string eta =
        fraction > 0.001 && !final ? formatDuration(elapsed / fraction - elapsed) : "-";
    char line[160];
    if (terminal_) {
      const int width = 30;
      const int filled = static_cast<int>(fraction * width);
      std::snprintf(line, sizeof line, "\r[%-*s] %3d%% %llu/%llu objects, %llu rewritten, ETA %s ",
                    width, std::string(static_cast<size_t>(filled), '#').c_str(),
                    static_cast<int>(fraction * 100),
                    static_cast<unsigned long long>(p.objects_done),
                    static_cast<unsigned long long>(p.total_objects),
                    static_cast<unsigned long long>(p.objects_rewritten), eta.c_str());
      std::cerr << line << (final ? "\n" : "") << std::flush;
    } else {
      std::snprintf(line, sizeof line, "reencrypt: %d%% %llu/%llu objects, %llu rewritten, ETA %s",
                    static_cast<int>(fraction * 100),
                    static_cast<unsigned long long>(p.objects_done),
                    static_cast<unsigned long long>(p.total_objects),
                    static_cast<unsigned long long>(p.objects_rewritten), eta.c_str());
      std::cerr << line << "\n" << std::flush;
    }
  }

 private:
  using Clock = std::chrono::steady_clock;
  bool terminal_;
  Clock::time_point start_;
  Clock::time_point last_{};
};

}  // namespace

ExitCode runReencrypt(const KeyArgs& args) {
  KeyArgs resolved = args;
  if (!args.common.source.empty() && args.common.source.front() == '/') {
    std::string source = sourceOfMountPoint(absolutePath(args.common.source));
    if (source.empty()) {
      printError(args.common.source +
                 " is not an s3cryptfs mount point (give the mount point "
                 "or the source URI)");
      return ExitCode::kUsage;
    }
    resolved.common.source = source;
  }
  std::optional<AdminSession> session;
  if (auto code = openAdminSession(resolved.common, true, session); code != ExitCode::kOk) {
    return code;
  }
  const volume::Volume& volume = *session->volume;
  const uint32_t newest = volume.descriptor().newest().version;
  const std::string record = progressPath(volume);
  volume::ReencryptOptions options;
  options.resume_after = resumePoint(record, newest);
  options.part_bytes = session->config.upload.part_bytes;
  if (!options.resume_after.empty()) {
    std::cerr << "reencrypt: continuing after the last object done by a previous run\n";
  }
  ProgressDisplay display;
  // The record at most once a second: a rerun checks (and skips) what was done after it.
  auto saved = std::chrono::steady_clock::time_point{};
  options.on_object = [&](const volume::ReencryptProgress& progress) {
    if (auto now = std::chrono::steady_clock::now(); now - saved >= std::chrono::seconds(1)) {
      saveProgress(record, newest, progress.last_key);
      saved = now;
    }
    display.update(progress, false);
    return true;
  };
  auto done = volume::reencryptVolume(volume, options);
  if (!done) {
    std::cerr << "\n";
    printError(done.error().message() + "; run the command again to continue");
    return done.error().kind() == ErrorKind::kTransient ? ExitCode::kStoreUnreachable
                                                        : ExitCode::kError;
  }
  display.update(*done, true);
  // Done: a rerun starts over (objects already current cost one HEAD each).
  std::remove(record.c_str());
  std::cout << "reencrypt: " << done->objects_rewritten << " objects moved to key version "
            << newest << ", " << done->objects_done << " looked at, " << done->foreign
            << " not ours left alone, " << done->conflicts
            << " changed meanwhile (run again for those)\n";
  return done->conflicts == 0 ? ExitCode::kOk : ExitCode::kConflict;
}

}  // namespace s3cryptfs::app
