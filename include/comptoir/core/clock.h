// Wall-clock time as the platform stores it.
#pragma once

#include <chrono>
#include <cstdint>

namespace comptoir::core {

// Milliseconds since the Unix epoch (UTC), from the system clock.
inline int64_t UnixMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace comptoir::core
