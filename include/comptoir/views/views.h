// `comptoir views build`: the batch views of the lake, built by the embedded
// engine or by an Apache Spark cluster, published atomically (docs/views.md).
//
// A build signs its input (the dataset's parts, sizes and times), skips the
// work when the view at the target was built from that same input, computes
// the records, checks that the input did not change meanwhile and publishes
// the records, `_schema.json`, `_view.json` (the manifest: input, engine,
// counts) and `_SUCCESS` in one commit. A failed or killed build leaves the
// previous view as it was.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "comptoir/analytics/sales_view.h"
#include "comptoir/core/names.h"
#include "comptoir/core/status.h"
#include "comptoir/lake/storage.h"

namespace comptoir::views {

inline constexpr std::string_view kSalesViewDir = "/user/comptoir/views/sales";
inline constexpr std::string_view kTransactionsViewDir = "/user/comptoir/views/transactions";

struct SparkOptions {
  std::string master = "local[2]";      // local[N] | spark://host:port | yarn
  std::vector<std::string> conf;        // key=value, passed to spark-submit
  std::string submit;                   // spark-submit; "" = $COMPTOIR_SPARK_SUBMIT, $SPARK_HOME/bin, PATH
  std::string jobs_dir;                 // the jobs' sources; "" = $COMPTOIR_SPARK_JOBS or installed
  std::string driver_log;               // "" = ~/.comptoir/spark/<view>-<time>.log
};

struct BuildOptions {
  std::string view = "sales";  // sales | transactions (the archive's daily view)
  std::string source;          // "" = the view's dataset: /user/sqoop/sales, /user/kafka/transactions
  std::string target_dir;      // "" = /user/comptoir/views/<view>
  std::string engine = "embedded";  // embedded | spark
  SparkOptions spark;
  bool force = false;  // build even when the view is current
  bool quiet = false;  // no progress bar
};

struct BuildResult {
  std::string target_dir;
  bool skipped = false;  // the view was current: nothing done
  analytics::ViewManifest manifest;
  std::string driver_log;  // engine spark
};

// Builds the sales view. Errors say what failed and what to do: the input
// missing (NotFound), no Spark or a master unreachable (FailedPrecondition,
// Unavailable), out of memory (ResourceExhausted), the input changed during
// the build (FailedPrecondition), Ctrl-C (Aborted).
StatusOr<BuildResult> BuildView(lake::Storage* lake, const BuildOptions& o);
// BuildView() of the sales view, whatever `o.view` says.
StatusOr<BuildResult> BuildSalesView(lake::Storage* lake, const BuildOptions& o);

// --- Spark ------------------------------------------------------------------------------

// What a spark-submit run produced.
struct SparkRun {
  std::string application;  // app-... / local-...
  std::string result_line;  // the job's `COMPTOIR_VIEW {json}` payload
  std::string driver_log;
};
// Runs `job` (a file of the jobs directory) with `args` through spark-submit,
// its output in the driver log, a progress bar from Spark's status REST API.
StatusOr<SparkRun> RunSparkJob(const SparkOptions& o, const std::string& job, const std::vector<std::string>& args,
                               const std::string& what, bool quiet);

// A failed spark-submit (its exit code and driver log) as one error: out of
// memory (ResourceExhausted), the master unreachable (Unavailable), the
// input missing (NotFound), no spark-avro, the job's own COMPTOIR_ERROR
// (FailedPrecondition), else the exception and its innermost cause.
Status ExplainSparkFailure(int exit_code, const std::string& log, const std::string& log_path, const std::string& master);
// The job's counts in a driver log: the JSON object after the last
// `COMPTOIR_VIEW ` (a JVM log line that landed after it on its line is left
// out); "" when there is none.
std::string SparkResultLine(const std::string& log);

// The URI Spark (Hadoop's FileSystem) reads `path` of the lake through:
// file:///root/path, webhdfs://host:port/path. FailedPrecondition for a
// lake Spark cannot reach (mem://).
StatusOr<std::string> HadoopUri(lake::Storage* lake, const std::string& path);

}  // namespace comptoir::views
