#include "comptoir/core/retry.h"

#include <random>
#include <thread>

#include "comptoir/core/signals.h"

namespace comptoir::core {

Status Retry(const RetryOptions& options, const std::function<Status()>& op) {
  auto start = std::chrono::steady_clock::now();
  auto end = start + options.deadline;
  std::mt19937_64 rng(std::random_device{}());
  auto backoff = options.initial_backoff;
  for (int attempt = 1;; ++attempt) {
    Status s = op();
    if (s.ok() || !IsRetryable(s)) return s;
    bool out_of_attempts = options.max_attempts > 0 && attempt >= options.max_attempts;
    // Full jitter: sleep a uniform random time in [0, backoff].
    std::uniform_int_distribution<int64_t> jitter(0, backoff.count());
    auto sleep = std::chrono::milliseconds(jitter(rng));
    if (out_of_attempts || std::chrono::steady_clock::now() + sleep >= end || Cancelled()) {
      return Status(s.code(), StrCat(s.message(), " (gave up after ", attempt, " attempt",
                                     attempt == 1 ? "" : "s", ")"));
    }
    std::this_thread::sleep_for(sleep);
    backoff = std::min(options.max_backoff, backoff * 2);
  }
}

}  // namespace comptoir::core
