// A real Spark cluster (scripts/stack start spark) reading Comptoir datasets:
// in a session outside UTC, the text parts and the Avro parts of the real
// Sales Data Sample group by month identically. Before zone-less DATETIMEs
// were written as Avro local-timestamp-micros, the Avro parts (timestamp-
// micros, an instant in UTC) put the 136 orders of a month's first day into
// the month before; the `#legacy` read shows exactly that.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <sstream>

#include "cli_runner.h"
#include "nlohmann/json.hpp"

namespace comptoir {
namespace {

using testing::CliResult;
using testing::RunCli;
using testing::ShellQuote;

struct Groups {
  std::string type;
  std::map<std::string, int64_t> months;
};

// The MONTHS lines of tests/spark/month_groups.py, by input argument.
std::map<std::string, Groups> ParseMonths(const std::string& out) {
  std::map<std::string, Groups> got;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.starts_with("MONTHS ")) continue;
    std::istringstream l(line.substr(7));
    std::string arg, type, json;
    l >> arg >> type;
    std::getline(l, json);
    Groups g{type, {}};
    nlohmann::json parsed = nlohmann::json::parse(json, nullptr, false);
    if (!parsed.is_object()) continue;
    for (auto it = parsed.begin(); it != parsed.end(); ++it) g.months[it.key()] = it.value().get<int64_t>();
    got[arg] = g;
  }
  return got;
}

TEST(SparkLake, TextAndAvroPartsGroupByMonthIdenticallyOutsideUtc) {
  std::string master = testing::ServiceEnv("COMPTOIR_TEST_SPARK_MASTER");
  if (master.empty()) GTEST_SKIP() << "no Spark cluster (run `make test`, or scripts/stack start spark)";
  const char* submit = std::getenv("COMPTOIR_SPARK_SUBMIT");
  const char* jar = std::getenv("COMPTOIR_SPARK_AVRO_JAR");
  const char* python = std::getenv("COMPTOIR_SPARK_PYTHON");
  ASSERT_TRUE(submit != nullptr && jar != nullptr && python != nullptr) << "scripts/stack exports them with spark";
  std::string dir = testing::TempDir("spark-lake");
  std::string db = "sqlite://" + dir + "/erp.db";
  CliResult seed = RunCli({"seed", "--connect", db + "?create=1", "--from-csv",
                           testing::SharedData() + "/sales_data_sample.csv", "--encoding", "latin1", "--drop"});
  ASSERT_EQ(seed.exit_code, 0) << seed.err;
  std::string lake = dir + "/lake";
  for (const auto& [target, extra] : std::map<std::string, std::string>{{"/text", ""}, {"/avro", "--as-avrodatafile"}}) {
    std::vector<std::string> args = {"-q", "import", "--connect", db, "--table", "sales", "-m", "2",
                                     "--target-dir", target, "--lake", lake};
    if (!extra.empty()) args.push_back(extra);
    CliResult r = RunCli(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  std::string root = testing::SourceDir();
  std::string text = "file://" + lake + "/text", avro = "file://" + lake + "/avro";
  std::string cmd = "PYSPARK_PYTHON=" + ShellQuote(python) + " SPARK_LOCAL_IP=127.0.0.1 " + ShellQuote(submit) +
                    " --master " + ShellQuote(master) + " --jars " + ShellQuote(jar) +
                    " --conf spark.sql.session.timeZone=America/Los_Angeles --conf spark.ui.enabled=false" +
                    " --py-files " + ShellQuote(root + "/spark/comptoir_lake.py") + " " +
                    ShellQuote(root + "/tests/spark/month_groups.py") + " ORDERDATE " + ShellQuote(text) + " " +
                    ShellQuote(avro) + " " + ShellQuote(avro + "#legacy:ORDERNUMBER,ORDERLINENUMBER") + " 2>" + ShellQuote(dir + "/spark.log");
  std::string out = testing::Shell(cmd);
  std::map<std::string, Groups> got = ParseMonths(out);
  ASSERT_EQ(got.size(), 3u) << testing::Slurp(dir + "/spark.log").substr(0, 4000);

  const Groups& t = got[text];
  const Groups& a = got[avro];
  const Groups& legacy = got[avro + "#legacy:ORDERNUMBER,ORDERLINENUMBER"];
  EXPECT_EQ(t.type, "timestamp_ntz");
  EXPECT_EQ(a.type, "timestamp_ntz") << "Avro local-timestamp-micros is Spark's TIMESTAMP_NTZ";
  EXPECT_EQ(legacy.type, "timestamp");
  int64_t rows = 0;
  for (const auto& [m, n] : t.months) rows += n;
  EXPECT_EQ(rows, 2823);
  EXPECT_EQ(t.months.size(), 29u) << "2003-01 .. 2005-05";
  EXPECT_EQ(a.months, t.months);
  // What the old encoding did: the 136 orders at 00:00 on a month's first
  // day shown on the last day of the month before.
  EXPECT_TRUE(out.find("MOVED 136\n") != std::string::npos) << out;
  EXPECT_NE(legacy.months, t.months);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace comptoir
