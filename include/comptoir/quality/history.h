// The quality history of a dataset: `<dataset>/_quality/history.jsonl`, one
// JSON line per ingest run, oldest first:
//
//   {"run": "20261206T161500.123Z", "time": "2026-12-06T16:15:00.123Z",
//    "dataset": "/user/sqoop/sales", "writer": "import", "outcome": "published",
//    "rows_in": 2823, "rows_out": 2820, "rejected": 3, "warned": 12,
//    "rules": [{"number": 1, "name": "rule 1", "check": "range", "column": "QUANTITYORDERED",
//               "action": "reject", "describe": "QUANTITYORDERED range [1, 50]", "failed": 3}, ...],
//    "failure": ""}
//
// outcome: "published" (good rows and rejects committed together) or
// "failed" (a `fail` rule fired: nothing published, `failure` says why).
// A published run's line is written by its own commit; a failed run, which
// publishes nothing, writes its line on its own (see RecordRunOutsideCommit).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <map>
#include <string_view>
#include <vector>

#include "comptoir/core/status.h"
#include "comptoir/lake/storage.h"
#include "comptoir/quality/rules.h"

namespace comptoir::quality {

inline constexpr std::string_view kHistoryFile = "_quality/history.jsonl";  // relative to the dataset

struct RuleResult {
  int number = 0;
  std::string name;  // Rule::Label()
  std::string check, column, action, describe;
  uint64_t failed = 0;
  std::optional<double> value;  // the measure a dataset rule compares across runs (drift: the column's mean,
                                // or the distance of its distribution from the earlier runs')
  std::map<std::string, double> shares = {};  // drift by distribution: the run's share of each value (the most frequent)
};

struct RunRecord {
  std::string run;
  std::string time;  // ISO 8601 UTC, when the run ended
  std::string dataset;
  std::string writer = "import";
  std::string outcome = "published";
  uint64_t rows_in = 0, rows_out = 0, rejected = 0, warned = 0;
  std::vector<RuleResult> rules;
  std::string failure;

  bool failed() const { return outcome == "failed"; }
  std::string ToJsonLine() const;  // without the newline
  // InvalidArgument when `line` is not a run record.
  static StatusOr<RunRecord> FromJsonLine(std::string_view line);
};

// The per-rule results of a checker's counts (every rule of the dataset,
// failed or not, in file order).
std::vector<RuleResult> ResultsOf(const RowChecker& checker);

// The runs recorded for `dataset`, oldest first; none when it has no history.
// Damaged lines (a torn write, an edit) are skipped and counted in `skipped`.
StatusOr<std::vector<RunRecord>> ReadHistory(lake::Storage* lake, const std::string& dataset,
                                             size_t* skipped = nullptr);

// The history file's new content with `run` appended (for staging it in the
// run's publication).
StatusOr<std::string> HistoryWith(lake::Storage* lake, const std::string& dataset, const RunRecord& run);

// Appends `run` when no publication carries it (a failed run): the new file
// is written beside the old one and swapped in; if a crash falls between the
// two steps, ReadHistory reads the new copy.
Status RecordRunOutsideCommit(lake::Storage* lake, const std::string& dataset, const RunRecord& run);

// The history of a writer that runs for months (the log agent, the stream
// archiver): what it published since its last record, added file by file
// once each file is published, and written as one run record (writer
// "agent" or "archive") every `every` and when it stops. A kill -9 loses the
// counts since the last record, not a record: the rejects themselves are in
// quarantine exactly once.
class RunTally {
 public:
  static constexpr std::chrono::seconds kEvery{600};

  RunTally(const RowChecker& checker, std::string dataset, std::string writer);
  // One published file: the checker that checked its records, and its counts.
  void Add(const RowChecker& published, uint64_t checked, uint64_t rejected, uint64_t warned);
  // Appends the record when something was counted and `force` is set or
  // `every` passed since the last one; then counts from zero again.
  Status RecordIfDue(lake::Storage* lake, bool force, std::chrono::seconds every = kEvery);
  uint64_t checked() const { return checked_; }

 private:
  RowChecker counts_;
  std::string dataset_, writer_;
  uint64_t checked_ = 0, rejected_ = 0, warned_ = 0;
  std::chrono::steady_clock::time_point since_ = std::chrono::steady_clock::now();
};

}  // namespace comptoir::quality
