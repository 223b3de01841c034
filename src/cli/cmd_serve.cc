// comptoir serve: the dashboard, its API and the live stream, from the lake and the bus.
#include <iostream>

#include "common.h"
#include "comptoir/bus/client.h"
#include "comptoir/coord/coordinator.h"
#include "comptoir/core/signals.h"
#include "comptoir/quality/rules.h"
#include "comptoir/serve/service.h"
#include "fmt/format.h"

namespace comptoir::cli {
namespace {

struct ServeFlags {
  std::string listen = "127.0.0.1:8080";
  std::string lake;
  std::string bus;
  std::string topic{core::kTopic};
  std::string group{core::kServeGroup};
  std::string sales{core::kSalesDir};
  std::string sales_from = "auto";
  std::string views_dir = "/user/comptoir/views/sales";
  std::string logs{core::kLogsDir};
  std::string archive_dir{core::kTransactionsDir};
  std::string auth_token_file;
  int threads = 2;
  double rate_limit = 50;
  bool archive = false;
  bool no_live = false;
  bool rate_limit_loopback = false;
  std::string coord;
  std::string jobs_dir;
};

Status RunServe(const ServeFlags& f, const Globals& g) {
  serve::ServiceOptions o;
  ASSIGN_OR_RETURN(auto where, serve::ParseListen(f.listen));
  if (!f.auth_token_file.empty()) {
    ASSIGN_OR_RETURN(o.auth_token, serve::ReadTokenFile(f.auth_token_file));
  } else if (!serve::IsLoopback(where.first)) {
    return absl::FailedPreconditionError(fmt::format(
        "refusing to serve on {} without --auth-token-file: anyone on the network could read the data "
        "(listen on 127.0.0.1, or give a token file)",
        f.listen));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<lake::Storage> lake, lake::OpenConfiguredLake(g.config, f.lake));
  std::string bus_uri = bus::ConfiguredBusUri(g.config, f.bus);
  o.server.host = where.first;
  o.server.port = where.second;
  o.server.threads = f.threads;
  o.server.rate_limit = f.rate_limit;
  o.server.rate_limit_loopback = f.rate_limit_loopback;
  o.lake = lake.get();
  o.sales_dir = f.sales;
  ASSIGN_OR_RETURN(o.sales_from, analytics::ParseSalesFrom(f.sales_from));
  o.views_dir = f.views_dir;
  o.logs_dir = f.logs;
  o.archive_dir = f.archive_dir;
  o.bus_uri = f.no_live ? "" : bus_uri;
  o.bus = bus::ConfiguredBusOptions(g.config);
  o.topic = f.topic;
  o.group = f.group;
  o.archive = f.archive;
  o.coord_uri = coord::ConfiguredCoordinationUri(g.config, f.coord);
  o.quality_datasets = QualityDatasets(g);
  ASSIGN_OR_RETURN(o.quality_rules, quality::LoadRules(g.config_path, g.config_explicit));
  // The Health tab: the platform's probes, from these flags and the configuration.
  HealthFlags hf;
  hf.bus = f.no_live ? "none" : bus_uri;
  hf.topic = f.topic;
  hf.datasets = {f.sales, f.archive_dir, f.logs};
  hf.views_dir = f.views_dir;
  hf.coord = f.coord;
  hf.jobs_dir = f.jobs_dir;
  health::Targets targets = HealthTargets(hf, g, lake.get());
  o.health = [targets] {
    std::vector<serve::Component> out;
    for (const health::Component& c : health::Check(targets)) {
      out.push_back({c.name, std::string(health::StateName(c.state)), c.detail});
    }
    return out;
  };
  serve::Service service(o);
  RETURN_IF_ERROR(service.Start());
  std::cout << fmt::format("serve: dashboard on {} (lake {}, sales {} with {} rows, bus {}); Ctrl-C to stop\n",
                           service.url(), lake->Uri(), f.sales, service.sales_rows(), f.no_live ? "off" : bus_uri)
            << std::flush;
  return service.Run([] { return core::Cancelled(); });
}

void DefineServe(Command& cmd) {
  auto f = std::make_shared<ServeFlags>();
  cmd.Option("--listen", &f->listen, "HOST:PORT to listen on (default 127.0.0.1:8080)");
  cmd.Option("--lake", &f->lake, "Lake URI or directory (default: config lake)");
  cmd.Option("--bus", &f->bus,
             "Bus URI: kafka://host:port[,host:port], log:///dir or a directory (default: config bus.uri)");
  cmd.Option("--topic", &f->topic, "Topic of the live events (default transactions)");
  cmd.Option("--group", &f->group, "Consumer group of the live view (default comptoir-serve)");
  cmd.Option("--sales", &f->sales, "Lake directory of the sales dataset (default /user/sqoop/sales)");
  cmd.Option("--sales-from", &f->sales_from,
             "Where the Sales tab's numbers come from: auto (default: the sales view when it was built from the "
             "dataset's current parts, else the rows), views (the view only) or rows (the rows only)");
  cmd.Option("--views-dir", &f->views_dir, "The sales view (default /user/comptoir/views/sales; `views build`)");
  cmd.Option("--logs", &f->logs, "Lake directory of the agent's logs (default /user/flume/logs)");
  cmd.Option("--archive-dir", &f->archive_dir,
             "Lake directory of the archived stream (default /user/kafka/transactions)");
  cmd.Flag("--archive", &f->archive, "Also archive the stream into --archive-dir, exactly once");
  cmd.Option("--auth-token-file", &f->auth_token_file,
             "File holding the access token (required to listen beyond loopback)");
  cmd.Option("--threads", &f->threads, "HTTP worker threads (default 2)").Within(1, 64);
  cmd.Option("--rate-limit", &f->rate_limit,
             "Requests per second per client address beyond loopback (default 50; 0 = none)");
  cmd.Flag("--rate-limit-loopback", &f->rate_limit_loopback,
           "Apply --rate-limit to loopback clients too (tests, load checks)");
  cmd.Option("--coord", &f->coord,
             "Coordination URI: the archiver's lease, the agents shown by health (default: config coord.uri)");
  cmd.Option("--jobs-dir", &f->jobs_dir,
             "Saved import jobs whose last run health shows (default: config import.jobs_dir, else ~/.comptoir/jobs; "
             "none: skip)");
  cmd.Flag("--no-live", &f->no_live, "Do not read the bus (no Live tab)");
  const Globals* g = &cmd.globals();
  cmd.Action([f, g] { return RunServe(*f, *g); });
}

}  // namespace

std::vector<CommandDef> ServeCommands() {
  return {{{.name = "serve",
            .help = "Serve the dashboard and its API: sales from the lake, live events from the bus, logs, health",
            .lifetime = orchestrate::Lifetime::kLongRunning,
            .start_rank = 0,
            .needs = {{"lake"}, {"bus", "", "--no-live"}, {"coord", "--archive"}},
            .listen_flag = "--listen",
            .listen_default = "127.0.0.1:8080"},
           DefineServe}};
}

}  // namespace comptoir::cli
