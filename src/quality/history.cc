// The quality history of a dataset: _quality/history.jsonl.
#include "comptoir/quality/history.h"

#include "comptoir/core/strings.h"
#include "comptoir/core/time.h"
#include "comptoir/quality/quarantine.h"
#include "comptoir/lake/publish.h"
#include "nlohmann/json.hpp"

namespace comptoir::quality {
namespace {

using nlohmann::json;

constexpr std::string_view kNewHistory = "_quality/.history.jsonl.new";

// The history text to build on: the file, or the newer copy a failed run's
// swap left behind (whichever holds more lines).
StatusOr<std::string> CurrentHistory(lake::Storage* lake, const std::string& dataset) {
  StatusOr<std::string> main = lake::ReadFileToString(lake, lake::JoinPath(dataset, std::string(kHistoryFile)));
  if (!main.ok() && !absl::IsNotFound(main.status())) return main.status();
  StatusOr<std::string> fresh = lake::ReadFileToString(lake, lake::JoinPath(dataset, std::string(kNewHistory)));
  if (!fresh.ok() && !absl::IsNotFound(fresh.status())) return fresh.status();
  std::string a = main.ok() ? *main : std::string();
  std::string b = fresh.ok() ? *fresh : std::string();
  return b.size() > a.size() && b.starts_with(a) ? b : a;
}

}  // namespace

std::string RunRecord::ToJsonLine() const {
  json rs = json::array();
  for (const RuleResult& r : rules) {
    json x = {{"number", r.number}, {"name", r.name},         {"check", r.check}, {"column", r.column},
              {"action", r.action}, {"describe", r.describe}, {"failed", r.failed}};
    if (r.value) x["value"] = *r.value;
    if (!r.shares.empty()) x["shares"] = r.shares;
    rs.push_back(std::move(x));
  }
  json j = {{"run", run},           {"time", time},       {"dataset", dataset},   {"writer", writer},
            {"outcome", outcome},   {"rows_in", rows_in}, {"rows_out", rows_out}, {"rejected", rejected},
            {"warned", warned},     {"rules", rs},        {"failure", failure}};
  return j.dump();
}

StatusOr<RunRecord> RunRecord::FromJsonLine(std::string_view line) {
  json j = json::parse(line, nullptr, false);
  if (!j.is_object() || !j.contains("run") || !j["run"].is_string()) {
    return absl::InvalidArgumentError("not a quality run record");
  }
  RunRecord r;
  try {
    r.run = j.value("run", "");
    r.time = j.value("time", "");
    r.dataset = j.value("dataset", "");
    r.writer = j.value("writer", "");
    r.outcome = j.value("outcome", "");
    r.rows_in = j.value("rows_in", uint64_t{0});
    r.rows_out = j.value("rows_out", uint64_t{0});
    r.rejected = j.value("rejected", uint64_t{0});
    r.warned = j.value("warned", uint64_t{0});
    r.failure = j.value("failure", "");
    for (const json& x : j.value("rules", json::array())) {
      RuleResult rr;
      rr.number = x.value("number", 0);
      rr.name = x.value("name", "");
      rr.check = x.value("check", "");
      rr.column = x.value("column", "");
      rr.action = x.value("action", "");
      rr.describe = x.value("describe", "");
      rr.failed = x.value("failed", uint64_t{0});
      if (x.contains("value") && x["value"].is_number()) rr.value = x["value"].get<double>();
      if (x.contains("shares") && x["shares"].is_object()) {
        for (const auto& [k, v] : x["shares"].items()) {
          if (v.is_number()) rr.shares[k] = v.get<double>();
        }
      }
      r.rules.push_back(std::move(rr));
    }
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(StrCat("not a quality run record: ", e.what()));
  }
  return r;
}

std::vector<RuleResult> ResultsOf(const RowChecker& checker) {
  std::vector<RuleResult> out;
  for (size_t i = 0; i < checker.rules().size(); ++i) {
    const Rule& r = checker.rules()[i];
    out.push_back({r.number, r.Label(), std::string(CheckName(r.check)), Join(r.columns, "+"),
                   std::string(ActionName(r.action)), r.Describe(), checker.failed()[i], std::nullopt});
  }
  return out;
}

StatusOr<std::vector<RunRecord>> ReadHistory(lake::Storage* lake, const std::string& dataset, size_t* skipped) {
  ASSIGN_OR_RETURN(std::string text, CurrentHistory(lake, dataset));
  std::vector<RunRecord> out;
  size_t bad = 0;
  for (std::string_view line : Split(text, '\n')) {
    if (line.empty()) continue;
    StatusOr<RunRecord> r = RunRecord::FromJsonLine(line);
    if (r.ok()) {
      out.push_back(*std::move(r));
    } else {
      ++bad;
    }
  }
  if (skipped != nullptr) *skipped = bad;
  return out;
}

StatusOr<std::string> HistoryWith(lake::Storage* lake, const std::string& dataset, const RunRecord& run) {
  ASSIGN_OR_RETURN(std::string text, CurrentHistory(lake, dataset));
  if (!text.empty() && text.back() != '\n') text.push_back('\n');  // a torn last line stays on its own
  StrAppend(&text, run.ToJsonLine(), "\n");
  return text;
}

Status RecordRunOutsideCommit(lake::Storage* lake, const std::string& dataset, const RunRecord& run) {
  ASSIGN_OR_RETURN(std::string text, HistoryWith(lake, dataset, run));
  const std::string fresh = lake::JoinPath(dataset, std::string(kNewHistory));
  const std::string main = lake::JoinPath(dataset, std::string(kHistoryFile));
  {
    ASSIGN_OR_RETURN(std::unique_ptr<lake::WritableFile> f, lake->Create(fresh, {.overwrite = true}));
    RETURN_IF_ERROR(f->Append(text));
    RETURN_IF_ERROR(f->Close());
  }
  Status gone = lake->Delete(main, false);
  if (!gone.ok() && !absl::IsNotFound(gone)) return gone;
  return lake->Rename(fresh, main);
}

RunTally::RunTally(const RowChecker& checker, std::string dataset, std::string writer)
    : counts_(checker.Fork(false)), dataset_(std::move(dataset)), writer_(std::move(writer)) {}

void RunTally::Add(const RowChecker& published, uint64_t checked, uint64_t rejected, uint64_t warned) {
  counts_.AddCounts(published);
  checked_ += checked;
  rejected_ += rejected;
  warned_ += warned;
}

Status RunTally::RecordIfDue(lake::Storage* lake, bool force, std::chrono::seconds every) {
  auto now = std::chrono::steady_clock::now();
  if (checked_ == 0 || (!force && now - since_ < every)) return absl::OkStatus();
  RunRecord r;
  r.run = NewRunId();
  r.time = core::FormatIsoMillis(core::UnixMillis());
  r.dataset = dataset_;
  r.writer = writer_;
  r.rows_in = checked_;
  r.rejected = rejected_;
  r.rows_out = checked_ - std::min(checked_, rejected_);
  r.warned = warned_;
  r.rules = ResultsOf(counts_);
  RETURN_IF_ERROR(RecordRunOutsideCommit(lake, dataset_, r));
  counts_ = counts_.Fork(false);
  checked_ = rejected_ = warned_ = 0;
  since_ = now;
  return absl::OkStatus();
}

}  // namespace comptoir::quality
