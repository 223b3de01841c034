// Flow B on the real Kafka broker of scripts/stack: comptoir's producer read
// by kcat and kafka-python, kafka-python's reference producer read by
// comptoir, consumer-group lag, and the archiver.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "cli_runner.h"
#include "comptoir/core/decimal.h"
#include "comptoir/core/strings.h"
#include "comptoir/stream/event.h"
#include "nlohmann/json.hpp"

namespace comptoir {
namespace {

using testing::CliResult;
using testing::RunCli;

bool Has(const std::string& s, const std::string& n) { return s.find(n) != std::string::npos; }

// Runs a shell command, returns its stdout.
std::string Shell(const std::string& cmd, int* exit_code) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  int st = pclose(p);
  *exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return out;
}

std::multiset<std::string> Lines(const std::string& text) {
  std::multiset<std::string> out;
  for (std::string_view l : Split(text, '\n', true)) out.emplace(l);
  return out;
}

class KafkaCli : public ::testing::Test {
 protected:
  void SetUp() override {
    kafka_ = testing::ServiceEnv("COMPTOIR_TEST_KAFKA");
    brokers_ = testing::ServiceEnv("COMPTOIR_TEST_KAFKA_BROKERS");
    if (kafka_.empty()) GTEST_SKIP() << "no Kafka broker (run `make test`)";
    dir_ = testing::TempDir("kafka-cli");
    topic_ = StrCat("t-", ::testing::UnitTest::GetInstance()->current_test_info()->name(), "-",
                    getpid());
    ASSERT_EQ(RunCli({"bus", "--bus", kafka_, "create", topic_, "--partitions", "3"}).exit_code, 0);
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  std::string kafka_, brokers_, dir_, topic_;
};

TEST_F(KafkaCli, ProducedEventsAreReadExactlyByKcatKafkaPythonAndComptoir) {
  CliResult p = RunCli({"produce", "-q", "--bus", kafka_, "--topic", topic_, "--count", "100000",
                        "--rate", "0", "--seed", "11"});
  ASSERT_EQ(p.exit_code, 0) << p.err;
  EXPECT_TRUE(Has(p.out, "Produced 100,000 events")) << p.out;

  int rc = 0;
  std::string kcat = Shell(StrCat("kcat -C -b ", brokers_, " -t ", topic_, " -o beginning -e -q -f '%s\\n'"), &rc);
  ASSERT_EQ(rc, 0);
  std::multiset<std::string> from_kcat = Lines(kcat);
  ASSERT_EQ(from_kcat.size(), 100000u);

  std::string py = Shell(StrCat("/usr/bin/python3 ", COMPTOIR_SOURCE_DIR, "/tests/kafka/consume.py ",
                                brokers_, " ", topic_, " 100000"), &rc);
  ASSERT_EQ(rc, 0);
  std::multiset<std::string> from_python = Lines(py);

  CliResult c = RunCli({"consume", "--bus", kafka_, "--topic", topic_, "--from-beginning",
                        "--count", "100000"});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  std::multiset<std::string> from_comptoir = Lines(c.out);

  EXPECT_EQ(from_python, from_kcat);
  EXPECT_EQ(from_comptoir, from_kcat);
  // Every event once: unique ids, and the exact total matches comptoir's summary.
  stream::EventParser parser;
  std::set<std::string> ids;
  int64_t cents = 0;
  for (const std::string& v : from_kcat) {
    auto e = parser.Parse(v, 0);
    ASSERT_TRUE(e.ok()) << v;
    ids.insert(e->event_id);
    cents += e->amount_cents;
  }
  EXPECT_EQ(ids.size(), 100000u);
  std::string total;
  core::AppendFixed(&total, cents, 2);
  EXPECT_TRUE(Has(c.err, "consumed 100,000 events (0 malformed")) << c.err;
  EXPECT_TRUE(Has(c.err, "revenue " + total)) << c.err << " want " << total;
}

TEST_F(KafkaCli, ReferenceProducerMinimalEventsAreParsedAndMalformedOnesGoToTheDlq) {
  int rc = 0;
  std::string py = Shell(StrCat("/usr/bin/python3 ", COMPTOIR_SOURCE_DIR,
                                "/tests/kafka/produce_minimal.py ", brokers_, " ", topic_, " 2000"),
                         &rc);
  ASSERT_EQ(rc, 0) << py;
  std::vector<std::string_view> fields = Split(StripAsciiWhitespace(py), ' ', true);
  ASSERT_EQ(fields.size(), 2u) << py;
  CliResult c = RunCli({"consume", "--bus", kafka_, "--topic", topic_, "--from-beginning",
                        "--count", "2003", "--format", "table"});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  EXPECT_TRUE(Has(c.err, StrCat("consumed 2,003 events (3 malformed, sent to ", topic_, ".dlq)")))
      << c.err;
  EXPECT_TRUE(Has(c.err, StrCat("revenue ", fields[1]))) << c.err << " want " << fields[1];
  // The dead letters carry the error and the original message.
  CliResult dlq = RunCli({"consume", "--bus", kafka_, "--topic", topic_ + ".dlq",
                          "--from-beginning", "--count", "3"});
  ASSERT_EQ(dlq.exit_code, 0) << dlq.err;
  std::vector<std::string_view> letters = Split(dlq.out, '\n', true);
  ASSERT_EQ(letters.size(), 3u);
  std::set<std::string> values;
  for (std::string_view l : letters) {
    auto j = nlohmann::json::parse(l);
    EXPECT_FALSE(j["error"].get<std::string>().empty());
    values.insert(j["value"].get<std::string>());
  }
  EXPECT_TRUE(values.count("not json"));
}

TEST_F(KafkaCli, ConsumerGroupLagIsReported) {
  ASSERT_EQ(RunCli({"produce", "-q", "--bus", kafka_, "--topic", topic_, "--count", "1000",
                    "--rate", "0"}).exit_code, 0);
  CliResult c = RunCli({"consume", "--bus", kafka_, "--topic", topic_, "--group", "lag-g",
                        "--from-beginning", "--count", "400"});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  CliResult d = RunCli({"bus", "--bus", kafka_, "--json", "describe", topic_, "--group", "lag-g"});
  ASSERT_EQ(d.exit_code, 0) << d.err;
  auto j = nlohmann::json::parse(d.out);
  EXPECT_EQ(j["records"], 1000);
  EXPECT_EQ(j["lag"], 600);
  int64_t committed = 0;
  for (const auto& p : j["partitions"]) committed += p["committed"].is_null() ? 0 : p["committed"].get<int64_t>();
  EXPECT_EQ(committed, 400);
  CliResult text = RunCli({"bus", "--bus", kafka_, "describe", topic_, "--group", "lag-g"});
  EXPECT_TRUE(Has(text.out, StrCat("topic ", topic_, ": 1,000 records in 3 partitions; group lag-g lag 600")))
      << text.out;
}

TEST_F(KafkaCli, MissingTopicAndUnreachableBrokerAreClearErrors) {
  CliResult c = RunCli({"consume", "--bus", kafka_, "--topic", "no-such-topic-" + topic_});
  EXPECT_EQ(c.exit_code, 1);
  EXPECT_TRUE(Has(c.err, "topic no-such-topic-" + topic_ + " does not exist on " + kafka_)) << c.err;
  CliResult bad = RunCli({"bus", "--bus", "kafka://127.0.0.1:1", "list"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_TRUE(Has(bad.err, "comptoir: error: bus list: list the topics of 127.0.0.1:1: "
                            "Local: Broker transport failure (is the broker running and reachable?)"))
      << bad.err;
}

}  // namespace
}  // namespace comptoir
