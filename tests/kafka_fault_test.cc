// The Kafka broker dies for 30 s in the middle of a produce, on a private
// ZooKeeper + Kafka (its own scripts/stack, so the tests sharing the main
// broker are not disturbed): the idempotent producer loses nothing and
// writes nothing twice.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "cli_runner.h"
#include "comptoir/core/strings.h"
#include "comptoir/stream/event.h"
#include "nlohmann/json.hpp"

namespace comptoir {
namespace {

using testing::CliResult;
using testing::RunCli;

class KafkaFaults : public ::testing::Test {
 protected:
  void SetUp() override {
    if (testing::ServiceEnv("COMPTOIR_TEST_KAFKA").empty()) {
      GTEST_SKIP() << "no Kafka in this environment (run `make test`)";
    }
    dir_ = testing::TempDir("kafka-fault");
    stack_ = std::make_unique<testing::PrivateStack>(dir_);
    ASSERT_TRUE(stack_->Start("kafka")) << "could not start a private Kafka";
    kafka_ = stack_->Env("COMPTOIR_TEST_KAFKA");
    brokers_ = stack_->Env("COMPTOIR_TEST_KAFKA_BROKERS");
    ASSERT_FALSE(kafka_.empty());
  }
  void TearDown() override {
    stack_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  int Stack(const std::string& args) { return stack_->Run(args); }
  std::string dir_, kafka_, brokers_;
  std::unique_ptr<testing::PrivateStack> stack_;
};

TEST_F(KafkaFaults, BrokerDownForThirtySecondsDuringProduceLosesAndDuplicatesNothing) {
  constexpr int kEvents = 100000;
  ASSERT_EQ(RunCli({"bus", "--bus", kafka_, "create", "transactions", "--partitions", "3"}).exit_code, 0);
  int producer = testing::StartCli({"produce", "-q", "--bus", kafka_, "--count",
                                    std::to_string(kEvents), "--rate", "2500", "--seed", "9"},
                                   dir_ + "/produce.log");
  ASSERT_GT(producer, 0);
  std::this_thread::sleep_for(std::chrono::seconds(4));
  ASSERT_EQ(Stack("kill kafka"), 0);
  auto down_at = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(30));
  ASSERT_EQ(Stack("restart kafka"), 0) << "the broker did not come back";
  double down_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - down_at).count();
  EXPECT_GE(down_s, 30.0);
  int st = 0;
  waitpid(producer, &st, 0);
  std::ifstream log_in(dir_ + "/produce.log");
  std::string log((std::istreambuf_iterator<char>(log_in)), {});
  ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << log;
  EXPECT_NE(log.find("Produced 100,000 events"), std::string::npos) << log;

  // Exactly the produced events: as many records as events, each id once.
  CliResult d = RunCli({"bus", "--bus", kafka_, "--json", "describe", "transactions"});
  ASSERT_EQ(d.exit_code, 0) << d.err;
  EXPECT_EQ(nlohmann::json::parse(d.out)["records"], kEvents) << d.out;
  CliResult c = RunCli({"consume", "--bus", kafka_, "--from-beginning", "--count",
                        std::to_string(kEvents)});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  stream::EventParser parser;
  std::set<std::string> ids;
  size_t lines = 0;
  for (std::string_view l : Split(c.out, '\n', true)) {
    auto e = parser.Parse(l, 0);
    ASSERT_TRUE(e.ok());
    ids.insert(e->event_id);
    ++lines;
  }
  EXPECT_EQ(lines, static_cast<size_t>(kEvents));
  EXPECT_EQ(ids.size(), static_cast<size_t>(kEvents));
}

}  // namespace
}  // namespace comptoir
