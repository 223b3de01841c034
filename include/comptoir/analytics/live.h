// Live views of the `transactions` stream, and the serving layer's "today".
//
// A LiveView consumes the topic in its own thread (its own consumer group,
// starting at the earlier of today's midnight UTC and an hour ago) and keeps:
// one-second buckets for the last hour (events, revenue, per status and
// product line, by the event's own time), the newest 100 events, the
// malformed count and the end-to-end latency (event `ts` -> seen here).
//
// Today's KPIs merge the archived stream (`/user/kafka/transactions/dt=<today>`,
// files named part-<partition>-<first>-<last>) with the live events not yet
// archived, each counted once: the archive's frontier per partition is the
// highest archived offset, every offset up to it is in some file (the
// archiver publishes in offset order), and a live event counts only when its
// offset is above the frontier of its partition.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "comptoir/bus/client.h"
#include "comptoir/core/status.h"
#include "comptoir/lake/storage.h"
#include "nlohmann/json_fwd.hpp"

namespace comptoir::analytics {

struct LiveOptions {
  std::string bus_uri;
  bus::BusOptions bus;
  std::string topic = "transactions";
  std::string group = "comptoir-serve";
  lake::Storage* lake = nullptr;                         // for the archived part of "today"
  std::string archive_dir = "/user/kafka/transactions";  // "" = no archive
  int64_t start_time_ms = -1;                            // -1: min(midnight UTC, now - 1 h)
};

struct LiveHealth {
  bool connected = false;
  std::string last_error;
  int64_t events = 0;
  int64_t last_event_ms = 0;
  int64_t lag = -1;
  int64_t lost = 0;  // records skipped because a damaged disk no longer reads them back
};

class LiveView {
 public:
  // Opens the consumer and starts its thread.
  static StatusOr<std::unique_ptr<LiveView>> Open(LiveOptions options);
  ~LiveView();
  // The live summary over the last `window_s` seconds (see docs/api.md).
  nlohmann::json Summary(int window_s) const;
  // The update for second `t` (Unix seconds): its bucket, its events, today's totals.
  nlohmann::json Tick(int64_t t) const;
  // The ticks after `after` still in the window, oldest first (SSE resume).
  std::vector<nlohmann::json> TicksSince(int64_t after, int64_t now) const;
  LiveHealth Health() const;
  // Reads archive files published since the last call (the serve loop calls
  // it every second or two).
  Status RefreshArchive();

 private:
  struct Impl;
  explicit LiveView(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace comptoir::analytics
