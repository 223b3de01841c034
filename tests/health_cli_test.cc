// `comptoir health` against the real services of the test stack, and with
// one of them unreachable.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>

#include "cli_runner.h"
#include "comptoir/source/database.h"
#include "nlohmann/json.hpp"

namespace comptoir {
namespace {

using nlohmann::json;
using testing::CliResult;
using testing::RunCli;

std::map<std::string, json> ByName(const json& j) {
  std::map<std::string, json> out;
  for (const auto& c : j["components"]) out[c["name"]] = c;
  return out;
}

TEST(HealthCli, EveryRealServiceIsOkWithItsDetails) {
  std::string zk = testing::ServiceEnv("COMPTOIR_TEST_ZK"), kafka = testing::ServiceEnv("COMPTOIR_TEST_KAFKA"),
              hdfs = testing::ServiceEnv("COMPTOIR_TEST_WEBHDFS"), mysql = testing::ServiceEnv("COMPTOIR_TEST_MYSQL_URI");
  if (zk.empty() || kafka.empty() || hdfs.empty() || mysql.empty()) GTEST_SKIP() << "the test stack is not running";
  std::string dir = testing::TempDir("health");
  ASSERT_EQ(RunCli({"bus", "create", "health-topic", "--bus", kafka, "--partitions", "2"}).exit_code, 0);
  CliResult r = RunCli({"health", "--json", "--lake", hdfs, "--bus", kafka, "--topic", "health-topic", "--zookeeper",
                        zk, "--db", mysql, "--dataset", "/"});
  json j = json::parse(r.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << r.out << r.err;
  auto c = ByName(j);
  EXPECT_EQ(c["lake"]["status"], "ok") << c["lake"];
  EXPECT_NE(c["lake"]["detail"].get<std::string>().find("1 live / 0 dead DataNodes"), std::string::npos) << c["lake"];
  EXPECT_EQ(c["bus"]["status"], "ok") << c["bus"];
  EXPECT_NE(c["bus"]["detail"].get<std::string>().find("Kafka: 1 broker"), std::string::npos) << c["bus"];
  EXPECT_NE(c["bus"]["detail"].get<std::string>().find("topic health-topic: 2 partitions"), std::string::npos) << c["bus"];
  EXPECT_EQ(c["zookeeper"]["status"], "ok") << c["zookeeper"];
  EXPECT_NE(c["zookeeper"]["detail"].get<std::string>().find("standalone"), std::string::npos) << c["zookeeper"];
  // Kafka in ZooKeeper mode registers its broker and topics there.
  EXPECT_NE(c["zookeeper"]["detail"].get<std::string>().find("Kafka brokers registered: [0]"), std::string::npos)
      << c["zookeeper"];
  EXPECT_NE(c["zookeeper"]["detail"].get<std::string>().find("health-topic"), std::string::npos) << c["zookeeper"];
  bool db_ok = false;
  for (auto& [name, comp] : c) {
    if (name.starts_with("database mysql://")) {
      db_ok = comp["status"] == "ok" && comp["detail"].get<std::string>().find("MariaDB") != std::string::npos;
    }
  }
  EXPECT_TRUE(db_ok) << r.out;
  std::filesystem::remove_all(dir);
}

TEST(HealthCli, AnUnreachableBusIsDownByNameAndTheExitCodeSaysSo) {
  std::string dir = testing::TempDir("health-down");
  std::filesystem::create_directories(dir + "/lake/user/sqoop/sales");
  std::ofstream(dir + "/lake/user/sqoop/sales/part-m-00000") << "x\n";
  CliResult r = RunCli({"health", "--lake", dir + "/lake", "--bus", "kafka://127.0.0.1:1", "--timeout", "1s",
                        "--dataset", "/user/sqoop/sales", "--db", "mysql://root@127.0.0.1:1/none"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("health: down\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  down      bus "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("kafka://127.0.0.1:1: no answer within 1.0 s"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  down      database mysql://root@127.0.0.1:1/none"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  ok        lake "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  ok        dataset /user/sqoop/sales"), std::string::npos) << r.out;
  CliResult ok = RunCli({"health", "--lake", dir + "/lake", "--bus", "", "--dataset", "/user/sqoop/sales", "--jobs-dir", "none"},
                        "COMPTOIR_BUS_URI= ");
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  std::filesystem::remove_all(dir);
}

// Health reports each saved import job's last run: rows, duration and result.
TEST(HealthCli, EachSavedJobShowsItsLastRunRowsDurationAndResult) {
  std::string dir = testing::TempDir("health-jobs");
  std::string db = "sqlite://" + dir + "/erp.db", lake = dir + "/lake";
  std::string env = "COMPTOIR_IMPORT_JOBS_DIR=" + testing::ShellQuote(dir + "/jobs");
  ASSERT_EQ(RunCli({"seed", "--connect", db + "?create=1", "--rows", "1234"}).exit_code, 0);
  source::ConnectOptions co;
  co.url = db;
  auto conn = source::Connect(co);
  ASSERT_TRUE(conn.ok()) << conn.status();
  auto count = (*conn)->QueryScalar("SELECT COUNT(*) FROM sales");
  ASSERT_TRUE(count.ok() && count->has_value()) << count.status();
  conn->reset();
  auto create = [&](const std::string& name, const std::string& table) {
    CliResult r = RunCli({"job", "--create", name, "--", "import", "--connect", db, "--table", table, "--target-dir",
                          "/user/sqoop/" + name, "--lake", lake, "-m", "1"},
                         env);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  };
  create("nightly", "sales");
  create("broken", "no_such_table");
  create("fresh", "sales");
  ASSERT_EQ(RunCli({"job", "--exec", "nightly"}, env).exit_code, 0);
  auto health = [&](int exit_code) {
    CliResult r = RunCli({"health", "--json", "--lake", lake, "--bus", "none", "--dataset", "/user/sqoop/nightly"}, env);
    json j = json::parse(r.out, nullptr, false);
    EXPECT_TRUE(j.is_object()) << r.out << r.err;
    EXPECT_EQ(r.exit_code, exit_code) << r.out;
    return ByName(j);
  };
  // Only jobs that ran well or never ran: ok.
  auto c = health(0);
  EXPECT_EQ(c["job nightly"]["status"], "ok") << c["job nightly"];
  EXPECT_EQ(c["job broken"]["detail"], "saved, never run");
  // A job file of an earlier version: no result, a monotonic clock reading as the time.
  std::ofstream(dir + "/jobs/old.json")
      << R"({"name": "old", "args": ["import"], "last_run": {"rows": 5, "seconds": 0.5, "finished_at": 43000}})";
  CliResult failed = RunCli({"job", "--exec", "broken"}, env);
  ASSERT_EQ(failed.exit_code, 1);
  c = health(1);  // the failed job alone makes health degraded
  EXPECT_EQ(c["job nightly"]["status"], "ok") << c["job nightly"];
  EXPECT_TRUE(std::regex_match(c["job nightly"]["detail"].get<std::string>(),
                               std::regex("last run ok [0-9]+ s ago: " + **count + " rows in [0-9]+\\.[0-9]{2} s")))
      << c["job nightly"];
  EXPECT_EQ(c["job fresh"]["status"], "ok") << c["job fresh"];
  EXPECT_EQ(c["job fresh"]["detail"], "saved, never run");
  EXPECT_EQ(c["job old"]["detail"], "last run ok at an unknown time: 5 rows in 0.50 s") << c["job old"];
  EXPECT_EQ(c["job broken"]["status"], "degraded") << c["job broken"];
  std::string broken = c["job broken"]["detail"];
  EXPECT_TRUE(broken.starts_with("last run failed ")) << broken;
  EXPECT_NE(broken.find("no_such_table"), std::string::npos) << broken;  // the import's own error
  EXPECT_TRUE(broken.ends_with("; never succeeded")) << broken;
  // The source goes away: the next run fails, and health still shows the last success.
  std::filesystem::rename(dir + "/erp.db", dir + "/erp.db.moved");
  ASSERT_EQ(RunCli({"job", "--exec", "nightly"}, env).exit_code, 1);
  c = health(1);
  EXPECT_EQ(c["job nightly"]["status"], "degraded") << c["job nightly"];
  EXPECT_TRUE(std::regex_match(c["job nightly"]["detail"].get<std::string>(),
                               std::regex("last run failed [0-9]+ s ago after [0-9.]+ s: .*erp\\.db.*; last success "
                                          "[0-9]+ s ago \\(" + **count + " rows in [0-9.]+ s\\)")))
      << c["job nightly"];
  // A job file with a field of the wrong type is reported with what is wrong, not fatal.
  std::ofstream(dir + "/jobs/odd.json") << R"({"name": "odd", "args": ["import"], "last_run": {"result": 1}})";
  c = health(1);
  EXPECT_EQ(c["job odd"]["status"], "degraded") << c["job odd"];
  EXPECT_EQ(c["job odd"]["detail"].get<std::string>(),
            "job file " + dir + "/jobs/odd.json is damaged: \"last_run.result\" must be a string, not number; fix it, "
            "or delete it (comptoir job --delete odd) and create the job again")
      << c["job odd"];
  // `job --show` has the same record; --jobs-dir none leaves jobs out.
  CliResult show = RunCli({"job", "--show", "nightly"}, env);
  EXPECT_NE(show.out.find("\"result\": \"failed\""), std::string::npos) << show.out;
  EXPECT_NE(show.out.find("\"last_success\""), std::string::npos) << show.out;
  CliResult none = RunCli({"health", "--lake", lake, "--bus", "none", "--jobs-dir", "none"}, env);
  EXPECT_NE(none.out.find("  ok        lake "), std::string::npos) << none.out;
  EXPECT_EQ(none.out.find("job "), std::string::npos) << none.out;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace comptoir
