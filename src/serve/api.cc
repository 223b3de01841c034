#include "comptoir/serve/api.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <set>
#include <tuple>

#include "comptoir/core/strings.h"
#include "comptoir/core/time.h"
#include "comptoir/core/units.h"
#include "comptoir/core/uri.h"
#include "comptoir/lake/compression.h"
#include "comptoir/lake/dataset.h"
#include "comptoir/quality/history.h"
#include "comptoir/quality/quarantine.h"
#include "nlohmann/json.hpp"

namespace comptoir::serve {
namespace {

using nlohmann::json;

double Money(int64_t cents) { return static_cast<double>(cents) / 100.0; }

// Exact cents of a / n, rounded half away from zero.
int64_t DivRound(int64_t a, int64_t n) {
  if (n == 0) return 0;
  int64_t q = a / n, r = a % n;
  if (2 * (r < 0 ? -r : r) >= n) q += a < 0 ? -1 : 1;
  return q;
}

// A request's parameters, checked against the endpoint's list.
class Params {
 public:
  Params(const Request& r, const std::vector<std::string_view>& allowed) {
    for (const auto& [k, v] : r.query) {
      if (std::find(allowed.begin(), allowed.end(), k) == allowed.end()) {
        std::vector<std::string> names(allowed.begin(), allowed.end());
        error_ = names.empty() ? fmt::format("unknown parameter '{}' (this endpoint takes none)", k)
                               : fmt::format("unknown parameter '{}' (allowed: {})", k, Join(names, ", "));
        return;
      }
      if (values_.contains(k)) {
        error_ = fmt::format("parameter '{}' is given twice; give it once (lists are comma-separated)", k);
        return;
      }
      values_[k] = v;
    }
  }
  const std::string& error() const { return error_; }
  std::optional<std::string> Get(const std::string& k) const {
    auto it = values_.find(k);
    return it == values_.end() ? std::nullopt : std::optional<std::string>(it->second);
  }
  // An integer in [lo, hi], `def` when absent; sets `error` otherwise.
  int64_t Int(const std::string& k, int64_t def, int64_t lo, int64_t hi, std::string* error) const {
    auto v = Get(k);
    if (!v) return def;
    int64_t n = 0;
    if (!ParseInt(*v, &n) || n < lo || n > hi) {
      *error = fmt::format("parameter '{}': '{}' is not an integer from {} to {}", k, *v, lo, hi);
    }
    return n;
  }

 private:
  std::map<std::string, std::string> values_;
  std::string error_;
};

const std::vector<std::string_view> kFilterParams = {"from",   "to",       "productline", "country",
                                                     "status", "dealsize", "territory",   "customer"};

std::vector<std::string_view> Concat(const std::vector<std::string_view>& a, std::vector<std::string_view> b) {
  b.insert(b.begin(), a.begin(), a.end());
  return b;
}

// Parses the sales filters; the error names the parameter.
StatusOr<analytics::Filter> ParseFilter(const Params& p, const analytics::Snapshot& s) {
  analytics::Filter f;
  if (auto v = p.Get("from")) {
    StatusOr<int32_t> d = core::ParseDay(*v);
    if (!d.ok()) return absl::InvalidArgumentError(StrCat("parameter 'from': ", d.status().message()));
    f.from_day = *d;
  }
  if (auto v = p.Get("to")) {
    StatusOr<int32_t> d = core::ParseDay(*v);
    if (!d.ok()) return absl::InvalidArgumentError(StrCat("parameter 'to': ", d.status().message()));
    f.to_day = *d;
  }
  if (f.from_day != INT32_MIN && f.to_day != INT32_MAX && f.from_day > f.to_day) {
    return absl::InvalidArgumentError("parameter 'from' is after 'to'");
  }
  const std::pair<const char*, int> lists[] = {{"productline", analytics::kProductLine},
                                               {"country", analytics::kCountry},
                                               {"status", analytics::kStatus},
                                               {"dealsize", analytics::kDealSize},
                                               {"territory", analytics::kTerritory}};
  for (const auto& [name, dim] : lists) {
    auto v = p.Get(name);
    if (!v) continue;
    const auto& dict = s.dicts[static_cast<size_t>(dim)];
    for (std::string_view item : Split(*v, ',', true)) {
      std::string value(StripAsciiWhitespace(item));
      if (std::find(dict.begin(), dict.end(), value) == dict.end()) {
        std::vector<std::string> known(dict.begin(), dict.end());
        std::sort(known.begin(), known.end());
        return absl::InvalidArgumentError(
            fmt::format("parameter '{}': unknown value '{}' (expected {})", name, value, Join(known, ", ")));
      }
      f.in[static_cast<size_t>(dim)].push_back(value);
    }
  }
  if (auto v = p.Get("customer")) f.customer = *v;
  return f;
}

json GroupsJson(const std::vector<analytics::Group>& groups, bool with_start = false) {
  json out = json::array();
  for (const auto& g : groups) {
    json j = {{"key", g.key}, {"sales", Money(g.sales_cents)}, {"rows", g.rows}, {"orders", g.orders}};
    if (with_start) j["start"] = g.start;
    out.push_back(std::move(j));
  }
  return out;
}

json RowJson(const analytics::RowView& r) {
  return {{"ordernumber", r.order_number},   {"orderlinenumber", r.order_line},
          {"orderdate", core::FormatDay(r.day)}, {"customer", r.customer},
          {"productline", r.product_line},   {"productcode", r.product_code},
          {"quantity", r.quantity},          {"priceeach", Money(r.price_cents)},
          {"sales", Money(r.sales_cents)},   {"status", r.status},
          {"dealsize", r.deal_size},         {"country", r.country},
          {"territory", r.territory}};
}

void CsvField(std::string* out, std::string_view v) {
  if (v.find_first_of(",\"\r\n") == std::string_view::npos) {
    out->append(v);
    return;
  }
  out->push_back('"');
  for (char c : v) {
    if (c == '"') out->push_back('"');
    out->push_back(c);
  }
  out->push_back('"');
}

std::string MoneyText(int64_t cents) {
  return fmt::format("{}{}.{:02d}", cents < 0 ? "-" : "", (cents < 0 ? -cents : cents) / 100,
                     (cents < 0 ? -cents : cents) % 100);
}

int Rank(const std::string& status) { return status == "down" ? 2 : status == "degraded" ? 1 : 0; }

// A lake path from a request: absolute, no "..".
StatusOr<std::string> LakePath(const Params& p, int* http_status) {
  std::optional<std::string> v = p.Get("path");
  *http_status = 400;
  if (!v || v->empty()) v = "/";
  for (std::string_view seg : Split(*v, '/', true)) {
    if (seg == "..") {
      *http_status = 403;
      return absl::PermissionDeniedError(fmt::format("path '{}' escapes the lake root", *v));
    }
  }
  if (!v->starts_with('/')) return absl::InvalidArgumentError(fmt::format("parameter 'path': '{}' is not absolute", *v));
  StatusOr<std::string> n = lake::NormalizePath(*v);
  if (!n.ok()) return absl::InvalidArgumentError(StrCat("parameter 'path': ", n.status().message()));
  return n;
}

int StatusFor(const Status& s) {
  if (absl::IsNotFound(s)) return 404;
  if (absl::IsInvalidArgument(s)) return 400;
  if (absl::IsPermissionDenied(s)) return 403;
  if (absl::IsUnavailable(s)) return 503;
  return 500;
}

bool ConstantTimeEqual(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char d = 0;
  for (size_t i = 0; i < a.size(); ++i) d |= static_cast<unsigned char>(a[i] ^ b[i]);
  return d == 0;
}

}  // namespace

Api::Api(ApiOptions options) : o_(std::move(options)) {}

void Api::SetLive(analytics::LiveView* live, const std::string& error) {
  std::lock_guard<std::mutex> l(live_mu_);
  live_error_ = error;
  live_ = live;
}

std::string Api::LiveError() const {
  std::lock_guard<std::mutex> l(live_mu_);
  return live_error_;
}

bool Api::Authorized(const Request& r) const {
  if (o_.auth_token.empty()) return true;
  std::string auth = r.Header("authorization");
  if (auth.starts_with("Bearer ") && ConstantTimeEqual(auth.substr(7), o_.auth_token)) return true;
  std::string cookies = r.Header("cookie");
  for (std::string_view part : Split(cookies, ';', true)) {
    std::string_view c = StripAsciiWhitespace(part);
    if (c.starts_with("comptoir_token=") && ConstantTimeEqual(c.substr(15), o_.auth_token)) return true;
  }
  return false;
}

void Api::Login(const Request& r, Response* out) {
  if (r.method != "POST") return ErrorResponse(out, 405, "POST {\"token\": \"...\"} to log in");
  json j = json::parse(r.body, nullptr, false);
  if (!j.is_object() || !j.contains("token") || !j["token"].is_string()) {
    return ErrorResponse(out, 400, "the body must be JSON {\"token\": \"...\"}");
  }
  out->body = R"({"authenticated":true})";
  if (o_.auth_token.empty()) return;
  if (!ConstantTimeEqual(j["token"].get<std::string>(), o_.auth_token)) return ErrorResponse(out, 401, "wrong token");
  out->headers.emplace_back("Set-Cookie", "comptoir_token=" + o_.auth_token + "; HttpOnly; SameSite=Strict; Path=/");
}

void Api::Handle(const Request& r, Response* out) {
  auto t0 = std::chrono::steady_clock::now();
  const std::string& p = r.path;
  bool api = p.starts_with("/api/") || p == "/metrics";
  if (api && p != "/api/v1/login" && !Authorized(r)) {
    ErrorResponse(out, 401, "a token is required: send 'Authorization: Bearer <token>' or log in at /api/v1/login");
    out->headers.emplace_back("WWW-Authenticate", "Bearer");
    return;
  }
  if (api && r.method == "POST" && p != "/api/v1/login") return ErrorResponse(out, 405, "only GET is served here");
  // The endpoints (docs/api.md); /api/v1/sales/<name> has its own table.
  using Endpoint = void (Api::*)(const Request&, Response*);
  static const std::pair<std::string_view, Endpoint> kRoutes[] = {
      {"/api/v1/login", &Api::Login},           {"/api/v1/live/summary", &Api::LiveSummary},
      {"/api/v1/live/stream", &Api::LiveStream}, {"/api/v1/live/days", &Api::LiveDays},
      {"/api/v1/logs/search", &Api::LogsSearch},
      {"/api/v1/lake/ls", &Api::LakeLs},         {"/api/v1/lake/head", &Api::LakeHead},
      {"/api/v1/health", &Api::Health},          {"/metrics", &Api::Metrics},
      {"/api/v1/quality", &Api::Quality},        {"/api/v1/quality/rejects", &Api::QualityRejects},
  };
  auto route = std::find_if(std::begin(kRoutes), std::end(kRoutes), [&](const auto& e) { return e.first == p; });
  if (route != std::end(kRoutes)) {
    (this->*route->second)(r, out);
  } else if (p.starts_with("/api/v1/sales/")) {
    Sales(r, p.substr(14), out);
  } else if (api) {
    ErrorResponse(out, 404, fmt::format("no endpoint {} (see docs/api.md)", p));
  } else {
    Static(r, out);
  }
  if (api && out->status != 404) {
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::lock_guard<std::mutex> l(metrics_mu_);
    auto& [n, total] = endpoint_stats_[p];
    ++n, total += secs;
  }
}

namespace {

// Where the numbers came from: the dataset's rows or its sales view.
json DatasetJson(const analytics::Snapshot& snap) {
  json j = {{"path", snap.path},
            {"version", snap.version},
            {"rows", snap.source_rows},
            {"records", snap.records()},
            {"files", snap.chunks.size()},
            {"from", snap.view.engine.empty() ? "rows" : "views"}};
  if (!snap.view.engine.empty()) {
    j["view"] = {{"dir", snap.view.dir},
                 {"engine", snap.view.engine},
                 {"built_at", core::FormatIsoSeconds(snap.view.built_at_ms)},
                 {"current", snap.view.stale.empty()}};
    if (!snap.view.stale.empty()) j["view"]["stale"] = snap.view.stale;
  } else if (!snap.rows_reason.empty()) {
    j["why_rows"] = snap.rows_reason;
  }
  return j;
}

json SummaryJson(const analytics::Snapshot& snap, const analytics::Filter& f) {
  analytics::Summary s = analytics::Summarize(snap, f);
  return {{"rows", s.rows},
          {"orders", s.orders},
          {"customers", s.customers},
          {"quantity", s.quantity},
          {"total_sales", Money(s.sales_cents)},
          {"avg_sales_per_row", Money(DivRound(s.sales_cents, s.rows))},
          {"avg_sales_per_order", Money(DivRound(s.sales_cents, s.orders))},
          {"by_productline", GroupsJson(s.by_productline)},
          {"by_status", GroupsJson(s.by_status)},
          {"by_dealsize", GroupsJson(s.by_dealsize)},
          {"by_country", GroupsJson(s.by_country)},
          {"by_territory", GroupsJson(s.by_territory)},
          {"by_year", GroupsJson(s.by_year)},
          {"by_month", GroupsJson(s.by_month)},
          {"top_customers", GroupsJson(s.top_customers)}};
}

json OptionsJson(const analytics::Snapshot& snap) {
  json j;
  const std::pair<const char*, int> dims[] = {{"productline", analytics::kProductLine},
                                              {"country", analytics::kCountry},
                                              {"status", analytics::kStatus},
                                              {"dealsize", analytics::kDealSize},
                                              {"territory", analytics::kTerritory}};
  for (const auto& [name, dim] : dims) {
    std::vector<std::string> v = snap.dicts[static_cast<size_t>(dim)];
    std::sort(v.begin(), v.end());
    j[name] = v;
  }
  j["min_date"] = snap.rows ? core::FormatDay(snap.min_day) : "";
  j["max_date"] = snap.rows ? core::FormatDay(snap.max_day) : "";
  return j;
}

StatusOr<json> TimeseriesJson(const Params& p, const analytics::Snapshot& snap, const analytics::Filter& f) {
  std::string bucket = p.Get("bucket").value_or("month");
  static const std::set<std::string> kBuckets = {"day", "week", "month", "quarter", "year"};
  if (!kBuckets.contains(bucket)) {
    return absl::InvalidArgumentError(
        fmt::format("parameter 'bucket': '{}' is not one of day, week, month, quarter, year", bucket));
  }
  analytics::GroupKey k = *analytics::ParseGroupKey(bucket);
  return json{{"bucket", bucket}, {"points", GroupsJson(analytics::GroupBy(snap, f, k), true)}};
}

// The raw rows behind a snapshot loaded from a sales view: read part by part.
struct RawRows {
  lake::Storage* lake = nullptr;
  std::string dir;
};

StatusOr<json> RowsJson(const Params& p, const analytics::Snapshot& snap, const analytics::Filter& f,
                        const RawRows& raw) {
  std::string error;
  int64_t limit = p.Int("limit", 50, 1, 1000, &error);
  int64_t offset = p.Int("offset", 0, 0, 100000, &error);
  if (!error.empty()) return absl::InvalidArgumentError(error);
  std::string sort = p.Get("sort").value_or("-orderdate");
  StatusOr<analytics::RowsPage> page =
      snap.view.engine.empty()
          ? analytics::Rows(snap, f, sort, static_cast<size_t>(offset), static_cast<size_t>(limit))
          : analytics::RowsFromParts(raw.lake, raw.dir, f, sort, static_cast<size_t>(offset), static_cast<size_t>(limit));
  if (absl::IsInvalidArgument(page.status())) {
    return absl::InvalidArgumentError(StrCat("parameter 'sort': ", page.status().message()));
  }
  if (!page.ok()) return page.status();
  json rows = json::array();
  for (const auto& row : page->rows) rows.push_back(RowJson(row));
  return json{{"total", page->total}, {"offset", offset}, {"limit", limit}, {"rows", std::move(rows)}};
}

// export.csv: every filtered row, streamed in pieces of about 256 KiB as the
// client reads.
void ExportCsv(std::shared_ptr<const analytics::Snapshot> snap, const analytics::Filter& f, const RawRows& raw,
               Response* out) {
  out->content_type = "text/csv; charset=utf-8";
  out->headers.emplace_back("Content-Disposition", "attachment; filename=\"sales.csv\"");
  out->body = "ordernumber,orderlinenumber,orderdate,customer,productline,productcode,quantity,priceeach,sales,"
              "status,dealsize,country,territory\r\n";
  struct Export {
    std::shared_ptr<const analytics::Snapshot> snap;
    analytics::Filter filter;
    analytics::RowCursor cursor;
    std::optional<analytics::PartRows> parts;  // a view's snapshot: the raw parts instead
  };
  auto x = std::make_shared<Export>(Export{std::move(snap), f, {}, std::nullopt});
  if (!x->snap->view.engine.empty()) {
    StatusOr<analytics::PartRows> parts = analytics::PartRows::Open(raw.lake, raw.dir);
    if (!parts.ok()) return ErrorResponse(out, 503, std::string(parts.status().message()));
    x->parts = *std::move(parts);
  }
  out->produce = [x](std::string* piece) {
    auto row_csv = [piece](const analytics::RowView& row) {
      *piece += fmt::format("{},{},{},", row.order_number, row.order_line, core::FormatDay(row.day));
      for (std::string_view v : {row.customer, row.product_line, row.product_code}) {
        CsvField(piece, v);
        piece->push_back(',');
      }
      *piece += fmt::format("{},{},{}", row.quantity, MoneyText(row.price_cents), MoneyText(row.sales_cents));
      for (std::string_view v : {row.status, row.deal_size, row.country, row.territory}) {
        piece->push_back(',');
        CsvField(piece, v);
      }
      *piece += "\r\n";
      return piece->size() < (256u << 10);
    };
    if (x->parts) {
      Status s = x->parts->ForEach(x->filter, row_csv);
      if (!s.ok()) {  // the status line is gone: end the file with the error
        *piece += StrCat("\r\n# export stopped: ", s.message(), "\r\n");
        return false;
      }
      return !x->parts->done();
    }
    analytics::ForEachRow(*x->snap, x->filter, row_csv, &x->cursor);
    return !x->cursor.done;
  };
}

// The sales endpoints (/api/v1/sales/<name>): their parameters besides the
// filters, and their JSON answer (cached per dataset version).
struct SalesRoute {
  std::string_view name;
  std::vector<std::string_view> params;  // besides the filters
  bool filters = true;
  std::function<StatusOr<json>(const Params&, const analytics::Snapshot&, const analytics::Filter&, const RawRows&)>
      answer;
};

const std::vector<SalesRoute>& SalesRoutes() {
  static const std::vector<SalesRoute> routes = {
      {"summary", {}, true,
       [](const Params&, const analytics::Snapshot& s, const analytics::Filter& f, const RawRows&) -> StatusOr<json> {
         return SummaryJson(s, f);
       }},
      {"options", {}, false,
       [](const Params&, const analytics::Snapshot& s, const analytics::Filter&, const RawRows&) -> StatusOr<json> {
         return OptionsJson(s);
       }},
      {"timeseries", {"bucket"}, true,
       [](const Params& p, const analytics::Snapshot& s, const analytics::Filter& f, const RawRows&) {
         return TimeseriesJson(p, s, f);
       }},
      {"rows", {"sort", "limit", "offset"}, true, RowsJson},
      {"export.csv", {}, true, nullptr},  // streamed, not cached
  };
  return routes;
}

}  // namespace

void Api::Sales(const Request& r, const std::string& what, Response* out) {
  const auto& routes = SalesRoutes();
  auto route = std::find_if(routes.begin(), routes.end(), [&](const SalesRoute& x) { return x.name == what; });
  if (route == routes.end()) return ErrorResponse(out, 404, fmt::format("no endpoint {} (see docs/api.md)", r.path));
  std::shared_ptr<const analytics::Snapshot> snap = o_.sales->snapshot();
  if (snap->version == 0) {
    ErrorResponse(out, 503, fmt::format("the dataset {} is not loaded yet; import it with `comptoir import` "
                                        "(it is picked up within a second)", o_.sales->path()));
    out->headers.emplace_back("Retry-After", "1");
    return;
  }
  Params p(r, route->filters ? Concat(kFilterParams, route->params) : route->params);
  if (!p.error().empty()) return ErrorResponse(out, 400, p.error());
  StatusOr<analytics::Filter> f = ParseFilter(p, *snap);
  if (!f.ok()) return ErrorResponse(out, 400, std::string(f.status().message()));
  const RawRows raw{o_.lake, o_.sales->path()};
  if (!route->answer) return ExportCsv(snap, *f, raw, out);
  // Cached answers, per dataset version.
  std::vector<std::pair<std::string, std::string>> q = r.query;
  std::sort(q.begin(), q.end());
  std::string key = what;
  for (const auto& [k, v] : q) key += "&" + k + "=" + v;
  {
    std::lock_guard<std::mutex> l(cache_mu_);
    if (cache_version_ != snap->version) {
      cache_.clear();
      cache_version_ = snap->version;
    }
    auto it = cache_.find(key);
    if (it != cache_.end()) {
      cache_hits_.fetch_add(1, std::memory_order_relaxed);
      out->body = it->second;
      return;
    }
  }
  auto t0 = std::chrono::steady_clock::now();
  StatusOr<json> j = route->answer(p, *snap, *f, raw);
  if (!j.ok()) {
    return ErrorResponse(out, absl::IsInvalidArgument(j.status()) ? 400 : 503, std::string(j.status().message()));
  }
  (*j)["dataset"] = DatasetJson(*snap);
  (*j)["elapsed_ms"] = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  out->body = j->dump();
  std::lock_guard<std::mutex> l(cache_mu_);
  if (cache_version_ == snap->version) {
    if (cache_.size() > 1024) cache_.clear();
    cache_[key] = out->body;
  }
}

void Api::LiveSummary(const Request& r, Response* out) {
  Params p(r, {"window"});
  if (!p.error().empty()) return ErrorResponse(out, 400, p.error());
  analytics::LiveView* live = live_.load();
  if (live == nullptr) return ErrorResponse(out, 503, "no live stream: " + LiveError());
  int64_t window = 900;
  if (auto v = p.Get("window")) {
    StatusOr<std::chrono::milliseconds> d = core::ParseDuration(*v);
    if (!d.ok() || d->count() < 60000 || d->count() > 3600000) {
      return ErrorResponse(out, 400, fmt::format("parameter 'window': '{}' is not a duration from 1m to 1h", *v));
    }
    window = d->count() / 1000;
  }
  out->body = live->Summary(static_cast<int>(window)).dump();
}

// The days before today, from the archive's daily view (views build --view
// transactions): events and revenue per day, by status and product line.
void Api::LiveDays(const Request& r, Response* out) {
  Params p(r, {"days"});
  std::string error;
  int64_t want = p.Int("days", 30, 1, 3660, &error);
  if (!p.error().empty() || !error.empty()) return ErrorResponse(out, 400, p.error().empty() ? error : p.error());
  const std::string& dir = o_.transactions_view_dir;
  StatusOr<analytics::ViewManifest> m = analytics::ReadViewManifest(o_.lake, dir);
  if (absl::IsNotFound(m.status())) {
    out->body = json{{"days", json::array()},
                     {"view", nullptr},
                     {"note", fmt::format("no daily view at {} yet: comptoir views build --view transactions", dir)}}
                    .dump();
    return;
  }
  if (!m.ok()) return ErrorResponse(out, 503, std::string(m.status().message()));
  std::vector<analytics::DailyRecord> records;
  {
    std::lock_guard<std::mutex> l(days_mu_);
    if (days_built_ms_ != m->built_at_ms) {
      StatusOr<std::vector<analytics::DailyRecord>> read = analytics::ReadTransactionsView(o_.lake, dir);
      if (!read.ok()) return ErrorResponse(out, 503, std::string(read.status().message()));
      days_ = *std::move(read);
      days_built_ms_ = m->built_at_ms;
    }
    records = days_;
  }
  const int32_t today = static_cast<int32_t>(core::UnixMillis() / 86'400'000);
  struct Day {
    int64_t events = 0, cents = 0;
    std::map<std::string, std::pair<int64_t, int64_t>> by_status, by_line;
  };
  std::map<int32_t, Day> days;
  for (const analytics::DailyRecord& x : records) {
    if (x.day >= today || x.day < today - want) continue;
    Day& d = days[x.day];
    d.events += x.events, d.cents += x.revenue_cents;
    auto add = [&](std::pair<int64_t, int64_t>& g) { g.first += x.events, g.second += x.revenue_cents; };
    add(d.by_status[x.status]);
    add(d.by_line[x.product_line]);
  }
  auto groups = [](const std::map<std::string, std::pair<int64_t, int64_t>>& by) {
    json a = json::array();
    for (const auto& [k, g] : by) a.push_back({{"key", k}, {"events", g.first}, {"revenue", Money(g.second)}});
    return a;
  };
  json list = json::array();
  for (const auto& [day, d] : days) {
    list.push_back({{"day", core::FormatDay(day)},
                    {"events", d.events},
                    {"revenue", Money(d.cents)},
                    {"by_status", groups(d.by_status)},
                    {"by_productline", groups(d.by_line)}});
  }
  out->body = json{{"days", std::move(list)},
                   {"view",
                    {{"dir", dir},
                     {"engine", m->engine},
                     {"built_at", core::FormatIsoSeconds(m->built_at_ms)},
                     {"events", m->source_rows}}}}
                  .dump();
}

std::string Api::TickEvent(int64_t t) const {
  analytics::LiveView* live = live_.load();
  return live ? fmt::format("id: {}\nevent: tick\ndata: {}\n\n", t, live->Tick(t).dump()) : std::string();
}

void Api::LiveStream(const Request& r, Response* out) {
  Params p(r, {});
  if (!p.error().empty()) return ErrorResponse(out, 400, p.error());
  analytics::LiveView* live = live_.load();
  if (live == nullptr) return ErrorResponse(out, 503, "no live stream: " + LiveError());
  out->content_type = "text/event-stream";
  out->stream = true;
  out->channel = "live";
  int64_t now = core::UnixMillis() / 1000 - 1;  // the last complete second
  out->body = "retry: 2000\n\n";
  int64_t last = 0;
  std::string last_id = r.Header("last-event-id");
  if (!last_id.empty() && ParseInt(last_id, &last) && last > now - 3600 && last <= now) {
    for (const json& tick : live->TicksSince(last, now)) {
      out->body += fmt::format("id: {}\nevent: tick\ndata: {}\n\n", tick["t"].get<int64_t>(), tick.dump());
    }
    return;
  }
  out->body += fmt::format("id: {}\nevent: snapshot\ndata: {}\n\n", now, live->Summary(900).dump());
}

void Api::LogsSearch(const Request& r, Response* out) {
  Params p(r, {"q", "level", "from", "to", "limit", "regex"});
  if (!p.error().empty()) return ErrorResponse(out, 400, p.error());
  analytics::LogQuery q;
  q.text = p.Get("q").value_or("");
  std::string regex = p.Get("regex").value_or("0");
  if (regex != "0" && regex != "1" && regex != "true" && regex != "false") {
    return ErrorResponse(out, 400, fmt::format("parameter 'regex': '{}' is not 0 or 1", regex));
  }
  q.regex = regex == "1" || regex == "true";
  static const std::set<std::string> kLevels = {"DEBUG", "INFO", "WARNING", "WARN", "ERROR", "CRITICAL", "FATAL"};
  std::string level_list = p.Get("level").value_or("");
  for (std::string_view lv : Split(level_list, ',', true)) {
    std::string level = ToUpper(StripAsciiWhitespace(lv));
    if (!kLevels.contains(level)) {
      return ErrorResponse(out, 400, fmt::format("parameter 'level': unknown level '{}' (expected DEBUG, INFO, "
                                                 "WARNING, ERROR, CRITICAL)", lv));
    }
    q.levels.push_back(level);
  }
  for (const char* name : {"from", "to"}) {
    auto v = p.Get(name);
    if (!v) continue;
    std::string t = *v;
    int64_t ms = -1;
    if (t.size() == 10) {
      StatusOr<int32_t> d = core::ParseDay(t);
      if (d.ok()) ms = int64_t{*d} * 86400000 + (std::string(name) == "to" ? 86399999 : 0);
    } else {
      ms = core::ParseIsoTime(t);
    }
    if (ms < 0) {
      return ErrorResponse(out, 400, fmt::format("parameter '{}': '{}' is not a date or an ISO 8601 time", name, t));
    }
    (std::string(name) == "from" ? q.from_ms : q.to_ms) = ms;
  }
  std::string error;
  q.limit = static_cast<size_t>(p.Int("limit", 100, 1, 1000, &error));
  if (!error.empty()) return ErrorResponse(out, 400, error);
  StatusOr<analytics::LogResult> res = o_.logs->Search(q);
  if (!res.ok()) return ErrorResponse(out, StatusFor(res.status()), std::string(res.status().message()));
  json lines = json::array();
  for (const auto& l : res->lines) {
    lines.push_back({{"ts", l.ts_ms >= 0 ? json(core::FormatIsoMillis(l.ts_ms)) : json(nullptr)},
                     {"level", l.level},
                     {"message", l.message},
                     {"file", l.file}});
  }
  out->body = json{{"lines", std::move(lines)},
                   {"files_scanned", res->files_scanned},
                   {"files_skipped", res->files_skipped},
                   {"truncated", res->truncated}}
                  .dump(-1, ' ', false, json::error_handler_t::replace);
}

void Api::LakeLs(const Request& r, Response* out) {
  Params p(r, {"path"});
  if (!p.error().empty()) return ErrorResponse(out, 400, p.error());
  int code = 400;
  StatusOr<std::string> path = LakePath(p, &code);
  if (!path.ok()) return ErrorResponse(out, code, std::string(path.status().message()));
  StatusOr<std::vector<lake::FileInfo>> entries = o_.lake->List(*path);
  if (!entries.ok()) {
    return ErrorResponse(out, StatusFor(entries.status()), std::string(entries.status().message()));
  }
  std::sort(entries->begin(), entries->end(), [](const lake::FileInfo& a, const lake::FileInfo& b) {
    return a.is_dir != b.is_dir ? a.is_dir : a.name < b.name;
  });
  json list = json::array();
  for (const auto& e : *entries) {
    list.push_back({{"name", e.name},
                    {"type", e.is_dir ? "dir" : "file"},
                    {"size", e.size},
                    {"mtime", core::FormatIsoSeconds(e.mtime_ms)}});
  }
  out->body = json{{"path", *path}, {"entries", std::move(list)}}.dump(-1, ' ', false, json::error_handler_t::replace);
}

void Api::LakeHead(const Request& r, Response* out) {
  Params p(r, {"path", "lines"});
  if (!p.error().empty()) return ErrorResponse(out, 400, p.error());
  int code = 400;
  StatusOr<std::string> path = LakePath(p, &code);
  if (!path.ok()) return ErrorResponse(out, code, std::string(path.status().message()));
  std::string error;
  int64_t want = p.Int("lines", 20, 1, 1000, &error);
  if (!error.empty()) return ErrorResponse(out, 400, error);
  StatusOr<lake::FileInfo> info = o_.lake->Stat(*path);
  if (!info.ok()) return ErrorResponse(out, StatusFor(info.status()), std::string(info.status().message()));
  if (info->is_dir) return ErrorResponse(out, 400, fmt::format("{} is a directory; list it with /api/v1/lake/ls", *path));
  StatusOr<std::unique_ptr<lake::ReadableFile>> raw = o_.lake->Open(*path);
  if (!raw.ok()) return ErrorResponse(out, StatusFor(raw.status()), std::string(raw.status().message()));
  lake::Codec codec = lake::CodecForName(info->name);
  std::unique_ptr<lake::ReadableFile> in =
      codec == lake::Codec::kNone ? std::move(*raw) : lake::NewDecompressingFile(std::move(*raw), codec);
  std::string data, buf(64 << 10, '\0');
  json lines = json::array();
  bool truncated = false;
  size_t pos = 0;
  while (true) {
    size_t nl;
    while ((nl = data.find('\n', pos)) != std::string::npos) {
      if (static_cast<int64_t>(lines.size()) == want) {
        truncated = true;
        break;
      }
      lines.push_back(data.substr(pos, nl - pos));
      pos = nl + 1;
    }
    if (truncated || data.size() > (4u << 20)) break;
    StatusOr<size_t> n = in->Read(buf.data(), buf.size());
    if (!n.ok()) return ErrorResponse(out, StatusFor(n.status()), std::string(n.status().message()));
    if (*n == 0) {
      if (pos < data.size()) {
        if (static_cast<int64_t>(lines.size()) < want) {
          lines.push_back(data.substr(pos));
        } else {
          truncated = true;
        }
      }
      break;
    }
    data.append(buf.data(), *n);
  }
  out->body = json{{"path", *path}, {"lines", std::move(lines)}, {"truncated", truncated}}.dump(
      -1, ' ', false, json::error_handler_t::replace);
}

void Api::Health(const Request&, Response* out) {
  int64_t now = core::UnixMillis();
  {
    std::lock_guard<std::mutex> l(health_mu_);
    // Probes are not cheap (seconds when a service is down): a 2 s cache, and
    // one refresh at a time while the others answer with the previous result.
    if (!health_body_.empty() && (now - health_at_ms_ < 2000 || health_refreshing_)) {
      out->body = health_body_;
      return;
    }
    health_refreshing_ = true;
  }
  std::vector<Component> parts;
  if (o_.health) parts = o_.health();
  // The sales engine and the live view, as this server sees them.
  std::shared_ptr<const analytics::Snapshot> snap = o_.sales->snapshot();
  if (snap->version == 0) {
    parts.push_back({"sales engine", "degraded", fmt::format("{} not loaded yet (no import found)", o_.sales->path())});
  } else {
    std::string from = snap->view.engine.empty()
                           ? fmt::format("{}: {} rows", snap->path, snap->rows)
                           : fmt::format("the view {} (built by {}): {} records for {} rows", snap->path,
                                         snap->view.engine, snap->records(), snap->source_rows);
    parts.push_back({"sales engine", snap->view.stale.empty() ? "ok" : "degraded",
                     fmt::format("{} in {} files, version {}, loaded {:.0f} s ago{}", from, snap->chunks.size(),
                                 snap->version, (now - snap->loaded_at_ms) / 1000.0,
                                 snap->view.stale.empty() ? "" : "; " + snap->view.stale)});
  }
  if (analytics::LiveView* live = live_.load(); live == nullptr) {
    parts.push_back({"live view", "down", LiveError()});
  } else {
    analytics::LiveHealth h = live->Health();
    std::string detail = fmt::format("{} events read", h.events);
    if (h.lag >= 0) detail += fmt::format(", lag {}", h.lag);
    if (h.last_event_ms > 0) detail += fmt::format(", last event {:.0f} s ago", (now - h.last_event_ms) / 1000.0);
    if (!h.last_error.empty()) detail += ", last error: " + h.last_error;
    parts.push_back({"live view", h.connected ? "ok" : "down", detail});
  }
  std::string overall = "ok";
  json comps = json::array();
  std::string checked = core::FormatIsoSeconds(now);
  for (const Component& c : parts) {
    if (Rank(c.status) > Rank(overall)) overall = c.status;
    comps.push_back({{"name", c.name}, {"status", c.status}, {"detail", c.detail}, {"checked_at", checked}});
  }
  out->body = json{{"status", overall}, {"checked_at", checked}, {"components", std::move(comps)}}.dump();
  std::lock_guard<std::mutex> l(health_mu_);
  health_at_ms_ = now;
  health_body_ = out->body;
  health_refreshing_ = false;
}

// The datasets the Quality tab shows: those with rules, and the one asked
// for when it has a history.
void Api::Quality(const Request& r, Response* out) {
  Params p(r, {"runs"});
  if (!p.error().empty()) return ErrorResponse(out, 400, p.error());
  std::string error;
  int64_t keep = p.Int("runs", 30, 1, 1000, &error);
  if (!error.empty()) return ErrorResponse(out, 400, error);
  json datasets = json::array();
  for (const std::string& d : o_.quality_datasets) {
    size_t skipped = 0;
    StatusOr<std::vector<quality::RunRecord>> runs = quality::ReadHistory(o_.lake, d, &skipped);
    json entry = {{"dataset", d}, {"runs", json::array()}, {"skipped_lines", skipped}};
    if (!runs.ok()) {
      entry["error"] = std::string(runs.status().message());
    } else {
      size_t from = runs->size() > static_cast<size_t>(keep) ? runs->size() - static_cast<size_t>(keep) : 0;
      for (size_t i = from; i < runs->size(); ++i) {
        json run = json::parse((*runs)[i].ToJsonLine());
        const quality::RunRecord& rr = (*runs)[i];
        run["rejects_dir"] = rr.rejected > 0 && !rr.failed() ? lake::JoinPath(d, quality::RejectsDir(rr.run)) : "";
        entry["runs"].push_back(std::move(run));
      }
    }
    datasets.push_back(std::move(entry));
  }
  out->body = json{{"datasets", std::move(datasets)}}.dump();
}

// One page of a run's rejects: every column, the three quality columns last.
void Api::QualityRejects(const Request& r, Response* out) {
  Params p(r, {"dataset", "run", "offset", "limit"});
  if (!p.error().empty()) return ErrorResponse(out, 400, p.error());
  std::optional<std::string> dataset = p.Get("dataset"), run = p.Get("run");
  if (!dataset || !run) return ErrorResponse(out, 400, "give dataset=<dataset> and run=<run> (from /api/v1/quality)");
  if (std::find(o_.quality_datasets.begin(), o_.quality_datasets.end(), *dataset) == o_.quality_datasets.end()) {
    return ErrorResponse(out, 404, fmt::format("{} has no quality rules here", *dataset));
  }
  if (run->find('/') != std::string::npos || run->starts_with(".")) return ErrorResponse(out, 400, "bad run id");
  std::string error;
  int64_t offset = p.Int("offset", 0, 0, INT64_MAX, &error);
  int64_t limit = p.Int("limit", 50, 1, 1000, &error);
  if (!error.empty()) return ErrorResponse(out, 400, error);
  std::string dir = lake::JoinPath(*dataset, quality::RejectsDir(*run));
  StatusOr<lake::DatasetSchema> schema = lake::ReadDatasetSchema(o_.lake, dir);
  if (!schema.ok()) return ErrorResponse(out, StatusFor(schema.status()), std::string(schema.status().message()));
  json columns = json::array();
  for (const lake::ColumnSchema& c : schema->columns) columns.push_back(c.name);
  json rows = json::array();
  int64_t seen = 0;
  Status s = lake::ForEachRecord(o_.lake, dir, *schema,
                                 [&](const lake::FileInfo&, size_t, const std::vector<std::string_view>& f,
                                     const std::vector<uint8_t>& null) -> Status {
                                   if (seen++ < offset || static_cast<int64_t>(rows.size()) >= limit) {
                                     return absl::OkStatus();
                                   }
                                   json row = json::array();
                                   for (size_t i = 0; i < f.size(); ++i) {
                                     row.push_back(null[i] ? json(nullptr) : json(std::string(f[i])));
                                   }
                                   rows.push_back(std::move(row));
                                   return absl::OkStatus();
                                 });
  if (!s.ok()) return ErrorResponse(out, StatusFor(s), std::string(s.message()));
  out->body = json{{"dataset", *dataset}, {"run", *run},   {"columns", std::move(columns)},
                   {"total", seen},       {"offset", offset}, {"rows", std::move(rows)}}
                  .dump();
}

// Counters over every recorded run of each dataset with rules (the history
// only grows), and the last run's outcome.
static void QualityMetrics(lake::Storage* lake, const std::vector<std::string>& datasets, std::string* m) {
  if (datasets.empty()) return;
  std::string rows = "# HELP comptoir_quality_rows_total Rows checked by quality rules, by what became of them.\n"
                     "# TYPE comptoir_quality_rows_total counter\n";
  std::string runs = "# HELP comptoir_quality_runs_total Ingest runs with quality rules, by outcome.\n"
                     "# TYPE comptoir_quality_runs_total counter\n";
  std::string rules = "# HELP comptoir_quality_rule_failures_total Records (or runs) failing each rule.\n"
                      "# TYPE comptoir_quality_rule_failures_total counter\n";
  std::string last = "# HELP comptoir_quality_last_run_failed 1 when the dataset's last run was stopped by a fail rule.\n"
                     "# TYPE comptoir_quality_last_run_failed gauge\n";
  for (const std::string& d : datasets) {
    StatusOr<std::vector<quality::RunRecord>> history = quality::ReadHistory(lake, d);
    if (!history.ok()) continue;
    uint64_t in = 0, published = 0, rejected = 0, warned = 0, failed_runs = 0;
    std::map<std::tuple<int, std::string, std::string, std::string, std::string>, uint64_t> per_rule;
    for (const quality::RunRecord& r : *history) {
      in += r.rows_in, published += r.rows_out, rejected += r.rejected, warned += r.warned;
      failed_runs += r.failed() ? 1 : 0;
      for (const quality::RuleResult& x : r.rules) per_rule[{x.number, x.name, x.check, x.column, x.action}] += x.failed;
    }
    rows += fmt::format("comptoir_quality_rows_total{{dataset=\"{0}\",result=\"checked\"}} {1}\n"
                        "comptoir_quality_rows_total{{dataset=\"{0}\",result=\"published\"}} {2}\n"
                        "comptoir_quality_rows_total{{dataset=\"{0}\",result=\"rejected\"}} {3}\n"
                        "comptoir_quality_rows_total{{dataset=\"{0}\",result=\"warned\"}} {4}\n",
                        d, in, published, rejected, warned);
    runs += fmt::format("comptoir_quality_runs_total{{dataset=\"{0}\",outcome=\"published\"}} {1}\n"
                        "comptoir_quality_runs_total{{dataset=\"{0}\",outcome=\"failed\"}} {2}\n",
                        d, history->size() - failed_runs, failed_runs);
    for (const auto& [k, n] : per_rule) {
      const auto& [number, name, check, column, action] = k;
      rules += fmt::format("comptoir_quality_rule_failures_total{{dataset=\"{}\",rule=\"{}\",check=\"{}\","
                           "column=\"{}\",action=\"{}\"}} {}\n",
                           d, number, check, column, action, n);
    }
    last += fmt::format("comptoir_quality_last_run_failed{{dataset=\"{}\"}} {}\n", d,
                        !history->empty() && history->back().failed() ? 1 : 0);
  }
  *m += rows + runs + rules + last;
}

void Api::Metrics(const Request&, Response* out) {
  out->content_type = "text/plain; version=0.0.4";
  std::string& m = out->body;
  m += "# HELP comptoir_http_requests_total API requests per endpoint.\n# TYPE comptoir_http_requests_total counter\n";
  std::string seconds = "# HELP comptoir_http_request_seconds_total Time spent per endpoint.\n"
                        "# TYPE comptoir_http_request_seconds_total counter\n";
  {
    std::lock_guard<std::mutex> l(metrics_mu_);
    for (const auto& [path, st] : endpoint_stats_) {
      m += fmt::format("comptoir_http_requests_total{{path=\"{}\"}} {}\n", path, st.first);
      seconds += fmt::format("comptoir_http_request_seconds_total{{path=\"{}\"}} {:.6f}\n", path, st.second);
    }
  }
  m += seconds;
  auto gauge = [&](const char* name, const char* help, const char* type, auto value) {
    m += fmt::format("# HELP {} {}\n# TYPE {} {}\n{} {}\n", name, help, name, type, name, value);
  };
  if (o_.server_stats) {
    gauge("comptoir_http_requests_all_total", "All HTTP requests, assets included.", "counter",
          o_.server_stats->requests.load());
    gauge("comptoir_http_rate_limited_total", "Requests refused by the rate limit.", "counter",
          o_.server_stats->rate_limited.load());
    gauge("comptoir_sse_clients", "Connected Server-Sent Events clients.", "gauge", o_.server_stats->stream_clients.load());
    gauge("comptoir_sse_events_sent_total", "Events written to SSE clients.", "counter",
          o_.server_stats->events_sent.load());
    gauge("comptoir_sse_slow_clients_dropped_total", "SSE clients dropped for not reading.", "counter",
          o_.server_stats->slow_clients_dropped.load());
  }
  gauge("comptoir_cache_hits_total", "Sales answers served from the cache.", "counter", cache_hits_.load());
  QualityMetrics(o_.lake, o_.quality_datasets, &m);
  std::shared_ptr<const analytics::Snapshot> snap = o_.sales->snapshot();
  gauge("comptoir_dataset_rows", "Rows loaded of the sales dataset.", "gauge", snap->rows);
  gauge("comptoir_dataset_version", "Version of the sales dataset (bumps on every change).", "gauge", snap->version);
  if (analytics::LiveView* live = live_.load()) {
    analytics::LiveHealth h = live->Health();
    gauge("comptoir_live_events_total", "Events read from the bus.", "counter", h.events);
    gauge("comptoir_live_consumer_lag", "Events of the topic not yet read (-1 unknown).", "gauge", h.lag);
    gauge("comptoir_live_connected", "1 when the bus answers.", "gauge", h.connected ? 1 : 0);
    gauge("comptoir_live_lost_records_total",
          "Records of the embedded log skipped because a damaged disk no longer reads them back.", "counter", h.lost);
  }
}

void Api::Static(const Request& r, Response* out) {
  std::string path = r.path == "/" ? "/index.html" : r.path;
  for (const Asset& a : EmbeddedAssets()) {
    if (a.path != path) continue;
    out->content_type = std::string(a.content_type);
    out->body.assign(a.data);
    out->headers.emplace_back("Cache-Control", path.starts_with("/assets/") ? "public, max-age=31536000, immutable"
                                                                            : "no-cache");
    return;
  }
  if (path == "/index.html") {  // built without the dashboard
    out->content_type = "text/html; charset=utf-8";
    out->body = "<!doctype html><title>Comptoir</title><p>This comptoir was built without its dashboard "
                "(scripts/ui-build needs Node.js and npm). The API is at <a href=\"/api/v1/health\">/api/v1/health</a>.";
    return;
  }
  ErrorResponse(out, 404, fmt::format("no file {}", r.path));
}

}  // namespace comptoir::serve
