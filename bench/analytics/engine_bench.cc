// The analytics engine alone: cold load, warm summary, filter changes.
//
//   [VIEW=/user/comptoir/views/sales] engine_bench LAKE_DIR [DATASET=/user/sqoop/sales] [REPS=10] [FILTERS=20] [SUMMARY_JSON]
//
// Cold: SalesDataset::Refresh() of a new dataset, i.e. list, parse every text
// part file (from the OS page cache: the files were just written) into
// columns, sort, merge dictionaries. Warm: Summarize() without a filter on the
// loaded snapshot, REPS times (the engine has no cache; the HTTP layer does).
// Filter change: Summarize() with FILTERS different random filters (a product
// line and a date range; every third one also a country, every fifth a deal
// size), never the same one twice, i.e. what a new choice in the dashboard
// costs before the HTTP cache can help. Prints one JSON object on stdout;
// with SUMMARY_JSON, also writes the unfiltered summary there (groups with
// sales in cents, rows and distinct orders) for bench/analytics/peers.py to
// check the peers' numbers against.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "comptoir/core/time.h"
#include "comptoir/analytics/sales.h"
#include "comptoir/lake/storage.h"
#include "nlohmann/json.hpp"

using comptoir::analytics::Filter;
using comptoir::analytics::Group;
using comptoir::analytics::SalesDataset;
using comptoir::analytics::Snapshot;
using comptoir::analytics::Summary;
using json = nlohmann::json;
namespace analytics = comptoir::analytics;

namespace {

double Ms(std::chrono::steady_clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

json Stats(const std::vector<double>& ms) {
  return json{{"n", ms.size()},
              {"median", Percentile(ms, 0.5)},
              {"min", ms.empty() ? 0 : *std::min_element(ms.begin(), ms.end())},
              {"p95", Percentile(ms, 0.95)},
              {"max", ms.empty() ? 0 : *std::max_element(ms.begin(), ms.end())}};
}

json Groups(const std::vector<Group>& g) {
  json out = json::array();
  for (const Group& x : g) out.push_back({{"key", x.key}, {"sales_cents", x.sales_cents}, {"rows", x.rows}, {"orders", x.orders}});
  return out;
}

json ToJson(const Summary& s) {
  return json{{"rows", s.rows},
              {"orders", s.orders},
              {"customers", s.customers},
              {"quantity", s.quantity},
              {"sales_cents", s.sales_cents},
              {"by_productline", Groups(s.by_productline)},
              {"by_status", Groups(s.by_status)},
              {"by_dealsize", Groups(s.by_dealsize)},
              {"by_country", Groups(s.by_country)},
              {"by_territory", Groups(s.by_territory)},
              {"by_year", Groups(s.by_year)},
              {"by_month", Groups(s.by_month)},
              {"top_customers", Groups(s.top_customers)}};
}

double PeakRssMb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: engine_bench LAKE_DIR [DATASET=/user/sqoop/sales] [REPS=10] [FILTERS=20] [SUMMARY_JSON]\n");
    return 2;
  }
  std::string dir = argv[1];
  std::string path = argc > 2 ? argv[2] : "/user/sqoop/sales";
  int reps = argc > 3 ? std::max(1, std::atoi(argv[3])) : 10;
  int filters = argc > 4 ? std::max(1, std::atoi(argv[4])) : 20;
  std::string summary_out = argc > 5 ? argv[5] : "";

  std::unique_ptr<comptoir::lake::Storage> lake = comptoir::lake::NewLocalStorage(dir);
  // VIEW=/user/comptoir/views/sales: the engine loads that sales view (serve
  // --sales-from views) instead of the rows (bench/views/run).
  const char* view = std::getenv("VIEW");
  SalesDataset ds = view != nullptr && *view != '\0'
                        ? SalesDataset(lake.get(), path, analytics::SalesFrom::kViews, view)
                        : SalesDataset(lake.get(), path);
  auto t0 = std::chrono::steady_clock::now();
  comptoir::Status st = ds.Refresh();
  double cold_ms = Ms(std::chrono::steady_clock::now() - t0);
  if (!st.ok()) {
    std::fprintf(stderr, "engine_bench: %s: %s\n", dir.c_str(), std::string(st.message()).c_str());
    return 1;
  }
  double rss_after_load = PeakRssMb();
  std::shared_ptr<const Snapshot> snap = ds.snapshot();

  // Warm: the unfiltered summary, the first run counted apart (page faults of
  // the freshly loaded columns, thread start-up).
  Summary first;
  t0 = std::chrono::steady_clock::now();
  first = analytics::Summarize(*snap, Filter{});
  double first_ms = Ms(std::chrono::steady_clock::now() - t0);
  std::vector<double> warm;
  for (int r = 0; r < reps; ++r) {
    t0 = std::chrono::steady_clock::now();
    Summary s = analytics::Summarize(*snap, Filter{});
    warm.push_back(Ms(std::chrono::steady_clock::now() - t0));
    if (s.sales_cents != first.sales_cents || s.rows != first.rows) {
      std::fprintf(stderr, "engine_bench: summary changed between runs\n");
      return 1;
    }
  }

  // Filter changes: random product line + date range (+ country, deal size).
  std::mt19937_64 rng(42);
  const auto& lines = snap->dicts[analytics::kProductLine];
  const auto& countries = snap->dicts[analytics::kCountry];
  const auto& deals = snap->dicts[analytics::kDealSize];
  std::set<std::string> seen;
  std::vector<double> fms;
  std::vector<json> examples;
  int64_t filtered_rows = 0;
  for (int i = 0; static_cast<int>(fms.size()) < filters && i < filters * 100; ++i) {
    Filter f;
    f.in[analytics::kProductLine].push_back(lines[rng() % lines.size()]);
    int32_t span = snap->max_day - snap->min_day + 1;
    int32_t from = snap->min_day + static_cast<int32_t>(rng() % static_cast<uint64_t>(span));
    int32_t len = 30 + static_cast<int32_t>(rng() % 335);
    f.from_day = from;
    f.to_day = std::min(snap->max_day, from + len);
    if (i % 3 == 2) f.in[analytics::kCountry].push_back(countries[rng() % countries.size()]);
    if (i % 5 == 4) f.in[analytics::kDealSize].push_back(deals[rng() % deals.size()]);
    if (!seen.insert(f.CacheKey()).second) continue;
    t0 = std::chrono::steady_clock::now();
    Summary s = analytics::Summarize(*snap, f);
    fms.push_back(Ms(std::chrono::steady_clock::now() - t0));
    filtered_rows += s.rows;
    if (examples.size() < 3) {
      examples.push_back({{"productline", f.in[analytics::kProductLine][0]},
                          {"from", comptoir::core::FormatDay(f.from_day)},
                          {"to", comptoir::core::FormatDay(f.to_day)},
                          {"country", f.in[analytics::kCountry].empty() ? "" : f.in[analytics::kCountry][0]},
                          {"rows", s.rows},
                          {"ms", fms.back()}});
    }
  }

  json out{{"engine", "comptoir"},
           {"rows", snap->source_rows},
           {"records", snap->records()},
           {"from", snap->view.engine.empty() ? "rows" : "views"},
           {"files", snap->chunks.size()},
           {"orders", snap->orders},
           {"orders_contiguous", snap->orders_contiguous},
           {"threads", std::thread::hardware_concurrency()},
           {"cold_s", cold_ms / 1000.0},
           {"first_summary_ms", first_ms},
           {"warm_ms", Stats(warm)},
           {"filter_ms", Stats(fms)},
           {"filter_rows_avg", fms.empty() ? 0 : filtered_rows / static_cast<int64_t>(fms.size())},
           {"filter_examples", examples},
           {"rss_after_load_mb", rss_after_load},
           {"peak_rss_mb", PeakRssMb()},
           {"sales_cents", first.sales_cents}};
  std::printf("%s\n", out.dump().c_str());
  if (!summary_out.empty()) {
    std::ofstream(summary_out) << ToJson(first).dump() << "\n";
  }
  return 0;
}
