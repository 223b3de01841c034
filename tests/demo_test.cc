// `comptoir demo` end to end on embedded parts: the reference design's
// five-step demo, checked while it runs and after a stop and a restart.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "cli_runner.h"
#include "comptoir/bus/client.h"
#include "comptoir/core/strings.h"
#include "nlohmann/json.hpp"

namespace comptoir {
namespace {

namespace fs = std::filesystem;
using testing::Slurp;
using nlohmann::json;


// Events archived under /user/kafka/transactions (lines), and on the bus.
size_t ArchivedEvents(const std::string& lake) {
  return testing::PublishedLines((fs::path(lake) / "user/kafka/transactions").string());
}

size_t BusEvents(const std::string& uri) {
  auto c = bus::OpenConsumer(uri, "transactions", bus::ConsumerOptions{});
  if (!c.ok()) return 0;
  size_t n = 0;
  for (int empty = 0; empty < 3;) {
    auto batch = (*c)->Poll(10000, std::chrono::milliseconds(100));
    if (!batch.ok() || batch->empty()) {
      ++empty;
      continue;
    }
    n += batch->size();
  }
  return n;
}

json Json(const std::string& url) {
  testing::HttpResult r = testing::HttpGet(url);
  EXPECT_EQ(r.status, 200) << url << ": " << r.body;
  return json::parse(r.body, nullptr, false);
}

int StopAndWait(int pid) {
  kill(pid, SIGINT);
  int st = 0;
  for (int i = 0; i < 150; ++i) {  // within 15 s
    if (waitpid(pid, &st, WNOHANG) == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  kill(pid, SIGKILL);
  waitpid(pid, &st, 0);
  return -1;
}

TEST(Demo, EveryFlowRunsAtOnceStopsCleanlyAndResumes) {
  std::string dir = testing::TempDir("demo");
  std::string lake = dir + "/lake", bus = "log://" + dir + "/bus";
  int pid = testing::StartCli({"demo", "--dir", dir, "--rows", "5000", "--port", "0", "--rate", "20"}, dir + "/demo.log");
  testing::ChildReaper reaper{pid};
  std::string url = testing::WaitForLine(dir + "/demo.log", "dashboard on (http://127\\.0\\.0\\.1:[0-9]+)/", 60000);
  ASSERT_FALSE(url.empty()) << Slurp(dir + "/demo.log");
  // The import: part files and _SUCCESS, and the Overview's totals are the source table's.
  EXPECT_TRUE(fs::exists(lake + "/user/sqoop/sales/part-m-00000"));
  EXPECT_TRUE(fs::exists(lake + "/user/sqoop/sales/_SUCCESS"));
  json sales = Json(url + "/api/v1/sales/summary");
  EXPECT_EQ(sales["rows"], 5000);
  std::string source_cents =
      testing::Shell("sqlite3 " + dir + "/erp.db 'SELECT SUM(CAST(ROUND(SALES * 100) AS INTEGER)) FROM sales'");
  EXPECT_EQ(std::to_string(std::llround(sales["total_sales"].get<double>() * 100)) + "\n", source_cents);
  // The live events rise within 2 s, and today's KPIs include them.
  json before = Json(url + "/api/v1/live/summary?window=1m");
  std::this_thread::sleep_for(std::chrono::seconds(2));
  json after = Json(url + "/api/v1/live/summary?window=1m");
  EXPECT_GT(after["events"].get<int>(), before["events"].get<int>());
  EXPECT_GE(after["today_events"].get<int>(), after["events"].get<int>());
  // app.log grows and its lines appear in the lake within the roll interval (10 s).
  std::string published;
  for (int i = 0; i < 300 && published.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    published = testing::AgentLakeLog(lake);
  }
  ASSERT_FALSE(published.empty());
  EXPECT_TRUE(Slurp(dir + "/app.log").starts_with(published));
  json logs = Json(url + "/api/v1/logs/search?q=sale&limit=5");
  EXPECT_EQ(logs["lines"].size(), 5u);
  ASSERT_EQ(StopAndWait(pid), 0) << Slurp(dir + "/demo.log");
  // Stopped cleanly: every line and every event is in the lake, once.
  EXPECT_EQ(testing::AgentLakeLog(lake), Slurp(dir + "/app.log"));
  size_t events = BusEvents(bus);
  EXPECT_GT(events, 40u);
  EXPECT_EQ(ArchivedEvents(lake), events);

  // Again: the ERP is reused, the agent and the archiver resume.
  int again = testing::StartCli({"demo", "--dir", dir, "--rows", "5000", "--port", "0", "--rate", "20",
                                 "--duration", "4s"},
                                dir + "/demo2.log");
  testing::ChildReaper reaper2{again};
  int st = 0;
  waitpid(again, &st, 0);
  ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << Slurp(dir + "/demo2.log");
  EXPECT_NE(Slurp(dir + "/demo2.log").find("already seeded; reusing it"), std::string::npos);
  EXPECT_EQ(testing::AgentLakeLog(lake), Slurp(dir + "/app.log"));
  size_t more = BusEvents(bus);
  EXPECT_GT(more, events);
  EXPECT_EQ(ArchivedEvents(lake), more);
  if (!::testing::Test::HasFailure()) fs::remove_all(dir);
}

}  // namespace
}  // namespace comptoir
