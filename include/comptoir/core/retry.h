// The one retry layer: exponential backoff with full jitter, bounded by a
// deadline. Only errors IsRetryable() calls transient are retried; the last
// error is returned, annotated with the number of attempts.
#pragma once

#include <chrono>
#include <functional>

#include "comptoir/core/status.h"

namespace comptoir::core {

struct RetryOptions {
  std::chrono::milliseconds initial_backoff{100};
  std::chrono::milliseconds max_backoff{5000};
  std::chrono::milliseconds deadline{60000};  // total time budget, first attempt included
  int max_attempts = 0;                       // 0 = limited by the deadline only
};

// Runs `op` until it succeeds, fails permanently, or the budget runs out.
Status Retry(const RetryOptions& options, const std::function<Status()>& op);

}  // namespace comptoir::core
