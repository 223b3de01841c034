// Flow A: Sqoop-compatible import of a table or query into the lake.
//
// RunImport() plans row-count-balanced splits, reads each split on its own
// connection and thread (streaming, bounded memory), writes one part file per
// split (part-m-00000...) with _schema.json under the atomic publish
// protocol, so nothing is visible under the target until the whole import
// committed, and a failure or interruption leaves the target unchanged.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "comptoir/core/status.h"
#include "comptoir/lake/avro.h"
#include "comptoir/lake/compression.h"
#include "comptoir/lake/storage.h"
#include "comptoir/lake/text_format.h"
#include "comptoir/quality/history.h"
#include "comptoir/quality/rules.h"
#include "comptoir/source/database.h"
#include "comptoir/source/split_planner.h"

namespace comptoir::importer {

enum class Incremental { kNone, kAppend, kLastModified };

struct ImportOptions {
  source::ConnectOptions connect;
  // What: a table (with optional columns and WHERE) or a free-form query
  // containing $CONDITIONS.
  std::string table;
  std::vector<std::string> columns;
  std::string where;
  std::string query;
  // Where.
  std::string target_dir;  // default: /user/sqoop/<table>
  bool delete_target_dir = false;
  bool append = false;
  // How.
  int num_mappers = 4;
  std::string split_by;
  std::string boundary_query;
  int fetch_size = 10000;
  enum class Format { kText, kAvro };
  Format format = Format::kText;
  lake::TextFormat text;
  bool sqoop_values = false;  // Sqoop's value spelling (timestamps "... 00:00:00.0")
  lake::Codec codec = lake::Codec::kNone;
  bool validate = false;
  bool dry_run = false;
  bool quiet = false;
  // Incremental.
  Incremental incremental = Incremental::kNone;
  std::string check_column;
  std::optional<std::string> last_value;
  std::string merge_key;
  // Data-quality rules (comptoir.toml's [[quality.rule]]); those whose
  // dataset is the target check every row: rejected rows go to
  // <target>/_rejects/<run>/ by the same commit, a `fail` publishes nothing
  // (quality::IsQualityFailed), and the run is recorded in
  // <target>/_quality/history.jsonl.
  std::vector<quality::Rule> rules;
};

struct PlannedSplit {
  source::Split split;
  std::string sql;
};

struct ImportPlan {
  std::string target;
  std::vector<source::Column> columns;
  std::string split_column;  // empty when one split
  std::vector<PlannedSplit> splits;
  std::optional<uint64_t> source_rows;  // exact count when it was taken
  std::optional<uint64_t> estimated_rows;  // the catalog's estimate, when planning used it
  std::optional<std::string> new_last_value;
  std::vector<std::string> notices;
};

struct ImportResult {
  ImportPlan plan;
  uint64_t rows = 0;
  uint64_t bytes = 0;  // plain (uncompressed) bytes written
  double seconds = 0;
  uint64_t zero_dates = 0;  // MySQL zero dates written as NULL
  uint64_t merged_old_rows = 0;
  std::vector<std::string> files;  // published data files
  // With rules for the target: the run's record (rows_in, rows_out, rejected,
  // per-rule counts), as written to its history.
  std::optional<quality::RunRecord> quality;
};

// Plans and runs the import. With dry_run, returns the plan without reading
// data or touching the lake.
StatusOr<ImportResult> RunImport(const ImportOptions& options, lake::Storage* lake);

// Base64 (RFC 4648, with padding) used for binary columns in text files.
std::string Base64(std::string_view bytes);

}  // namespace comptoir::importer
