// `comptoir quality rules` on a real imported dataset: every key checked, each
// rule's columns looked up in the dataset's _schema.json, clear errors.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "cli_runner.h"
#include "nlohmann/json.hpp"

namespace comptoir {
namespace {

using testing::CliResult;
using testing::RunCli;

class QualityCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::TempDir("quality-cli");
    db_ = "sqlite://" + dir_ + "/erp.db";
    lake_ = dir_ + "/lake";
    ASSERT_EQ(RunCli({"-q", "seed", "--connect", db_ + "?create=1", "--rows", "200"}).exit_code, 0);
    CliResult imp = RunCli({"-q", "import", "--connect", db_, "--table", "sales", "--lake", lake_, "-m", "1"});
    ASSERT_EQ(imp.exit_code, 0) << imp.err;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Config(const std::string& rules) {
    std::string path = dir_ + "/comptoir.toml";
    std::ofstream(path) << "lake = \"" << lake_ << "\"\n\n" << rules;
    return path;
  }

  std::string dir_, db_, lake_;
};

constexpr char kRules[] = R"([[quality.rule]]
dataset = "/user/sqoop/sales"
column  = "QUANTITYORDERED"
check   = "range"
min     = 1
max     = 50
action  = "reject"

[[quality.rule]]
dataset = "/user/sqoop/sales"
column  = "DISCOUNT"
check   = "not_null"

[[quality.rule]]
dataset = "/user/sqoop/products"
column  = "productCode"
check   = "unique"
action  = "fail"
)";

TEST_F(QualityCli, RulesAreListedAndCheckedAgainstTheImportedDataset) {
  std::string config = Config(kRules);
  CliResult r = RunCli({"--config", config, "quality", "rules"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("QUANTITYORDERED range [1, 50]"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("reject  ok"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("no column DISCOUNT in /user/sqoop/sales (its columns: ORDERNUMBER, QUANTITYORDERED"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("dataset not imported yet: checked at its first import"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("3 rule(s) in " + config + ", 1 inconsistent with the lake"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("1 quality rule(s) do not match the lake's datasets (see the list)"), std::string::npos)
      << r.err;

  CliResult j = RunCli({"--config", config, "quality", "rules", "--json"});
  EXPECT_EQ(j.exit_code, 1);
  nlohmann::json out = nlohmann::json::parse(j.out);
  ASSERT_EQ(out["rules"].size(), 3u);
  EXPECT_EQ(out["rules"][0]["check"], "range");
  EXPECT_EQ(out["rules"][0]["min"], "1");
  EXPECT_EQ(out["rules"][0]["max"], "50");
  EXPECT_EQ(out["rules"][0]["action"], "reject");
  EXPECT_EQ(out["rules"][0]["ok"], true);
  EXPECT_EQ(out["rules"][1]["ok"], false);
  EXPECT_EQ(out["rules"][1]["action"], "warn");
  EXPECT_EQ(out["rules"][2]["line"], 16);

  CliResult offline = RunCli({"--config", config, "quality", "rules", "--offline"});
  EXPECT_EQ(offline.exit_code, 0) << offline.err;
  EXPECT_NE(offline.out.find("not checked against the lake (--offline)"), std::string::npos) << offline.out;
}

TEST_F(QualityCli, AMistakeInARuleIsOneLineNamingFileLineAndKey) {
  std::string config = Config("[[quality.rule]]\ndataset = \"/user/sqoop/sales\"\ncolumn = \"STATUS\"\n"
                              "check = \"allowed\"\nvalues = \"Shipped\"\n");
  CliResult r = RunCli({"--config", config, "quality", "rules"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "comptoir: error: quality rules: " + config +
                       ":7: quality rule 1: `values` must be an array, e.g. [\"A\", \"B\"]\n");
  EXPECT_EQ(r.out, "");
}

TEST_F(QualityCli, OtherCommandsAcceptAConfigWithRules) {
  std::string config = Config(kRules);
  CliResult r = RunCli({"--config", config, "lake", "ls", "/user/sqoop/sales"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("part-m-00000"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace comptoir
