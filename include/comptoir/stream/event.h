// Point-of-sale events: the JSON carried on the `transactions` topic.
//
//   {"event_id":"p7f3a-000000000001","ts":"2026-11-27T21:48:14.123Z","order_number":10100,
//    "order_line":1,"customer":"Land of Toys Inc.","country":"USA","territory":"NA",
//    "product_code":"S10_1678","product_line":"Motorcycles","quantity":30,
//    "price_each":95.70,"amount":2871.00,"status":"Shipped","deal_size":"Medium"}
//
// Money is exact: amounts are written with two decimals and parsed from their
// text into integer cents, never through a binary float. The parser also
// takes the reference design's minimal events {"order_id", "amount",
// "status", "customer_id"} (then `ts` is the message timestamp).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "comptoir/core/status.h"

namespace comptoir::stream {

struct Event {
  std::string event_id;
  int64_t ts_ms = 0;  // milliseconds since the Unix epoch (UTC)
  int64_t order_number = 0;
  int order_line = 0;
  std::string customer;
  std::string country;
  std::string territory;
  std::string product_code;
  std::string product_line;
  int quantity = 0;
  int64_t price_each_cents = 0;
  int64_t amount_cents = 0;
  std::string status;
  std::string deal_size;
  bool minimal = false;  // parsed from the reference design's minimal format
};

// One JSON object, fields in the order above.
std::string ToJson(const Event& e);
// The same, appended to `out` (reuse one buffer on hot paths).
void AppendJson(const Event& e, std::string* out);

// Reusable parser (simdjson); not thread-safe, one per thread.
class EventParser {
 public:
  EventParser();
  ~EventParser();
  // `message_ts_ms` stands in for a missing `ts`. InvalidArgument names the
  // field: bad JSON, a missing field, a non-numeric amount.
  StatusOr<Event> Parse(std::string_view json, int64_t message_ts_ms);
  // The same into `e`, reusing its buffers (the hot path).
  Status Parse(std::string_view json, int64_t message_ts_ms, Event* e);

 private:
  struct Impl;
  Impl* impl_;
};

// Pieces of the JSON writer, for writers that assemble events themselves
// (the simulator's fast path): a JSON string literal (quotes, backslashes and
// control characters escaped), an integer. Timestamps: core::AppendIsoMillis.
void AppendJsonString(std::string_view s, std::string* out);
void AppendInt(int64_t v, std::string* out);

}  // namespace comptoir::stream
