// `comptoir archive` killed with SIGKILL ten times while 200,000 events flow:
// every event ends up in the lake exactly once. On the embedded log and on
// the real Kafka broker.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "cli_runner.h"
#include "comptoir/core/strings.h"
#include "comptoir/stream/archiver.h"
#include "comptoir/stream/event.h"
#include "nlohmann/json.hpp"

namespace comptoir {
namespace {

using testing::CliResult;
using testing::RunCli;

class ArchiverKill : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    dir_ = testing::TempDir("archive-kill");
    if (GetParam() == "log" || GetParam() == "s3") {
      bus_ = "log://" + dir_ + "/bus";
    } else {
      bus_ = testing::ServiceEnv("COMPTOIR_TEST_KAFKA");
      if (bus_.empty()) GTEST_SKIP() << "no Kafka broker (run `make test`)";
    }
    topic_ = StrCat("archive-", GetParam(), "-", getpid());
    lake_ = dir_ + "/lake";
    if (GetParam() == "s3") {  // the embedded bus into an object store
      std::string bucket = testing::ServiceEnv("COMPTOIR_TEST_S3");
      aws_ = testing::ServiceEnv("COMPTOIR_TEST_AWS_CLI");
      if (bucket.empty() || aws_.empty()) GTEST_SKIP() << "no S3 server (run `make test`)";
      lake_ = StrCat(bucket, "/it-archive-", getpid(), "-",
                     ::testing::UnitTest::GetInstance()->current_test_info()->name());
    }
  }
  void TearDown() override {
    if (!aws_.empty()) testing::Shell(aws_ + " s3 rm --quiet --recursive " + testing::ShellQuote(lake_ + "/"));
    std::filesystem::remove_all(dir_);
  }
  void Run(bool rules);
  std::string dir_, bus_, topic_, lake_, aws_;
};

TEST_P(ArchiverKill, TenKillNinesWhileEventsFlowLeaveEveryEventExactlyOnce) { Run(false); }

// The same with a quality rule: every event is in the dataset or in
// quarantine (<target>/_rejects/part-P-F-L/), exactly once.
TEST_P(ArchiverKill, WithQualityRulesEveryEventIsInTheDatasetOrInQuarantineExactlyOnce) { Run(true); }

void ArchiverKill::Run(bool rules) {
  constexpr int kEvents = 200000;
  ASSERT_EQ(RunCli({"bus", "--bus", bus_, "create", topic_, "--partitions", "3"}).exit_code, 0);
  int producer = testing::StartCli({"produce", "-q", "--bus", bus_, "--topic", topic_, "--count",
                                    std::to_string(kEvents), "--rate", "25000", "--seed", "5"},
                                   dir_ + "/produce.log");
  ASSERT_GT(producer, 0);
  std::vector<std::string> archive = {"archive", "--bus", bus_, "--topic", topic_, "--lake", lake_,
                                      "--roll-interval", "300ms", "--roll-size", "256KiB", "--dlq-topic", "none"};
  if (rules) {
    std::string config = dir_ + "/comptoir.toml";
    std::ofstream(config) << "[[quality.rule]]\ndataset = \"/user/kafka/transactions\"\ncolumn = \"quantity\"\n"
                             "check = \"range\"\nmax = 40\naction = \"reject\"\n";
    archive.insert(archive.begin(), {"--config", config});
  }
  std::mt19937 rng(42);
  int lo = GetParam() == "kafka" ? 1200 : 300;
  std::uniform_int_distribution<int> ms(lo, lo + 700);
  for (int i = 0; i < 10; ++i) {
    int pid = testing::StartCli(archive, dir_ + "/archive.log");
    ASSERT_GT(pid, 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(ms(rng)));
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    int st = 0;
    waitpid(pid, &st, 0);
    ASSERT_TRUE(WIFSIGNALED(st)) << "archiver run " << i << " ended by itself";
  }
  int st = 0;
  waitpid(producer, &st, 0);
  ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "the producer failed";
  // Something was archived before the last run (the kills hit a working archiver).
  CliResult mid = RunCli({"lake", "--lake", lake_, "ls", "-R", "/user/kafka/transactions"});
  EXPECT_NE(mid.out.find("part-"), std::string::npos) << mid.out << mid.err;

  std::vector<std::string> last = archive;
  last.insert(last.end(), {"--idle-exit", "2s"});
  CliResult fin = RunCli(last);
  ASSERT_EQ(fin.exit_code, 0) << fin.err;

  // Read every published file (an s3:// lake through a copy made by the AWS CLI).
  std::string root = lake_ + "/user/kafka/transactions";
  if (GetParam() == "s3") {
    root = dir_ + "/copy";
    std::string cp = testing::Shell(aws_ + " s3 cp --recursive --only-show-errors " +
                                    testing::ShellQuote(lake_ + "/user/kafka/transactions/") + " " + root + " 2>&1");
    ASSERT_EQ(cp, "");
  }
  std::set<std::string> ids;
  size_t lines = 0;
  std::map<int, std::vector<stream::ArchiveFile>> ranges;
  stream::EventParser parser;
  size_t rejected = 0;
  std::error_code ec;
  for (const auto& run : std::filesystem::directory_iterator(root + "/_rejects", ec)) {
    auto range = stream::ParseArchiveFileName(run.path().filename().string() + ".jsonl");
    ASSERT_TRUE(range.has_value()) << run.path();
    std::ifstream in(run.path() / "part-00000.jsonl");
    std::string line;
    while (std::getline(in, line)) {
      auto j = nlohmann::json::parse(line);
      auto e = parser.Parse(j["raw"].get<std::string>(), 0);
      ASSERT_TRUE(e.ok()) << line;
      EXPECT_GT(e->quantity, 40) << line;
      ids.insert(e->event_id);
      ++lines;
      ++rejected;
    }
  }
  for (const auto& day : std::filesystem::directory_iterator(root)) {
    std::string day_name = day.path().filename().string();
    if (day_name == "_temporary" || day_name == "_rejects" || day_name == "_quality") continue;
    ASSERT_TRUE(day_name.starts_with("dt=")) << day_name;
    for (const auto& f : std::filesystem::directory_iterator(day.path())) {
      auto range = stream::ParseArchiveFileName(f.path().filename().string());
      ASSERT_TRUE(range.has_value()) << f.path();
      ranges[range->partition].push_back(*range);
      std::ifstream in(f.path());
      std::string line;
      int64_t in_file = 0;
      while (std::getline(in, line)) {
        auto e = parser.Parse(line, 0);
        ASSERT_TRUE(e.ok()) << line;
        ids.insert(e->event_id);
        ++lines;
        ++in_file;
      }
      if (!rules) {
        EXPECT_EQ(in_file, range->last - range->first + 1) << f.path();
      }
    }
  }
  EXPECT_EQ(lines, static_cast<size_t>(kEvents)) << "duplicates or losses";
  if (rules) {
    EXPECT_GT(rejected, 0u) << "the rule rejected nothing: it tests nothing";
  }
  EXPECT_EQ(ids.size(), static_cast<size_t>(kEvents));
  int64_t total = 0;
  for (auto& [p, rs] : ranges) {
    std::sort(rs.begin(), rs.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    int64_t next = 0;
    for (const auto& r : rs) {
      EXPECT_EQ(r.first, next) << "gap or overlap in partition " << p;
      next = r.last + 1;
    }
    total += next;
  }
  EXPECT_EQ(total, kEvents);
  // The group's offsets caught up with the lake.
  CliResult d = RunCli({"bus", "--bus", bus_, "--json", "describe", topic_, "--group",
                        "comptoir-archiver"});
  ASSERT_EQ(d.exit_code, 0) << d.err;
  EXPECT_EQ(nlohmann::json::parse(d.out)["lag"], 0) << d.out;
}

INSTANTIATE_TEST_SUITE_P(Backends, ArchiverKill, ::testing::Values("log", "kafka", "s3"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

}  // namespace
}  // namespace comptoir
