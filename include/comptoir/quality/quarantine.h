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
// (strings); for Avro, `avro_fields` are the dataset's fields.
lake::DatasetSchema RejectsSchema(const lake::DatasetSchema& dataset, const std::vector<lake::AvroField>& avro_fields,
                                  std::string_view record_name);

// Writes one split's rejects; the file is created at the first reject, so a
// split without rejects leaves none.
class RejectWriter {
 public:
  // `part` is the split's part name ("part-m-00003", with the codec's
  // extension for text); `rejects` comes from RejectsSchema.
  RejectWriter(lake::Publication* pub, std::string run, std::string part, const lake::DatasetSchema* rejects,
               const std::vector<lake::AvroField>* avro_fields, std::string record_name);
  ~RejectWriter();
  RejectWriter(const RejectWriter&) = delete;
  RejectWriter& operator=(const RejectWriter&) = delete;

  // One rejected record (values in the dataset's column order).
  Status Write(std::span<const std::optional<std::string_view>> values, const Rule& rule, std::string_view reason,
               std::string_view source);
  Status Close();
  uint64_t rows() const { return rows_; }

 private:
  Status Open();

  lake::Publication* pub_;
  std::string run_, part_, record_name_;
  const lake::DatasetSchema* rejects_;
  const std::vector<lake::AvroField>* avro_fields_;
  std::unique_ptr<lake::WritableFile> text_;
  std::unique_ptr<lake::AvroFileWriter> avro_;
  std::string buf_;
  std::vector<std::optional<std::string_view>> row_;
  uint64_t rows_ = 0;
};

// Values of a column of a lake dataset, for `references` rules: read once
// from its parts (text or Avro) as its _schema.json describes them.
RowChecker::ColumnValues LakeColumnValues(lake::Storage* lake);

}  // namespace comptoir::quality
