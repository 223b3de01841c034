// When a scheduled component of `comptoir up` runs.
//
//   every = "5m"            at start-up, then every 5 minutes (counted from the
//                           previous start; a run still going is not doubled)
//   cron  = "*/15 6-20 * * 1-5"
//                           classic five-field cron in local time: minute, hour,
//                           day of month, month (1-12 or jan-dec), day of week
//                           (0-7 or sun-sat, 0 and 7 are Sunday). Each field is
//                           `*`, a value, a range `a-b`, a step `*/n` or `a-b/n`,
//                           or a comma list of those. As in Vixie cron, when both
//                           day fields are restricted a day matching either runs.
//                           Shorthands: @hourly @daily @weekly @monthly @yearly.
#pragma once

#include <bitset>
#include <chrono>
#include <ctime>
#include <string>
#include <string_view>

#include "comptoir/core/status.h"

namespace comptoir::orchestrate {

class Schedule {
 public:
  using Clock = std::chrono::system_clock;

  static StatusOr<Schedule> Every(std::chrono::milliseconds period);
  static StatusOr<Schedule> Cron(std::string_view expression);

  // Whether the component also runs once as soon as `up` starts it.
  bool RunsAtStart() const { return period_.count() > 0; }
  // The first run time after `t` (for `every`: t + period). Clock::time_point::max()
  // when the expression never matches again.
  Clock::time_point Next(Clock::time_point t) const;
  // "every 5m", "cron */15 6-20 * * 1-5".
  const std::string& Describe() const { return text_; }

 private:
  bool DayMatches(const std::tm& tm) const;

  std::chrono::milliseconds period_{0};
  std::string text_;
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_;    // 1..31
  std::bitset<13> months_;  // 1..12
  std::bitset<7> weekdays_;  // 0 = Sunday
  bool any_day_ = true, any_weekday_ = true;
};

}  // namespace comptoir::orchestrate
