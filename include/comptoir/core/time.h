// Time as the platform stores, writes and reads it: the one home of every
// time format.
//
// Instants are int64 milliseconds since the Unix epoch (UTC); dates are int32
// day numbers since 1970-01-01. The text forms:
//   ISO 8601 / RFC 3339 UTC   "2026-11-27T21:48:14.123Z"  events, JSON logs, the API
//   log-line time             "2026-11-27 21:48:14,123"   app.log (Python logging's asctime)
//   date                      "2026-11-27"                 the sales dataset, API filters
// Formatting never fails; parsers return -1 (instants) or InvalidArgument
// (dates) for text that is not of their form, never a guess.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "comptoir/core/status.h"

namespace comptoir::core {

// Milliseconds since the Unix epoch (UTC), from the system clock.
inline int64_t UnixMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Seconds on a monotonic clock, for durations only.
double NowSeconds();

// "2026-11-27T21:48:14.123Z". The Append form caches the second's text per
// thread (consecutive events share it): the hot path of the event writer.
void AppendIsoMillis(int64_t ms, std::string* out);
std::string FormatIsoMillis(int64_t ms);
// "2026-11-27T21:48:14Z"
std::string FormatIsoSeconds(int64_t ms);
// "2026-11-27 21:48:14,123"
std::string FormatLogTime(int64_t ms);
// Local time for people: "2026-11-27 21:48" and "21:48:14".
std::string FormatLocalMinute(int64_t ms);
std::string FormatLocalClock(int64_t ms);
// "12 s ago", "4 min ago", "1.2 h ago", "3 days ago" (relative to now).
std::string FormatAgo(int64_t ms);

// A log line's leading time "YYYY-MM-DD HH:MM:SS,mmm" ('.' also accepted
// before the milliseconds); -1 when the line does not start with one.
int64_t ParseLogTime(std::string_view line);
// The level word after a log line's time ("2026-... ERROR msg" -> "ERROR");
// empty when the line has no time or no level.
std::string_view LogLineLevel(std::string_view line);
// "YYYY-MM-DDTHH:MM:SS[.fff][Z]" (a space may stand for 'T'; the zone, when
// present, must be Z); -1 otherwise. With `require_zone`, the Z is required
// (RFC 3339 UTC, as events carry it).
int64_t ParseIsoTime(std::string_view text, bool require_zone = false);

// Day numbers.
int32_t DayOf(int year, unsigned month, unsigned day);
std::string FormatDay(int32_t day);
// "YYYY-MM-DD"; InvalidArgument names the text.
StatusOr<int32_t> ParseDay(std::string_view text);
// A date as databases and the Sales Data Sample write it: "2003-01-06",
// "2003-01-06T00:00:00", "2003-01-06 00:00:00" (the time is ignored) or
// "2/24/2003 0:00" (month/day/year); false when it is none of these.
bool ParseDateText(std::string_view text, int32_t* day);

}  // namespace comptoir::core
