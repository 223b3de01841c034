// Saved import jobs (`comptoir job`): a named import command line, its
// incremental position and the record of its last runs.
//
// Files: <jobs dir>/<name>.json, one per job, replaced atomically (temporary
// file, fsync, rename):
//   {"name": "sales", "args": ["import", "--connect", ...], "created": "1764324245.123000",
//    "last_value": "2026-11-28 10:04:05",
//    "last_run": {"result": "ok", "rows": 2823, "seconds": 0.41, "finished_at": 1764324245},
//    "last_success": {...}}
// A failed run records {"result": "failed", "error": "...", "seconds", "finished_at"}.
// `finished_at` is Unix seconds; files of versions before 2026-11-28 hold a
// monotonic clock reading there, which readers show as an unknown time.
//
// A damaged file (not JSON, not an object, a field of the wrong type) is a
// DataLoss error that names the file, what is wrong and what to do; it is
// never rewritten with a guess.
//
// Running a job (ExecJob): one runner per job at a time, through a lease in the
// coordination service; the incremental position is kept there too, written
// with compare-and-set, and advances only once the run's import committed.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "comptoir/coord/coordinator.h"
#include "comptoir/core/config.h"
#include "comptoir/core/status.h"

namespace comptoir::importer {

// One run of a job, as recorded.
struct RunRecord {
  bool ok = false;
  int64_t rows = 0;         // ok runs
  double seconds = 0;
  int64_t finished_at = 0;  // Unix seconds (see above)
  std::string error;        // failed runs
};

struct JobRecord {
  std::string name;
  std::vector<std::string> args;  // the saved command: "import", "--connect", ...
  std::string created;            // Unix seconds as text; names this job's generation
  std::optional<std::string> last_value;
  std::optional<RunRecord> last_run;
  std::optional<RunRecord> last_success;
};

// Where saved jobs live: config import.jobs_dir, else $HOME/.comptoir/jobs.
std::string JobsDir(const core::Config& config);
// Letters, digits, '_', '-' and '.', not starting with '.'; InvalidArgument otherwise.
Status ValidJobName(std::string_view name);

// The job files of one directory. Thread-compatible; processes coordinate
// through ExecJob's lease.
class JobStore {
 public:
  explicit JobStore(std::string dir) : dir_(std::move(dir)) {}
  const std::string& dir() const { return dir_; }
  std::string PathOf(std::string_view name) const;

  // NotFound (naming `job --list`) when there is no such job; DataLoss for a
  // damaged file.
  StatusOr<JobRecord> Load(std::string_view name) const;
  // Replaces the job's file atomically.
  Status Save(const JobRecord& job) const;
  // AlreadyExists when a job of that name exists (even a damaged one).
  StatusOr<JobRecord> Create(std::string_view name, std::vector<std::string> args) const;
  // The job names, sorted (damaged files included: Load tells what is wrong).
  std::vector<std::string> List() const;
  Status Delete(std::string_view name) const;

 private:
  std::string dir_;
};

// What one run of a job's import did.
struct ImportRun {
  int64_t rows = 0;
  double seconds = 0;
  std::optional<std::string> new_last_value;
};

// Runs the saved import of job `name`:
//  - takes the job's lease in `coordination`, waiting up to `wait` (then
//    FailedPrecondition naming the holder);
//  - reads the job again under the lease (a run that held it may have
//    recorded its outcome);
//  - calls `run` with the saved arguments after "import", plus
//    "--last-value V" from the coordination service's copy (else the file's);
//  - advances the last value with compare-and-set over the value it started
//    from (Aborted when it changed meanwhile: the import is published, a rerun
//    starts from the newest value), and records the run in the job file.
// A failed run is recorded too (its last value and last success stay).
StatusOr<ImportRun> ExecJob(const JobStore& store, std::string_view name, coord::Coordinator* coordination,
                            std::chrono::milliseconds wait,
                            const std::function<StatusOr<ImportRun>(const std::vector<std::string>& args)>& run);

}  // namespace comptoir::importer
