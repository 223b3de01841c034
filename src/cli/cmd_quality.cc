// comptoir quality rules: the data-quality rules of the configuration, checked.
#include <iostream>

#include "comptoir/lake/storage.h"
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

}  // namespace

std::vector<CommandDef> QualityCommands() {
  return {{{.name = "quality", .help = "Data-quality rules ([[quality.rule]] in comptoir.toml): list and check them", .supervised = false}, [](Command& cmd) {
             cmd.RequireSub();
             auto f = std::make_shared<RulesFlags>();
             Command rules = cmd.Sub("rules", "List the [[quality.rule]] tables of the configuration and check them "
                                              "(every key, and each dataset's columns in the lake)");
             rules.Option("--lake", &f->lake, "Lake URI or directory (default: config `lake`, i.e. ./lake)");
             rules.Flag("--json", &f->json, "Print JSON");
             rules.Flag("--offline", &f->offline, "Check the rules alone, without reading the lake");
             const Globals* g = &cmd.globals();
             rules.Action([g, f] { return ListRules(*g, *f); });
           }}};
}

}  // namespace comptoir::cli
