// The reference design's five-step demo as an acceptance test on the real
// engines (a private MariaDB, ZooKeeper, Kafka and HDFS), with Kafka, then
// HDFS, down for 30 s in the middle: health names the one that is down,
// nothing is lost, everything recovers. Then `comptoir up` on the same
// engines, started while HDFS is down: it waits for HDFS, then starts.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "cli_runner.h"
#include "comptoir/bus/client.h"
#include "comptoir/core/strings.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"

namespace comptoir {
namespace {

namespace fs = std::filesystem;
using testing::Slurp;
using nlohmann::json;
using testing::CliResult;
using testing::RunCli;

json Get(const std::string& url) { return json::parse(testing::HttpGet(url).body, nullptr, false); }

std::string HealthOf(const json& h, const std::string& name) {
  if (!h.is_object()) return "";
  for (const auto& c : h["components"]) {
    if (c["name"] == name) return c["status"];
  }
  return "";
}

TEST(DemoReal, TheFiveStepsOnTheRealEnginesWithKafkaThenHdfsDownForThirtySeconds) {
  std::string dir = testing::TempDir("demo-real");
  testing::PrivateStack stack(dir + "/stack");
  fs::create_directories(dir + "/stack");
  ASSERT_TRUE(stack.Start("mariadb kafka hdfs")) << Slurp(dir + "/stack/stack.log");
  std::string hdfs = stack.Env("COMPTOIR_TEST_WEBHDFS"), kafka = stack.Env("COMPTOIR_TEST_KAFKA");
  std::string http = "http://" + hdfs.substr(std::string("webhdfs://").size());
  // 1-2. The platform's services are up, and the lake's /user is empty before the import.
  CliResult ls = RunCli({"lake", "ls", "/user", "--lake", hdfs});
  EXPECT_NE(ls.exit_code, 0);
  EXPECT_NE(ls.err.find("/user"), std::string::npos) << ls.err;
  EXPECT_EQ(testing::HttpGet(http + "/webhdfs/v1/user?op=LISTSTATUS&user.name=root").status, 404);

  int demo = testing::StartCli({"demo", "--stack", "real", "--dir", dir + "/demo", "--rows", "5000", "--port", "0",
                                "--rate", "20", "--db", stack.Env("COMPTOIR_TEST_MYSQL_URI"), "--bus", kafka, "--lake",
                                hdfs, "--coord", stack.Env("COMPTOIR_TEST_ZK") + "/comptoir-demo"},
                               dir + "/demo.log");
  testing::ChildReaper reaper{demo};
  std::string url = testing::WaitForLine(dir + "/demo.log", "dashboard on (http://127\\.0\\.0\\.1:[0-9]+)/", 120000);
  ASSERT_FALSE(url.empty()) << Slurp(dir + "/demo.log");
  // 3. The import made part-m-00000 and _SUCCESS; the Overview's totals are the source table's.
  EXPECT_EQ(testing::HttpGet(http + "/webhdfs/v1/user/sqoop/sales/part-m-00000?op=GETFILESTATUS&user.name=root").status,
            200);
  EXPECT_EQ(testing::HttpGet(http + "/webhdfs/v1/user/sqoop/sales/_SUCCESS?op=GETFILESTATUS&user.name=root").status, 200);
  json sales = Get(url + "/api/v1/sales/summary");
  EXPECT_EQ(sales["rows"], 5000);
  std::string cents = testing::Shell(fmt::format(
      "mariadb --socket={} -uroot -N -e 'SELECT SUM(ROUND(SALES * 100)) FROM retail_db.sales'",
      testing::ShellQuote(stack.Env("COMPTOIR_TEST_MYSQL_SOCKET"))));
  EXPECT_EQ(std::to_string(std::llround(sales["total_sales"].get<double>() * 100)) + "\n", cents);
  // 4. The producer runs: the live count rises within 2 s, today's KPIs include it.
  // (The live view opens once Kafka's group coordinator has loaded.)
  json before;
  for (int i = 0; i < 60 && !(before.is_object() && before.value("events", 0) > 0); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    before = Get(url + "/api/v1/live/summary?window=1m");
  }
  ASSERT_TRUE(before.is_object() && before.contains("events")) << before.dump();
  std::this_thread::sleep_for(std::chrono::seconds(2));
  json after = Get(url + "/api/v1/live/summary?window=1m");
  EXPECT_GT(after["events"].get<int>(), before["events"].get<int>()) << after.dump().substr(0, 300);
  EXPECT_GE(after["today_events"].get<int>(), after["events"].get<int>());
  // 5. app.log grows and its lines appear in /user/flume/logs/<today>/ within the roll interval.
  bool logs = false;
  for (int i = 0; i < 60 && !logs; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    json l = Get(http + "/webhdfs/v1/user/flume/logs/" + testing::TodayUtc() + "?op=LISTSTATUS&user.name=root");
    logs = l.is_object() && l.contains("FileStatuses") && !l["FileStatuses"]["FileStatus"].empty();
  }
  EXPECT_TRUE(logs);

  // Kafka down for 30 s: health says which component, then recovers by itself.
  ASSERT_EQ(stack.Run("kill kafka"), 0);
  auto t0 = std::chrono::steady_clock::now();
  std::string bus_state;
  for (int i = 0; i < 40 && bus_state != "down"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    json h = Get(url + "/api/v1/health");
    bus_state = HealthOf(h, "bus");
    if (bus_state == "down") {
      EXPECT_NE(h["status"], "ok");
      EXPECT_EQ(HealthOf(h, "lake"), "ok");  // the right component is named, not everything
    }
  }
  EXPECT_EQ(bus_state, "down");
  std::this_thread::sleep_until(t0 + std::chrono::seconds(30));
  ASSERT_EQ(stack.Run("restart kafka"), 0);
  for (int i = 0; i < 120 && bus_state != "ok"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    bus_state = HealthOf(Get(url + "/api/v1/health"), "bus");
  }
  EXPECT_EQ(bus_state, "ok");
  // Live again: today's count (monotonic, unlike a sliding window) rises once
  // the producer's retries and the dashboard's consumer group are through.
  int live_before = Get(url + "/api/v1/live/summary?window=1m").value("today_events", 0), live_now = live_before;
  for (int i = 0; i < 120 && live_now <= live_before; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    live_now = Get(url + "/api/v1/live/summary?window=1m").value("today_events", 0);
  }
  EXPECT_GT(live_now, live_before) << "live again within 60 s of Kafka's return";

  // HDFS (the NameNode) down for 30 s: health names the lake, the bus stays
  // ok, the agent and the archiver wait and catch up by themselves.
  ASSERT_EQ(stack.Run("kill namenode"), 0);
  t0 = std::chrono::steady_clock::now();
  std::string lake_state;
  for (int i = 0; i < 40 && lake_state != "down"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    json h = Get(url + "/api/v1/health");
    lake_state = HealthOf(h, "lake");
    if (lake_state == "down") {
      EXPECT_NE(h["status"], "ok");
      EXPECT_EQ(HealthOf(h, "bus"), "ok");
    }
  }
  EXPECT_EQ(lake_state, "down");
  std::this_thread::sleep_until(t0 + std::chrono::seconds(30));
  ASSERT_EQ(stack.Run("restart namenode"), 0);
  for (int i = 0; i < 120 && lake_state != "ok"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    lake_state = HealthOf(Get(url + "/api/v1/health"), "lake");
  }
  EXPECT_EQ(lake_state, "ok");
  // The agent publishes again by itself: a commit after HDFS came back.
  int64_t back_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::system_clock::now().time_since_epoch()).count();
  int64_t last_commit = 0;
  for (int i = 0; i < 120 && last_commit <= back_ms; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    json status = json::parse(Slurp(dir + "/demo/agent/status.json"), nullptr, false);
    if (status.is_object() && !status["files"].empty()) last_commit = status["files"][0].value("last_commit_ms", int64_t{0});
  }
  EXPECT_GT(last_commit, back_ms) << Slurp(dir + "/demo/agent/status.json");
  std::this_thread::sleep_for(std::chrono::seconds(12));  // an archive roll after the outages

  // Stop: every produced event archived once, every log line in the lake once.
  kill(demo, SIGINT);
  int st = 0;
  waitpid(demo, &st, 0);
  reaper.pid = -1;
  ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << Slurp(dir + "/demo.log");
  std::set<std::string> produced;
  {
    auto c = bus::OpenConsumer(kafka, "transactions", bus::ConsumerOptions{});
    ASSERT_TRUE(c.ok()) << c.status();
    for (int empty = 0; empty < 5;) {
      auto batch = (*c)->Poll(10000, std::chrono::milliseconds(500));
      ASSERT_TRUE(batch.ok()) << batch.status();
      if (batch->empty()) ++empty;
      for (const auto& r : *batch) produced.insert(json::parse(r.value)["event_id"].get<std::string>());
    }
  }
  CliResult listed = RunCli({"lake", "ls", "-R", "/user/kafka/transactions", "--lake", hdfs});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  std::multiset<std::string> ids;
  for (std::string_view entry : Split(listed.out, '\n', true)) {
    if (!entry.starts_with('-')) continue;  // files only
    std::string path(entry.substr(entry.rfind(' ') + 1));
    std::string name = path.substr(path.rfind('/') + 1);
    if (name.starts_with('.') || name.starts_with('_')) continue;
    CliResult part = RunCli({"lake", "cat", path, "--lake", hdfs});
    for (std::string_view line : Split(part.out, '\n', true)) ids.insert(json::parse(line)["event_id"].get<std::string>());
  }
  EXPECT_GT(produced.size(), 100u);
  EXPECT_EQ(ids.size(), produced.size()) << "archived lines vs distinct produced events";
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()), produced);
  // The agent's files, in byte-range order, are app.log byte for byte.
  CliResult files = RunCli({"lake", "ls", "/user/flume/logs/" + testing::TodayUtc(), "--lake", hdfs});
  std::map<uint64_t, std::string> parts;
  for (std::string_view line : Split(files.out, '\n', true)) {
    std::string path(line.substr(line.rfind(' ') + 1));
    std::string name = path.substr(path.rfind('/') + 1);
    if (name.starts_with('.') || name.find("app.log.") != 0) continue;
    std::string range = name.substr(name.rfind('.') + 1);
    parts[std::stoull(range.substr(0, range.find('-')))] = RunCli({"lake", "cat", path, "--lake", hdfs}).out;
  }
  std::string lake_log;
  for (const auto& [start, data] : parts) lake_log += data;
  EXPECT_EQ(lake_log, Slurp(dir + "/demo/app.log"));

  // `comptoir up` while HDFS is down: ZooKeeper and Kafka are ready at once,
  // the lake is waited for and named, and everything starts once it is back.
  ASSERT_EQ(stack.Run("kill namenode"), 0);
  int port = 23000 + getpid() % 2000;  // a free one: nothing answers HTTP there
  while (testing::HttpGet(fmt::format("http://127.0.0.1:{}/", port), {}, "", 300).status != 0) ++port;
  std::string zk = stack.Env("COMPTOIR_TEST_ZK");
  std::ofstream(dir + "/up.toml") << fmt::format(R"(lake = "{0}"
zookeeper.connect = "{1}"
[bus]
uri = "{2}"
[coord]
uri = "{3}/comptoir-up"
[up]
wait_timeout = "3m"
[components.web]
run = "serve --archive --listen 127.0.0.1:{4}"
[components.producer]
run = "produce --rate 20 --log app.log"
[components.agent]
run = "agent --source app.log --state-dir agent-state --roll-interval 2s --idle-timeout 1s"
)",
                                                 hdfs, zk.substr(5), kafka, zk, port);
  int up = testing::StartCli({"up", "-d", "-c", dir + "/up.toml"}, dir + "/up.out");
  testing::ChildReaper up_reaper{up};
  std::string waiting = testing::WaitForLine(dir + "/up.out", "waiting: (HDFS NameNode unreachable.*)", 30000);
  EXPECT_FALSE(waiting.empty()) << Slurp(dir + "/up.out");
  std::string so_far = Slurp(dir + "/up.out");
  EXPECT_NE(so_far.find("[1/6] zookeeper 127.0.0.1:"), std::string::npos) << so_far;
  EXPECT_NE(so_far.find("[2/6] bus " + kafka), std::string::npos) << so_far;
  EXPECT_NE(so_far.find("[3/6] lake " + hdfs), std::string::npos) << so_far;
  EXPECT_EQ(so_far.find("[4/6]"), std::string::npos) << "nothing starts before the lake is ready";
  ASSERT_EQ(stack.Run("restart namenode"), 0);
  ASSERT_EQ(waitpid(up, &st, 0), up);
  up_reaper.pid = -1;
  std::string up_out = Slurp(dir + "/up.out");
  ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << up_out;
  EXPECT_NE(up_out.find("ready after"), std::string::npos) << up_out;
  EXPECT_NE(up_out.find("[4/6] web: comptoir serve --archive"), std::string::npos) << up_out;
  EXPECT_NE(up_out.find("everything is up; dashboard on http://127.0.0.1:" + std::to_string(port)), std::string::npos)
      << up_out;
  std::string up_url = fmt::format("http://127.0.0.1:{}", port);
  // The producer `up` started is live: the count rises (once the dashboard's
  // consumer group has joined the restarted cluster's coordinator).
  int first = -1, now_events = -1;
  for (int i = 0; i < 120 && (first < 0 || now_events <= first); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    json live = Get(up_url + "/api/v1/live/summary?window=1m");
    if (!live.is_object() || !live.contains("today_events")) continue;
    (first < 0 ? first : now_events) = live["today_events"].get<int>();
  }
  EXPECT_GT(now_events, first) << "live events from the producer `up` started";
  CliResult down = RunCli({"down", "-c", dir + "/up.toml"});
  EXPECT_EQ(down.exit_code, 0) << down.err;
  EXPECT_NE(down.out.find("stopped web"), std::string::npos) << down.out;
  EXPECT_EQ(testing::HttpGet(up_url + "/api/v1/health", {}, "", 1000).status, 0) << "serve stopped";
  stack.Stop();  // before its state file goes with the directory
  if (!::testing::Test::HasFailure()) fs::remove_all(dir);
}

}  // namespace
}  // namespace comptoir
