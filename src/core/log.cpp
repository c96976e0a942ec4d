#include "s3cryptfs/core/log.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

namespace s3cryptfs::log {

bool parseLevel(const std::string& text, Level& out) {
  if (text == "trace")
    out = Level::kTrace;
  else if (text == "debug")
    out = Level::kDebug;
  else if (text == "info")
    out = Level::kInfo;
  else if (text == "warn" || text == "warning")
    out = Level::kWarn;
  else if (text == "error")
    out = Level::kError;
  else if (text == "off")
    out = Level::kOff;
  else
    return false;
  return true;
}

void setLevel(Level level) {
  switch (level) {
    case Level::kTrace:
      spdlog::set_level(spdlog::level::trace);
      break;
    case Level::kDebug:
      spdlog::set_level(spdlog::level::debug);
      break;
    case Level::kInfo:
      spdlog::set_level(spdlog::level::info);
      break;
    case Level::kWarn:
      spdlog::set_level(spdlog::level::warn);
      break;
    case Level::kError:
      spdlog::set_level(spdlog::level::err);
      break;
    case Level::kOff:
      spdlog::set_level(spdlog::level::off);
      break;
  }
}

namespace {
void install(std::shared_ptr<spdlog::logger> logger) {
  auto level = spdlog::get_level();
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [%t] %v");
  logger->set_level(level);
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(std::move(logger));
}
}  // namespace

void toStderr() {
  install(spdlog::stderr_logger_mt("s3cryptfs-stderr"));
}

bool toFile(const std::string& path) {
  try {
    install(spdlog::basic_logger_mt("s3cryptfs-file", path));
    return true;
  } catch (const spdlog::spdlog_ex&) {
    return false;
  }
}

}  // namespace s3cryptfs::log
