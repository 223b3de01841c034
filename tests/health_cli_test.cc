// `comptoir health` against the real services of the test stack, and with
// one of them unreachable.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "cli_runner.h"
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
  CliResult ok = RunCli({"health", "--lake", dir + "/lake", "--bus", "", "--dataset", "/user/sqoop/sales"},
                        "COMPTOIR_BUS_URI= ");
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace comptoir
