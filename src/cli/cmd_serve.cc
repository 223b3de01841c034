// comptoir serve: the dashboard, its API and the live stream, from the lake and the bus.
#include <chrono>
#include <fstream>
#include <iostream>
#include <thread>

#include "comptoir/analytics/live.h"
#include "comptoir/analytics/logs.h"
#include "comptoir/analytics/sales.h"
#include "comptoir/core/signals.h"
#include "comptoir/health/health.h"
#include "comptoir/serve/api.h"
#include "comptoir/serve/http.h"
#include "comptoir/stream/archiver.h"
#include "common.h"
#include "fmt/format.h"
#include "spdlog/spdlog.h"

namespace comptoir::cli {
namespace {

struct ServeFlags {
  std::string listen = "127.0.0.1:8080";
  std::string lake;
  std::string bus;
  std::string topic = "transactions";
  std::string group = "comptoir-serve";
  std::string sales = "/user/sqoop/sales";
  std::string logs = "/user/flume/logs";
  std::string archive_dir = "/user/kafka/transactions";
  std::string auth_token_file;
  int threads = 2;
  double rate_limit = 50;
  bool archive = false;
  bool no_live = false;
  bool rate_limit_loopback = false;
  std::string coord;
  std::string jobs_dir;
};

StatusOr<std::pair<std::string, int>> ParseListen(const std::string& text) {
  size_t colon = text.rfind(':');
  int port = 0;
  if (colon == std::string::npos || !ParseInt(text.substr(colon + 1), &port) || port < 0 || port > 65535) {
    return absl::InvalidArgumentError(fmt::format("--listen '{}' is not HOST:PORT (e.g. 127.0.0.1:8080)", text));
  }
  std::string host = text.substr(0, colon);
  if (host.starts_with('[') && host.ends_with(']')) host = host.substr(1, host.size() - 2);
  return std::make_pair(host.empty() ? std::string("0.0.0.0") : host, port);
}

bool IsLoopback(const std::string& host) {
  return host == "localhost" || host.starts_with("127.") || host == "::1";
}

StatusOr<std::string> ReadToken(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(fmt::format("cannot read --auth-token-file {}", path));
  std::string token;
  std::getline(in, token);
  token = std::string(StripAsciiWhitespace(token));
  if (token.size() < 16) {
    return absl::InvalidArgumentError(fmt::format("{}: the token must be at least 16 characters "
                                                  "(e.g. `openssl rand -hex 24 > {}`)", path, path));
  }
  return token;
}

Status RunServe(const ServeFlags& f, const Globals& g) {
  ASSIGN_OR_RETURN(auto where, ParseListen(f.listen));
  std::string token;
  if (!f.auth_token_file.empty()) {
    ASSIGN_OR_RETURN(token, ReadToken(f.auth_token_file));
  } else if (!IsLoopback(where.first)) {
    return absl::FailedPreconditionError(fmt::format(
        "refusing to serve on {} without --auth-token-file: anyone on the network could read the data "
        "(listen on 127.0.0.1, or give a token file)", f.listen));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<lake::Storage> lake, OpenLake(!f.lake.empty() ? f.lake : g.config.GetString("lake")));
  analytics::SalesDataset sales(lake.get(), f.sales);
  analytics::LogIndex logs(lake.get(), f.logs);
  std::string bus_uri = BusUri(g, f.bus);
  bus::BusOptions bus_options;
  bus_options.kafka_properties = g.config.GetTable("bus.kafka");

  serve::ServerOptions so;
  so.host = where.first;
  so.port = where.second;
  so.threads = f.threads;
  so.rate_limit = f.rate_limit;
  so.rate_limit_loopback = f.rate_limit_loopback;
  serve::Api* api_ptr = nullptr;
  serve::HttpServer server(so, [&api_ptr](const serve::Request& r, serve::Response* out) { api_ptr->Handle(r, out); });
  serve::ApiOptions ao;
  ao.lake = lake.get();
  ao.sales = &sales;
  ao.logs = &logs;
  ao.auth_token = token;
  ao.server_stats = &server.stats();
  HealthFlags hf;
  hf.bus = f.no_live ? "" : bus_uri;
  hf.topic = f.topic;
  hf.datasets = {f.sales, f.archive_dir, f.logs};
  hf.coord = f.coord;
  hf.jobs_dir = f.jobs_dir;
  health::Targets targets = HealthTargets(hf, g, lake.get());
  if (f.no_live) targets.bus_uri.clear();
  ao.health = [targets] {
    std::vector<serve::Component> out;
    for (const health::Component& c : health::Check(targets)) {
      out.push_back({c.name, std::string(health::StateName(c.state)), c.detail});
    }
    return out;
  };
  serve::Api api(ao);
  api_ptr = &api;

  Status first = sales.Refresh();
  if (!first.ok() && !absl::IsNotFound(first)) {
    std::cerr << fmt::format("serve: {} not loaded: {}\n", f.sales, std::string(first.message()));
  }
  RETURN_IF_ERROR(server.Start());
  std::string url = fmt::format("http://{}:{}/", where.first.find(':') != std::string::npos ? "[" + where.first + "]" : where.first,
                                server.port());
  std::cout << fmt::format("serve: dashboard on {} (lake {}, sales {} with {} rows, bus {}); Ctrl-C to stop\n", url,
                           lake->Uri(), f.sales, sales.snapshot()->rows, f.no_live ? "off" : bus_uri)
            << std::flush;

  // The live view, opened (and reopened) in the background.
  std::unique_ptr<analytics::LiveView> live;
  auto open_live = [&]() {
    analytics::LiveOptions lo;
    lo.bus_uri = bus_uri;
    lo.bus = bus_options;
    lo.topic = f.topic;
    lo.group = f.group;
    lo.lake = lake.get();
    lo.archive_dir = f.archive_dir;
    StatusOr<std::unique_ptr<analytics::LiveView>> v = analytics::LiveView::Open(lo);
    if (v.ok()) {
      live = std::move(*v);
      api.SetLive(live.get(), "");
    } else {
      api.SetLive(nullptr, std::string(v.status().message()));
    }
  };
  if (f.no_live) {
    api.SetLive(nullptr, "serve runs with --no-live");
  } else {
    open_live();
  }
  // The archiver, when asked: the stream into the lake, exactly once.
  std::thread archiver;
  Status archiver_status;
  if (f.archive && !f.no_live) {
    archiver = std::thread([&] {
      stream::ArchiverOptions ao2;
      ao2.bus_uri = bus_uri;
      ao2.bus = bus_options;
      ao2.topic = f.topic;
      ao2.target_dir = f.archive_dir;
      ao2.roll_interval = std::chrono::seconds(10);
      StatusOr<std::unique_ptr<coord::Coordinator>> coordination = OpenCoordination(g, f.coord);
      if (!coordination.ok()) {
        archiver_status = coordination.status();
        core::RequestCancel();
        return;
      }
      StatusOr<std::unique_ptr<coord::Lock>> lease =
          TakeArchiverLock(coordination->get(), bus_uri, f.topic);
      if (!lease.ok() || *lease == nullptr) {
        archiver_status = lease.status();
        return;
      }
      while (!core::Cancelled()) {
        StatusOr<std::unique_ptr<stream::Archiver>> a = stream::Archiver::Open(lake.get(), ao2);
        if (a.ok()) {
          archiver_status = (*a)->Run([] { return core::Cancelled(); }, std::chrono::milliseconds(0));
          if (archiver_status.ok()) break;
        } else {
          archiver_status = a.status();
        }
        std::this_thread::sleep_for(std::chrono::seconds(2));
      }
    });
  }

  // One tick per second to the SSE clients, sent as soon as the second is over
  // (wake-ups on quarter-second boundaries of the clock); dataset and archive refreshes.
  int64_t last_tick = 0;
  int turns = 0;
  while (!core::Cancelled()) {
    auto now_tp = std::chrono::system_clock::now().time_since_epoch();
    auto quarter = std::chrono::milliseconds(250);
    std::this_thread::sleep_for(quarter - (now_tp % quarter) + std::chrono::milliseconds(2));
    int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
    if (now_s - 1 > last_tick) {
      last_tick = now_s - 1;
      std::string ev = api.TickEvent(last_tick);
      if (!ev.empty()) server.Publish("live", std::move(ev));
    }
    if (++turns % 4 == 0) {
      Status s = sales.Refresh();
      if (!s.ok() && !absl::IsNotFound(s)) spdlog::warn("serve: {}", std::string(s.message()));
      if (live) {
        Status a = live->RefreshArchive();
        if (!a.ok()) spdlog::warn("serve: archive {}: {}", f.archive_dir, std::string(a.message()));
      } else if (!f.no_live && turns % 20 == 0) {
        open_live();
      }
    }
  }
  std::cout << "serve: stopping (ending event streams, finishing requests)\n" << std::flush;
  server.Stop();
  if (archiver.joinable()) archiver.join();
  std::cout << fmt::format("serve: stopped after {} requests\n", server.stats().requests.load());
  return archiver_status;
}

}  // namespace

void AddServeCommand(CLI::App* app, Globals* g, int* result) {
  auto f = std::make_shared<ServeFlags>();
  CLI::App* cmd = app->add_subcommand(
      "serve", "Serve the dashboard and its API: sales from the lake, live events from the bus, logs, health");
  cmd->add_option("--listen", f->listen, "HOST:PORT to listen on (default 127.0.0.1:8080)");
  cmd->add_option("--lake", f->lake, "Lake URI or directory (default: config lake)");
  cmd->add_option("--bus", f->bus, "Bus URI: kafka://host:port[,host:port], log:///dir or a directory (default: config bus.uri)");
  cmd->add_option("--topic", f->topic, "Topic of the live events (default transactions)");
  cmd->add_option("--group", f->group, "Consumer group of the live view (default comptoir-serve)");
  cmd->add_option("--sales", f->sales, "Lake directory of the sales dataset (default /user/sqoop/sales)");
  cmd->add_option("--logs", f->logs, "Lake directory of the agent's logs (default /user/flume/logs)");
  cmd->add_option("--archive-dir", f->archive_dir,
                  "Lake directory of the archived stream (default /user/kafka/transactions)");
  cmd->add_flag("--archive", f->archive, "Also archive the stream into --archive-dir, exactly once");
  cmd->add_option("--auth-token-file", f->auth_token_file,
                  "File holding the access token (required to listen beyond loopback)");
  cmd->add_option("--threads", f->threads, "HTTP worker threads (default 2)")->check(CLI::Range(1, 64));
  cmd->add_option("--rate-limit", f->rate_limit,
                  "Requests per second per client address beyond loopback (default 50; 0 = none)");
  cmd->add_flag("--rate-limit-loopback", f->rate_limit_loopback,
                "Apply --rate-limit to loopback clients too (tests, load checks)");
  cmd->add_option("--coord", f->coord,
                  "Coordination URI: the archiver's lease, the agents shown by health (default: config coord.uri)");
  cmd->add_option("--jobs-dir", f->jobs_dir,
                  "Saved import jobs whose last run health shows (default: config import.jobs_dir, else "
                  "~/.comptoir/jobs; none: skip)");
  cmd->add_flag("--no-live", f->no_live, "Do not read the bus (no Live tab)");
  cmd->callback([f, g, result] {
    Status s = RunServe(*f, *g);
    *result = s.ok() ? 0 : Fail("serve", s);
  });
}

}  // namespace comptoir::cli
