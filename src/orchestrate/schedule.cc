#include "comptoir/orchestrate/schedule.h"

#include <array>
#include <vector>

#include "comptoir/core/strings.h"
#include "fmt/format.h"

namespace comptoir::orchestrate {
namespace {

struct Field {
  std::string_view name;
  int lo, hi;
  std::vector<std::string_view> names;  // names[i] is value lo + i
};

const std::array<Field, 5> kFields = {{
    {"minute", 0, 59, {}},
    {"hour", 0, 23, {}},
    {"day of month", 1, 31, {}},
    {"month", 1, 12, {"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}},
    {"day of week", 0, 7, {"sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun"}},
}};

bool ParseValue(const Field& f, std::string_view text, int* out) {
  std::string lower = ToLower(text);
  for (size_t i = 0; i < f.names.size(); ++i) {
    if (lower == f.names[i]) {
      *out = f.lo + static_cast<int>(i);
      return true;
    }
  }
  int64_t v = 0;
  if (!ParseInt(text, &v) || v < f.lo || v > f.hi) return false;
  *out = static_cast<int>(v);
  return true;
}

// One field into the set of values it allows; `star` is true for a bare `*`.
Status ParseField(const Field& f, std::string_view text, std::vector<bool>* allowed, bool* star) {
  allowed->assign(static_cast<size_t>(f.hi + 1), false);
  *star = text == "*";
  auto bad = [&](std::string_view part, std::string_view why) {
    return absl::InvalidArgumentError(fmt::format("cron {} field \"{}\": {} ({}; allowed {}-{})", f.name,
                                                  std::string(text), std::string(why), std::string(part), f.lo, f.hi));
  };
  for (std::string_view part : Split(text, ',', false)) {
    std::string_view range = part;
    int step = 1;
    if (size_t slash = part.find('/'); slash != std::string_view::npos) {
      int64_t s = 0;
      if (!ParseInt(part.substr(slash + 1), &s) || s < 1 || s > f.hi) return bad(part, "step is not a positive number");
      step = static_cast<int>(s);
      range = part.substr(0, slash);
    }
    int a = f.lo, b = f.hi;
    if (range != "*") {
      size_t dash = range.find('-');
      if (!ParseValue(f, range.substr(0, dash), &a)) return bad(part, "not a value");
      b = a;
      if (dash != std::string_view::npos && !ParseValue(f, range.substr(dash + 1), &b)) return bad(part, "not a value");
      if (b < a) return bad(part, "range ends before it starts");
      if (dash == std::string_view::npos && step > 1) b = f.hi;  // "5/10": from 5, every 10
    }
    for (int v = a; v <= b; v += step) (*allowed)[static_cast<size_t>(v)] = true;
  }
  return absl::OkStatus();
}

}  // namespace

StatusOr<Schedule> Schedule::Every(std::chrono::milliseconds period) {
  if (period < std::chrono::seconds(1)) {
    return absl::InvalidArgumentError("every: the period must be at least 1s");
  }
  Schedule s;
  s.period_ = period;
  auto ms = period.count();
  s.text_ = ms % 3600000 == 0 ? fmt::format("every {}h", ms / 3600000)
            : ms % 60000 == 0 ? fmt::format("every {}m", ms / 60000)
            : ms % 1000 == 0  ? fmt::format("every {}s", ms / 1000)
                              : fmt::format("every {}ms", ms);
  return s;
}

StatusOr<Schedule> Schedule::Cron(std::string_view expression) {
  std::string expr(StripAsciiWhitespace(expression));
  static const std::array<std::pair<std::string_view, std::string_view>, 6> kShorthands = {{
      {"@hourly", "0 * * * *"},
      {"@daily", "0 0 * * *"},
      {"@midnight", "0 0 * * *"},
      {"@weekly", "0 0 * * 0"},
      {"@monthly", "0 0 1 * *"},
      {"@yearly", "0 0 1 1 *"},
  }};
  std::string fields_text = expr;
  for (const auto& [name, value] : kShorthands) {
    if (expr == name) fields_text = value;
  }
  std::vector<std::string_view> fields = Split(fields_text, ' ', true);
  if (fields.size() != 5) {
    return absl::InvalidArgumentError(fmt::format(
        "cron \"{}\": expected 5 fields (minute hour day-of-month month day-of-week), e.g. \"*/5 * * * *\"", expr));
  }
  Schedule s;
  s.text_ = "cron " + expr;
  std::vector<bool> allowed;
  bool star = false;
  RETURN_IF_ERROR(ParseField(kFields[0], fields[0], &allowed, &star));
  for (int v = 0; v < 60; ++v) s.minutes_[static_cast<size_t>(v)] = allowed[static_cast<size_t>(v)];
  RETURN_IF_ERROR(ParseField(kFields[1], fields[1], &allowed, &star));
  for (int v = 0; v < 24; ++v) s.hours_[static_cast<size_t>(v)] = allowed[static_cast<size_t>(v)];
  RETURN_IF_ERROR(ParseField(kFields[2], fields[2], &allowed, &s.any_day_));
  for (int v = 1; v <= 31; ++v) s.days_[static_cast<size_t>(v)] = allowed[static_cast<size_t>(v)];
  RETURN_IF_ERROR(ParseField(kFields[3], fields[3], &allowed, &star));
  for (int v = 1; v <= 12; ++v) s.months_[static_cast<size_t>(v)] = allowed[static_cast<size_t>(v)];
  RETURN_IF_ERROR(ParseField(kFields[4], fields[4], &allowed, &s.any_weekday_));
  for (int v = 0; v <= 7; ++v) {
    if (allowed[static_cast<size_t>(v)]) s.weekdays_[static_cast<size_t>(v % 7)] = true;
  }
  if (s.Next(Clock::now()) == Clock::time_point::max()) {
    return absl::InvalidArgumentError(fmt::format("cron \"{}\" never matches a real date", expr));
  }
  return s;
}

bool Schedule::DayMatches(const std::tm& tm) const {
  bool day = days_[static_cast<size_t>(tm.tm_mday)], weekday = weekdays_[static_cast<size_t>(tm.tm_wday)];
  return any_day_ || any_weekday_ ? day && weekday : day || weekday;
}

Schedule::Clock::time_point Schedule::Next(Clock::time_point t) const {
  if (period_.count() > 0) return t + period_;
  // The next whole minute after t, then forward in local time: skip whole
  // months, days and hours that cannot match before looking at minutes.
  std::time_t secs = Clock::to_time_t(t) / 60 * 60 + 60;
  std::tm tm{};
  localtime_r(&secs, &tm);
  for (int guard = 0; guard < 5 * 366 * 24 * 60 / 8; ++guard) {  // about five years of steps
    if (tm.tm_year > 1100) break;
    if (!months_[static_cast<size_t>(tm.tm_mon + 1)]) {
      tm.tm_mon += 1, tm.tm_mday = 1, tm.tm_hour = 0, tm.tm_min = 0;
    } else if (!DayMatches(tm)) {
      tm.tm_mday += 1, tm.tm_hour = 0, tm.tm_min = 0;
    } else if (!hours_[static_cast<size_t>(tm.tm_hour)]) {
      tm.tm_hour += 1, tm.tm_min = 0;
    } else if (!minutes_[static_cast<size_t>(tm.tm_min)]) {
      tm.tm_min += 1;
    } else {
      std::tm copy = tm;
      copy.tm_isdst = -1;
      return Clock::from_time_t(std::mktime(&copy));
    }
    tm.tm_sec = 0;
    tm.tm_isdst = -1;
    std::time_t norm = std::mktime(&tm);  // normalizes overflowed fields
    localtime_r(&norm, &tm);
  }
  return Clock::time_point::max();
}

}  // namespace comptoir::orchestrate
