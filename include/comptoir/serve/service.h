// The service behind `comptoir serve`: the HTTP server, the API, the sales
// dataset and the log index from the lake, the live view of the bus and,
// when asked, the in-process stream archiver.
//
// Start() loads the sales dataset and binds; Run() then drives the service
// until `stop` says so:
//  - one SSE tick per second on channel "live", sent as soon as the second is
//    over (wake-ups on quarter-second boundaries of the clock);
//  - every second, the sales dataset and the live view's archive are
//    refreshed (new part files, newly archived days);
//  - the live view is opened in the background and reopened every 5 s while
//    the bus does not answer (the live endpoints say why meanwhile);
//  - the archiver (options.archive) runs on its own thread under the
//    archiver's lease (a standby while another archiver is active) and is
//    reopened after 2 s when it fails.
// Run() returns the archiver's final status (OK without an archiver).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "comptoir/analytics/live.h"
#include "comptoir/analytics/logs.h"
#include "comptoir/analytics/sales.h"
#include "comptoir/bus/client.h"
#include "comptoir/core/names.h"
#include "comptoir/lake/storage.h"
#include "comptoir/quality/rules.h"
#include "comptoir/serve/api.h"
#include "comptoir/serve/http.h"

namespace comptoir::serve {

struct ServiceOptions {
  ServerOptions server;
  std::string auth_token;  // "" = no authentication (loopback only)
  lake::Storage* lake = nullptr;
  std::string sales_dir{core::kSalesDir};
  analytics::SalesFrom sales_from = analytics::SalesFrom::kAuto;  // --sales-from
  std::string views_dir = "/user/comptoir/views/sales";           // the sales view (views build)
  std::string logs_dir{core::kLogsDir};
  std::string archive_dir{core::kTransactionsDir};
  std::string bus_uri;  // "" = no live view (--no-live)
  bus::BusOptions bus;
  std::string topic{core::kTopic};
  std::string group{core::kServeGroup};
  bool archive = false;   // also archive the topic into archive_dir
  std::string coord_uri;  // the archiver's lease
  std::vector<std::string> quality_datasets;  // datasets with quality rules (the Quality tab)
  std::vector<quality::Rule> quality_rules;   // the in-process archiver checks its events with them
  HealthProbe health;
};

// "HOST:PORT" ("[::1]:8080", ":8080" for every address) -> (host, port).
StatusOr<std::pair<std::string, int>> ParseListen(const std::string& text);
bool IsLoopback(const std::string& host);
// The access token in the first line of `path` (at least 16 characters).
StatusOr<std::string> ReadTokenFile(const std::string& path);

class Service {
 public:
  explicit Service(ServiceOptions options);
  ~Service();
  // Loads the sales dataset (a missing one is empty, another error is said on
  // stderr and the service starts anyway) and binds the server.
  Status Start();
  Status Run(const std::function<bool()>& stop);

  // After Start().
  std::string url() const;
  size_t sales_rows() const;
  const ServerStats& stats() const;

 private:
  void OpenLive();
  // False when the coordination service cannot be opened (the service stops).
  bool ArchiverLoop(const std::function<bool()>& stop);

  ServiceOptions o_;
  analytics::SalesDataset sales_;
  analytics::LogIndex logs_;
  std::unique_ptr<HttpServer> server_;
  std::unique_ptr<Api> api_;
  std::unique_ptr<analytics::LiveView> live_;
  Status archiver_status_;
};

}  // namespace comptoir::serve
