// A point-of-sale simulator: realistic order lines (the seed catalogue of
// products, customers, countries, statuses, several lines per order) as
// events stamped with the current time, plus the application log lines the
// reference app writes (Python logging layout).
#pragma once

#include <optional>
#include <random>
#include <string>

#include "comptoir/seed/sales.h"
#include "comptoir/stream/event.h"

namespace comptoir::stream {

class Simulator {
 public:
  // `producer_id` makes event ids unique across producers; `order_base` is
  // added to order numbers so runs do not reuse them.
  Simulator(uint64_t seed, std::string producer_id, int64_t order_base);
  Event Next(int64_t now_ms);
  // The same into `e`, reusing its buffers (the full-speed path).
  void Next(int64_t now_ms, Event* e);
  // "2026-11-27 21:48:14,123 INFO sale order=10100 line=1 ... amount=2871.00 status=Shipped"
  static std::string LogLine(const Event& e);
  // With probability `rate`, a WARNING or ERROR line (declined payment,
  // stock-out, timeout) about `e`.
  std::optional<std::string> IncidentLine(const Event& e, double rate);

 private:
  seed::SalesGenerator gen_;
  std::string producer_id_;
  int64_t order_base_;
  uint64_t seq_ = 0;
  std::mt19937_64 rng_;
};

// "2026-11-27 21:48:14,123" (local layout of Python's logging, in UTC).
std::string PythonLogTime(int64_t ts_ms);

}  // namespace comptoir::stream
