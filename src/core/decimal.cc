#include "comptoir/core/decimal.h"

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

}  // namespace comptoir::core
