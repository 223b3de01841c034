// Schedules, the component plan and the supervisor (children are /bin/sh).
#include <gtest/gtest.h>
#include <signal.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <regex>
#include <thread>

#include "comptoir/core/signals.h"
#include "comptoir/orchestrate/plan.h"
#include "comptoir/orchestrate/schedule.h"
#include "comptoir/orchestrate/supervisor.h"
#include "nlohmann/json.hpp"

namespace comptoir::orchestrate {
namespace {

using Clock = Schedule::Clock;

Clock::time_point Local(int y, int mon, int d, int h, int min) {
  std::tm tm{};
  tm.tm_year = y - 1900, tm.tm_mon = mon - 1, tm.tm_mday = d, tm.tm_hour = h, tm.tm_min = min, tm.tm_isdst = -1;
  return Clock::from_time_t(std::mktime(&tm));
}

class ScheduleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("TZ", "UTC", 1);
    tzset();
  }
};

TEST_F(ScheduleTest, EveryRunsAtStartThenAfterEachPeriod) {
  auto s = Schedule::Every(std::chrono::minutes(5));
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->RunsAtStart());
  EXPECT_EQ(s->Describe(), "every 5m");
  Clock::time_point t = Local(2026, 11, 28, 6, 0);
  EXPECT_EQ(s->Next(t), t + std::chrono::minutes(5));
  EXPECT_EQ(Schedule::Every(std::chrono::milliseconds(500)).status().message(),
            "every: the period must be at least 1s");
}

TEST_F(ScheduleTest, CronStepsRangesListsAndNames) {
  auto s = Schedule::Cron("*/15 6-20 * * mon-fri");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_FALSE(s->RunsAtStart());
  // Saturday 2026-11-28 05:56 -> Monday 2026-11-30 06:00.
  EXPECT_EQ(s->Next(Local(2026, 11, 28, 5, 56)), Local(2026, 11, 30, 6, 0));
  // Monday 06:00 exactly -> 06:15 (strictly after).
  EXPECT_EQ(s->Next(Local(2026, 11, 30, 6, 0)), Local(2026, 11, 30, 6, 15));
  // Monday 20:50 -> Tuesday 06:00.
  EXPECT_EQ(s->Next(Local(2026, 11, 30, 20, 50)), Local(2026, 12, 1, 6, 0));
  auto list = Schedule::Cron("5,35 0 1 jan,jul *");
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->Next(Local(2026, 11, 28, 0, 0)), Local(2027, 1, 1, 0, 5));
  EXPECT_EQ(list->Next(Local(2027, 1, 1, 0, 5)), Local(2027, 1, 1, 0, 35));
}

TEST_F(ScheduleTest, BothDayFieldsRestrictedMatchEither) {
  // The 1st of the month or any Sunday, at 03:00.
  auto s = Schedule::Cron("0 3 1 * 0");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->Next(Local(2026, 11, 28, 5, 0)), Local(2026, 11, 29, 3, 0));  // Sunday the 29th
  EXPECT_EQ(s->Next(Local(2026, 11, 29, 3, 0)), Local(2026, 12, 1, 3, 0));   // Tuesday the 1st
  auto sunday7 = Schedule::Cron("0 3 * * 7");
  ASSERT_TRUE(sunday7.ok());
  EXPECT_EQ(sunday7->Next(Local(2026, 11, 28, 5, 0)), Local(2026, 11, 29, 3, 0));
}

TEST_F(ScheduleTest, ShorthandsAndLeapDays) {
  auto daily = Schedule::Cron("@daily");
  ASSERT_TRUE(daily.ok());
  EXPECT_EQ(daily->Next(Local(2026, 12, 31, 23, 59)), Local(2027, 1, 1, 0, 0));
  auto leap = Schedule::Cron("0 12 29 2 *");
  ASSERT_TRUE(leap.ok());
  EXPECT_EQ(leap->Next(Local(2026, 11, 28, 0, 0)), Local(2028, 2, 29, 12, 0));
}

TEST_F(ScheduleTest, BadExpressionsSayWhatIsWrong) {
  EXPECT_EQ(Schedule::Cron("* * *").status().message(),
            "cron \"* * *\": expected 5 fields (minute hour day-of-month month day-of-week), e.g. \"*/5 * * * *\"");
  EXPECT_EQ(Schedule::Cron("61 * * * *").status().message(),
            "cron minute field \"61\": not a value (61; allowed 0-59)");
  EXPECT_EQ(Schedule::Cron("* 5-2 * * *").status().message(),
            "cron hour field \"5-2\": range ends before it starts (5-2; allowed 0-23)");
  EXPECT_EQ(Schedule::Cron("*/0 * * * *").status().message(),
            "cron minute field \"*/0\": step is not a positive number (*/0; allowed 0-59)");
  EXPECT_EQ(Schedule::Cron("0 0 31 feb *").status().message(), "cron \"0 0 31 feb *\" never matches a real date");
}

// Descriptors as the command line declares them (src/cli): the plan only
// knows commands through such a table.
const std::vector<CommandInfo>& TestCommands() {
  static const std::vector<CommandInfo> commands = {
      {.name = "serve", .lifetime = Lifetime::kLongRunning, .start_rank = 0,
       .needs = {{"lake"}, {"bus", "", "--no-live"}, {"coord", "--archive"}},
       .listen_flag = "--listen", .listen_default = "127.0.0.1:8080"},
      {.name = "agent", .lifetime = Lifetime::kLongRunning, .start_rank = 1, .needs = {{"lake"}, {"coord"}},
       .one_shot_subcommands = {"compact"}},
      {.name = "job", .start_rank = 2, .needs = {{"database"}, {"lake"}, {"coord"}}},
      {.name = "produce", .lifetime = Lifetime::kLongRunning, .start_rank = 3, .needs = {{"bus"}}},
      {.name = "demo", .lifetime = Lifetime::kLongRunning, .supervised = false},
  };
  return commands;
}

StatusOr<std::vector<ComponentSpec>> LoadComponents(const std::string& path) {
  return orchestrate::LoadComponents(path, TestCommands());
}

class PlanTest : public ::testing::Test {
 protected:
  std::string Write(const std::string& text) {
    std::string dir = ::testing::TempDir() + "/plan_test";
    std::filesystem::create_directories(dir);
    path_ = dir + "/" + ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".toml";
    std::ofstream(path_) << text;
    return path_;
  }
  std::string path_;
};

TEST_F(PlanTest, DefaultOrderStartsSinksBeforeSourcesAndHonoursAfter) {
  auto c = LoadComponents(Write(R"(
lake = "./lake"
[components.producer]
run = "produce --rate 5 --log app.log"
[components.import-sales]
run = "job --exec sales"
every = "5m"
[components.agent-app]
run = ["agent", "--source", "app.log"]
[components.web]
run = "comptoir --log-level debug serve --archive --listen 127.0.0.1:9999"
[components.late]
run = "agent --source other.log"
after = ["producer"]
[components.off]
run = "agent --source x"
enabled = false
)"));
  ASSERT_TRUE(c.ok()) << c.status();
  std::vector<std::string> order;
  for (const ComponentSpec& s : *c) order.push_back(s.name);
  EXPECT_EQ(order, (std::vector<std::string>{"web", "agent-app", "import-sales", "producer", "late"}));
  const ComponentSpec& web = (*c)[0];
  EXPECT_EQ(web.command, "serve");
  EXPECT_EQ(web.args, (std::vector<std::string>{"--log-level", "debug", "serve", "--archive", "--listen",
                                                "127.0.0.1:9999"}));
  EXPECT_EQ(web.needs, (std::vector<std::string>{"lake", "bus", "coord"}));
  EXPECT_EQ(web.ready, "tcp://127.0.0.1:9999");
  EXPECT_EQ((*c)[1].ready, "start");
  EXPECT_EQ((*c)[2].ready, "exit");
  EXPECT_EQ((*c)[2].needs, (std::vector<std::string>{"database", "lake", "coord"}));
  EXPECT_EQ((*c)[2].schedule->Describe(), "every 5m");
  EXPECT_EQ((*c)[3].needs, (std::vector<std::string>{"bus"}));
}

TEST_F(PlanTest, RunStringsAreSplitLikeAShell) {
  setenv("PLAN_TEST_DIR", "/srv/app logs", 1);
  auto c = LoadComponents(Write(R"(
[components.a]
run = "agent --source '$PLAN_TEST_DIR/*.log' --target-dir \"$PLAN_TEST_DIR\""
)"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ((*c)[0].args,
            (std::vector<std::string>{"agent", "--source", "$PLAN_TEST_DIR/*.log", "--target-dir", "/srv/app logs"}));
  EXPECT_EQ(FlagValue((*c)[0].args, "--target-dir"), "/srv/app logs");
}

TEST_F(PlanTest, MistakesNameTheFileLineAndComponent) {
  struct Case {
    std::string toml, message;
  };
  std::vector<Case> cases = {
      {"lake = \"x\"\n", "declares no component to run"},
      {"[components.a]\nrun = \"serve\"\nbogus = 1\n",
       ":3: component \"a\": unknown key \"bogus\" (known: run, after, needs, restart, every, cron, then, ready, enabled)"},
      {"[components.a]\nevery = \"5m\"\n", ":1: component \"a\": no `run` key"},
      {"[components.a]\nrun = \"--log-level debug\"\n", ":2: component \"a\": `run` names no comptoir command"},
      {"[components.a]\nrun = \"serve | tee x\"\n",
       ":2: component \"a\": run = \"serve | tee x\": it has a character a shell would treat specially"},
      {"[components.a]\nrun = \"agent --source $PLAN_TEST_UNSET_VARIABLE\"\n",
       "it names an environment variable that is not set"},
      {"[components.a]\nrun = \"job --exec s\"\nevery = \"5 minutes\"\n",
       ":3: component \"a\": every = \"5 minutes\": duration \"5 minutes\": use e.g. 500ms, 30s, 5m, 1h, 2d"},
      {"[components.a]\nrun = \"job --exec s\"\nevery = \"5m\"\ncron = \"* * * * *\"\n", "give `every` or `cron`, not both"},
      {"[components.a]\nrun = \"serve\"\nrestart = \"sometimes\"\n",
       "restart = \"sometimes\": expected on-failure, always or never"},
      {"[components.a]\nrun = \"serve\"\nneeds = [\"kafka\"]\n",
       "needs \"kafka\": expected lake, bus, database, coord or zookeeper"},
      {"[components.a]\nrun = \"serve\"\nready = \"8080\"\n",
       "ready = \"8080\": expected \"tcp://host:port\", \"exit\" or \"start\""},
      {"[components.a]\nrun = \"serve\"\nafter = [\"b\"]\n", "component \"a\": after = \"b\" names no component"},
      {"[components.a]\nrun = \"serve\"\nafter = [\"b\"]\n[components.b]\nrun = \"agent\"\nafter = [\"a\"]\n",
       "the `after` lists of a, b form a cycle"},
      {"[components.\"a b\"]\nrun = \"serve\"\n", "component name \"a b\" may use letters, digits"},
      {"[components.a]\nrun = \"serve\"\nenabled = false\n", "every component is disabled"},
      {"[components.a\nrun = 1\n", ":1:"},
      {"[components.a]\nrun = \"frobnicate\"\n", "component a: \"frobnicate\" is not a comptoir command that `up` can run"},
      {"[components.a]\nrun = \"demo\"\n", "component a: \"demo\" is not a comptoir command that `up` can run"},
  };
  for (const Case& c : cases) {
    std::string path = Write(c.toml);
    auto r = LoadComponents(path);
    ASSERT_FALSE(r.ok()) << c.toml;
    EXPECT_NE(r.status().message().find(c.message), std::string::npos) << r.status().message();
    EXPECT_TRUE(std::string(r.status().message()).starts_with(path)) << r.status().message();
  }
}

class SupervisorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/supervisor_" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    core::ResetCancel();
  }
  void TearDown() override { core::ResetCancel(); }
  SupervisorOptions Options() {
    SupervisorOptions o;
    o.exe = "/bin/sh";
    o.log_dir = dir_ + "/logs";
    o.state_path = dir_ + "/up.json";
    o.start_period = std::chrono::milliseconds(300);
    o.stop_timeout = std::chrono::milliseconds(2000);
    o.say = [this](std::string_view line) {
      std::lock_guard<std::mutex> l(mu_);
      lines_.emplace_back(line);
    };
    return o;
  }
  static ComponentSpec Sh(std::string name, std::string script, std::string ready = "start") {
    ComponentSpec c;
    c.name = std::move(name);
    c.command = "sh";
    c.args = {"-c", std::move(script)};
    c.ready = std::move(ready);
    return c;
  }
  std::string Said() {
    std::lock_guard<std::mutex> l(mu_);
    std::string all;
    for (const std::string& s : lines_) all += s + "\n";
    return all;
  }
  nlohmann::json State() {
    std::ifstream in(dir_ + "/up.json");
    return nlohmann::json::parse(in, nullptr, false);
  }
  std::string dir_;
  std::mutex mu_;
  std::vector<std::string> lines_;
};

TEST_F(SupervisorTest, RestartsACrashedComponentWithBackoffAndLogsEachRun) {
  Supervisor s(Options());
  // Counts its runs in a file, crashes on the first two, then stays up.
  std::string counter = dir_ + "/runs";
  auto r = s.Start(Sh("flaky", "echo run >> " + counter + "; n=$(wc -l < " + counter +
                                   "); echo \"hello $n\"; sleep 0.5; [ $n -ge 3 ] && exec sleep 60; exit 3"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->starts_with("running (pid ")) << *r;
  std::thread stopper([] {
    std::this_thread::sleep_for(std::chrono::milliseconds(5500));
    core::RequestCancel();
  });
  auto t0 = std::chrono::steady_clock::now();
  s.Run();
  stopper.join();
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  std::string said = Said();
  EXPECT_NE(said.find("flaky: exited with status 3 after 0."), std::string::npos) << said;
  EXPECT_NE(said.find(" s; restarting in 1 s (failure 1 in a row"),
            std::string::npos)
      << said;
  EXPECT_NE(said.find(" s; restarting in 2 s (failure 2 in a row"),
            std::string::npos)
      << said;
  EXPECT_NE(said.find("flaky: restarted (pid "), std::string::npos);
  nlohmann::json st = State();
  ASSERT_EQ(st["components"].size(), 1u);
  EXPECT_EQ(st["components"][0]["state"], "running");
  EXPECT_EQ(st["components"][0]["runs"], 3);
  int pid = st["components"][0]["pid"];
  s.StopAll();
  EXPECT_NE(kill(pid, 0), 0) << "stopped component still alive";
  EXPECT_NE(Said().find("stopped flaky (pid " + std::to_string(pid) + ")"), std::string::npos);
  std::ifstream log(dir_ + "/logs/flaky.log");
  std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("hello 1\n"), std::string::npos);
  EXPECT_NE(text.find("hello 3\n"), std::string::npos);
  EXPECT_NE(text.find("comptoir up: run 3 of flaky: -c"), std::string::npos) << text;
}

TEST_F(SupervisorTest, AFailedStartQuotesTheLogAndAOneShotMustSucceed) {
  Supervisor s(Options());
  auto bad = s.Start(Sh("broken", "echo 'error: no such table sales' >&2; exit 2"));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("broken exited with status 2 while starting"), std::string::npos)
      << bad.status();
  EXPECT_NE(bad.status().message().find("\n    error: no such table sales"), std::string::npos) << bad.status();
  auto once = s.Start(Sh("seed", "sleep 0.2; echo seeded", "exit"));
  ASSERT_TRUE(once.ok()) << once.status();
  EXPECT_TRUE(once->starts_with("finished in ")) << *once;
}

TEST_F(SupervisorTest, AComponentThatNeverListensFailsAfterTheReadyTimeout) {
  SupervisorOptions o = Options();
  o.ready_timeout = std::chrono::milliseconds(700);
  Supervisor s(o);
  auto r = s.Start(Sh("mute", "exec sleep 30", "tcp://127.0.0.1:1"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("mute is running (pid "), std::string::npos) << r.status();
  // The wait ends at the first poll after the 0.7 s timeout (later on a loaded machine).
  EXPECT_TRUE(std::regex_search(std::string(r.status().message()),
                                std::regex("but nothing listens on 127\\.0\\.0\\.1:1 after 0\\.[7-9] s")))
      << r.status();
}

TEST_F(SupervisorTest, ScheduledRunsNeverOverlap) {
  Supervisor s(Options());
  ComponentSpec c = Sh("tick", "echo tick >> " + dir_ + "/ticks; sleep 1.5");
  c.schedule = *Schedule::Every(std::chrono::seconds(1));
  auto r = s.Start(c);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->starts_with("every 1s; first run now (pid ")) << *r;
  std::thread stopper([] {
    std::this_thread::sleep_for(std::chrono::milliseconds(4300));
    core::RequestCancel();
  });
  s.Run();
  stopper.join();
  s.StopAll();
  std::string said = Said();
  EXPECT_NE(said.find("tick: run 1 still going at its next time; skipped"), std::string::npos) << said;
  EXPECT_NE(said.find("tick: run 1 succeeded in 1."), std::string::npos) << said;
  std::ifstream in(dir_ + "/ticks");
  int runs = 0;
  for (std::string line; std::getline(in, line);) ++runs;
  // Runs at 0, 2 and 4 s (1 and 3 are skipped): never two at once.
  EXPECT_GE(runs, 2);
  EXPECT_LE(runs, 3);
}

TEST_F(SupervisorTest, StopEscalatesToSigkillAfterTheTimeout) {
  SupervisorOptions o = Options();
  o.stop_timeout = std::chrono::milliseconds(500);
  Supervisor s(o);
  auto r = s.Start(Sh("stubborn", "trap '' TERM; while :; do sleep 0.1; done"));
  ASSERT_TRUE(r.ok()) << r.status();
  s.StopAll();
  EXPECT_NE(Said().find("stubborn (pid "), std::string::npos);
  EXPECT_NE(Said().find("did not stop within 0.5 s of SIGTERM; killed it"), std::string::npos) << Said();
}

}  // namespace
}  // namespace comptoir::orchestrate
