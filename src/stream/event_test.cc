#include "comptoir/stream/event.h"

#include <gtest/gtest.h>

#include <set>

#include "comptoir/core/decimal.h"
#include "comptoir/stream/simulator.h"

namespace comptoir::stream {
namespace {

TEST(EventTest, RoundTripsExactly) {
  Simulator sim(7, "p1", 0);
  EventParser parser;
  for (int i = 0; i < 2000; ++i) {
    Event e = sim.Next(1764280094123 + i);
    std::string json = ToJson(e);
    StatusOr<Event> back = parser.Parse(json, 0);
    ASSERT_TRUE(back.ok()) << back.status() << " " << json;
    EXPECT_EQ(back->event_id, e.event_id);
    EXPECT_EQ(back->ts_ms, e.ts_ms);
    EXPECT_EQ(back->order_number, e.order_number);
    EXPECT_EQ(back->amount_cents, e.amount_cents);
    EXPECT_EQ(back->price_each_cents, e.price_each_cents);
    EXPECT_EQ(back->customer, e.customer);
    EXPECT_EQ(back->deal_size, e.deal_size);
    EXPECT_FALSE(back->minimal);
  }
  Event e = sim.Next(1764280094123);
  EXPECT_EQ(e.event_id, "p1-000000002001");
  std::string json = ToJson(e);
  EXPECT_NE(json.find("\"ts\":\"2025-11-27T21:48:14.123Z\""), std::string::npos) << json;
}

TEST(EventTest, MinimalReferenceFormatUsesMessageTime) {
  EventParser parser;
  auto e = parser.Parse(R"({"order_id": 4711, "amount": 123.4, "status": "completed", "customer_id": 42})",
                        1700000000000);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_TRUE(e->minimal);
  EXPECT_EQ(e->order_number, 4711);
  EXPECT_EQ(e->amount_cents, 12340);
  EXPECT_EQ(e->customer, "42");
  EXPECT_EQ(e->ts_ms, 1700000000000);
  EXPECT_EQ(e->deal_size, "Small");
}

TEST(EventTest, MalformedMessagesNameTheProblem) {
  EventParser parser;
  EXPECT_EQ(parser.Parse("{not json", 0).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(parser.Parse(R"({"amount": 1, "status": "x"})", 0).status().message(),
            "missing field order_number (or order_id)");
  EXPECT_EQ(parser.Parse(R"({"order_id": 1, "amount": "lots", "status": "x"})", 0).status().message(),
            "field amount is not an amount: \"lots\" is not a decimal number");
  EXPECT_EQ(parser.Parse(R"({"order_id": 1, "status": "x"})", 0).status().message(),
            "missing field amount");
  EXPECT_EQ(parser.Parse("[1,2]", 0).status().message(), "not a JSON object");
}

TEST(SimulatorTest, FastJsonPathEqualsTheEventPath) {
  Simulator a(7, "p1", 1000), b(7, "p1", 1000);
  std::string json;
  std::set<std::string> statuses;
  for (int i = 0; i < 20000; ++i) {
    int64_t now = 1764280094123 + i * 37;
    Event e = a.Next(now);
    int64_t key = b.NextJson(now, &json);
    ASSERT_EQ(json, ToJson(e)) << i;
    ASSERT_EQ(key, e.order_number);
    statuses.insert(e.status);
  }
  EXPECT_GE(statuses.size(), 4u);  // several statuses went through the fragment cache
}


}  // namespace
}  // namespace comptoir::stream
