#pragma once

// The one place spdlog is visible. Never log key material, passphrases, tokens, plaintext
// file content or plaintext names of encrypted volumes.
#include <functional>
#include <string>
#include <string_view>

#include <spdlog/spdlog.h>

namespace s3cryptfs::log {

enum class Level { kTrace, kDebug, kInfo, kWarn, kError, kOff };

// Parses "trace|debug|info|warn|error|off"; false for anything else.
bool parseLevel(const std::string& text, Level& out);
void setLevel(Level level);
// Sends log lines to stderr (default) or to a file (for a daemon in the background).
void toStderr();
bool toFile(const std::string& path);
// Writes out buffered lines (before a process ends with _exit, which skips destructors).
void flush();
// Writes out buffered lines every `seconds` (a daemon's log file; warnings flush at once).
void flushEvery(int seconds);
// Sends each formatted log line to `callback` instead (tests that check what gets logged, or a
// host that forwards log lines). Lines are passed one at a time, under the sink's lock.
void toCallback(std::function<void(std::string_view line)> callback);

template <class... Args>
void trace(spdlog::format_string_t<Args...> fmt, Args&&... args) {
  spdlog::trace(fmt, std::forward<Args>(args)...);
}
template <class... Args>
void debug(spdlog::format_string_t<Args...> fmt, Args&&... args) {
  spdlog::debug(fmt, std::forward<Args>(args)...);
}
template <class... Args>
void info(spdlog::format_string_t<Args...> fmt, Args&&... args) {
  spdlog::info(fmt, std::forward<Args>(args)...);
}
template <class... Args>
void warn(spdlog::format_string_t<Args...> fmt, Args&&... args) {
  spdlog::warn(fmt, std::forward<Args>(args)...);
}
template <class... Args>
void error(spdlog::format_string_t<Args...> fmt, Args&&... args) {
  spdlog::error(fmt, std::forward<Args>(args)...);
}

}  // namespace s3cryptfs::log
