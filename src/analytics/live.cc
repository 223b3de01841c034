#include "comptoir/analytics/live.h"

#include <fmt/format.h>

#include <algorithm>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "comptoir/core/time.h"
#include "comptoir/core/strings.h"
#include "comptoir/lake/compression.h"
#include "comptoir/stream/archiver.h"
#include "comptoir/stream/event.h"
#include "nlohmann/json.hpp"

namespace comptoir::analytics {
namespace {

using nlohmann::json;

constexpr int64_t kWindow = 3600;        // seconds kept
constexpr size_t kLatest = 100;          // newest events kept
constexpr size_t kPerTick = 50;          // events carried by one tick (the newest of its second)
constexpr size_t kLatencySamples = 10000;
constexpr int64_t kDayMs = 86400000;

double Money(int64_t cents) { return static_cast<double>(cents) / 100.0; }

nlohmann::json EventJson(const stream::Event& e) {
  return {{"event_id", e.event_id},         {"ts", core::FormatIsoMillis(e.ts_ms)},
          {"order_number", e.order_number}, {"customer", e.customer},
          {"country", e.country},           {"product_line", e.product_line},
          {"quantity", e.quantity},         {"amount", Money(e.amount_cents)},
          {"status", e.status},             {"deal_size", e.deal_size}};
}

struct Count {
  int64_t events = 0;
  int64_t cents = 0;
};

struct Slot {
  int64_t t = -1;
  Count total;
  std::map<std::string, Count> by_status, by_productline;
  std::vector<nlohmann::json> events;  // newest last, at most kPerTick
};

}  // namespace

struct LiveView::Impl {
  LiveOptions o;
  std::unique_ptr<bus::Consumer> consumer;
  std::thread thread;
  std::atomic<bool> stop{false};

  mutable std::mutex mu;
  std::vector<Slot> slots = std::vector<Slot>(kWindow);
  std::deque<nlohmann::json> latest;  // newest first
  std::deque<double> latency;         // ms, newest last
  int64_t malformed = 0;
  LiveHealth health;
  // Today (UTC day number of `today_start_ms`).
  int64_t today_start_ms = 0;
  int64_t archived_cents = 0, archived_events = 0;
  std::map<int, int64_t> frontier;  // partition -> highest archived offset
  std::map<int, std::deque<std::tuple<int64_t, int64_t>>> unarchived;  // partition -> (offset, cents), today
  std::set<std::string> archive_files;  // read already (today's) or counted in the frontier

  void ResetDayIfNeeded(int64_t now_ms) {
    int64_t start = now_ms - now_ms % kDayMs;
    if (start == today_start_ms) return;
    today_start_ms = start;
    archived_cents = archived_events = 0;
    unarchived.clear();
    archive_files.clear();
  }

  void Add(const bus::Record& r, const stream::Event& e, int64_t seen_ms) {
    int64_t t = e.ts_ms / 1000;
    int64_t now_s = seen_ms / 1000;
    if (t > now_s) t = now_s;  // a producer clock ahead of ours: count it now
    ++health.events;
    health.last_event_ms = seen_ms;
    latency.push_back(static_cast<double>(seen_ms - e.ts_ms));
    if (latency.size() > kLatencySamples) latency.pop_front();
    nlohmann::json j = EventJson(e);
    latest.push_front(j);
    if (latest.size() > kLatest) latest.pop_back();
    if (t > now_s - kWindow) {
      Slot& s = slots[static_cast<size_t>(t % kWindow)];
      if (s.t != t) s = Slot{}, s.t = t;
      ++s.total.events, s.total.cents += e.amount_cents;
      Count& st = s.by_status[e.status];
      ++st.events, st.cents += e.amount_cents;
      Count& pl = s.by_productline[e.product_line.empty() ? "(unknown)" : e.product_line];
      ++pl.events, pl.cents += e.amount_cents;
      if (s.events.size() < kPerTick) s.events.push_back(std::move(j));
    }
    ResetDayIfNeeded(seen_ms);
    if (e.ts_ms >= today_start_ms && e.ts_ms < today_start_ms + kDayMs) {
      auto it = frontier.find(r.partition);
      if (it == frontier.end() || r.offset > it->second) unarchived[r.partition].emplace_back(r.offset, e.amount_cents);
    }
  }

  void Loop() {
    stream::EventParser parser;
    stream::Event e;
    auto last_lag = std::chrono::steady_clock::now() - std::chrono::seconds(10);
    while (!stop.load()) {
      StatusOr<std::span<const bus::Record>> batch = consumer->PollView(2000, std::chrono::milliseconds(200));
      int64_t seen = core::UnixMillis();
      // The lag asks the brokers (seconds when they are down): never under the
      // lock that the dashboard's requests and ticks take.
      std::optional<int64_t> lag;
      if (batch.ok() && std::chrono::steady_clock::now() - last_lag > std::chrono::seconds(5)) {
        last_lag = std::chrono::steady_clock::now();
        StatusOr<int64_t> measured = consumer->Lag();
        lag = measured.ok() ? *measured : -1;
      }
      std::lock_guard<std::mutex> l(mu);
      if (lag) health.lag = *lag;
      health.lost = consumer->Lost();
      if (!batch.ok()) {
        health.connected = false;
        health.last_error = std::string(batch.status().message());
        continue;
      }
      health.connected = true;
      for (const bus::Record& r : *batch) {
        if (parser.Parse(r.value, r.timestamp_ms, &e).ok()) {
          Add(r, e, seen);
        } else {
          ++malformed;
        }
      }
    }
  }

  std::pair<int64_t, int64_t> Today() const {  // (cents, events)
    int64_t cents = archived_cents, events = archived_events;
    for (const auto& [p, q] : unarchived) {
      auto it = frontier.find(p);
      for (const auto& [offset, c] : q) {
        if (it == frontier.end() || offset > it->second) cents += c, ++events;
      }
    }
    return {cents, events};
  }

  nlohmann::json Latency() const {
    if (latency.empty()) return {{"p50", nullptr}, {"p99", nullptr}};
    std::vector<double> v(latency.begin(), latency.end());
    auto at = [&](double q) {
      size_t k = std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())));
      std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
      return v[k];
    };
    return {{"p50", at(0.50)}, {"p99", at(0.99)}};
  }
};

LiveView::LiveView(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

LiveView::~LiveView() {
  impl_->stop = true;
  if (impl_->thread.joinable()) impl_->thread.join();
}

StatusOr<std::unique_ptr<LiveView>> LiveView::Open(LiveOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->o = std::move(options);
  int64_t now = core::UnixMillis();
  bus::ConsumerOptions co;
  co.group = impl->o.group;
  co.start = bus::StartAt::kTime;
  co.start_time_ms = impl->o.start_time_ms >= 0 ? impl->o.start_time_ms
                                                : std::min(now - now % kDayMs, now - kWindow * 1000);
  ASSIGN_OR_RETURN(impl->consumer, bus::OpenConsumer(impl->o.bus_uri, impl->o.topic, co, impl->o.bus));
  impl->ResetDayIfNeeded(now);
  std::unique_ptr<LiveView> view(new LiveView(std::move(impl)));
  if (view->impl_->o.lake != nullptr && !view->impl_->o.archive_dir.empty()) {
    Status s = view->RefreshArchive();
    if (!s.ok() && !absl::IsNotFound(s)) return s;
  }
  Impl* raw = view->impl_.get();
  raw->thread = std::thread([raw] { raw->Loop(); });
  return view;
}

Status LiveView::RefreshArchive() {
  Impl& m = *impl_;
  if (m.o.lake == nullptr || m.o.archive_dir.empty()) return absl::OkStatus();
  int64_t now = core::UnixMillis();
  {
    std::lock_guard<std::mutex> l(m.mu);
    m.ResetDayIfNeeded(now);
  }
  std::string today_dir = fmt::format("dt={}", core::FormatIsoMillis(now).substr(0, 10));
  StatusOr<std::vector<lake::FileInfo>> days = m.o.lake->List(m.o.archive_dir);
  if (absl::IsNotFound(days.status())) return absl::OkStatus();
  RETURN_IF_ERROR(days.status());
  stream::EventParser parser;
  stream::Event e;
  for (const lake::FileInfo& day : *days) {
    if (!day.is_dir || !day.name.starts_with("dt=")) continue;
    ASSIGN_OR_RETURN(std::vector<lake::FileInfo> files, m.o.lake->List(day.path));
    for (const lake::FileInfo& f : files) {
      std::optional<stream::ArchiveFile> a = stream::ParseArchiveFileName(f.name);
      if (!a || lake::IsHiddenName(f.name)) continue;
      {
        std::lock_guard<std::mutex> l(m.mu);
        if (m.archive_files.contains(f.path)) continue;
      }
      int64_t cents = 0, events = 0;
      if (day.name == today_dir) {  // read today's files for their amounts
        ASSIGN_OR_RETURN(std::string data, lake::ReadDecompressed(m.o.lake, f.path));
        for (std::string_view line : Split(data, '\n', true)) {
          if (parser.Parse(line, 0, &e).ok() && e.ts_ms >= now - now % kDayMs) cents += e.amount_cents, ++events;
        }
      }
      std::lock_guard<std::mutex> l(m.mu);
      m.archive_files.insert(f.path);
      m.archived_cents += cents;
      m.archived_events += events;
      int64_t& fr = m.frontier.try_emplace(a->partition, -1).first->second;
      fr = std::max(fr, a->last);
      auto& q = m.unarchived[a->partition];
      while (!q.empty() && std::get<0>(q.front()) <= fr) q.pop_front();
    }
  }
  return absl::OkStatus();
}

nlohmann::json LiveView::Summary(int window_s) const {
  const Impl& m = *impl_;
  int64_t now = core::UnixMillis() / 1000;
  window_s = static_cast<int>(std::clamp<int64_t>(window_s, 1, kWindow));
  std::lock_guard<std::mutex> l(m.mu);
  Count total;
  std::map<std::string, Count> by_status, by_productline;
  nlohmann::json series = nlohmann::json::array();
  for (int64_t t = now - window_s + 1; t <= now; ++t) {
    const Slot& s = m.slots[static_cast<size_t>(t % kWindow)];
    Count c = s.t == t ? s.total : Count{};
    series.push_back({{"t", t}, {"events", c.events}, {"revenue", Money(c.cents)}});
    if (s.t != t) continue;
    total.events += c.events, total.cents += c.cents;
    for (const auto& [k, v] : s.by_status) by_status[k].events += v.events, by_status[k].cents += v.cents;
    for (const auto& [k, v] : s.by_productline) by_productline[k].events += v.events, by_productline[k].cents += v.cents;
  }
  auto groups = [](const std::map<std::string, Count>& counts) {
    std::vector<std::pair<std::string, Count>> v(counts.begin(), counts.end());
    std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) {
      return a.second.cents != b.second.cents ? a.second.cents > b.second.cents : a.first < b.first;
    });
    nlohmann::json out = nlohmann::json::array();
    for (const auto& [k, c] : v) out.push_back({{"key", k}, {"events", c.events}, {"revenue", Money(c.cents)}});
    return out;
  };
  auto [today_cents, today_events] = m.Today();
  nlohmann::json latest = nlohmann::json::array();
  for (const auto& e : m.latest) latest.push_back(e);
  return {{"window_s", window_s},
          {"events", total.events},
          {"revenue", Money(total.cents)},
          {"per_second", std::move(series)},
          {"by_status", groups(by_status)},
          {"by_productline", groups(by_productline)},
          {"latest", std::move(latest)},
          {"malformed", m.malformed},
          {"latency_ms", m.Latency()},
          {"today_revenue", Money(today_cents)},
          {"today_events", today_events}};
}

nlohmann::json LiveView::Tick(int64_t t) const {
  const Impl& m = *impl_;
  std::lock_guard<std::mutex> l(m.mu);
  const Slot& s = m.slots[static_cast<size_t>(((t % kWindow) + kWindow) % kWindow)];
  bool have = s.t == t;
  nlohmann::json events = nlohmann::json::array();
  if (have) {
    for (auto it = s.events.rbegin(); it != s.events.rend(); ++it) events.push_back(*it);
  }
  auto [today_cents, today_events] = m.Today();
  auto counts = [&](const std::map<std::string, Count>& by) {
    json out = json::array();
    if (!have) return out;
    for (const auto& [k, c] : by) out.push_back({{"key", k}, {"events", c.events}, {"revenue", Money(c.cents)}});
    return out;
  };
  return {{"t", t},
          {"events", have ? s.total.events : 0},
          {"revenue", Money(have ? s.total.cents : 0)},
          {"by_status", counts(s.by_status)},
          {"by_productline", counts(s.by_productline)},
          {"new", std::move(events)},
          {"today_revenue", Money(today_cents)},
          {"today_events", today_events},
          {"malformed", m.malformed},
          {"latency_ms", m.Latency()}};
}

std::vector<nlohmann::json> LiveView::TicksSince(int64_t after, int64_t now) const {
  std::vector<nlohmann::json> out;
  for (int64_t t = std::max(after + 1, now - kWindow + 1); t <= now; ++t) out.push_back(Tick(t));
  return out;
}

LiveHealth LiveView::Health() const {
  std::lock_guard<std::mutex> l(impl_->mu);
  return impl_->health;
}

}  // namespace comptoir::analytics
