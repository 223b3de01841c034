// Quarantine: where an ingest run puts the records its rules reject.
//
//   <dataset>/_rejects/<run>/part-m-00003   the rejected records of one split,
//                                           in the dataset's own format (text
//                                           layout or Avro), plus three columns:
//     _rule    the rule's name, else "rule N" (its number in comptoir.toml)
//     _reason  e.g. "QUANTITYORDERED range [1, 50]: 97"
//     _source  where the record came from, e.g. "split 2 row 17"
//   <dataset>/_rejects/<run>/_schema.json   the dataset's schema plus those columns
//
// The files are staged in the run's own publication, so they become visible
// with the good rows, by the same commit, or not at all. The `_` prefix keeps
// them out of the dataset for every reader (Comptoir, Hadoop, Spark).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "comptoir/core/status.h"
#include "comptoir/lake/avro.h"
#include "comptoir/lake/dataset.h"
#include "comptoir/lake/publish.h"
#include "comptoir/quality/rules.h"

namespace comptoir::quality {

inline constexpr std::string_view kRejectsDir = "_rejects";
inline constexpr std::array<std::string_view, 3> kRejectColumns = {"_rule", "_reason", "_source"};

// A new run id: the UTC time to the millisecond, "20261206T161500.123Z"
// (sortable, and a valid directory name on every backend).
std::string NewRunId();

// "_rejects/<run>" (relative to the dataset).
std::string RejectsDir(std::string_view run);

// The schema of a run's rejects: the dataset's columns plus kRejectColumns
// (strings; for Avro, string fields after the dataset's).
StatusOr<lake::DatasetSchema> RejectsSchema(const lake::DatasetSchema& dataset);

// A part file in a dataset's format (its text layout and codec, or Avro
// with its fields), staged in a publication under `staged_name`; the file is
// created at the first record, so a writer that gets none leaves none.
class PartWriter {
 public:
  PartWriter(lake::Publication* pub, std::string staged_name, const lake::DatasetSchema* schema);
  ~PartWriter();
  PartWriter(const PartWriter&) = delete;
  PartWriter& operator=(const PartWriter&) = delete;

  // One record, values in the schema's column order (nullopt: NULL).
  Status Write(std::span<const std::optional<std::string_view>> values);
  Status Close();
  uint64_t rows() const { return rows_; }

 private:
  Status Open();

  lake::Publication* pub_;
  std::string name_;
  const lake::DatasetSchema* schema_;
  std::unique_ptr<lake::WritableFile> text_;
  std::unique_ptr<lake::AvroFileWriter> avro_;
  std::string buf_;
  uint64_t rows_ = 0;
};

// One split's rejects: `_rejects/<run>/<part>` ("part-m-00003", with the
// codec's extension for text), in the format of `rejects` (RejectsSchema).
class RejectWriter {
 public:
  RejectWriter(lake::Publication* pub, std::string_view run, std::string_view part, const lake::DatasetSchema* rejects);

  Status Write(std::span<const std::optional<std::string_view>> values, const Rule& rule, std::string_view reason,
               std::string_view source);
  Status Close() { return part_.Close(); }
  uint64_t rows() const { return part_.rows(); }

 private:
  PartWriter part_;
  std::vector<std::optional<std::string_view>> row_;
};

// Values of a column of a lake dataset, for `references` rules: read once
// from its parts (text or Avro) as its _schema.json describes them.
RowChecker::ColumnValues LakeColumnValues(lake::Storage* lake);

}  // namespace comptoir::quality
