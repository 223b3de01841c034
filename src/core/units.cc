#include "comptoir/core/units.h"

#include <initializer_list>
#include <utility>

namespace comptoir::core {

StatusOr<std::chrono::milliseconds> ParseDuration(const std::string& text) {
  std::string_view t = text;
  int64_t mult = 1000;
  if (t.ends_with("ms")) {
    mult = 1;
    t.remove_suffix(2);
  } else if (t.ends_with('s')) {
    t.remove_suffix(1);
  } else if (t.ends_with('m')) {
    mult = 60000;
    t.remove_suffix(1);
  } else if (t.ends_with('h')) {
    mult = 3600000;
    t.remove_suffix(1);
  } else if (t.ends_with('d')) {
    mult = 86400000;
    t.remove_suffix(1);
  }
  int64_t n = 0;
  if (!ParseInt(t, &n) || n < 0) {
    return absl::InvalidArgumentError(StrCat("duration \"", text, "\": use e.g. 500ms, 30s, 5m, 1h, 2d"));
  }
  return std::chrono::milliseconds(n * mult);
}

StatusOr<uint64_t> ParseSize(const std::string& text) {
  std::string t = ToLower(text);
  uint64_t mult = 1;
  for (auto [suffix, m] : std::initializer_list<std::pair<std::string_view, uint64_t>>{
           {"kib", 1ull << 10}, {"mib", 1ull << 20}, {"gib", 1ull << 30}, {"kb", 1ull << 10},
           {"mb", 1ull << 20}, {"gb", 1ull << 30}, {"k", 1ull << 10}, {"m", 1ull << 20},
           {"g", 1ull << 30}, {"b", 1}}) {
    if (t.ends_with(suffix)) {
      mult = m;
      t.resize(t.size() - suffix.size());
      break;
    }
  }
  int64_t n = 0;
  if (!ParseInt(t, &n) || n <= 0) {
    return absl::InvalidArgumentError(StrCat("size \"", text, "\": use e.g. 128MB, 64KiB or bytes"));
  }
  return static_cast<uint64_t>(n) * mult;
}

std::string FormatDuration(std::chrono::milliseconds d) {
  int64_t ms = d.count();
  if (ms == 0) return "0";
  if (ms % 3600000 == 0) return StrCat(ms / 3600000, "h");
  if (ms % 60000 == 0) return StrCat(ms / 60000, "m");
  if (ms % 1000 == 0) return StrCat(ms / 1000, "s");
  return StrCat(ms, "ms");
}

std::string FormatSize(uint64_t b) {
  if (b == 0) return "0";
  if (b % (1ull << 30) == 0) return StrCat(b >> 30, "GiB");
  if (b % (1ull << 20) == 0) return StrCat(b >> 20, "MiB");
  if (b % (1ull << 10) == 0) return StrCat(b >> 10, "KiB");
  return std::to_string(b);
}

}  // namespace comptoir::core
