// The dashboard's HTTP API (docs/api.md) and its static assets.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "comptoir/analytics/live.h"
#include "comptoir/analytics/logs.h"
#include "comptoir/analytics/sales.h"
#include "comptoir/analytics/sales_view.h"
#include "comptoir/lake/storage.h"
#include "comptoir/serve/http.h"
#include "nlohmann/json_fwd.hpp"

namespace comptoir::serve {

// One embedded file of the built dashboard (ui/dist).
struct Asset {
  std::string_view path;  // "/index.html", "/assets/index-3f2a.js"
  std::string_view content_type;
  std::string_view data;
};
// The dashboard built into this binary (empty when it was built without it).
const std::vector<Asset>& EmbeddedAssets();

// A health component: {name, status ok|degraded|down, detail, checked_at}.
struct Component {
  std::string name;
  std::string status;
  std::string detail;
};
// The platform's probes (comptoir/health), run when /api/v1/health is asked.
using HealthProbe = std::function<std::vector<Component>()>;

struct ApiOptions {
  lake::Storage* lake = nullptr;
  analytics::SalesDataset* sales = nullptr;
  analytics::LogIndex* logs = nullptr;
  HealthProbe health;                   // extra components (bus, agents, ...)
  std::string auth_token;               // "" = no authentication
  const ServerStats* server_stats = nullptr;
  std::vector<std::string> quality_datasets;  // datasets with quality rules
  std::string transactions_view_dir = "/user/comptoir/views/transactions";  // the Live tab's days before today
};

class Api {
 public:
  explicit Api(ApiOptions options);
  void Handle(const Request& r, Response* out);
  // The SSE event for second `t` ("id: t\nevent: tick\ndata: {...}\n\n"); "" without a live view.
  std::string TickEvent(int64_t t) const;
  // The live view once the bus answers (null: the live endpoints say why with a 503).
  void SetLive(analytics::LiveView* live, const std::string& error);

 private:
  bool Authorized(const Request& r) const;
  void Login(const Request& r, Response* out);
  void Sales(const Request& r, const std::string& what, Response* out);
  void LiveSummary(const Request& r, Response* out);
  void LiveStream(const Request& r, Response* out);
  void LiveDays(const Request& r, Response* out);
  void LogsSearch(const Request& r, Response* out);
  void LakeLs(const Request& r, Response* out);
  void LakeHead(const Request& r, Response* out);
  void Health(const Request& r, Response* out);
  void Quality(const Request& r, Response* out);
  void QualityRejects(const Request& r, Response* out);
  void Metrics(const Request& r, Response* out);
  void Static(const Request& r, Response* out);

  ApiOptions o_;
  std::atomic<analytics::LiveView*> live_{nullptr};
  mutable std::mutex live_mu_;
  std::string live_error_ = "the bus is not connected yet";
  std::string LiveError() const;
  std::mutex cache_mu_;
  uint64_t cache_version_ = 0;
  std::unordered_map<std::string, std::string> cache_;
  std::mutex metrics_mu_;
  std::map<std::string, std::pair<uint64_t, double>> endpoint_stats_;  // path -> (count, seconds)
  std::atomic<uint64_t> cache_hits_{0};
  std::mutex days_mu_;  // the daily view, reloaded when rebuilt
  int64_t days_built_ms_ = -1;
  std::vector<analytics::DailyRecord> days_;
  std::mutex health_mu_;
  int64_t health_at_ms_ = 0;
  bool health_refreshing_ = false;
  std::string health_body_;
};

}  // namespace comptoir::serve
