#include "comptoir/core/log.h"

#include <chrono>
#include <cstdio>
#include <mutex>

#include "comptoir/core/strings.h"
#include "comptoir/core/time.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"
#include "spdlog/sinks/base_sink.h"

namespace comptoir::core {
namespace {

// Writes each record to stderr, either as "comptoir: level: msg" or as one
// JSON object per line. A dedicated sink (instead of a pattern) keeps JSON
// escaping correct for any message text.
class StderrSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit StderrSink(LogFormat format) : format_(format) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    std::string_view text(msg.payload.data(), msg.payload.size());
    auto lv = spdlog::level::to_string_view(msg.level);
    std::string_view level(lv.data(), lv.size());
    std::string line;
    if (format_ == LogFormat::kJson) {
      int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(msg.time.time_since_epoch()).count();
      nlohmann::json j = {
          {"ts", FormatIsoMillis(ms)},
          {"level", std::string(level)},
          {"msg", std::string(text)}};
      line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    } else if (msg.level == spdlog::level::info) {
      line = std::string(text);
    } else {
      line = StrCat("comptoir: ", level, ": ", text);
    }
    line.push_back('\n');
    std::fwrite(line.data(), 1, line.size(), stderr);
  }
  void flush_() override { std::fflush(stderr); }

 private:
  LogFormat format_;
};

}  // namespace

StatusOr<LogFormat> ParseLogFormat(std::string_view s) {
  if (s == "human") return LogFormat::kHuman;
  if (s == "json") return LogFormat::kJson;
  return absl::InvalidArgumentError(
      StrCat("unknown log format \"", s, "\"; use human or json"));
}

StatusOr<spdlog::level::level_enum> ParseLogLevel(std::string_view s) {
  std::string l = ToLower(s);
  if (l == "warning") l = "warn";
  auto level = spdlog::level::from_str(l);
  if (level == spdlog::level::off && l != "off") {
    return absl::InvalidArgumentError(
        StrCat("unknown log level \"", s, "\"; use trace, debug, info, warn, error or off"));
  }
  return level;
}

void InitLogging(LogFormat format, spdlog::level::level_enum level) {
  auto logger = std::make_shared<spdlog::logger>("comptoir", std::make_shared<StderrSink>(format));
  logger->set_level(level);
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(std::move(logger));
}

}  // namespace comptoir::core
