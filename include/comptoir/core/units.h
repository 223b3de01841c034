// Durations and sizes as users write them in flags and configuration files.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "comptoir/core/status.h"

namespace comptoir::core {

// "500ms", "30s", "5m", "2h", "2d", or plain seconds ("30").
StatusOr<std::chrono::milliseconds> ParseDuration(const std::string& text);
// "128MB", "64KiB", "1G", or plain bytes (powers of 1024).
StatusOr<uint64_t> ParseSize(const std::string& text);
// The shortest text that parses back exactly: "0", "250ms", "30s", "5m", "2h".
std::string FormatDuration(std::chrono::milliseconds d);
// The same for sizes: "128MiB", "64KiB", "1GiB", or plain bytes.
std::string FormatSize(uint64_t bytes);

}  // namespace comptoir::core
