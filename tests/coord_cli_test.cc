// Coordination in use: one runner per saved job, one active archiver per
// topic (a standby takes over when the active one dies), agents registered
// with their lag for `health`.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "cli_runner.h"
#include "comptoir/core/strings.h"

namespace comptoir {
namespace {

namespace fs = std::filesystem;
using testing::CliResult;
using testing::RunCli;
using testing::Slurp;

TEST(CoordCli, ASecondRunOfTheSameJobFailsNamingTheHolderOrWaits) {
  std::string dir = testing::TempDir("coord-job");
  std::string db = "sqlite://" + dir + "/erp.db";
  ASSERT_EQ(RunCli({"seed", "--connect", db + "?create=1", "--rows", "1000000"}).exit_code, 0);
  setenv("COMPTOIR_IMPORT_JOBS_DIR", (dir + "/jobs").c_str(), 1);  // for this test's children
  setenv("COMPTOIR_COORD_URI", ("local://" + dir + "/coord").c_str(), 1);
  std::string env;
  ASSERT_EQ(RunCli({"job", "--create", "nightly", "--", "import", "--connect", db, "--table", "sales", "--lake",
                    dir + "/lake", "--incremental", "append", "--check-column", "ORDERNUMBER", "-m", "1"},
                   env)
                .exit_code,
            0);
  int first = testing::StartCli({"job", "--exec", "nightly"}, dir + "/first.log");
  testing::ChildReaper first_reaper{first};
  // Started (the lock is taken before the import's first row).
  auto held = [&] {
    if (!fs::exists(dir + "/coord/locks")) return false;
    for (const auto& e : fs::directory_iterator(dir + "/coord/locks")) {
      if (fs::file_size(e.path()) > 0) return true;  // the holder's name is written once it holds it
    }
    return false;
  };
  for (int i = 0; i < 250 && !held(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_TRUE(held());
  CliResult second = RunCli({"job", "--exec", "nightly"}, env);
  int st = 0;
  waitpid(first, &st, 0);
  first_reaper.pid = -1;
  ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << Slurp(dir + "/first.log");
  EXPECT_EQ(second.exit_code, 1);
  EXPECT_NE(second.err.find("job nightly is already running: lock jobs/nightly-"), std::string::npos) << second.err;
  EXPECT_NE(second.err.find(" is held by "), std::string::npos) << second.err;
  // With --wait the next run waits its turn and imports nothing twice.
  CliResult again = RunCli({"job", "--exec", "nightly", "--wait", "60s"}, env);
  EXPECT_EQ(again.exit_code, 0) << again.err;
  CliResult count = RunCli({"lake", "cat", "/user/sqoop/sales", "--lake", dir + "/lake"});
  EXPECT_EQ(std::count(count.out.begin(), count.out.end(), '\n'), 1000000);
  unsetenv("COMPTOIR_IMPORT_JOBS_DIR");
  unsetenv("COMPTOIR_COORD_URI");
  fs::remove_all(dir);
}

TEST(CoordCli, AStandbyArchiverTakesOverWhenTheActiveOneIsKilled) {
  std::string dir = testing::TempDir("coord-archive");
  std::string bus = "log://" + dir + "/bus", coord = "local://" + dir + "/coord";
  ASSERT_EQ(RunCli({"produce", "-q", "--bus", bus, "--count", "3000", "--rate", "0"}).exit_code, 0);
  std::vector<std::string> args = {"archive", "--bus", bus, "--lake", dir + "/lake", "--coord", coord,
                                   "--roll-interval", "200ms"};
  int active = testing::StartCli(args, dir + "/a.log");
  testing::ChildReaper active_reaper{active};
  // Active once its lease names it.
  auto held = [&] {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir + "/coord/locks", ec)) {
      if (fs::file_size(e.path()) > 0) return true;
    }
    return false;
  };
  for (int i = 0; i < 250 && !held(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_TRUE(held()) << Slurp(dir + "/a.log");
  int standby = testing::StartCli(args, dir + "/b.log");
  testing::ChildReaper standby_reaper{standby};
  ASSERT_FALSE(testing::WaitForLine(dir + "/b.log", "archive: (standby): another archiver is active", 10000).empty())
      << Slurp(dir + "/b.log");
  kill(active, SIGKILL);
  waitpid(active, nullptr, 0);
  active_reaper.pid = -1;
  ASSERT_FALSE(testing::WaitForLine(dir + "/b.log", "archive: now (the) active archiver", 10000).empty())
      << Slurp(dir + "/b.log");
  ASSERT_EQ(RunCli({"produce", "-q", "--bus", bus, "--count", "2000", "--rate", "0", "--seed", "3"}).exit_code, 0);
  // Every event archived exactly once, by whichever archiver was active (the
  // published files only: one renamed from `_temporary` during a walk that
  // counted staging files was counted twice, a flaky 5797).
  size_t lines = 0;
  for (int i = 0; i < 100 && lines < 5000; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    lines = testing::PublishedLines(dir + "/lake");
  }
  EXPECT_EQ(lines, 5000u);
  kill(standby, SIGTERM);
  int st = 0;
  waitpid(standby, &st, 0);
  standby_reaper.pid = -1;
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << Slurp(dir + "/b.log");
  fs::remove_all(dir);
}

TEST(CoordCli, AgentsRegisterWithTheirLagAndHealthShowsThem) {
  std::string dir = testing::TempDir("coord-agent");
  std::string coord = "local://" + dir + "/coord";
  fs::create_directories(dir + "/logs");
  std::ofstream(dir + "/logs/app.log") << "2026-11-27 10:00:00,000 INFO one\n2026-11-27 10:00:01,000 INFO two\n";
  int agent = testing::StartCli({"agent", "--source", dir + "/logs/*.log", "--lake", dir + "/lake", "--state-dir",
                                 dir + "/state", "--roll-interval", "200ms", "--coord", coord},
                                dir + "/agent.log");
  testing::ChildReaper agent_reaper{agent};
  std::string seen;
  for (int i = 0; i < 100; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    CliResult h = RunCli({"health", "--lake", dir + "/lake", "--bus", "none", "--coord", coord, "--dataset",
                          "/user/flume/logs"});
    if (h.out.find("agents") != std::string::npos && h.out.find("last commit never") == std::string::npos &&
        h.out.find("1 registered") != std::string::npos) {
      seen = h.out;
      break;
    }
  }
  EXPECT_NE(seen.find("  ok        agents"), std::string::npos) << seen;
  EXPECT_NE(seen.find("lag 0 bytes, last commit "), std::string::npos) << seen;
  kill(agent, SIGTERM);
  waitpid(agent, nullptr, 0);
  agent_reaper.pid = -1;
  CliResult gone = RunCli({"health", "--lake", dir + "/lake", "--bus", "none", "--coord", coord, "--dataset", "/user/flume/logs"});
  EXPECT_NE(gone.out.find("no agent registered"), std::string::npos) << gone.out;
  fs::remove_all(dir);
}

}  // namespace
}  // namespace comptoir
