// Process-wide logging on top of spdlog.
//
// Messages go to stderr: human-readable by default ("comptoir: warning: ..."),
// or one JSON object per line with --log-format json
// ({"ts":"2026-11-27T21:48:14.123Z","level":"info","msg":"..."}).
// Secrets must never be passed to the logger; callers redact URIs with
// Uri::Redacted().
#pragma once

#include <string_view>

#include "comptoir/core/status.h"
#include "spdlog/spdlog.h"

namespace comptoir::core {

enum class LogFormat { kHuman, kJson };

// Parses "human" / "json".
StatusOr<LogFormat> ParseLogFormat(std::string_view s);
// Parses "trace", "debug", "info", "warn", "error", "off".
StatusOr<spdlog::level::level_enum> ParseLogLevel(std::string_view s);

// Installs the default logger. Safe to call again (e.g. after flags are
// parsed); not thread-safe against concurrent logging while it runs.
void InitLogging(LogFormat format, spdlog::level::level_enum level);

}  // namespace comptoir::core
