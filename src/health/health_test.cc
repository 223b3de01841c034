// The probes on embedded parts: a local lake, the embedded bus, a SQLite
// database, saved jobs, dataset freshness, and a service that does not
// answer.
#include "comptoir/health/health.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>

#include "comptoir/bus/client.h"
#include "comptoir/core/time.h"
#include "comptoir/importer/jobs.h"
#include "comptoir/quality/history.h"

namespace comptoir::health {
namespace {

namespace fs = std::filesystem;

class HealthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    lake::RegisterBuiltinStorages();
    dir_ = ::testing::TempDir() + "/health-" + std::to_string(getpid()) + "-" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(dir_);
    fs::create_directories(dir_ + "/lake");
    auto lake = lake::OpenStorage(dir_ + "/lake");
    ASSERT_TRUE(lake.ok());
    lake_ = *std::move(lake);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::map<std::string, Component> Run(const Targets& t) {
    std::map<std::string, Component> out;
    for (Component& c : Check(t)) out[c.name] = c;
    return out;
  }

  std::string dir_;
  std::unique_ptr<lake::Storage> lake_;
};

TEST_F(HealthTest, LakeAndEmbeddedBusWithTheTopicAndItsGroups) {
  Targets t;
  t.lake = lake_.get();
  t.bus_uri = "log://" + dir_ + "/bus";
  t.datasets.clear();
  auto before = Run(t);
  EXPECT_EQ(before["lake"].state, State::kOk) << before["lake"].detail;
  EXPECT_NE(before["lake"].detail.find("free"), std::string::npos) << before["lake"].detail;
  EXPECT_EQ(before["bus"].state, State::kDegraded);
  EXPECT_NE(before["bus"].detail.find("topic transactions not found (no producer has run yet)"), std::string::npos)
      << before["bus"].detail;
  auto producer = bus::OpenProducer(t.bus_uri, "transactions", 2);
  ASSERT_TRUE(producer.ok());
  for (int i = 0; i < 7; ++i) ASSERT_TRUE((*producer)->Send(std::to_string(i), "{}", 0).ok());
  ASSERT_TRUE((*producer)->Flush().ok());
  auto after = Run(t);
  EXPECT_EQ(after["bus"].state, State::kOk) << after["bus"].detail;
  EXPECT_NE(after["bus"].detail.find("topic transactions: 2 partitions"), std::string::npos) << after["bus"].detail;
  EXPECT_NE(after["bus"].detail.find("comptoir-serve not started, comptoir-archiver not started, 7 events"),
            std::string::npos)
      << after["bus"].detail;
  EXPECT_EQ(Overall({after["lake"], after["bus"]}), State::kOk);
}

TEST_F(HealthTest, DatasetsFreshnessAndDatabases) {
  ASSERT_TRUE(lake::WriteStringToFile(lake_.get(), "/user/sqoop/sales/part-m-00000", "1\n").ok());
  Targets t;
  t.lake = lake_.get();
  t.datasets = {{"/user/sqoop/sales", std::chrono::seconds(0)}, {"/user/flume/logs", std::chrono::seconds(0)}};
  t.databases = {"sqlite://" + dir_ + "/missing.db", "sqlite://" + dir_ + "/erp.db?create=1"};
  auto c = Run(t);
  EXPECT_EQ(c["dataset /user/sqoop/sales"].state, State::kOk);
  EXPECT_TRUE(c["dataset /user/sqoop/sales"].detail.starts_with("1 files, newest data ")) << c["dataset /user/sqoop/sales"].detail;
  EXPECT_EQ(c["dataset /user/flume/logs"].state, State::kDegraded);
  EXPECT_EQ(c["dataset /user/flume/logs"].detail, "no data yet");
  std::string missing = "database sqlite://" + dir_ + "/missing.db";
  EXPECT_EQ(c[missing].state, State::kDown) << c[missing].detail;
  std::string created = "database sqlite://" + dir_ + "/erp.db?create=1";
  EXPECT_EQ(c[created].state, State::kOk) << c[created].detail;
  EXPECT_TRUE(c[created].detail.starts_with("reachable, server SQLite ")) << c[created].detail;
  // Stale: the file is older than the limit.
  fs::last_write_time(dir_ + "/lake/user/sqoop/sales/part-m-00000",
                      fs::file_time_type::clock::now() - std::chrono::hours(2));
  t.datasets = {{"/user/sqoop/sales", std::chrono::seconds(3600)}};
  t.databases.clear();
  auto stale = Run(t);
  EXPECT_EQ(stale["dataset /user/sqoop/sales"].state, State::kDegraded);
  EXPECT_NE(stale["dataset /user/sqoop/sales"].detail.find("(stale: nothing new for more than 3600 s)"),
            std::string::npos);
}

TEST_F(HealthTest, ADatasetWhoseLastQualityRunFailedIsDegraded) {
  quality::RunRecord ok;
  ok.run = "20261206T100000.000Z";
  ok.dataset = "/user/sqoop/sales";
  ok.rows_in = 2823, ok.rows_out = 2817, ok.rejected = 6, ok.warned = 1342;
  ASSERT_TRUE(lake::WriteStringToFile(lake_.get(), "/user/sqoop/sales/_quality/history.jsonl", ok.ToJsonLine() + "\n").ok());
  Targets t;
  t.lake = lake_.get();
  t.quality_datasets = {"/user/sqoop/sales", "/user/sqoop/products"};
  auto c = Run(t);
  EXPECT_EQ(c["quality /user/sqoop/sales"].state, State::kOk);
  EXPECT_EQ(c["quality /user/sqoop/sales"].detail,
            "last run 20261206T100000.000Z (import): 2,817 published, 6 rejected, 1,342 warned");
  EXPECT_EQ(c["quality /user/sqoop/products"].detail, "no run with rules yet");
  quality::RunRecord failed = ok;
  failed.run = "20261206T110000.000Z";
  failed.outcome = "failed";
  failed.failure = "1304 row(s) failed a rule with action fail, the first: PRICEEACH range <= 99.99: 100.00";
  ASSERT_TRUE(quality::RecordRunOutsideCommit(lake_.get(), "/user/sqoop/sales", failed).ok());
  c = Run(t);
  EXPECT_EQ(c["quality /user/sqoop/sales"].state, State::kDegraded);
  EXPECT_EQ(c["quality /user/sqoop/sales"].detail,
            "last run 20261206T110000.000Z (import) failed, nothing published: " + failed.failure);
}

TEST_F(HealthTest, SavedJobsShowTheirLastRunAndADamagedFileSaysWhy) {
  importer::JobStore store(dir_ + "/jobs");
  ASSERT_TRUE(store.Create("fresh", {"import", "--table", "sales"}).ok());
  auto ran = store.Create("nightly", {"import", "--table", "sales"});
  ASSERT_TRUE(ran.ok());
  importer::RunRecord ok{true, 2823, 0.41, core::UnixMillis() / 1000 - 30, ""};
  importer::RunRecord failed{false, 0, 3.02, core::UnixMillis() / 1000 - 5, "no such table: sales"};
  ran->last_success = ok;
  ran->last_run = failed;
  ASSERT_TRUE(store.Save(*ran).ok());
  std::ofstream(dir_ + "/jobs/broken.json") << "[1, 2]";
  Targets t;
  t.jobs_dir = dir_ + "/jobs";
  auto c = Run(t);
  EXPECT_EQ(c["job fresh"].state, State::kOk);
  EXPECT_EQ(c["job fresh"].detail, "saved, never run");
  EXPECT_EQ(c["job nightly"].state, State::kDegraded);
  // Ages are whole seconds of a clock that moved on meanwhile: 5 or 6, 30 or 31.
  EXPECT_TRUE(std::regex_match(c["job nightly"].detail,
                               std::regex("last run failed [56] s ago after 3\\.02 s: no such table: sales; last "
                                          "success 3[01] s ago \\(2823 rows in 0\\.41 s\\)")))
      << c["job nightly"].detail;
  EXPECT_EQ(c["job broken"].state, State::kDegraded);
  EXPECT_EQ(c["job broken"].detail, "job file " + dir_ +
                                        "/jobs/broken.json is damaged: it holds array instead of an object; fix it, "
                                        "or delete it (comptoir job --delete broken) and create the job again");
}

TEST_F(HealthTest, AServiceThatDoesNotAnswerIsDownWithinTheTimeout) {
  // A listening socket that never answers: ruok gets no reply.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  ASSERT_EQ(listen(fd, 1), 0);
  socklen_t len = sizeof(a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  Targets t;
  t.zookeeper = "127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  t.timeout = std::chrono::milliseconds(300);
  auto t0 = std::chrono::steady_clock::now();
  auto c = Run(t);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(c["zookeeper"].state, State::kDown) << c["zookeeper"].detail;
  EXPECT_LT(secs, 5.0);  // bounded by the probe timeout, with a wide margin
  close(fd);
}

}  // namespace
}  // namespace comptoir::health
