// comptoir health: every component's state, and why; non-zero when anything is not ok.
#include <iostream>

#include "comptoir/health/health.h"
#include "common.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"

namespace comptoir::cli {

health::Targets HealthTargets(const HealthFlags& f, const Globals& g, lake::Storage* lake) {
  health::Targets t;
  t.lake = lake;
  t.bus_uri = BusUri(g, f.bus);
  if (t.bus_uri == "none") t.bus_uri.clear();
  t.bus.kafka_properties = g.config.GetTable("bus.kafka");
  t.topic = f.topic;
  t.zookeeper = !f.zookeeper.empty() ? f.zookeeper : g.config.GetString("zookeeper.connect");
  if (t.zookeeper.starts_with("zk://")) t.zookeeper = t.zookeeper.substr(5, t.zookeeper.find('/', 5) - 5);
  t.databases = f.databases;
  if (t.databases.empty()) {
    for (std::string_view d : Split(g.config.GetString("health.databases"), ',', true)) {
      t.databases.emplace_back(StripAsciiWhitespace(d));
    }
  }
  t.coord_uri = !f.coord.empty() ? f.coord : g.config.GetString("coord.uri");
  t.jobs_dir = !f.jobs_dir.empty() ? f.jobs_dir : JobsDir(g);
  if (t.jobs_dir == "none") t.jobs_dir.clear();
  for (const std::string& d : f.datasets) t.datasets.push_back({d, f.stale_after});
  t.timeout = f.timeout;
  return t;
}

namespace {

Status RunHealth(const HealthFlags& f, const Globals& g, int* exit_code) {
  ASSIGN_OR_RETURN(std::unique_ptr<lake::Storage> lake, OpenLake(!f.lake.empty() ? f.lake : g.config.GetString("lake")));
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
    std::cout << nlohmann::json{{"status", health::StateName(overall)}, {"components", comps}}.dump() << '\n';
  } else {
    std::cout << fmt::format("health: {}\n", health::StateName(overall));
    for (const auto& c : parts) {
      std::cout << fmt::format("  {:<9} {:<28} {} ({:.0f} ms)\n", health::StateName(c.state), c.name, c.detail,
                               c.elapsed_ms);
    }
  }
  *exit_code = overall == health::State::kOk ? 0 : 1;
  return absl::OkStatus();
}

}  // namespace

void HealthFlags::Add(CLI::App* cmd) {
  cmd->add_option("--lake", lake, "Lake URI or directory (default: config lake)");
  cmd->add_option("--bus", bus, "Bus URI (default: config bus.uri; none: do not check a bus)");
  cmd->add_option("--topic", topic, "Topic of the live events (default transactions)");
  cmd->add_option("--zookeeper", zookeeper, "ZooKeeper host:port[,host:port] (default: config zookeeper.connect)");
  cmd->add_option("--db", databases, "Source database URL to check (repeatable; default: config health.databases)");
  cmd->add_option("--coord", coord, "Coordination URI where agents register (default: config coord.uri)");
  cmd->add_option("--jobs-dir", jobs_dir,
                  "Saved import jobs whose last run to report (default: config import.jobs_dir, else "
                  "~/.comptoir/jobs; none: skip)");
  cmd->add_option("--dataset", datasets, "Lake datasets whose freshness to report (repeatable)");
  cmd->add_option_function<std::string>(
      "--stale-after",
      [this](const std::string& v) {
        StatusOr<std::chrono::milliseconds> d = ParseDuration(v);
        if (!d.ok()) throw CLI::ValidationError("--stale-after", std::string(d.status().message()));
        stale_after = std::chrono::duration_cast<std::chrono::seconds>(*d);
      },
      "A dataset without new data for this long is degraded (default: never)");
  cmd->add_option_function<std::string>(
      "--timeout",
      [this](const std::string& v) {
        StatusOr<std::chrono::milliseconds> d = ParseDuration(v);
        if (!d.ok()) throw CLI::ValidationError("--timeout", std::string(d.status().message()));
        timeout = *d;
      },
      "Per probe (default 3s)");
}

void AddHealthCommand(CLI::App* app, Globals* g, int* result) {
  auto f = std::make_shared<HealthFlags>();
  CLI::App* cmd = app->add_subcommand(
      "health", "Check the lake, the bus, ZooKeeper, source databases, agents and data freshness; exit 1 unless all ok");
  f->Add(cmd);
  cmd->add_flag("--json", f->json, "Print JSON");
  cmd->callback([f, g, result] {
    int code = 0;
    Status s = RunHealth(*f, *g, &code);
    *result = s.ok() ? code : Fail("health", s);
  });
}

}  // namespace comptoir::cli
