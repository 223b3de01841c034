// Data quality inside the import, on a real MariaDB: the real Sales Data
// Sample checked with a data steward's rules (exact counts of what it really
// violates), quarantine published by the same commit, `fail` publishing
// nothing, replay after a rule fix, and kill -9 at several moments.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "cli_runner.h"
#include "mariadb_fixture.h"
#include "comptoir/core/decimal.h"
#include "comptoir/core/uri.h"
#include "comptoir/lake/storage.h"
#include "comptoir/lake/text_format.h"
#include "nlohmann/json.hpp"

namespace comptoir {
namespace {

using testing::CliResult;
using testing::RunCli;
using Fields = std::vector<lake::TextField>;

bool Has(const std::string& haystack, const std::string& needle) { return haystack.find(needle) != std::string::npos; }

// The records of the text part files directly in `dir` (a dataset, or one
// run's rejects), sorted; `_`/`.` names skipped as every reader does.
std::vector<Fields> Records(const std::string& dir) {
  std::vector<Fields> rows;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    std::string name = e.path().filename().string();
    if (lake::IsHiddenName(name) || !e.is_regular_file()) continue;
    std::string data = testing::Slurp(e.path().string());
    lake::TextReader reader(lake::TextFormat{}, data);
    Fields f;
    while (*reader.Next(&f)) rows.push_back(f);
  }
  std::sort(rows.begin(), rows.end());
  return rows;
}

// Every file under `dir` with its bytes (to prove a dataset unchanged).
std::map<std::string, std::string> Tree(const std::string& dir) {
  std::map<std::string, std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir, ec)) {
    if (e.is_regular_file()) out[e.path().string()] = testing::Slurp(e.path().string());
  }
  return out;
}

// The only run directory under <dataset>/_rejects, "" if none.
std::vector<std::string> RejectRuns(const std::string& dataset_dir) {
  std::vector<std::string> runs;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dataset_dir + "/_rejects", ec)) {
    runs.push_back(e.path().filename().string());
  }
  std::sort(runs.begin(), runs.end());
  return runs;
}

constexpr char kStewardRules[] = R"(
[[quality.rule]]
name    = "sales is quantity x price"
dataset = "/user/sqoop/sales"
column  = "SALES"
check   = "product"
factors = ["QUANTITYORDERED", "PRICEEACH"]
tolerance = 0.01
action  = "warn"

[[quality.rule]]
dataset = "/user/sqoop/sales"
column  = "STATUS"
check   = "allowed"
values  = ["Shipped", "Resolved", "Cancelled", "On Hold", "In Process", "Disputed"]
action  = "reject"

[[quality.rule]]
dataset = "/user/sqoop/sales"
column  = "PRODUCTCODE"
check   = "references"
ref_dataset = "/user/sqoop/products"
ref_column  = "productCode"
action  = "reject"

[[quality.rule]]
name    = "bulk orders go to review"
dataset = "/user/sqoop/sales"
column  = "QUANTITYORDERED"
check   = "range"
min     = 1
max     = %MAX%
action  = "reject"

[[quality.rule]]
dataset = "/user/sqoop/sales"
columns = ["ORDERNUMBER", "ORDERLINENUMBER"]
check   = "unique"
action  = "fail"

[[quality.rule]]
dataset = "/user/sqoop/sales"
column  = "POSTALCODE"
check   = "not_null"

[[quality.rule]]
dataset = "/user/sqoop/sales"
check   = "row_count"
min     = 2000
max     = 100000
action  = "fail"

[[quality.rule]]
dataset = "/user/sqoop/sales"
check   = "source_count"
action  = "fail"

[[quality.rule]]
dataset = "/user/sqoop/sales"
column  = "POSTALCODE"
check   = "null_fraction"
max     = 0.05
)";

class QualityImport : public testing::MariaDbTest {
 protected:
  QualityImport() : MariaDbTest("quality-import") {}
  // comptoir.toml with the lake and `rules`; returns its path.
  std::string Config(std::string rules, const std::string& max = "70", const std::string& extra = "") {
    rules.replace(rules.find("%MAX%"), 5, max);
    std::string path = dir_ + "/comptoir.toml";
    std::ofstream(path) << "lake = \"" << lake_ << "\"\n" << rules << extra;
    return path;
  }
  // The classicmodels products in MariaDB and in the lake (the dimension
  // PRODUCTCODE references), and the Sales Data Sample as table `table`.
  void LoadSources(const std::string& table) {
    LoadClassicModels("cm_quality");
    CliResult p = RunCli({"-q", "import", "--connect", Url("cm_quality"), "--table", "products", "--lake", lake_,
                          "--target-dir", "/user/sqoop/products", "-m", "1"});
    ASSERT_EQ(p.exit_code, 0) << p.err;
    CliResult seed = RunCli({"seed", "--connect", url_, "--table", table, "--drop", "--from-csv",
                             testing::SharedData() + "/sales_data_sample.csv", "--encoding", "cp437"});
    ASSERT_EQ(seed.exit_code, 0) << seed.err;
  }
  std::vector<std::string> ImportSales(const std::string& table, const std::string& config) {
    return {"--config", config, "import", "--connect", url_, "--table", table, "--target-dir", "/user/sqoop/sales",
            "-m", "4"};
  }

};

// The sample really violates two things a steward would check: PRICEEACH is
// capped at 100.00 (so SALES != QUANTITYORDERED x PRICEEACH on the 1,304
// lines where the real price was higher) and 76 lines have no postal code;
// six lines order more than 70 units.
TEST_F(QualityImport, RealSalesDataSampleWithAStewardsRulesThenFailThenReplay) {
  LoadSources("sales_quality");
  std::string config = Config(kStewardRules);
  CliResult r = RunCli(ImportSales("sales_quality", config));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Has(r.out, "Imported 2,817 rows")) << r.out;
  EXPECT_TRUE(Has(r.out, "2,823 rows checked, 2,817 published, 6 rejected")) << r.out;
  EXPECT_TRUE(Has(r.out, "1,342 warned")) << r.out;
  EXPECT_TRUE(Has(r.out, "sales is quantity x price (SALES = QUANTITYORDERED × PRICEEACH ± 0.01, warn): 1,304 failed"))
      << r.out;

  const std::string sales = lake_ + "/user/sqoop/sales";
  std::vector<Fields> published = Records(sales);
  ASSERT_EQ(published.size(), 2817u);
  int64_t cents = 0;
  for (const Fields& f : published) cents += *core::ParseCents(*f[4]);
  EXPECT_EQ(cents, 997594844) << "SALES of the published lines, to the cent";

  std::vector<std::string> runs = RejectRuns(sales);
  ASSERT_EQ(runs.size(), 1u);
  std::vector<Fields> rejects = Records(sales + "/_rejects/" + runs[0]);
  ASSERT_EQ(rejects.size(), 6u);
  std::vector<std::string> got;
  for (const Fields& f : rejects) {
    ASSERT_EQ(f.size(), 28u) << "25 columns + _rule, _reason, _source";
    EXPECT_EQ(*f[25], "bulk orders go to review");
    EXPECT_TRUE(f[27]->starts_with("split ")) << *f[27];
    got.push_back(*f[0] + "/" + *f[3] + ": " + *f[26]);
  }
  EXPECT_EQ(got, (std::vector<std::string>{"10401/9: QUANTITYORDERED range [1, 70]: 77",
                                           "10401/10: QUANTITYORDERED range [1, 70]: 85",
                                           "10405/3: QUANTITYORDERED range [1, 70]: 76",
                                           "10405/5: QUANTITYORDERED range [1, 70]: 97",
                                           "10407/2: QUANTITYORDERED range [1, 70]: 76",
                                           "10407/6: QUANTITYORDERED range [1, 70]: 76"}));
  EXPECT_TRUE(std::filesystem::exists(sales + "/_rejects/" + runs[0] + "/_schema.json"));

  CliResult rep = RunCli({"--config", config, "quality", "report", "--json", "/user/sqoop/sales"});
  ASSERT_EQ(rep.exit_code, 0) << rep.err;
  nlohmann::json j = nlohmann::json::parse(rep.out);
  EXPECT_EQ(j["rows_in"], 2823);
  EXPECT_EQ(j["rows_out"], 2817);
  EXPECT_EQ(j["rejected"], 6);
  EXPECT_EQ(j["warned"], 1342);
  std::vector<std::string> rules;
  for (const auto& x : j["rules"]) {
    rules.push_back(x["check"].get<std::string>() + " " + x["column"].get<std::string>() + " " +
                    x["action"].get<std::string>() + " " + std::to_string(x["failed"].get<uint64_t>()));
  }
  EXPECT_EQ(rules, (std::vector<std::string>{"product SALES warn 1304", "allowed STATUS reject 0",
                                             "references PRODUCTCODE reject 0", "range QUANTITYORDERED reject 6",
                                             "unique ORDERNUMBER+ORDERLINENUMBER fail 0", "not_null POSTALCODE warn 76",
                                             "row_count  fail 0", "source_count  fail 0",
                                             "null_fraction POSTALCODE warn 0"}));

  // A `fail` rule publishes nothing and keeps the dataset as it was.
  std::map<std::string, std::string> before = Tree(sales);
  before.erase(sales + "/_quality/history.jsonl");
  std::string strict = Config(kStewardRules, "70",
                              "\n[[quality.rule]]\ndataset = \"/user/sqoop/sales\"\ncolumn = \"PRICEEACH\"\n"
                              "check = \"range\"\nmax = 99.99\naction = \"fail\"\n");
  std::vector<std::string> again = ImportSales("sales_quality", strict);
  again.push_back("--delete-target-dir");
  CliResult failed = RunCli(again);
  EXPECT_EQ(failed.exit_code, 3) << failed.out << failed.err;
  EXPECT_TRUE(Has(failed.err, "data quality: 1304 row(s) failed a rule with action fail, the first: PRICEEACH range "
                              "<= 99.99: 100.00"))
      << failed.err;
  EXPECT_TRUE(Has(failed.err, "nothing was published and /user/sqoop/sales is unchanged")) << failed.err;
  std::map<std::string, std::string> after = Tree(sales);
  after.erase(sales + "/_quality/history.jsonl");
  EXPECT_EQ(after, before);
  rep = RunCli({"--config", strict, "quality", "report", "--json", "/user/sqoop/sales"});
  j = nlohmann::json::parse(rep.out);
  EXPECT_EQ(j["outcome"], "failed");
  EXPECT_EQ(j["runs"], 2);
  EXPECT_EQ(j["rows_out"], 0);

  // The bulk-order limit is raised to 80: replay moves four lines into the
  // dataset and keeps two in quarantine, by one commit.
  std::string raised = Config(kStewardRules, "80");
  CliResult replay = RunCli({"--config", raised, "quality", "replay", "/user/sqoop/sales", "--run", runs[0]});
  ASSERT_EQ(replay.exit_code, 0) << replay.err;
  EXPECT_TRUE(Has(replay.out, "Replayed 6 reject(s) of run " + runs[0])) << replay.out;
  EXPECT_TRUE(Has(replay.out, "4 published, 2 still rejected")) << replay.out;
  EXPECT_EQ(Records(sales).size(), 2821u);
  std::vector<std::string> now = RejectRuns(sales);
  ASSERT_EQ(now.size(), 1u);
  EXPECT_NE(now[0], runs[0]) << "the replayed run's rejects are gone";
  std::vector<Fields> still = Records(sales + "/_rejects/" + now[0]);
  ASSERT_EQ(still.size(), 2u);
  EXPECT_EQ(*still[0][26], "QUANTITYORDERED range [1, 80]: 85");
  EXPECT_TRUE(still[0][27]->starts_with("replay of " + runs[0] + ": split ")) << *still[0][27];
  CliResult none = RunCli({"--config", raised, "quality", "replay", "/user/sqoop/sales", "--run", runs[0]});
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_TRUE(Has(none.err, "no rejects of run " + runs[0])) << none.err;
}

// kill -9 of an import with rejects at several moments: neither rows nor
// rejects nor a history line are visible, and the rerun equals a clean run.
TEST_F(QualityImport, KillNineAtSeveralMomentsLeavesNoPartialRowsOrRejects) {
  CliResult seed = RunCli({"seed", "--connect", url_, "--table", "quality_kill", "--drop", "--rows", "300000",
                           "--seed", "7"});
  ASSERT_EQ(seed.exit_code, 0) << seed.err;
  std::string config = dir_ + "/comptoir.toml";
  {
    std::ofstream out(config);
    out << "lake = \"" << lake_ << "\"\n";
    for (const char* dataset : {"/ref", "/q"}) {
      out << "[[quality.rule]]\nname = \"quantity cap\"\ndataset = \"" << dataset << "\"\ncolumn = \"QUANTITYORDERED\"\n"
          << "check = \"range\"\nmax = 40\naction = \"reject\"\n";
    }
  }
  auto args = [&](const std::string& target) {
    return std::vector<std::string>{"--config", config, "import", "--connect", url_, "--table", "quality_kill",
                                    "-m", "4", "--target-dir", target};
  };
  // The reference run (its rejects without _source, which names the split's row).
  ASSERT_EQ(RunCli(args("/ref")).exit_code, 0);
  auto without_source = [](std::vector<Fields> rows) {
    for (Fields& f : rows) f.pop_back();
    std::sort(rows.begin(), rows.end());
    return rows;
  };
  std::vector<Fields> want_rows = Records(lake_ + "/ref");
  std::vector<std::string> ref_runs = RejectRuns(lake_ + "/ref");
  ASSERT_EQ(ref_runs.size(), 1u);
  std::vector<Fields> want_rejects = without_source(Records(lake_ + "/ref/_rejects/" + ref_runs[0]));
  ASSERT_GT(want_rejects.size(), 1000u);
  ASSERT_EQ(want_rows.size() + want_rejects.size(), 300000u);

  int killed_mid_flight = 0;
  for (int delay_ms : {40, 150, 300, 500, 800}) {
    int pid = testing::StartCli(args("/q"), dir_ + "/kill.log");
    ASSERT_GT(pid, 0);
    testing::ChildReaper reaper{pid};
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    bool was_running = kill(pid, SIGKILL) == 0;
    int st = 0;
    waitpid(pid, &st, 0);
    reaper.pid = -1;
    if (!was_running || (WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
      std::filesystem::remove_all(lake_ + "/q");
      continue;
    }
    ++killed_mid_flight;
    EXPECT_EQ(testing::PublishedLines(lake_ + "/q"), 0u) << "after kill at " << delay_ms << " ms";
    EXPECT_FALSE(std::filesystem::exists(lake_ + "/q/_rejects")) << "after kill at " << delay_ms << " ms";
    EXPECT_FALSE(std::filesystem::exists(lake_ + "/q/_quality")) << "after kill at " << delay_ms << " ms";
    CliResult rerun = RunCli(args("/q"));
    ASSERT_EQ(rerun.exit_code, 0) << rerun.err;
    EXPECT_EQ(Records(lake_ + "/q"), want_rows) << "rerun after kill at " << delay_ms << " ms";
    std::vector<std::string> runs = RejectRuns(lake_ + "/q");
    ASSERT_EQ(runs.size(), 1u) << "one run of rejects, not one per attempt";
    EXPECT_EQ(without_source(Records(lake_ + "/q/_rejects/" + runs[0])), want_rejects);
    EXPECT_FALSE(std::filesystem::exists(lake_ + "/q/_temporary"));
    std::filesystem::remove_all(lake_ + "/q");
  }
  EXPECT_GE(killed_mid_flight, 2);
}

}  // namespace
}  // namespace comptoir
