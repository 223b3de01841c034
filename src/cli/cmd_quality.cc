// comptoir quality rules: the data-quality rules of the configuration, checked.
#include <algorithm>
#include <iostream>

#include "comptoir/lake/storage.h"
#include "comptoir/core/progress.h"
#include "comptoir/quality/history.h"
#include "comptoir/quality/quarantine.h"
#include "comptoir/quality/replay.h"
#include "comptoir/quality/rules.h"
#include "common.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"

namespace comptoir::cli {
namespace {

struct RulesFlags {
  std::string lake;
  bool json = false;
  bool offline = false;
};

nlohmann::json RuleJson(const quality::Rule& r, const quality::RuleStatus* st) {
  nlohmann::json j = {{"number", r.number},
                      {"line", r.line},
                      {"dataset", r.dataset},
                      {"columns", r.columns},
                      {"check", quality::CheckName(r.check)},
                      {"action", quality::ActionName(r.action)},
                      {"per_record", r.per_record()},
                      {"describe", r.Describe()}};
  if (r.min) j["min"] = *r.min;
  if (r.max) j["max"] = *r.max;
  if (!r.values.empty()) j["values"] = r.values;
  if (!r.pattern.empty()) j["pattern"] = r.pattern;
  if (!r.ref_dataset.empty()) {
    j["ref_dataset"] = r.ref_dataset;
    j["ref_column"] = r.ref_column;
  }
  if (st != nullptr) {
    j["ok"] = st->ok;
    j["status"] = st->text;
  }
  return j;
}

Status ListRules(const Globals& g, const RulesFlags& f) {
  ASSIGN_OR_RETURN(std::vector<quality::Rule> rules, quality::LoadRules(g.config_path, g.config_explicit));
  std::vector<quality::RuleStatus> status;
  if (!f.offline && !rules.empty()) {
    ASSIGN_OR_RETURN(std::unique_ptr<lake::Storage> fs, lake::OpenConfiguredLake(g.config, f.lake));
    status = quality::CheckAgainstLake(rules, fs.get());
  }
  size_t bad = 0;
  for (const quality::RuleStatus& s : status) bad += s.ok ? 0 : 1;
  if (f.json) {
    nlohmann::json out = {{"config", g.config_path}, {"rules", nlohmann::json::array()}};
    for (size_t i = 0; i < rules.size(); ++i) {
      out["rules"].push_back(RuleJson(rules[i], status.empty() ? nullptr : &status[i]));
    }
    std::cout << out.dump(2) << "\n";
  } else if (rules.empty()) {
    std::cout << fmt::format("{}: no [[quality.rule]] (docs/quality.md shows how to write them)\n", g.config_path);
  } else {
    std::cout << fmt::format("{:>3} {:>5}  {:<24} {:<44} {:<7} {}\n", "#", "line", "dataset", "rule", "action",
                             f.offline ? "" : "lake");
    for (size_t i = 0; i < rules.size(); ++i) {
      const quality::Rule& r = rules[i];
      std::cout << fmt::format("{:>3} {:>5}  {:<24} {:<44} {:<7} {}\n", r.number, r.line, r.dataset, r.Describe(),
                               quality::ActionName(r.action), status.empty() ? "" : status[i].text);
    }
    std::cout << fmt::format("{} rule(s) in {}, {}\n", rules.size(), g.config_path,
                             f.offline ? "not checked against the lake (--offline)"
                             : bad == 0 ? "all consistent with the lake"
                                        : fmt::format("{} inconsistent with the lake", bad));
  }
  if (bad > 0) {
    return absl::FailedPreconditionError(
        fmt::format("{} quality rule(s) do not match the lake's datasets (see the list)", bad));
  }
  return absl::OkStatus();
}

struct ReportFlags {
  std::string lake;
  std::string dataset;
  bool json = false;
  int runs = 10;
};

// The trend of one rule: its failed count in each of the last runs (null
// where the rule did not exist yet), oldest first.
nlohmann::json Trend(const std::vector<quality::RunRecord>& runs, int number) {
  nlohmann::json t = nlohmann::json::array();
  for (const quality::RunRecord& r : runs) {
    auto it = std::find_if(r.rules.begin(), r.rules.end(), [&](const auto& x) { return x.number == number; });
    t.push_back(it == r.rules.end() ? nlohmann::json(nullptr) : nlohmann::json(it->failed));
  }
  return t;
}

Status Report(const Globals& g, const ReportFlags& f) {
  ASSIGN_OR_RETURN(std::unique_ptr<lake::Storage> fs, lake::OpenConfiguredLake(g.config, f.lake));
  ASSIGN_OR_RETURN(std::string dataset, lake::NormalizePath(f.dataset));
  size_t skipped = 0;
  ASSIGN_OR_RETURN(std::vector<quality::RunRecord> all, quality::ReadHistory(fs.get(), dataset, &skipped));
  if (all.empty()) {
    return absl::NotFoundError(fmt::format(
        "no quality history for {} in {}: no ingest with [[quality.rule]] for it has run yet (`comptoir quality "
        "rules` lists the rules)", dataset, fs->Uri()));
  }
  std::vector<quality::RunRecord> recent(all.end() - std::min<std::ptrdiff_t>(std::max(f.runs, 1), all.size()),
                                         all.end());
  const quality::RunRecord& last = all.back();
  if (f.json) {
    nlohmann::json j = nlohmann::json::parse(last.ToJsonLine());
    j["runs"] = all.size();
    j["skipped_lines"] = skipped;
    j["rejects_dir"] = last.rejected > 0 && !last.failed() ? lake::JoinPath(dataset, quality::RejectsDir(last.run)) : "";
    for (nlohmann::json& rule : j["rules"]) rule["trend"] = Trend(recent, rule.value("number", 0));
    j["history"] = nlohmann::json::array();
    for (const quality::RunRecord& r : recent) {
      j["history"].push_back({{"run", r.run}, {"time", r.time}, {"outcome", r.outcome}, {"rows_in", r.rows_in},
                              {"rows_out", r.rows_out}, {"rejected", r.rejected}, {"warned", r.warned}});
    }
    std::cout << j.dump(2) << "\n";
    return absl::OkStatus();
  }
  std::cout << fmt::format("{} in {}: {} run(s) recorded; the last, {} ({}, {}), {}\n", dataset, fs->Uri(),
                           all.size(), last.run, last.time, last.writer,
                           last.failed() ? "FAILED: nothing published" : "published");
  if (last.failed()) std::cout << "  " << last.failure << "\n";
  if (last.failed()) {
    std::cout << fmt::format("  rows in {}, none published (a fail rule stopped the run), {} would have been "
                             "rejected, warned {}\n",
                             core::WithThousands(last.rows_in), core::WithThousands(last.rejected),
                             core::WithThousands(last.warned));
  } else {
    std::cout << fmt::format("  rows in {}, published {}, rejected {}{}, warned {}\n", core::WithThousands(last.rows_in),
                             core::WithThousands(last.rows_out), core::WithThousands(last.rejected),
                             last.rejected > 0
                                 ? fmt::format(" (in {})", lake::JoinPath(dataset, quality::RejectsDir(last.run)))
                                 : "",
                             core::WithThousands(last.warned));
  }
  std::cout << fmt::format("  {:>3}  {:<48} {:<7} {:>9}  trend over {} run(s), oldest first\n", "#", "rule", "action",
                           "failed", recent.size());
  for (const quality::RuleResult& r : last.rules) {
    std::string trend;
    for (const nlohmann::json& v : Trend(recent, r.number)) {
      StrAppend(&trend, trend.empty() ? "" : " ", v.is_null() ? std::string("-") : std::to_string(v.get<uint64_t>()));
    }
    std::cout << fmt::format("  {:>3}  {:<48} {:<7} {:>9}  {}\n", r.number,
                             r.name == fmt::format("rule {}", r.number) ? r.describe : r.name + ": " + r.describe,
                             r.action, core::WithThousands(r.failed), trend);
  }
  if (skipped > 0) std::cout << fmt::format("  ({} damaged line(s) of the history skipped)\n", skipped);
  return absl::OkStatus();
}

struct ReplayFlags {
  std::string lake;
  std::string dataset;
  std::string run;
};

Status RunReplay(const Globals& g, const ReplayFlags& f) {
  ASSIGN_OR_RETURN(std::vector<quality::Rule> rules, quality::LoadRules(g.config_path, g.config_explicit));
  ASSIGN_OR_RETURN(std::unique_ptr<lake::Storage> fs, lake::OpenConfiguredLake(g.config, f.lake));
  ASSIGN_OR_RETURN(std::string dataset, lake::NormalizePath(f.dataset));
  ASSIGN_OR_RETURN(quality::RunRecord r, quality::Replay(fs.get(), dataset, f.run, rules));
  std::cout << fmt::format("Replayed {} reject(s) of run {} in {}{} as run {}: {} published, {} still rejected{}, {} "
                           "warned\n",
                           core::WithThousands(r.rows_in), f.run, fs->Uri(), dataset, r.run,
                           core::WithThousands(r.rows_out), core::WithThousands(r.rejected),
                           r.rejected > 0 ? fmt::format(" (in {})", lake::JoinPath(dataset, quality::RejectsDir(r.run)))
                                          : "",
                           core::WithThousands(r.warned));
  return absl::OkStatus();
}

}  // namespace

std::vector<CommandDef> QualityCommands() {
  return {{{.name = "quality", .help = "Data quality: the rules of comptoir.toml ([[quality.rule]]) and the results of the runs they checked", .supervised = false}, [](Command& cmd) {
             cmd.RequireSub();
             auto f = std::make_shared<RulesFlags>();
             Command rules = cmd.Sub("rules", "List the [[quality.rule]] tables of the configuration and check them "
                                              "(every key, and each dataset's columns in the lake)");
             rules.Option("--lake", &f->lake, "Lake URI or directory (default: config `lake`, i.e. ./lake)");
             rules.Flag("--json", &f->json, "Print JSON");
             rules.Flag("--offline", &f->offline, "Check the rules alone, without reading the lake");
             const Globals* g = &cmd.globals();
             rules.Action([g, f] { return ListRules(*g, *f); });
             auto rf = std::make_shared<ReportFlags>();
             Command report = cmd.Sub("report", "The last ingest run's quality results for DATASET (rows in, "
                                                "published, rejected, per rule) and each rule's trend over runs");
             report.Option("dataset", &rf->dataset, "Dataset (target dir), e.g. /user/sqoop/sales").Required();
             report.Option("--lake", &rf->lake, "Lake URI or directory (default: config `lake`, i.e. ./lake)");
             report.Option("--runs", &rf->runs, "Runs shown in the trend (default 10)");
             report.Flag("--json", &rf->json, "Print JSON");
             report.Action([g, rf] { return Report(*g, *rf); });
             auto pf = std::make_shared<ReplayFlags>();
             Command replay = cmd.Sub("replay", "Re-check the rejects of one run with the rules as they are now: "
                                                "those that pass are published into DATASET, the others stay in "
                                                "quarantine (one commit)");
             replay.Option("dataset", &pf->dataset, "Dataset (target dir), e.g. /user/sqoop/sales").Required();
             replay.Option("--run", &pf->run, "The run whose rejects to re-check (`quality report` lists runs)")
                 .Required();
             replay.Option("--lake", &pf->lake, "Lake URI or directory (default: config `lake`, i.e. ./lake)");
             replay.Action([g, pf] { return RunReplay(*g, *pf); });
           }}};
}

}  // namespace comptoir::cli
