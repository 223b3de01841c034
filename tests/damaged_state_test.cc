// Every state file the program reads back, damaged in each of the six ways a
// full disk, a bad sector, a crash or a person with an editor damages a file,
// then read by each command that reads it: no signal, a clear message naming
// the file, and nothing overwritten with a guess. Files that are only caches
// (the log's sparse index) are rebuilt instead, and the data stays exact.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <set>

#include "cli_runner.h"

namespace comptoir::testing {
namespace {

namespace fs = std::filesystem;

// The six damages, each a function of the file's good bytes.
struct Damage {
  const char* name;
  std::function<std::string(const std::string&)> apply;
};
const std::vector<Damage>& Damages() {
  static const std::vector<Damage> all = {
      {"empty", [](const std::string&) { return std::string(); }},
      {"cut in half", [](const std::string& good) { return good.substr(0, good.size() / 2); }},
      {"random bytes", [](const std::string&) { return std::string("\x8f\x01\xfe\x9c\x10\x7f garbage \xff\x00\xd3", 18); }},
      {"wrong types", [](const std::string&) { return std::string(R"({"args": 5, "sources": "x", "partitions": "three", "files": 7, "components": {}, "version": "one", "columns": 3})"); }},
      {"a JSON array", [](const std::string&) { return std::string("[1, 2, 3]"); }},
      {"NUL bytes", [](const std::string& good) { return std::string(std::max<size_t>(good.size(), 8), '\0'); }},
  };
  return all;
}

class DamagedStateTest : public ::testing::Test {
 protected:
  // A platform's state, built once at `case_` (commands write absolute paths
  // into it), kept at `template_` and copied back for each case.
  static void SetUpTestSuite() {
    root_ = TempDir("damaged-state");
    case_ = root_ + "/case";
    template_ = root_ + "/template";
    fs::create_directories(case_);
    const std::string env = Env();
    auto run = [&](std::vector<std::string> args) {
      CliResult r = RunCli(args, env);
      ASSERT_EQ(r.exit_code, 0) << args[0] << ": " << r.err << r.out;
    };
    run({"seed", "--connect", "sqlite://" + case_ + "/erp.db", "--rows", "50"});
    run({"import", "--connect", "sqlite://" + case_ + "/erp.db", "--table", "sales", "--lake", case_ + "/lake"});
    run({"job", "--create", "nightly", "--", "import", "--connect", "sqlite://" + case_ + "/erp.db", "--table",
         "sales", "--lake", case_ + "/lake", "--target-dir", "/user/sqoop/nightly", "--incremental", "append",
         "--check-column", "ORDERNUMBER"});
    run({"job", "--exec", "nightly"});
    std::ofstream(case_ + "/app.log") << "2026-12-06 10:00:00,000 INFO started\n2026-12-06 10:00:01,000 INFO sale 1\n";
    run({"agent", "--once", "--source", case_ + "/app.log", "--state-dir", case_ + "/agent", "--lake",
         case_ + "/lake"});
    run({"produce", "--bus", case_ + "/bus", "--count", "20", "--rate", "0", "--partitions", "2"});
    run({"consume", "--bus", case_ + "/bus", "--group", "g", "--from-beginning", "--count", "10", "--format",
         "summary"});
    std::ofstream(case_ + "/comptoir.toml") << "[up]\nrun_dir = \"run\"\n[components.h]\nrun = \"health\"\n";
    fs::create_directories(case_ + "/run");
    std::ofstream(case_ + "/run/up.json")
        << R"({"supervisor_pid": 1, "updated": "2026-12-06T10:00:00Z", "components": [{"name": "h", "command": "health", "state": "stopped", "pid": null, "runs": 1, "last_exit": "status 0", "log": "run/logs/h.log"}]})";
    fs::rename(case_, template_);
  }
  static void TearDownTestSuite() { fs::remove_all(root_); }

  // The environment every command runs in: the case's jobs, coordination and
  // no user configuration.
  static std::string Env() {
    return "cd " + ShellQuote(root_) + " && COMPTOIR_IMPORT_JOBS_DIR=" + ShellQuote(case_ + "/jobs") +
           " COMPTOIR_COORD_URI=" + ShellQuote("local://" + case_ + "/coord");
  }

  // A fresh copy of the template at the case path.
  static void Fresh() {
    fs::remove_all(case_);
    fs::copy(template_, case_, fs::copy_options::recursive);
  }

  static CliResult Run(const std::vector<std::string>& args) { return RunCli(args, Env()); }

  // For every damage of `file`: each command ends without a signal, with
  // `want_code`, its message naming the file (when `names_file`), and the
  // damaged bytes left as they are.
  void Check(const std::string& file, const std::vector<std::vector<std::string>>& commands, int want_code,
             bool names_file = true, const std::set<std::string>& skip = {}) {
    for (const Damage& d : Damages()) {
      if (skip.contains(d.name)) continue;
      Fresh();
      std::string path = case_ + "/" + file;
      std::string good = Slurp(path);
      ASSERT_FALSE(good.empty()) << path;
      std::string bad = d.apply(good);
      std::ofstream(path, std::ios::binary | std::ios::trunc) << bad;
      for (const auto& args : commands) {
        CliResult r = Run(args);
        std::string what = file + " " + d.name + ": comptoir " + args[0] + " " + (args.size() > 1 ? args[1] : "");
        EXPECT_LT(r.exit_code, 128) << what << " ended by a signal\n" << r.err;
        EXPECT_EQ(r.exit_code, want_code) << what << "\n" << r.err << r.out;
        if (names_file) {
          EXPECT_NE((r.err + r.out).find(path), std::string::npos) << what << ": the message does not name "
                                                                   << path << "\n" << r.err << r.out;
          EXPECT_EQ(r.err.find("unexpected error"), std::string::npos) << what << ": " << r.err;
        }
        EXPECT_EQ(Slurp(path), bad) << what << ": the damaged file was rewritten";
      }
    }
  }

  static std::string root_, case_, template_;
};

std::string DamagedStateTest::root_, DamagedStateTest::case_, DamagedStateTest::template_;

TEST_F(DamagedStateTest, JobFile) {
  Check("jobs/nightly.json", {{"job", "--exec", "nightly"}, {"job", "--show", "nightly"}}, 1);
  // Listed with what is wrong, and health says which file (degraded, exit 1).
  Check("jobs/nightly.json", {{"job", "--list"}}, 0);
  Check("jobs/nightly.json",
        {{"health", "--lake", case_ + "/lake", "--bus", "none", "--jobs-dir", case_ + "/jobs", "--dataset", "/x"}}, 1);
}

TEST_F(DamagedStateTest, AgentCheckpointsAndStatus) {
  Check("agent/checkpoints.json",
        {{"agent", "--once", "--source", case_ + "/app.log", "--state-dir", case_ + "/agent", "--lake",
          case_ + "/lake"}},
        1);
  Check("agent/status.json", {{"agent", "status", "--state-dir", case_ + "/agent"}}, 1);
}

TEST_F(DamagedStateTest, AgentRollIntent) {
  // A roll intent left by a crash, damaged: the agent cannot tell which range
  // it was publishing, and says so instead of guessing.
  Fresh();
  std::string id;
  for (const auto& e : fs::directory_iterator(template_ + "/agent/spool")) id = e.path().filename().string();
  if (id.empty()) {  // the spool of a fully published source is gone: make the directory of one
    std::string cp = Slurp(template_ + "/agent/checkpoints.json");
    size_t at = cp.find("\"sources\"");
    size_t q = cp.find('"', cp.find('{', at) + 1);
    id = cp.substr(q + 1, cp.find('"', q + 1) - q - 1);
  }
  fs::create_directories(template_ + "/agent/spool/" + id);
  std::ofstream(template_ + "/agent/spool/" + id + "/roll") << "0 48 1\n";
  Check("agent/spool/" + id + "/roll",
        {{"agent", "--once", "--source", case_ + "/app.log", "--state-dir", case_ + "/agent", "--lake",
          case_ + "/lake"}},
        1);
  fs::remove_all(template_ + "/agent/spool/" + id);
}

TEST_F(DamagedStateTest, TopicDescriptionAndGroupOffsets) {
  std::string bus = case_ + "/bus";
  Check("bus/transactions/topic.json",
        {{"consume", "--bus", bus, "--count", "1"},
         {"produce", "--bus", bus, "--count", "1", "--rate", "0"},
         {"bus", "--bus", bus, "describe", "transactions"}},
        1);
  Check("bus/transactions/groups/g/0",
        {{"consume", "--bus", bus, "--group", "g", "--count", "1"},
         {"bus", "--bus", bus, "describe", "transactions", "--group", "g"}},
        1, /*names_file=*/true);
}

TEST_F(DamagedStateTest, TheLogsIndexAndHighWaterMarkAreRebuiltAndTheDataStaysExact) {
  for (const char* file : {"bus/transactions/0/00000000000000000000.index", "bus/transactions/0/hwm"}) {
    for (const Damage& d : Damages()) {
      Fresh();
      std::string path = case_ + "/" + file;
      std::ofstream(path, std::ios::binary | std::ios::trunc) << d.apply(Slurp(path));
      CliResult r = Run({"consume", "--bus", case_ + "/bus", "--from-beginning", "--count", "20", "--format",
                         "json"});
      EXPECT_EQ(r.exit_code, 0) << file << " " << d.name << ": " << r.err;
      EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 20) << file << " " << d.name;
      CliResult p = Run({"produce", "--bus", case_ + "/bus", "--count", "5", "--rate", "0"});
      EXPECT_EQ(p.exit_code, 0) << file << " " << d.name << ": " << p.err;
      CliResult all = Run({"consume", "--bus", case_ + "/bus", "--from-beginning", "--count", "25", "--format",
                           "json"});
      EXPECT_EQ(std::count(all.out.begin(), all.out.end(), '\n'), 25) << file << " " << d.name;
    }
  }
}

TEST_F(DamagedStateTest, DatasetSchema) {
  Check("lake/user/sqoop/sales/_schema.json",
        {{"import", "--connect", "sqlite://" + case_ + "/erp.db", "--table", "sales", "--lake", case_ + "/lake",
          "--append"}},
        1);
}

TEST_F(DamagedStateTest, SupervisorStateFile) {
  Check("run/up.json", {{"ps", "-c", case_ + "/comptoir.toml"}}, 1);
}

TEST_F(DamagedStateTest, ConfigurationFile) {
  // A configuration mistake is a usage error (exit 2) naming the file. (An
  // empty file is a valid configuration: every key at its default.)
  Check("comptoir.toml",
        {{"--config", case_ + "/comptoir.toml", "health", "--lake", case_ + "/lake", "--bus", "none"}}, 2, true,
        {"empty"});
}

}  // namespace
}  // namespace comptoir::testing
