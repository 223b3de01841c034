#include "comptoir/core/time.h"

#include <ctime>

#include "comptoir/core/strings.h"
#include "fmt/chrono.h"
#include "fmt/format.h"

namespace comptoir::core {
namespace {

namespace chr = std::chrono;

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// Two-digit (or n-digit) unsigned field at `p`; -1 when not all digits.
int Digits(std::string_view s, size_t pos, size_t n) {
  if (pos + n > s.size()) return -1;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

// "YYYY-MM-DD?HH:MM:SS" at the start of `t`, with `sep` between date and time.
int64_t ParseDateTimeMillis(std::string_view t, bool allow_t, bool allow_space) {
  if (t.size() < 19 || t[4] != '-' || t[7] != '-' || t[13] != ':' || t[16] != ':') return -1;
  if (!((allow_t && t[10] == 'T') || (allow_space && t[10] == ' '))) return -1;
  int y = Digits(t, 0, 4), mo = Digits(t, 5, 2), d = Digits(t, 8, 2);
  int hh = Digits(t, 11, 2), mi = Digits(t, 14, 2), ss = Digits(t, 17, 2);
  if (y < 0 || mo < 1 || d < 1 || hh < 0 || mi < 0 || ss < 0 || hh > 23 || mi > 59 || ss > 60) return -1;
  chr::year_month_day ymd{chr::year(y), chr::month(static_cast<unsigned>(mo)), chr::day(static_cast<unsigned>(d))};
  if (!ymd.ok()) return -1;
  int64_t days = chr::sys_days(ymd).time_since_epoch().count();
  return (days * 86400 + hh * 3600 + mi * 60 + ss) * 1000;
}

std::string Strftime(int64_t ms, const char* format, bool local) {
  std::time_t t = static_cast<std::time_t>(FloorDiv(ms, 1000));
  std::tm tm{};
  if (local) {
    localtime_r(&t, &tm);
  } else {
    gmtime_r(&t, &tm);
  }
  char buf[64];
  size_t n = std::strftime(buf, sizeof(buf), format, &tm);
  return std::string(buf, n);
}

}  // namespace

double NowSeconds() {
  return chr::duration<double>(chr::steady_clock::now().time_since_epoch()).count();
}

void AppendIsoMillis(int64_t ms, std::string* out) {
  int64_t frac = ((ms % 1000) + 1000) % 1000;
  int64_t secs = (ms - frac) / 1000;
  thread_local int64_t cached_secs = INT64_MIN;
  thread_local std::string cached;
  if (secs != cached_secs) {
    cached = fmt::format("{:%Y-%m-%dT%H:%M:%S}", chr::sys_seconds(chr::seconds(secs)));
    cached_secs = secs;
  }
  out->append(cached);
  char tail[5] = {'.', static_cast<char>('0' + frac / 100), static_cast<char>('0' + frac / 10 % 10),
                  static_cast<char>('0' + frac % 10), 'Z'};
  out->append(tail, 5);
}

std::string FormatIsoMillis(int64_t ms) {
  std::string out;
  AppendIsoMillis(ms, &out);
  return out;
}

std::string FormatIsoSeconds(int64_t ms) { return Strftime(ms, "%Y-%m-%dT%H:%M:%SZ", false); }

std::string FormatLogTime(int64_t ms) {
  return fmt::format("{},{:03d}", Strftime(ms, "%Y-%m-%d %H:%M:%S", false), ((ms % 1000) + 1000) % 1000);
}

std::string FormatLocalMinute(int64_t ms) { return Strftime(ms, "%Y-%m-%d %H:%M", true); }
std::string FormatLocalClock(int64_t ms) { return Strftime(ms, "%H:%M:%S", true); }

std::string FormatAgo(int64_t ms) {
  double s = static_cast<double>(UnixMillis() - ms) / 1000.0;
  if (s < 120) return fmt::format("{:.0f} s ago", s);
  if (s < 7200) return fmt::format("{:.0f} min ago", s / 60);
  if (s < 172800) return fmt::format("{:.1f} h ago", s / 3600);
  return fmt::format("{:.0f} days ago", s / 86400);
}

int64_t ParseLogTime(std::string_view line) {
  if (line.size() < 23 || (line[19] != ',' && line[19] != '.')) return -1;
  int64_t ms = ParseDateTimeMillis(line, false, true);
  int frac = Digits(line, 20, 3);
  if (ms < 0 || frac < 0) return -1;
  return ms + frac;
}

std::string_view LogLineLevel(std::string_view line) {
  if (ParseLogTime(line) < 0 || line.size() < 25 || line[23] != ' ') return {};
  std::string_view rest = line.substr(24);
  return rest.substr(0, rest.find_first_of(" \n"));
}

int64_t ParseIsoTime(std::string_view text, bool require_zone) {
  int64_t ms = ParseDateTimeMillis(text, true, !require_zone);
  if (ms < 0) return -1;
  std::string_view rest = text.substr(19);
  if (rest.starts_with('.')) {
    size_t n = 1;
    while (n < rest.size() && rest[n] >= '0' && rest[n] <= '9') ++n;
    if (n == 1) return -1;
    std::string_view digits = rest.substr(1, n - 1);
    int frac = 0;
    for (size_t i = 0; i < 3; ++i) frac = frac * 10 + (i < digits.size() ? digits[i] - '0' : 0);
    ms += frac;
    rest.remove_prefix(n);
  }
  if (rest == "Z") return ms;
  if (rest.empty() && !require_zone) return ms;
  return -1;
}

int32_t DayOf(int year, unsigned month, unsigned day) {
  return static_cast<int32_t>(
      chr::sys_days(chr::year_month_day(chr::year(year), chr::month(month), chr::day(day))).time_since_epoch().count());
}

std::string FormatDay(int32_t day) {
  chr::year_month_day ymd{chr::sys_days(chr::days(day))};
  return fmt::format("{:04d}-{:02d}-{:02d}", static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                     static_cast<unsigned>(ymd.day()));
}

bool ParseDateText(std::string_view t, int32_t* day) {
  int y = 0, m = 0, d = 0;
  if (t.size() >= 10 && t[4] == '-' && t[7] == '-') {
    y = Digits(t, 0, 4), m = Digits(t, 5, 2), d = Digits(t, 8, 2);
  } else {
    std::string_view date = t.substr(0, t.find(' '));
    std::vector<std::string_view> p = Split(date, '/');
    if (p.size() != 3 || !ParseInt(p[0], &m) || !ParseInt(p[1], &d) || !ParseInt(p[2], &y)) return false;
  }
  if (y < 0 || m < 1 || d < 1) return false;
  chr::year_month_day ymd{chr::year(y), chr::month(static_cast<unsigned>(m)), chr::day(static_cast<unsigned>(d))};
  if (!ymd.ok()) return false;
  *day = static_cast<int32_t>(chr::sys_days(ymd).time_since_epoch().count());
  return true;
}

StatusOr<int32_t> ParseDay(std::string_view text) {
  int32_t day = 0;
  if (text.size() != 10 || text[4] != '-' || !ParseDateText(text, &day)) {
    return absl::InvalidArgumentError(StrCat("'", text, "' is not a date (expected YYYY-MM-DD)"));
  }
  return day;
}

}  // namespace comptoir::core
