#include "comptoir/serve/service.h"

#include <atomic>
#include <chrono>
#include <fstream>
#include <iostream>
#include <thread>

#include "comptoir/coord/coordinator.h"
#include "comptoir/core/strings.h"
#include "comptoir/stream/archiver.h"
#include "fmt/format.h"
#include "spdlog/spdlog.h"

namespace comptoir::serve {

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

bool IsLoopback(const std::string& host) { return host == "localhost" || host.starts_with("127.") || host == "::1"; }

StatusOr<std::string> ReadTokenFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(fmt::format("cannot read --auth-token-file {}", path));
  std::string token;
  std::getline(in, token);
  token = std::string(StripAsciiWhitespace(token));
  if (token.size() < 16) {
    return absl::InvalidArgumentError(
        fmt::format("{}: the token must be at least 16 characters (e.g. `openssl rand -hex 24 > {}`)", path, path));
  }
  return token;
}

Service::Service(ServiceOptions options)
    : o_(std::move(options)),
      sales_(o_.lake, o_.sales_dir, o_.sales_from, o_.views_dir),
      logs_(o_.lake, o_.logs_dir) {}

Service::~Service() {
  if (server_) server_->Stop();
}

Status Service::Start() {
  server_ = std::make_unique<HttpServer>(o_.server, [this](const Request& r, Response* out) { api_->Handle(r, out); });
  ApiOptions ao;
  ao.lake = o_.lake;
  ao.sales = &sales_;
  ao.logs = &logs_;
  ao.auth_token = o_.auth_token;
  ao.server_stats = &server_->stats();
  ao.health = o_.health;
  ao.quality_datasets = o_.quality_datasets;
  api_ = std::make_unique<Api>(ao);
  Status first = sales_.Refresh();
  if (!first.ok() && !absl::IsNotFound(first)) {
    std::cerr << fmt::format("serve: {} not loaded: {}\n", o_.sales_dir, std::string(first.message()));
  } else if (first.ok()) {
    std::shared_ptr<const analytics::Snapshot> s = sales_.snapshot();
    if (!s->view.engine.empty()) {
      std::cout << fmt::format("serve: sales numbers from the view {} (built by {}{})\n", s->view.dir, s->view.engine,
                               s->view.stale.empty() ? "" : "; stale: " + s->view.stale);
    } else if (!s->rows_reason.empty()) {
      std::cout << fmt::format("serve: sales numbers from the rows of {} ({})\n", o_.sales_dir, s->rows_reason);
    }
  }
  return server_->Start();
}

std::string Service::url() const {
  const std::string& host = o_.server.host;
  return fmt::format("http://{}:{}/", host.find(':') != std::string::npos ? "[" + host + "]" : host, server_->port());
}

size_t Service::sales_rows() const { return sales_.snapshot()->rows; }

const ServerStats& Service::stats() const { return server_->stats(); }

void Service::OpenLive() {
  analytics::LiveOptions lo;
  lo.bus_uri = o_.bus_uri;
  lo.bus = o_.bus;
  lo.topic = o_.topic;
  lo.group = o_.group;
  lo.lake = o_.lake;
  lo.archive_dir = o_.archive_dir;
  StatusOr<std::unique_ptr<analytics::LiveView>> v = analytics::LiveView::Open(lo);
  if (v.ok()) {
    live_ = *std::move(v);
    api_->SetLive(live_.get(), "");
  } else {
    api_->SetLive(nullptr, std::string(v.status().message()));
  }
}

bool Service::ArchiverLoop(const std::function<bool()>& stop) {
  stream::ArchiverOptions ao;
  ao.bus_uri = o_.bus_uri;
  ao.bus = o_.bus;
  ao.topic = o_.topic;
  ao.target_dir = o_.archive_dir;
  ao.roll_interval = std::chrono::seconds(10);
  ao.rules = o_.quality_rules;
  ao.dlq_topic = o_.topic + ".dlq";
  StatusOr<std::unique_ptr<coord::Coordinator>> coordination = coord::OpenCoordinator(o_.coord_uri);
  if (!coordination.ok()) {
    archiver_status_ = coordination.status();
    return false;
  }
  StatusOr<std::unique_ptr<coord::Lock>> lease = stream::TakeArchiverLease(coordination->get(), o_.bus_uri, o_.topic);
  if (!lease.ok() || *lease == nullptr) {
    archiver_status_ = lease.status();
    return true;
  }
  while (!stop()) {
    StatusOr<std::unique_ptr<stream::Archiver>> a = stream::Archiver::Open(o_.lake, ao);
    if (a.ok()) {
      archiver_status_ = (*a)->Run(stop, std::chrono::milliseconds(0));
      if (archiver_status_.ok()) break;
    } else {
      archiver_status_ = a.status();
    }
    std::this_thread::sleep_for(std::chrono::seconds(2));
  }
  return true;
}

Status Service::Run(const std::function<bool()>& stop) {
  const bool live = !o_.bus_uri.empty();
  if (live) {
    OpenLive();
  } else {
    api_->SetLive(nullptr, "serve runs with --no-live");
  }
  // A coordination service that cannot be opened stops the service.
  std::atomic<bool> archiver_failed{false};
  std::thread archiver;
  if (o_.archive && live) {
    archiver = std::thread([&] { archiver_failed = !ArchiverLoop(stop); });
  }
  int64_t last_tick = 0;
  int turns = 0;
  while (!stop() && !archiver_failed) {
    auto now_tp = std::chrono::system_clock::now().time_since_epoch();
    auto quarter = std::chrono::milliseconds(250);
    std::this_thread::sleep_for(quarter - (now_tp % quarter) + std::chrono::milliseconds(2));
    int64_t now_s =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    if (now_s - 1 > last_tick) {
      last_tick = now_s - 1;
      std::string ev = api_->TickEvent(last_tick);
      if (!ev.empty()) server_->Publish("live", std::move(ev));
    }
    if (++turns % 4 != 0) continue;
    Status s = sales_.Refresh();
    if (!s.ok() && !absl::IsNotFound(s)) spdlog::warn("serve: {}", std::string(s.message()));
    if (live_) {
      Status a = live_->RefreshArchive();
      if (!a.ok()) spdlog::warn("serve: archive {}: {}", o_.archive_dir, std::string(a.message()));
    } else if (live && turns % 20 == 0) {
      OpenLive();
    }
  }
  std::cout << "serve: stopping (ending event streams, finishing requests)\n" << std::flush;
  server_->Stop();
  if (archiver.joinable()) archiver.join();
  std::cout << fmt::format("serve: stopped after {} requests\n", server_->stats().requests.load());
  return archiver_status_;
}

}  // namespace comptoir::serve
