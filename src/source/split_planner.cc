#include "comptoir/source/split_planner.h"

namespace comptoir::source {

StatusOr<std::vector<Split>> PlanSplits(uint64_t rows, uint64_t null_rows, int num_splits,
                                        const KeyAtOffset& key_at) {
  if (num_splits < 1) {
    return absl::InvalidArgumentError(
        StrCat("the number of mappers must be at least 1, not ", num_splits));
  }
  std::vector<Split> out;
  uint64_t m = static_cast<uint64_t>(num_splits);
  if (rows < m) m = std::max<uint64_t>(rows, 1);
  uint64_t prev_offset = 0;
  std::optional<std::string> prev;
  for (uint64_t i = 1; i < m; ++i) {
    uint64_t offset = i * rows / m;
    ASSIGN_OR_RETURN(std::string key, key_at(offset));
    if (prev && key == *prev) continue;  // a repeated value: merge with the previous split
    Split s;
    s.lower = prev;
    s.upper = key;
    s.estimated_rows = offset - prev_offset;
    out.push_back(std::move(s));
    prev = std::move(key);
    prev_offset = offset;
  }
  Split last;
  last.lower = prev;
  last.estimated_rows = rows - prev_offset;
  out.push_back(std::move(last));
  out.front().include_nulls = true;
  out.front().estimated_rows += null_rows;
  for (size_t i = 0; i < out.size(); ++i) out[i].index = static_cast<int>(i);
  return out;
}

std::string SplitCondition(const Split& split, const std::string& column,
                           const std::function<std::string(const std::string&)>& literal) {
  std::string range;
  if (split.lower) range = StrCat(column, " >= ", literal(*split.lower));
  if (split.upper) {
    StrAppend(&range, range.empty() ? "" : " AND ", column, " < ", literal(*split.upper));
  }
  if (!split.include_nulls) return range.empty() ? "1=1" : range;
  if (range.empty()) return "1=1";
  return StrCat("(", column, " IS NULL OR (", range, "))");
}

}  // namespace comptoir::source
