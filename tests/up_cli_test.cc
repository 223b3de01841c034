// `comptoir up` / `ps` / `down` end to end on embedded parts: the components
// of a comptoir.toml start in order once their services are ready, a killed
// component is restarted, a scheduled import runs again and again, and
// `down` stops everything with nothing lost.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <thread>

#include "cli_runner.h"
#include "comptoir/source/database.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"

namespace comptoir {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::CliResult;
using testing::RunCli;
using testing::Slurp;

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  socklen_t len = sizeof(a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

// Running (a zombie nobody reaped yet counts as gone).
bool Alive(int pid) {
  if (pid <= 0 || kill(pid, 0) != 0) return false;
  std::string stat = Slurp("/proc/" + std::to_string(pid) + "/stat");
  size_t paren = stat.rfind(')');
  return paren == std::string::npos || stat.substr(paren + 2, 1) != "Z";
}

json State(const std::string& dir) { return json::parse(Slurp(dir + "/run/up.json"), nullptr, false); }

json Component(const json& state, const std::string& name) {
  if (state.is_object()) {
    for (const json& c : state["components"]) {
      if (c["name"] == name) return c;
    }
  }
  return json::object();
}

template <typename F>
bool Eventually(F&& ok, int timeout_ms) {
  for (int waited = 0; waited < timeout_ms; waited += 100) {
    if (ok()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return ok();
}


class UpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::TempDir("up");
    port_ = FreePort();
  }
  // A platform in `dir_`: the ERP (SQLite), a job importing it every 3 s, the
  // agent, the producer and serve with the archiver.
  void WriteConfig(bool with_import = true) {
    std::ofstream(dir_ + "/comptoir.toml") << fmt::format(R"(# written by up_cli_test
lake = "./lake"
[bus]
uri = "./bus"
[coord]
uri = "local://{0}/coord"
[import]
jobs_dir = "{0}/jobs"   # `job --create` below runs elsewhere: relative paths are the file's directory's only under `up`
[up]
wait_timeout = "20s"
stop_timeout = "10s"

[components.producer]
run = "produce --rate 20 --log app.log"

{2}
[components.agent-app]
run = "agent --source app.log --state-dir agent --roll-interval 2s --idle-timeout 1s"

[components.web]
run = "serve --archive --listen 127.0.0.1:{1}"
)",
                                                          dir_, port_,
                                                          with_import ? "[components.import-sales]\nrun = \"job --exec sales\"\nevery = \"3s\"\n"
                                                                        "then = \"views build\"\n"
                                                                      : "");
  }
  CliResult Cli(std::vector<std::string> args) {
    args.insert(args.begin(), {"--config", dir_ + "/comptoir.toml"});
    return RunCli(args);
  }
  std::string Url(const std::string& path) { return fmt::format("http://127.0.0.1:{}{}", port_, path); }
  std::string dir_;
  int port_ = 0;
};

TEST_F(UpTest, StartsInOrderRestartsAKilledComponentAndDownStopsEverything) {
  std::string db = "sqlite://" + dir_ + "/erp.db";
  WriteConfig();
  // The ERP database does not exist yet: `up` waits for it, and goes on once it appears.
  ASSERT_EQ(Cli({"job", "--create", "sales", "--", "import", "--connect", db, "--table", "sales", "--target-dir",
                 "/user/sqoop/sales", "--delete-target-dir"})
                .exit_code,
            0);
  CliResult dry = Cli({"up", "--dry-run"});
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_TRUE(std::regex_search(std::regex_replace(dry.out, std::regex("\n"), "|"),
                                std::regex("wait for bus log://.*wait for lake .*wait for database sqlite://.*"
                                           "start web: comptoir serve --archive.*start agent-app: .*"
                                           "start import-sales: comptoir job --exec sales\\|      every 3s, then "
                                           "comptoir views build;.*"
                                           "start producer: ")))
      << dry.out;
  EXPECT_FALSE(fs::exists(dir_ + "/run")) << "a dry run starts nothing";

  int up = testing::StartCli({"up", "-d", "-c", dir_ + "/comptoir.toml"}, dir_ + "/up.out");
  testing::ChildReaper reaper{up};
  EXPECT_FALSE(testing::WaitForLine(dir_ + "/up.out", "(waiting: .*)", 15000).empty()) << Slurp(dir_ + "/up.out");
  std::this_thread::sleep_for(std::chrono::seconds(1));
  ASSERT_EQ(Cli({"seed", "--connect", db + "?create=1", "--rows", "3000"}).exit_code, 0);
  int st = 0;
  ASSERT_EQ(waitpid(up, &st, 0), up);
  reaper.pid = -1;
  std::string out = Slurp(dir_ + "/up.out");
  ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << out;
  // One line per step, in dependency order; the wait for the database is visible.
  EXPECT_TRUE(std::regex_search(
      std::regex_replace(out, std::regex("\n"), "|"),
      std::regex("comptoir up: 4 components from .*\\[1/7\\] bus log://.*\\[2/7\\] lake .*\\[3/7\\] database "
                 "sqlite://.*waiting: .*ready after [0-9.]+ s: reachable, server SQLite.*\\[4/7\\] web: comptoir serve "
                 "--archive.*listening on 127.0.0.1:[0-9]+.*\\[5/7\\] agent-app: .*running \\(pid [0-9]+\\).*"
                 "\\[6/7\\] import-sales: .*every 3s; first run now.*\\[7/7\\] producer: .*"
                 "everything is up; dashboard on http://127.0.0.1:[0-9]+")))
      << out;

  // A second `up` on the same run directory refuses, naming the running one.
  CliResult again = Cli({"up", "-d"});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("already running (supervisor pid "), std::string::npos) << again.err;

  // The platform works: the import's totals equal the source table's, live
  // events arrive, the agent writes app.log into the lake.
  source::ConnectOptions co;
  co.url = db;
  auto conn = source::Connect(co);
  ASSERT_TRUE(conn.ok()) << conn.status();
  auto cents = (*conn)->QueryScalar("SELECT CAST(SUM(ROUND(sales * 100)) AS INTEGER) FROM sales");
  ASSERT_TRUE(cents.ok() && cents->has_value());
  json sales;
  EXPECT_TRUE(Eventually(
      [&] {
        sales = json::parse(testing::HttpGet(Url("/api/v1/sales/summary")).body, nullptr, false);
        return sales.is_object() && sales.value("rows", 0) == 3000;
      },
      20000))
      << sales.dump().substr(0, 300);
  EXPECT_EQ(std::to_string(std::llround(sales["total_sales"].get<double>() * 100)), **cents);
  EXPECT_TRUE(Eventually(
      [&] {
        json live = json::parse(testing::HttpGet(Url("/api/v1/live/summary")).body, nullptr, false);
        return live.is_object() && live.value("events", 0) > 20;
      },
      10000));

  // kill -9 the agent: the supervisor restarts it after 1 s.
  int agent = Component(State(dir_), "agent-app").value("pid", -1);
  ASSERT_TRUE(Alive(agent));
  ASSERT_EQ(kill(agent, SIGKILL), 0);
  int restarted = -1;
  EXPECT_TRUE(Eventually(
      [&] {
        json c = Component(State(dir_), "agent-app");
        restarted = c["pid"].is_number() ? c["pid"].get<int>() : -1;
        return c.value("state", "") == "running" && restarted != agent && c.value("runs", 0) == 2;
      },
      8000));
  EXPECT_TRUE(Alive(restarted));
  std::string up_log = Slurp(dir_ + "/run/up.log");
  EXPECT_NE(up_log.find("agent-app: exited with signal 9 (Killed) after"), std::string::npos) << up_log;
  EXPECT_NE(up_log.find("; restarting in 1 s (failure 1 in a row"), std::string::npos) << up_log;
  EXPECT_NE(up_log.find("agent-app: restarted (pid " + std::to_string(restarted) + ")"), std::string::npos);
  // The import ran again on schedule, each run followed by a build of the sales view.
  EXPECT_TRUE(Eventually([&] { return Slurp(dir_ + "/run/up.log").find("import-sales: run 2 succeeded") != std::string::npos; }, 8000))
      << Slurp(dir_ + "/run/up.log");
  EXPECT_TRUE(Eventually([&] { return Slurp(dir_ + "/run/up.log").find("import-sales: then `views build` succeeded") != std::string::npos; }, 8000))
      << Slurp(dir_ + "/run/up.log");
  EXPECT_NE(Slurp(dir_ + "/run/logs/import-sales.log").find("views build: /user/comptoir/views/sales in "),
            std::string::npos);
  // serve answers from the view whenever it is current (the same totals).
  EXPECT_TRUE(Eventually(
      [&] {
        sales = json::parse(testing::HttpGet(Url("/api/v1/sales/summary")).body, nullptr, false);
        return sales.is_object() && sales["dataset"].value("from", "") == "views" && sales.value("rows", 0) == 3000;
      },
      20000))
      << sales.dump().substr(0, 300);
  EXPECT_EQ(std::to_string(std::llround(sales["total_sales"].get<double>() * 100)), **cents);
  // The dashboard's health shows the job's last run, with its rows.
  json job;
  EXPECT_TRUE(Eventually(
      [&] {
        json h = json::parse(testing::HttpGet(Url("/api/v1/health")).body, nullptr, false);
        for (const json& c : h.is_object() ? h["components"] : json::array()) {
          if (c.value("name", "") == "job sales") job = c;
        }
        return job.is_object() && std::regex_match(job.value("detail", ""),
                                                   std::regex("last run ok [0-9]+ s ago: [0-9]+ rows in [0-9.]+ s"));
      },
      10000))
      << job.dump();
  EXPECT_EQ(job.value("status", ""), "ok") << job.dump();

  CliResult ps = Cli({"ps"});
  EXPECT_EQ(ps.exit_code, 0);
  EXPECT_TRUE(std::regex_search(ps.out, std::regex("supervisor: running \\(pid [0-9]+\\)"))) << ps.out;
  EXPECT_TRUE(std::regex_search(ps.out, std::regex("agent-app +running +" + std::to_string(restarted) + " +2 "))) << ps.out;

  // down: last started first, every process gone, every log line in the lake once.
  json state = State(dir_);
  int supervisor = state.value("supervisor_pid", -1);
  CliResult down = Cli({"down"});
  ASSERT_EQ(down.exit_code, 0) << down.err;
  EXPECT_TRUE(std::regex_search(std::regex_replace(down.out, std::regex("\n"), "|"),
                                std::regex("stopping the supervisor \\(pid [0-9]+\\).*stopped producer.*"
                                           "stopped agent-app.*stopped web.*comptoir up: stopped.*"
                                           "comptoir down: stopped in [0-9.]+ s")))
      << down.out;
  EXPECT_FALSE(Alive(supervisor));
  for (const json& c : state["components"]) {
    if (c["pid"].is_number()) {
      EXPECT_FALSE(Alive(c["pid"].get<int>())) << c.dump();
    }
  }
  EXPECT_FALSE(fs::exists(dir_ + "/run/up.pid"));
  EXPECT_EQ(testing::AgentLakeLog(dir_ + "/lake"), Slurp(dir_ + "/app.log"));
  EXPECT_GT(Slurp(dir_ + "/app.log").size(), 1000u);
  for (const char* name : {"web", "agent-app", "import-sales", "producer"}) {
    std::string log = Slurp(dir_ + "/run/logs/" + name + ".log");
    EXPECT_NE(log.find(std::string("comptoir up: run 1 of ") + name + ": --config "), std::string::npos) << name;
  }
  EXPECT_NE(Slurp(dir_ + "/run/logs/web.log").find("serve: stopped after"), std::string::npos);
  CliResult idle = Cli({"down"});
  EXPECT_EQ(idle.exit_code, 0);
  EXPECT_NE(idle.out.find("comptoir down: nothing is running"), std::string::npos) << idle.out;
  if (!HasFailure()) fs::remove_all(dir_);
}

TEST_F(UpTest, ForegroundStopsOnCtrlC) {
  WriteConfig(/*with_import=*/false);
  int up = testing::StartCli({"up", "-c", dir_ + "/comptoir.toml"}, dir_ + "/up.out");
  testing::ChildReaper reaper{up};
  ASSERT_FALSE(testing::WaitForLine(dir_ + "/up.out", "(everything is up)", 20000).empty()) << Slurp(dir_ + "/up.out");
  json state = State(dir_);
  EXPECT_EQ(state["components"].size(), 3u) << state.dump();
  kill(up, SIGINT);
  int st = 0;
  ASSERT_EQ(waitpid(up, &st, 0), up);
  reaper.pid = -1;
  std::string out = Slurp(dir_ + "/up.out");
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << out;
  EXPECT_NE(out.find("comptoir up: stopping, last started first"), std::string::npos) << out;
  for (const json& c : state["components"]) {
    EXPECT_FALSE(Alive(c["pid"].get<int>())) << c.dump();
  }
  if (!HasFailure()) fs::remove_all(dir_);
}

TEST_F(UpTest, AComponentThatFailsToStartStopsTheOthersAndQuotesItsLog) {
  std::ofstream(dir_ + "/comptoir.toml") << fmt::format(R"(lake = "./lake"
[bus]
uri = "./bus"
[coord]
uri = "local://{0}/coord"
[components.web]
run = "serve --listen 127.0.0.1:{1} --no-live"
[components.broken]
run = "agent --roll-interval fortnightly --source app.log"
)",
                                                        dir_, port_);
  CliResult r = Cli({"up"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("[1/3] lake "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("[2/3] web: comptoir serve"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("comptoir up: broken exited with status "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("while starting"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("fortnightly"), std::string::npos) << "the log's last lines say why: " << r.out;
  EXPECT_NE(r.out.find("stopped web (pid "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("start-up failed; what had started is stopped"), std::string::npos) << r.out;
  EXPECT_EQ(testing::HttpGet(Url("/api/v1/health"), {}, "", 1000).status, 0) << "serve was stopped";
  EXPECT_FALSE(fs::exists(dir_ + "/run/up.pid"));
}

TEST_F(UpTest, ConfigurationMistakesAreRefusedBeforeAnythingStarts) {
  struct Case {
    std::string components, message;
  };
  std::vector<Case> cases = {
      {"[components.a]\nrun = \"frobnicate --now\"\n",
       "component a: \"frobnicate\" is not a comptoir command that `up` can run"},
      {"[components.a]\nrun = \"import --connect mysql://u@127.0.0.1:1/db --table t -P\"\n",
       "component a: -P prompts for a password on a terminal"},
      {"[components.a]\nrun = \"job --exec nosuchjob\"\n", "component a: no saved job \"nosuchjob\""},
      {"[components.a]\nrun = \"produce\"\n[components.b]\nrun = \"serve\"\nafter = [\"c\"]\n",
       "component \"b\": after = \"c\" names no component"},
      {"[components.a]\nrun = \"produce --bus mysql://db/x\"\n", "bus mysql://db/x (needed by a): "},
  };
  for (const Case& c : cases) {
    std::ofstream(dir_ + "/comptoir.toml") << "[import]\njobs_dir = \"./jobs\"\n" << c.components;
    CliResult r = Cli({"up"});
    EXPECT_EQ(r.exit_code, 1) << c.components;
    EXPECT_NE((r.err + r.out).find(c.message), std::string::npos) << r.err << r.out;
    EXPECT_FALSE(fs::exists(dir_ + "/run/logs/a.log")) << c.components;
  }
  CliResult missing = RunCli({"up", "-c", dir_ + "/nope.toml"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find(dir_ + "/nope.toml does not exist"), std::string::npos) << missing.err;
}

}  // namespace
}  // namespace comptoir
