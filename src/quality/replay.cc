// Replay of a run's rejects (see replay.h).
#include "comptoir/quality/replay.h"

#include <algorithm>

#include "comptoir/core/strings.h"
#include "comptoir/core/time.h"
#include "comptoir/lake/compression.h"
#include "comptoir/lake/dataset.h"
#include "comptoir/lake/publish.h"
#include "comptoir/quality/quarantine.h"
#include "fmt/format.h"

namespace comptoir::quality {
namespace {

// The runs of `dataset` that have rejects, for the error of a wrong --run.
std::string RunsWithRejects(lake::Storage* lake, const std::string& dataset) {
  StatusOr<std::vector<lake::FileInfo>> l = lake->List(lake::JoinPath(dataset, std::string(kRejectsDir)));
  if (!l.ok() || l->empty()) return "it has none";
  std::vector<std::string> names;
  for (const lake::FileInfo& f : *l) {
    if (f.is_dir) names.push_back(f.name);
  }
  return StrCat("its runs with rejects: ", Join(names, ", "));
}

// The next part name of `dataset` in its format.
StatusOr<std::string> NextPart(lake::Publication* pub, const lake::DatasetSchema& schema) {
  int next = 0;
  for (const lake::FileInfo& f : pub->existing()) next = std::max(next, lake::PartNumber(f.name) + 1);
  std::string ext = ".avro";
  if (schema.format == lake::DatasetSchema::Format::kText) {
    ASSIGN_OR_RETURN(lake::Codec codec, lake::ParseCodec(schema.codec));
    ext = std::string(lake::CodecExtension(codec));
  }
  return fmt::format("part-m-{:05d}{}", next, ext);
}

}  // namespace

StatusOr<RunRecord> Replay(lake::Storage* lake, const std::string& dataset, const std::string& run,
                           std::span<const Rule> rules) {
  ASSIGN_OR_RETURN(lake::DatasetSchema schema, lake::ReadDatasetSchema(lake, dataset));
  const std::string old_dir = lake::JoinPath(dataset, RejectsDir(run));
  StatusOr<lake::DatasetSchema> old = lake::ReadDatasetSchema(lake, old_dir);
  if (absl::IsNotFound(old.status())) {
    return absl::NotFoundError(StrCat("no rejects of run ", run, " in ", dataset, " (", RunsWithRejects(lake, dataset),
                                      "; `comptoir quality report ", dataset, "` shows the runs)"));
  }
  RETURN_IF_ERROR(old.status());
  const size_t n = schema.columns.size();
  ASSIGN_OR_RETURN(lake::DatasetSchema rejects_schema, RejectsSchema(schema));
  if (old->columns.size() != n + kRejectColumns.size()) {
    return absl::FailedPreconditionError(StrCat("the rejects of run ", run, " have ", old->columns.size(),
                                                " columns; the dataset ", dataset, " now has ", n,
                                                " (+3 quality columns): its schema changed since"));
  }
  std::vector<std::string> names;
  for (const lake::ColumnSchema& c : schema.columns) names.push_back(c.name);
  ASSIGN_OR_RETURN(RowChecker checker, RowChecker::Create(rules, dataset, names, LakeColumnValues(lake)));

  ASSIGN_OR_RETURN(std::unique_ptr<lake::Publication> pub,
                   lake::Publication::Begin(lake, dataset, lake::PublishMode::kAppend));
  RunRecord record;
  record.run = NewRunId();
  record.dataset = dataset;
  record.writer = "replay";
  ASSIGN_OR_RETURN(std::string part, NextPart(pub.get(), schema));
  PartWriter good(pub.get(), part, &schema);
  RejectWriter still(pub.get(), record.run, part, &rejects_schema);
  std::vector<std::optional<std::string_view>> values(n);
  uint64_t failed_rows = 0;
  std::string first_failure;
  Status read = lake::ForEachRecord(
      lake, old_dir, *old,
      [&](const lake::FileInfo&, size_t, const std::vector<std::string_view>& f, const std::vector<uint8_t>& null) {
        for (size_t i = 0; i < n; ++i) values[i] = null[i] ? std::nullopt : std::optional<std::string_view>(f[i]);
        ++record.rows_in;
        RowChecker::Verdict v = checker.CheckRecord(values);
        if (v.passed() || v.action == Action::kWarn) {
          if (!v.passed()) ++record.warned;
          return good.Write(values);
        }
        if (v.action == Action::kFail) {
          if (failed_rows++ == 0) first_failure = StrCat(v.reason, " (", f[n + 2], ")");
          return absl::OkStatus();
        }
        ++record.rejected;
        std::string source(f[n + 2]);
        if (!source.starts_with("replay of ")) source = StrCat("replay of ", run, ": ", source);
        return still.Write(values, checker.rules()[static_cast<size_t>(v.rule)], v.reason, source);
      });
  if (!read.ok()) {
    pub->Abort();
    return read;
  }
  RETURN_IF_ERROR(good.Close());
  RETURN_IF_ERROR(still.Close());
  record.rows_out = good.rows();
  record.rules = ResultsOf(checker);
  record.time = core::FormatIsoMillis(core::UnixMillis());
  if (failed_rows > 0) {
    pub->Abort();
    record.outcome = "failed";
    record.rows_out = 0;
    record.failure = StrCat(failed_rows, " record(s) failed a rule with action fail, the first: ", first_failure);
    RETURN_IF_ERROR(RecordRunOutsideCommit(lake, dataset, record));
    return QualityFailedError(StrCat("data quality: ", record.failure, "; nothing was published and the rejects of run ",
                                     run, " stay where they are"));
  }
  if (still.rows() > 0) {
    RETURN_IF_ERROR(lake::WriteStringToFile(
        lake, lake::JoinPath(pub->staging_dir(), StrCat(RejectsDir(record.run), "/", lake::kSchemaFile)),
        rejects_schema.ToJson()));
  }
  ASSIGN_OR_RETURN(std::string history, HistoryWith(lake, dataset, record));
  RETURN_IF_ERROR(lake::WriteStringToFile(lake, lake::JoinPath(pub->staging_dir(), std::string(kHistoryFile)), history));
  pub->RemoveAtCommit(RejectsDir(run));
  RETURN_IF_ERROR(pub->Commit());
  return record;
}

}  // namespace comptoir::quality
