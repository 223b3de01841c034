// Durations and sizes as users write them in flags and configuration files.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "comptoir/core/status.h"

namespace comptoir::core {

// "500ms", "30s", "5m", "2h", or plain seconds ("30").
StatusOr<std::chrono::milliseconds> ParseDuration(const std::string& text);
// "128MB", "64KiB", "1G", or plain bytes (powers of 1024).
StatusOr<uint64_t> ParseSize(const std::string& text);

}  // namespace comptoir::core
