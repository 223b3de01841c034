#include "comptoir/core/decimal.h"

#include <algorithm>

namespace comptoir::core {

StatusOr<std::string> NormalizeDecimal(std::string_view text, int scale) {
  std::string_view t = text;
  std::string out;
  if (!t.empty() && (t[0] == '-' || t[0] == '+')) {
    if (t[0] == '-') out.push_back('-');
    t.remove_prefix(1);
  }
  size_t dot = t.find('.');
  std::string_view ip = t.substr(0, dot);
  std::string_view fp = dot == std::string_view::npos ? std::string_view() : t.substr(dot + 1);
  auto digits = [](std::string_view s) {
    for (char c : s) {
      if (c < '0' || c > '9') return false;
    }
    return true;
  };
  if ((ip.empty() && fp.empty()) || !digits(ip) || !digits(fp)) {
    return absl::InvalidArgumentError(StrCat("\"", text, "\" is not a decimal number"));
  }
  while (ip.size() > 1 && ip[0] == '0') ip.remove_prefix(1);
  out.append(ip.empty() ? "0" : ip);
  size_t s = static_cast<size_t>(scale);
  if (fp.size() > s) {
    for (char c : fp.substr(s)) {
      if (c != '0') {
        return absl::InvalidArgumentError(
            StrCat("\"", text, "\" has more than ", scale, " digits after the point"));
      }
    }
    fp = fp.substr(0, s);
  }
  if (s > 0) {
    out.push_back('.');
    out.append(fp);
    out.append(s - fp.size(), '0');
  }
  if (out == "-0" || (out.starts_with("-0.") && out.find_first_not_of("0.", 1) == std::string::npos)) {
    out.erase(0, 1);  // no negative zero
  }
  return out;
}

void AppendFixed(std::string* out, int64_t units, int scale) {
  if (units < 0) {
    out->push_back('-');
    units = -units;
  }
  std::string digits = std::to_string(units);
  size_t s = static_cast<size_t>(scale);
  if (digits.size() <= s) digits.insert(0, s + 1 - digits.size(), '0');
  out->append(digits, 0, digits.size() - s);
  if (s > 0) {
    out->push_back('.');
    out->append(digits, digits.size() - s, s);
  }
}

bool HasScale(std::string_view text, int scale) {
  size_t dot = text.find('.');
  if (scale == 0) return dot == std::string_view::npos;
  return dot != std::string_view::npos && text.size() - dot - 1 == static_cast<size_t>(scale);
}

StatusOr<int64_t> ParseCents(std::string_view text) {
  // Fast path: [-]digits[.d[d]], the form every producer writes.
  std::string_view t = text;
  bool neg = ConsumePrefix(&t, "-");
  size_t dot = t.find('.');
  std::string_view whole = t.substr(0, dot);
  std::string_view frac = dot == std::string_view::npos ? std::string_view() : t.substr(dot + 1);
  auto all_digits = [](std::string_view d) {
    return std::all_of(d.begin(), d.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (!whole.empty() && whole.size() <= 15 && frac.size() <= 2 &&
      (dot == std::string_view::npos || !frac.empty()) && all_digits(whole) && all_digits(frac)) {
    int64_t v = 0;
    for (char c : whole) v = v * 10 + (c - '0');
    for (size_t i = 0; i < 2; ++i) v = v * 10 + (i < frac.size() ? frac[i] - '0' : 0);
    return neg ? -v : v;
  }
  StatusOr<std::string> fixed = NormalizeDecimal(text, 2);
  if (!fixed.ok()) return fixed.status();
  bool fixed_neg = !fixed->empty() && fixed->front() == '-';
  std::string digits;
  for (char c : *fixed) {
    if (c >= '0' && c <= '9') digits.push_back(c);
  }
  int64_t v = 0;
  if (digits.size() > 17 || !ParseInt(digits, &v)) {
    return absl::InvalidArgumentError(StrCat("\"", text, "\" is out of range"));
  }
  return fixed_neg ? -v : v;
}

}  // namespace comptoir::core
