// Split planning balanced by row count.
//
// Sqoop cuts [MIN(key), MAX(key)] into equal-width ranges, so a skewed key
// (most rows in a small part of the range) gives one huge split and many
// empty ones. Comptoir cuts at the key's quantiles instead: boundary i is the
// key at sorted position floor(i * rows / m), read with the source's index
// (ORDER BY key LIMIT 1 OFFSET n). Each split then holds rows / m rows, give or
// take the rows sharing one boundary value. Works for any ordered type:
// integers, decimals, dates, datetimes and strings.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "comptoir/core/status.h"

namespace comptoir::source {

struct Split {
  int index = 0;
  std::optional<std::string> lower;  // inclusive; none for the first split
  std::optional<std::string> upper;  // exclusive; none for the last split
  bool include_nulls = false;        // rows whose key is NULL (first split only)
  uint64_t estimated_rows = 0;
};

// Returns the key at 0-based position `offset` among non-NULL keys in order.
using KeyAtOffset = std::function<StatusOr<std::string>(uint64_t offset)>;

// Plans at most `num_splits` splits over `rows` non-NULL keys plus
// `null_rows` NULL keys. Equal boundaries are merged, so fewer splits may come
// back; an empty table gives one split.
StatusOr<std::vector<Split>> PlanSplits(uint64_t rows, uint64_t null_rows, int num_splits,
                                        const KeyAtOffset& key_at);

// The SQL condition selecting one split's rows. `column` is the quoted column
// and `literal` turns a boundary value into a SQL literal.
std::string SplitCondition(const Split& split, const std::string& column,
                           const std::function<std::string(const std::string&)>& literal);

}  // namespace comptoir::source
