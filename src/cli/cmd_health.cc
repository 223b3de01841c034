// comptoir health: every component's state, and why; non-zero when anything is not ok.
#include <iostream>

#include "common.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"

namespace comptoir::cli {
namespace {

StatusOr<int> RunHealth(const HealthFlags& f, const Globals& g) {
  ASSIGN_OR_RETURN(std::unique_ptr<lake::Storage> lake, lake::OpenConfiguredLake(g.config, f.lake));
  std::vector<health::Component> parts = health::Check(HealthTargets(f, g, lake.get()));
  health::State overall = health::Overall(parts);
  if (f.json) {
    nlohmann::json comps = nlohmann::json::array();
    for (const auto& c : parts) {
      comps.push_back({{"name", c.name},
                       {"status", health::StateName(c.state)},
                       {"detail", c.detail},
                       {"elapsed_ms", c.elapsed_ms}});
    }
    std::cout << nlohmann::json{{"status", health::StateName(overall)}, {"components", comps}}.dump(
                     -1, ' ', false, nlohmann::json::error_handler_t::replace)
              << '\n';
  } else {
    std::cout << fmt::format("health: {}\n", health::StateName(overall));
    for (const auto& c : parts) {
      std::cout << fmt::format("  {:<9} {:<28} {} ({:.0f} ms)\n", health::StateName(c.state), c.name, c.detail,
                               c.elapsed_ms);
    }
  }
  return overall == health::State::kOk ? 0 : 1;
}

}  // namespace

std::vector<CommandDef> HealthCommands() {
  return {{{.name = "health",
            .help = "Check the lake, the bus, ZooKeeper, source databases, agents and data freshness; exit 1 unless "
                    "all ok"},
           [](Command& cmd) {
             auto f = std::make_shared<HealthFlags>();
             f->Add(cmd);
             cmd.Flag("--json", &f->json, "Print JSON");
             const Globals* g = &cmd.globals();
             cmd.ActionWithCode([f, g] { return RunHealth(*f, *g); });
           }}};
}

}  // namespace comptoir::cli
