// Exact decimal text handling: money never goes through a binary float.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "comptoir/core/status.h"

namespace comptoir::core {

// Rewrites decimal text with exactly `scale` digits after the point:
// "2765.9" -> "2765.90", "2871" -> "2871.00", "-0.5" -> "-0.50" (scale 2).
// Extra non-zero digits are an error (never silently rounded); "1e3" and
// other non-decimal text is InvalidArgument.
StatusOr<std::string> NormalizeDecimal(std::string_view text, int scale);

// Appends the fixed-point text of `units` / 10^scale ("123456", 2 -> "1234.56").
void AppendFixed(std::string* out, int64_t units, int scale);

// True if `text` already has the form [-]digits[.digits with exactly scale].
bool HasScale(std::string_view text, int scale);

// Money: decimal text ("2871", "2871.5", "2871.00", "-3.1") to integer cents;
// more than two decimals, more than 15 integer digits or anything else is
// InvalidArgument.
StatusOr<int64_t> ParseCents(std::string_view text);

}  // namespace comptoir::core
