// HDFS faults on a private NameNode + DataNode (its own scripts/stack, so the
// other HDFS tests running in parallel are not disturbed).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <set>
#include <map>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "cli_runner.h"
#include "comptoir/core/strings.h"
#include "nlohmann/json.hpp"

namespace comptoir {
namespace {

using testing::CliResult;
using testing::RunCli;

bool Has(const std::string& s, const std::string& n) { return s.find(n) != std::string::npos; }

class HdfsFaults : public ::testing::Test {
 protected:
  void SetUp() override {
    if (testing::ServiceEnv("COMPTOIR_TEST_WEBHDFS").empty()) {
      GTEST_SKIP() << "no HDFS in this environment (run `make test`)";
    }
    dir_ = testing::TempDir("hdfs-fault");
    stack_ = std::make_unique<testing::PrivateStack>(dir_);
    ASSERT_TRUE(stack_->Start("hdfs")) << "could not start a private HDFS";
    webhdfs_ = stack_->Env("COMPTOIR_TEST_WEBHDFS");
    ASSERT_FALSE(webhdfs_.empty());
  }
  void TearDown() override {
    stack_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  int Stack(const std::string& args) { return stack_->Run(args); }
  std::vector<std::string> Visible(const std::string& target) {
    CliResult ls = RunCli({"lake", "--lake", webhdfs_, "ls", target});
    std::vector<std::string> out;
    for (std::string_view l : Split(ls.out, '\n', true)) {
      std::string name(l.substr(l.rfind('/') + 1));
      if (!name.starts_with("_") || name == "_SUCCESS") out.push_back(name);
    }
    return out;
  }
  std::string dir_, webhdfs_;
  std::unique_ptr<testing::PrivateStack> stack_;
};

TEST_F(HdfsFaults, DataNodeDiesMidImportThenNameNodeRestartsBetweenImports) {
  std::string db = "sqlite://" + dir_ + "/erp.db";
  ASSERT_EQ(RunCli({"seed", "--connect", db, "--rows", "600000", "--seed", "4"}).exit_code, 0);
  std::vector<std::string> args = {"import", "--connect", db, "--table", "sales", "-m", "2",
                                   "--lake", webhdfs_, "--target-dir", "/user/sqoop/sales"};
  int pid = testing::StartCli(args, dir_ + "/import.log");
  ASSERT_GT(pid, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  ASSERT_EQ(Stack("kill datanode"), 0);
  int st = 0;
  waitpid(pid, &st, 0);
  std::ifstream log_in(dir_ + "/import.log");
  std::string log((std::istreambuf_iterator<char>(log_in)), {});
  ASSERT_TRUE(WIFEXITED(st));
  if (WEXITSTATUS(st) == 0) GTEST_SKIP() << "the import finished before the DataNode died";
  EXPECT_EQ(WEXITSTATUS(st), 1) << log;
  EXPECT_TRUE(Has(log, "comptoir: error: import: ")) << log;
  EXPECT_TRUE(Has(log, "/user/sqoop/sales/_temporary/")) << "the error names the file: " << log;
  // Nothing visible under the target.
  EXPECT_TRUE(Visible("/user/sqoop/sales").empty());

  ASSERT_EQ(Stack("restart datanode"), 0);
  // The NameNode notices the new DataNode within a few heartbeats.
  CliResult again;
  for (int i = 0; i < 20; ++i) {
    again = RunCli(args);
    if (again.exit_code == 0) break;
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_TRUE(Has(again.out, "Imported 600,000 rows")) << again.out;
  EXPECT_EQ(Visible("/user/sqoop/sales"),
            (std::vector<std::string>{"_SUCCESS", "part-m-00000", "part-m-00001"}));

  ASSERT_EQ(Stack("restart namenode"), 0);
  std::vector<std::string> second = args;
  second.back() = "/user/sqoop/sales_after_restart";
  CliResult after = RunCli(second);
  ASSERT_EQ(after.exit_code, 0) << after.err;
  CliResult a = RunCli({"lake", "--lake", webhdfs_, "cat", "/user/sqoop/sales"});
  CliResult b = RunCli({"lake", "--lake", webhdfs_, "cat", "/user/sqoop/sales_after_restart"});
  EXPECT_EQ(std::count(b.out.begin(), b.out.end(), '\n'), 600000);
  EXPECT_TRUE(a.out == b.out);
}

TEST_F(HdfsFaults, AgentRidesOutSixtySecondsWithoutHdfsLosingAndDuplicatingNothing) {
  std::string logs = dir_ + "/logs";
  std::filesystem::create_directories(logs);
  int agent = testing::StartCli({"agent", "-q", "--source", logs + "/*.log", "--lake", webhdfs_,
                                 "--target-dir", "/user/flume/logs/%Y-%m-%d", "--state-dir",
                                 dir_ + "/state", "--roll-interval", "1s", "--idle-timeout", "1s"},
                                dir_ + "/agent.log");
  ASSERT_GT(agent, 0);
  // The writer: about 2,000 lines per second for 75 s, one rename rotation at 40 s.
  std::atomic<bool> done{false};
  std::thread writer([&] {
    std::ofstream out(logs + "/app.log", std::ios::app | std::ios::binary);
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 150000; ++i) {
      if (i == 80000) {
        out.close();
        std::filesystem::rename(logs + "/app.log", logs + "/app.log.1");
        out.open(logs + "/app.log", std::ios::app | std::ios::binary);
      }
      out << "2026-11-28 12:" << (i / 60000 % 60 < 10 ? "0" : "") << i / 60000 % 60 << ":"
          << (i / 1000 % 60 < 10 ? "0" : "") << i / 1000 % 60 << ",000 INFO sale order=" << i << "\n";
      if (i % 100 == 99) {
        out.flush();
        std::this_thread::sleep_until(t0 + std::chrono::microseconds(500) * i);
      }
    }
    out.close();
    done = true;
  });
  std::this_thread::sleep_for(std::chrono::seconds(5));
  ASSERT_EQ(Stack("kill datanode"), 0);
  ASSERT_EQ(Stack("kill namenode"), 0);
  std::this_thread::sleep_for(std::chrono::seconds(30));
  // Meanwhile the agent reports the failure and keeps reading into its spool.
  CliResult during = RunCli({"agent", "status", "--state-dir", dir_ + "/state", "--json"});
  ASSERT_EQ(during.exit_code, 0) << during.err;
  bool saw_error = false;
  for (const auto& f : nlohmann::json::parse(during.out)) {
    saw_error = saw_error || !f["last_error"].get<std::string>().empty();
  }
  EXPECT_TRUE(saw_error) << during.out;
  std::this_thread::sleep_for(std::chrono::seconds(30));
  ASSERT_EQ(Stack("restart namenode"), 0);
  ASSERT_EQ(Stack("restart datanode"), 0);
  writer.join();
  ASSERT_TRUE(done);
  // The spool drains by itself: wait until every byte is committed.
  bool drained = false;
  for (int i = 0; i < 120 && !drained; ++i) {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    CliResult st = RunCli({"agent", "status", "--state-dir", dir_ + "/state", "--json"});
    if (st.exit_code != 0) continue;
    auto files = nlohmann::json::parse(st.out);
    drained = !files.empty();
    for (const auto& f : files) drained = drained && f["committed"] == f["size"] && f["size"] > 0;
  }
  EXPECT_TRUE(drained) << RunCli({"agent", "status", "--state-dir", dir_ + "/state"}).out;
  ASSERT_EQ(kill(agent, SIGTERM), 0);
  int st = 0;
  waitpid(agent, &st, 0);
  std::ifstream agent_log(dir_ + "/agent.log");
  std::string log((std::istreambuf_iterator<char>(agent_log)), {});
  ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << log;

  // Every file exactly once, byte for byte.
  CliResult ls = RunCli({"lake", "--lake", webhdfs_, "ls", "-R", "/user/flume/logs"});
  ASSERT_EQ(ls.exit_code, 0) << ls.err;
  std::map<std::string, std::map<uint64_t, std::string>> by_id;
  for (std::string_view l : Split(ls.out, '\n', true)) {
    if (!l.starts_with("-")) continue;  // files only
    std::string path(l.substr(l.find('/')));
    std::string name = path.substr(path.rfind('/') + 1);
    ASSERT_FALSE(name.starts_with(".")) << "temporary left: " << path;
    std::vector<std::string_view> parts = Split(name, '.', false);
    std::string_view range = parts.back();
    CliResult data = RunCli({"lake", "--lake", webhdfs_, "cat", path});
    ASSERT_EQ(data.exit_code, 0) << data.err;
    uint64_t start = std::stoull(std::string(range.substr(0, range.find('-'))));
    ASSERT_EQ(by_id[std::string(parts[parts.size() - 2])].count(start), 0u) << "duplicate " << name;
    by_id[std::string(parts[parts.size() - 2])][start] = data.out;
  }
  std::multiset<std::string> got, want;
  for (auto& [id, files] : by_id) {
    std::string all;
    for (auto& [start, data] : files) all += data;
    got.insert(all);
  }
  for (const char* name : {"app.log", "app.log.1"}) {
    std::ifstream in(logs + "/" + name, std::ios::binary);
    want.insert(std::string((std::istreambuf_iterator<char>(in)), {}));
  }
  EXPECT_TRUE(got == want) << "the lake differs from the files (" << got.size() << " generations)";
}

}  // namespace
}  // namespace comptoir
