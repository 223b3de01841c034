// Small string helpers on std::string_view.
//
// Debian 12's abseil is built with its own absl::string_view (not an alias of
// std::string_view), so Comptoir uses abseil only for Status/StatusOr and
// keeps its string handling on the standard library and fmt.
#pragma once

#include <charconv>
#include <concepts>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/string_view.h"

namespace comptoir {

namespace strings_internal {
inline void Append(std::string* out, std::string_view s) { out->append(s); }
inline void Append(std::string* out, const std::string& s) { out->append(s); }
inline void Append(std::string* out, const char* s) { out->append(s); }
inline void Append(std::string* out, absl::string_view s) { out->append(s.data(), s.size()); }
inline void Append(std::string* out, char c) { out->push_back(c); }
inline void Append(std::string* out, bool b) { out->append(b ? "true" : "false"); }
template <std::integral T>
  requires(!std::same_as<T, char> && !std::same_as<T, bool>)
void Append(std::string* out, T v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, r.ptr);
}
inline void Append(std::string* out, double v) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, r.ptr);
}
}  // namespace strings_internal

// Concatenates strings, characters and numbers.
template <typename... Args>
std::string StrCat(const Args&... args) {
  std::string out;
  (strings_internal::Append(&out, args), ...);
  return out;
}
template <typename... Args>
void StrAppend(std::string* out, const Args&... args) {
  (strings_internal::Append(out, args), ...);
}

// Splits on `sep`; with `skip_empty`, empty pieces are dropped.
std::vector<std::string_view> Split(std::string_view s, char sep, bool skip_empty = false);
// Splits once: "a=b=c" -> {"a", "b=c"}; second is empty when `sep` is absent.
std::pair<std::string_view, std::string_view> SplitOnce(std::string_view s, char sep);
std::string Join(const std::vector<std::string>& parts, std::string_view sep);
std::string ToLower(std::string_view s);
std::string ToUpper(std::string_view s);
bool EqualsIgnoreCase(std::string_view a, std::string_view b);
bool StartsWithIgnoreCase(std::string_view s, std::string_view prefix);
// Removes `prefix` from the front of `*s` if present.
bool ConsumePrefix(std::string_view* s, std::string_view prefix);
std::string_view StripAsciiWhitespace(std::string_view s);

// Whole-string integer parsing (no sign for unsigned types, no spaces).
template <std::integral T>
bool ParseInt(std::string_view s, T* out) {
  if (s.empty()) return false;
  auto r = std::from_chars(s.data(), s.data() + s.size(), *out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}
// Byte equality without a libc call for short strings (two overlapping word
// loads); memcmp beyond 16 bytes. For hot loops over dictionary values.
[[gnu::always_inline]] inline bool SameBytes(std::string_view a, std::string_view b) {
  size_t n = a.size();
  if (n != b.size()) return false;
  auto load8 = [](const char* p) {
    uint64_t v;
    __builtin_memcpy(&v, p, 8);
    return v;
  };
  auto load4 = [](const char* p) {
    uint32_t v;
    __builtin_memcpy(&v, p, 4);
    return v;
  };
  if (n >= 8) {
    if (n > 16) return __builtin_memcmp(a.data(), b.data(), n) == 0;
    return load8(a.data()) == load8(b.data()) && load8(a.data() + n - 8) == load8(b.data() + n - 8);
  }
  if (n >= 4) return load4(a.data()) == load4(b.data()) && load4(a.data() + n - 4) == load4(b.data() + n - 4);
  for (size_t i = 0; i < n; ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}

// "true"/"false"/"1"/"0"/"yes"/"no" (any case).
bool ParseBool(std::string_view s, bool* out);

}  // namespace comptoir
