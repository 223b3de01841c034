// Data-quality rules: the [[quality.rule]] tables of comptoir.toml, checked
// as they are read (every error names the file, the line, the rule and the
// key), and the row checker an ingest pass runs on each record.
//
//   [[quality.rule]]
//   dataset = "/user/sqoop/sales"   # the dataset (target dir) it applies to
//   column  = "QUANTITYORDERED"
//   check   = "range"               # see Check
//   min     = 1
//   max     = 50
//   action  = "reject"              # warn | reject | fail (default warn)
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "comptoir/core/status.h"

namespace comptoir::lake {
class Storage;
}

namespace comptoir::quality {

// drift by distribution: the distinct values tracked per run, and the bucket
// of the rest.
inline constexpr size_t kMaxCategories = 1000;
inline constexpr std::string_view kOtherCategory = "(other)";

enum class Check {
  kNotNull,     // the value is present
  kRange,       // min <= value <= max, exact decimal comparison (either bound may be left out)
  kAllowed,     // the value is one of `values`
  kLength,      // min <= characters (UTF-8 code points) <= max
  kRegex,       // RE2 `pattern` matches the whole value
  kUnique,      // `column` (or the `columns` key) never repeats within a run
  kReferences,  // the value exists in `ref_column` of the dataset `ref_dataset`
  kRowCount,    // dataset rule: the run's rows between min and max
  kProduct,     // the value equals the product of the `factors` columns (within `tolerance`), exactly
  kSourceCount,     // dataset rule: the rows read equal the source's COUNT(*)
  kChange,          // dataset rule: the rows published within `max` (a fraction) of the median of the last `runs`
  kNullFraction,    // dataset rule: NULLs in `column` at most `max` (a fraction) of the rows read
  kRejectFraction,  // dataset rule: rejected rows at most `max` (a fraction) of the rows read
  kFreshness,       // dataset rule: the newest `column` value (a datetime) at most `max_age` old
  kDuplicateFraction,  // dataset rule: rows repeating an earlier key (`column`/`columns`) at most `max` of the rows
  kDrift,              // dataset rule: the mean of a numeric `column` within `max` (a fraction) of its median over the last `runs`,
                       // or (measure = "distribution") the shares of a categorical column's values within `max`
                       // (total variation distance) of their average over the last `runs`
};
enum class Action { kWarn, kReject, kFail };

std::string_view CheckName(Check c);
std::string_view ActionName(Action a);

struct Rule {
  int number = 0;  // 1-based, in file order
  int line = 0;    // where its table starts
  std::string name;  // optional `name` key
  std::string dataset;
  std::vector<std::string> columns;  // one, or several for a compound unique key; none for row_count
  Check check = Check::kNotNull;
  Action action = Action::kWarn;
  std::optional<std::string> min, max;  // decimal text (range) or integer text (length, row_count)
  std::vector<std::string> values;      // allowed
  std::string pattern;                  // regex
  std::string ref_dataset, ref_column;  // references
  std::vector<std::string> factors;     // product: the columns multiplied
  std::optional<std::string> tolerance; // product: the largest difference allowed (default 0)
  int runs = 14;                        // change: how many earlier runs the median covers
  std::string measure = "mean";         // drift: "mean" (numeric) or "distribution" (categorical)
  int64_t max_age_ms = 0;               // freshness

  // Checked on each record (else once per run, at commit).
  bool per_record() const { return check < Check::kRowCount || check == Check::kProduct; }
  // "QUANTITYORDERED range [1, 50]", for listings and reasons.
  std::string Describe() const;
  // Its name, else "rule N".
  std::string Label() const;
};

// Every [[quality.rule]] of the TOML file at `path`; none when the file does
// not exist (`explicit_path`: then it is an error) or has no rule.
StatusOr<std::vector<Rule>> LoadRules(const std::string& path, bool explicit_path = false);

// What the lake says about a rule: its dataset and columns exist ("ok"), the
// dataset is not imported yet (ok: checked at its first import), or what is
// wrong (a column it lacks, a damaged _schema.json, a referenced dataset
// missing).
struct RuleStatus {
  bool ok = true;
  std::string text;
};
std::vector<RuleStatus> CheckAgainstLake(std::span<const Rule> rules, lake::Storage* lake);

// A run stopped by a rule whose action is `fail`: nothing was published.
// Commands exit with kQualityFailedExitCode for it (other failures exit 1).
inline constexpr int kQualityFailedExitCode = 3;
Status QualityFailedError(std::string_view message);
bool IsQualityFailed(const Status& s);

// Compares two decimal numbers written as text ("-12.50", "3", "+0.125")
// exactly: -1, 0 or 1. InvalidArgument when either is not a decimal number.
StatusOr<int> CompareDecimal(std::string_view a, std::string_view b);

// Runs one dataset's per-record rules, counting failures per rule. One
// checker per thread: see Fork().
class RowChecker {
 public:
  // The values of a column of another dataset, for `references` rules.
  using ColumnValues =
      std::function<StatusOr<std::vector<std::string>>(const std::string& dataset, const std::string& column)>;

  // `rules` are the dataset's rules (others are ignored); `columns` its
  // column names in record order. InvalidArgument when a rule names a column
  // the dataset does not have; `references` rules read their values once,
  // through `column_values`.
  static StatusOr<RowChecker> Create(std::span<const Rule> rules, std::string_view dataset,
                                     const std::vector<std::string>& columns,
                                     const ColumnValues& column_values = nullptr);

  struct Verdict {
    Action action = Action::kWarn;  // the strictest action of the failed rules
    int rule = -1;                  // the first failed rule of that action (index into rules()), -1: passed
    std::string reason;             // e.g. "QUANTITYORDERED range [1, 50]: 97"
    bool passed() const { return rule < 0; }
  };
  // One record: values in column order, nullopt for NULL. A record that
  // fails only `warn` rules has action kWarn; it still counts as failed for
  // those rules.
  Verdict CheckRecord(std::span<const std::optional<std::string_view>> values);

  const std::vector<Rule>& rules() const { return rules_; }
  // What the dataset rules `null_fraction`, `freshness`, `duplicate_fraction`
  // and `drift` need, gathered
  // while the records pass: per such rule (by its number), the NULLs seen and
  // the greatest value (text order: ISO 8601 datetimes sort by time), the
  // repeated keys (duplicate_fraction) and the numeric sum (drift).
  struct ColumnMetrics {
    uint64_t nulls = 0;
    std::string max;
    uint64_t repeats = 0;  // duplicate_fraction
    double sum = 0;        // drift: the numeric values' sum and count
    uint64_t numbers = 0;
    // drift by distribution: how often each value was seen (the first
    // kMaxCategories values; later new ones count as kOtherCategory).
    std::map<std::string, uint64_t, std::less<>> counts;
  };
  const std::map<int, ColumnMetrics>& column_metrics() const { return metrics_; }
  const std::vector<uint64_t>& failed() const { return failed_; }  // per rule

  // A checker for another thread of the same run: the same rules, its own
  // counts, and the keys of `unique` rules shared with this one (so a key
  // repeated across parallel splits is caught; which of the two is the
  // repeat depends on the order the splits read them).
  // `share_unique_keys` false: the fork starts with no keys seen (the
  // agent checks `unique` within each roll, so memory stays bounded).
  RowChecker Fork(bool share_unique_keys = true) const;
  // A fork for one split of a range-partitioned read: every record whose
  // column `split_column` (an index into the record, if known) has a given
  // value is in the same split, or there is `only_split`. Then a `unique`
  // key that holds that column cannot repeat across splits, so the fork
  // checks it alone, without the shared set: while its keys arrive in
  // increasing order (as a primary-key range scan returns them) a repeat can
  // only be the key just before, and from the first key out of order on it
  // keeps its own set.
  RowChecker ForkForSplit(std::optional<size_t> split_column, bool only_split) const;
  // Adds a fork's counts to this checker's.
  void AddCounts(const RowChecker& fork);

  RowChecker(RowChecker&&) noexcept;
  RowChecker& operator=(RowChecker&&) noexcept;
  ~RowChecker();

 private:
  RowChecker();
  struct Compiled;
  std::vector<Rule> rules_;
  std::vector<uint64_t> failed_;
  std::vector<Compiled> compiled_;
  struct Tracked;  // a dataset rule's columns and state
  std::vector<std::shared_ptr<Tracked>> tracked_;
  std::map<int, ColumnMetrics> metrics_;
};

}  // namespace comptoir::quality
