// comptoir views build | status: the batch views (docs/views.md).
#include <iostream>

#include "comptoir/analytics/sales_view.h"
#include "comptoir/core/progress.h"
#include "comptoir/core/time.h"
#include "comptoir/lake/storage.h"
#include "comptoir/views/views.h"
#include "common.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"

namespace comptoir::cli {
namespace {

struct BuildFlags {
  std::string lake;
  views::BuildOptions o;
  bool json = false;
};

std::string Ago(int64_t ms) {
  int64_t s = (core::UnixMillis() - ms) / 1000;
  if (s < 120) return fmt::format("{} s ago", s);
  if (s < 7200) return fmt::format("{} min ago", s / 60);
  if (s < 172800) return fmt::format("{} h ago", s / 3600);
  return fmt::format("{} days ago", s / 86400);
}

std::string Describe(const analytics::ViewManifest& m) {
  std::string engine = m.engine == "spark" ? fmt::format("spark ({}, {})", m.spark_master, m.spark_app) : m.engine;
  if (m.view == "transactions") {
    return fmt::format("{} records (day, status, product line) for {} events of {}, built {} by {} in {:.1f} s",
                       core::WithThousands(static_cast<uint64_t>(m.records)),
                       core::WithThousands(static_cast<uint64_t>(m.source_rows)), m.source,
                       core::FormatIsoSeconds(m.built_at_ms), engine, static_cast<double>(m.build_ms) / 1000.0);
  }
  return fmt::format("{} records for {} rows of {} ({} orders in {} groups{}), built {} by {} in {:.1f} s",
                     core::WithThousands(static_cast<uint64_t>(m.records)),
                     core::WithThousands(static_cast<uint64_t>(m.source_rows)), m.source,
                     core::WithThousands(static_cast<uint64_t>(m.orders)),
                     core::WithThousands(static_cast<uint64_t>(m.groups)),
                     m.split_orders > 0 ? fmt::format(", {} orders kept apart", m.split_orders) : "",
                     core::FormatIsoSeconds(m.built_at_ms), engine, static_cast<double>(m.build_ms) / 1000.0);
}

Status Build(const Globals& g, const BuildFlags& f) {
  ASSIGN_OR_RETURN(std::unique_ptr<lake::Storage> fs, lake::OpenConfiguredLake(g.config, f.lake));
  views::BuildOptions o = f.o;
  o.quiet = o.quiet || g.quiet || f.json;
  ASSIGN_OR_RETURN(views::BuildResult r, views::BuildView(fs.get(), o));
  const analytics::ViewManifest& m = r.manifest;
  if (f.json) {
    nlohmann::json j = nlohmann::json::parse(m.ToJson());
    j["skipped"] = r.skipped;
    j["target_dir"] = r.target_dir;
    if (!r.driver_log.empty()) j["driver_log"] = r.driver_log;
    std::cout << j.dump(2) << "\n";
    return absl::OkStatus();
  }
  if (r.skipped) {
    std::cout << fmt::format("views build: {} is current (built {} by {} from the same parts of {}); nothing to "
                             "do (--force rebuilds)\n",
                             r.target_dir, Ago(m.built_at_ms), m.engine, m.source);
    return absl::OkStatus();
  }
  std::cout << fmt::format("views build: {} in {}: {}\n", r.target_dir, fs->Uri(), Describe(m));
  if (m.split_orders > 0) {
    std::cout << fmt::format("  note: {} orders have lines with different dates, statuses, customers, countries or "
                             "territories; the view keeps each of them apart (exact, a little larger)\n",
                             m.split_orders);
  }
  if (!r.driver_log.empty()) std::cout << fmt::format("  driver log: {}\n", r.driver_log);
  return absl::OkStatus();
}

struct StatusFlags {
  std::string lake;
  std::string source{core::kSalesDir};
  std::string target_dir{views::kSalesViewDir};
  bool json = false;
};

// Exit code 1 when the view is missing or stale (for scripts).
StatusOr<int> ShowStatus(const Globals& g, const StatusFlags& f) {
  ASSIGN_OR_RETURN(std::unique_ptr<lake::Storage> fs, lake::OpenConfiguredLake(g.config, f.lake));
  StatusOr<analytics::ViewManifest> m = analytics::ReadViewManifest(fs.get(), f.target_dir);
  std::string stale = analytics::ViewStaleness(fs.get(), f.source, f.target_dir);
  if (f.json) {
    nlohmann::json j = m.ok() ? nlohmann::json::parse(m->ToJson()) : nlohmann::json::object();
    j["target_dir"] = f.target_dir;
    j["current"] = stale.empty();
    if (!stale.empty()) j["reason"] = stale;
    std::cout << j.dump(2) << "\n";
  } else if (m.ok()) {
    std::cout << fmt::format("{}: {}\n  {}\n", f.target_dir, Describe(*m),
                             stale.empty() ? "current: it answers for " + f.source : "stale: " + stale);
  } else {
    std::cout << fmt::format("{}: {}\n", f.target_dir, stale);
  }
  return stale.empty() ? 0 : 1;
}

}  // namespace

std::vector<CommandDef> ViewsCommands() {
  return {{{.name = "views", .help = "Batch views: the sales view serve answers the Sales tab from, built by the "
                                     "embedded engine or by Apache Spark",
            .start_rank = 2,
            .needs = {{"lake"}}},
           [](Command& cmd) {
             cmd.RequireSub();
             const Globals* g = &cmd.globals();
             auto f = std::make_shared<BuildFlags>();
             Command build = cmd.Sub("build", "Build the sales view of a sales dataset and publish it atomically "
                                              "(a no-op when the view was built from the dataset's current parts)");
             build.Option("--lake", &f->lake, "Lake URI or directory (default: config `lake`, i.e. ./lake)");
             build.Option("--view", &f->o.view,
                          "sales (default: the Sales tab's view) or transactions (the archive's events and revenue "
                          "per day, status and product line: the Live tab's days before today)");
             build.Option("--source,--dataset", &f->o.source,
                          "The input (default /user/sqoop/sales; /user/kafka/transactions for --view transactions)");
             build.Option("--target-dir", &f->o.target_dir, "Where the view is published (default "
                                                             "/user/comptoir/views/<view>)");
             build.Option("--engine", &f->o.engine, "embedded (default: in this process, no JVM) or spark");
             build.Option("--spark-master", &f->o.spark.master,
                          "local[N] (default local[2]), spark://host:port (a standalone cluster) or yarn");
             build.Option("--spark-conf", &f->o.spark.conf, "key=value passed to spark-submit --conf (repeatable), "
                                                            "e.g. spark.executor.memory=4g");
             build.Option("--spark-submit", &f->o.spark.submit,
                          "The spark-submit to run (default: $COMPTOIR_SPARK_SUBMIT, $SPARK_HOME/bin, PATH)");
             build.Option("--driver-log", &f->o.spark.driver_log,
                          "Where the Spark driver's output is kept (default ~/.comptoir/spark/<job>-<time>.log)");
             build.Flag("--force", &f->o.force, "Build even when the view is current");
             build.Flag("--json", &f->json, "Print the view's manifest as JSON");
             build.Action([g, f] { return Build(*g, *f); });
             auto sf = std::make_shared<StatusFlags>();
             Command status = cmd.Sub("status", "Whether the sales view is current for its dataset (exit code 1 "
                                                "when it is missing or stale)");
             status.Option("--lake", &sf->lake, "Lake URI or directory (default: config `lake`, i.e. ./lake)");
             status.Option("--source,--dataset", &sf->source, "The sales dataset (default /user/sqoop/sales)");
             status.Option("--target-dir", &sf->target_dir, "The view (default /user/comptoir/views/sales)");
             status.Flag("--json", &sf->json, "Print JSON");
             status.ActionWithCode([g, sf] { return ShowStatus(*g, *sf); });
           }}};
}

}  // namespace comptoir::cli
