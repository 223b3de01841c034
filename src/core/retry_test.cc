#include "comptoir/core/retry.h"

#include <gtest/gtest.h>

namespace comptoir::core {
namespace {

RetryOptions Fast() {
  RetryOptions o;
  o.initial_backoff = std::chrono::milliseconds(1);
  o.max_backoff = std::chrono::milliseconds(4);
  o.deadline = std::chrono::milliseconds(2000);
  return o;
}

TEST(RetryTest, RetriesTransientErrorsUntilSuccess) {
  int calls = 0;
  Status s = Retry(Fast(), [&] {
    return ++calls < 4 ? absl::UnavailableError("DataNode down") : absl::OkStatus();
  });
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(calls, 4);
}

TEST(RetryTest, PermanentErrorsAreNotRetried) {
  int calls = 0;
  Status s = Retry(Fast(), [&] {
    ++calls;
    return absl::NotFoundError("/x does not exist");
  });
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(calls, 1);
}

TEST(RetryTest, GivesUpAtMaxAttemptsAndSaysSo) {
  RetryOptions o = Fast();
  o.max_attempts = 3;
  int calls = 0;
  Status s = Retry(o, [&] {
    ++calls;
    return absl::DeadlineExceededError("timeout");
  });
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(s.message(), "timeout (gave up after 3 attempts)");
}

TEST(RetryTest, DeadlineBoundsTheTotalTime) {
  RetryOptions o = Fast();
  o.max_backoff = std::chrono::milliseconds(20);
  o.deadline = std::chrono::milliseconds(100);
  auto t0 = std::chrono::steady_clock::now();
  Status s = Retry(o, [] { return absl::UnavailableError("down"); });
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_LT(took, std::chrono::milliseconds(1000));  // wide margin
}

}  // namespace
}  // namespace comptoir::core
