// A point-of-sale simulator: realistic order lines (the seed catalogue of
// products, customers, countries, statuses, several lines per order) as
// events stamped with the current time, plus the application log lines the
// reference app writes (Python logging layout).
#pragma once

#include <functional>
#include <optional>
#include <unordered_map>
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
  // The same into `e`, reusing its buffers.
  void Next(int64_t now_ms, Event* e);
  // The next event straight to its JSON (exactly ToJson(Next(now_ms))), from
  // pre-escaped catalogue fragments: the full-speed path. Returns the order
  // number (the record key).
  int64_t NextJson(int64_t now_ms, std::string* json);
  // "2026-11-27 21:48:14,123 INFO sale order=10100 line=1 ... amount=2871.00 status=Shipped"
  static std::string LogLine(const Event& e);
  // With probability `rate`, a WARNING or ERROR line (declined payment,
  // stock-out, timeout) about `e`.
  std::optional<std::string> IncidentLine(const Event& e, double rate);

 private:
  // Writes the event id ("<producer>-<12-digit sequence>").
  void AppendEventId(std::string* out);
  // ",\"customer\":...,\"territory\":\"..\"" per customer, and the like.
  const std::string& Fragment(const void* key, const std::function<std::string()>& make);

  seed::SalesGenerator gen_;
  std::unordered_map<const void*, std::string> fragments_;
  std::string producer_id_;
  int64_t order_base_;
  uint64_t seq_ = 0;
  std::mt19937_64 rng_;
};

}  // namespace comptoir::stream
