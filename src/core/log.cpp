#include "s3cryptfs/core/log.h"

#include <mutex>

#include <spdlog/sinks/base_sink.h>
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

class CallbackSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit CallbackSink(std::function<void(std::string_view)> callback)
      : callback_(std::move(callback)) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t formatted;
    formatter_->format(msg, formatted);
    callback_(std::string_view(formatted.data(), formatted.size()));
  }
  void flush_() override {}

 private:
  std::function<void(std::string_view)> callback_;
};
}  // namespace

void flush() {
  if (auto logger = spdlog::default_logger()) logger->flush();
}

void flushEvery(int seconds) {
  spdlog::flush_every(std::chrono::seconds(seconds));
}

void toCallback(std::function<void(std::string_view line)> callback) {
  auto sink = std::make_shared<CallbackSink>(std::move(callback));
  install(std::make_shared<spdlog::logger>("s3cryptfs-callback", std::move(sink)));
}

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
