// `comptoir produce` and `comptoir consume` on the embedded log, end to end.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "cli_runner.h"
#include "comptoir/bus/client.h"
#include "comptoir/stream/event.h"

namespace comptoir {
namespace {

using testing::CliResult;
using testing::RunCli;

bool Has(const std::string& s, const std::string& n) { return s.find(n) != std::string::npos; }

class StreamCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::TempDir("stream");
    bus_ = "log://" + dir_ + "/bus";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_, bus_;
};

TEST_F(StreamCli, ProduceThenConsumeEveryEventExactlyOnceWithGroups) {
  CliResult p = RunCli({"produce", "--bus", bus_, "--count", "10000", "--rate", "0", "--log",
                        dir_ + "/app.log", "--error-rate", "0.05"});
  ASSERT_EQ(p.exit_code, 0) << p.err;
  EXPECT_TRUE(Has(p.out, "Produced 10,000 events to " + bus_ + " topic transactions (3 partitions)"))
      << p.out;
  // Two halves through one group: together exactly the 10,000 events.
  CliResult a = RunCli({"consume", "--bus", bus_, "--group", "g", "--from-beginning", "--count", "6000"});
  CliResult b = RunCli({"consume", "--bus", bus_, "--group", "g", "--count", "4000"});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  ASSERT_EQ(b.exit_code, 0) << b.err;
  std::set<std::string> ids;
  int64_t cents = 0;
  stream::EventParser parser;
  for (const std::string* out : {&a.out, &b.out}) {
    for (std::string_view line : Split(*out, '\n', true)) {
      StatusOr<stream::Event> e = parser.Parse(line, 0);
      ASSERT_TRUE(e.ok()) << e.status() << ": " << line;
      EXPECT_TRUE(ids.insert(e->event_id).second) << "duplicate " << e->event_id;
      cents += e->amount_cents;
    }
  }
  EXPECT_EQ(ids.size(), 10000u);
  EXPECT_TRUE(Has(b.err, "consumed 4,000 events (0 malformed")) << b.err;
  EXPECT_GT(cents, 0);
  // The app log has one INFO line per event, and some WARNING/ERROR lines.
  std::ifstream log(dir_ + "/app.log");
  std::string text((std::istreambuf_iterator<char>(log)), {});
  size_t info = 0, incidents = 0;
  for (std::string_view line : Split(text, '\n', true)) {
    if (Has(std::string(line), " INFO sale order=")) ++info;
    if (Has(std::string(line), " WARNING ") || Has(std::string(line), " ERROR ")) ++incidents;
  }
  EXPECT_EQ(info, 10000u);
  EXPECT_GT(incidents, 250u);
  EXPECT_LT(incidents, 750u);
}

TEST_F(StreamCli, MinimalReferenceEventsParseAndMalformedOnesGoToTheDlq) {
  auto producer = bus::OpenProducer(bus_, "transactions", 2).value();
  ASSERT_TRUE(producer->Send("1", R"({"order_id": 1, "amount": 10.5, "status": "completed", "customer_id": 7})", 1700000000000).ok());
  ASSERT_TRUE(producer->Send("2", R"({"order_id": 2, "amount": "oops", "status": "completed"})", 0).ok());
  ASSERT_TRUE(producer->Send("3", "not json at all", 0).ok());
  ASSERT_TRUE(producer->Send("4", R"({"order_id": 4, "amount": 2.25, "status": "pending", "customer_id": 9})", 0).ok());
  ASSERT_TRUE(producer->Flush().ok());
  CliResult c = RunCli({"consume", "--bus", bus_, "--count", "4", "--format", "table"});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  EXPECT_TRUE(Has(c.err, "consumed 4 events (2 malformed, sent to transactions.dlq), revenue 12.75"))
      << c.err;
  EXPECT_TRUE(Has(c.out, "2023-11-14T22:13:20.000Z")) << c.out;  // the message time stands in
  CliResult dlq = RunCli({"consume", "--bus", bus_, "--topic", "transactions.dlq", "--count", "2"});
  EXPECT_TRUE(Has(dlq.out, "field amount is not an amount")) << dlq.out;
  EXPECT_TRUE(Has(dlq.out, "\"error\":\"not a JSON object\"")) << dlq.out;
  EXPECT_TRUE(Has(dlq.err, "consumed 2 events (2 malformed), revenue 0.00")) << dlq.err;
}

TEST_F(StreamCli, BadBusUrisAreClearErrors) {
  CliResult r = RunCli({"produce", "--bus", "kafka://", "--count", "1"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Has(r.err, "names no broker: use kafka://host:port[,host:port]")) << r.err;
  r = RunCli({"consume", "--bus", "http://x/y"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Has(r.err, "must be log:///absolute/dir or kafka://host:port")) << r.err;
}

}  // namespace
}  // namespace comptoir
