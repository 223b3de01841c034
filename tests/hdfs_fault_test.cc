// HDFS faults on a private NameNode + DataNode (its own scripts/stack, so the
// other HDFS tests running in parallel are not disturbed).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "cli_runner.h"
#include "comptoir/core/strings.h"

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
    state_ = dir_ + "/stack.env";
    std::string out = dir_ + "/exports";
    ASSERT_EQ(Stack("start hdfs >" + out), 0) << "could not start a private HDFS";
    std::ifstream in(out);
    std::string line;
    while (std::getline(in, line)) {
      const std::string key = "export COMPTOIR_TEST_WEBHDFS='";
      if (line.starts_with(key)) webhdfs_ = line.substr(key.size(), line.size() - key.size() - 1);
    }
    ASSERT_FALSE(webhdfs_.empty());
  }
  void TearDown() override {
    if (!state_.empty()) Stack("stop");
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  int Stack(const std::string& args) {
    std::string cmd = "COMPTOIR_STACK_STATE=" + state_ + " " + COMPTOIR_SOURCE_DIR +
                      "/scripts/stack " + args + " 2>>" + dir_ + "/stack.log";
    return WEXITSTATUS(std::system(cmd.c_str()));
  }
  std::vector<std::string> Visible(const std::string& target) {
    CliResult ls = RunCli({"lake", "--lake", webhdfs_, "ls", target});
    std::vector<std::string> out;
    for (std::string_view l : Split(ls.out, '\n', true)) {
      std::string name(l.substr(l.rfind('/') + 1));
      if (!name.starts_with("_") || name == "_SUCCESS") out.push_back(name);
    }
    return out;
  }
  std::string dir_, state_, webhdfs_;
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

}  // namespace
}  // namespace comptoir
