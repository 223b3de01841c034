// Importer tests against a real SQLite database (no server needed); the
// same scenarios run against MariaDB and PostgreSQL in tests/.
#include "comptoir/importer/importer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "comptoir/core/signals.h"
#include "comptoir/lake/avro.h"
#include "comptoir/lake/dataset.h"
#include "comptoir/quality/history.h"
#include "comptoir/lake/fault_injection.h"
#include "comptoir/seed/sales.h"
#include "nlohmann/json.hpp"

namespace comptoir::importer {
namespace {

TEST(Base64Test, Rfc4648Vectors) {
  EXPECT_EQ(Base64(""), "");
  EXPECT_EQ(Base64("f"), "Zg==");
  EXPECT_EQ(Base64("fo"), "Zm8=");
  EXPECT_EQ(Base64("foo"), "Zm9v");
  EXPECT_EQ(Base64("foob"), "Zm9vYg==");
  EXPECT_EQ(Base64("fooba"), "Zm9vYmE=");
  EXPECT_EQ(Base64("foobar"), "Zm9vYmFy");
  EXPECT_EQ(Base64(std::string("\0\xff", 2)), "AP8=");
}

class SqliteImportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("comptoir-import-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    url_ = "sqlite://" + (dir_ / "erp.db").string();
    source::ConnectOptions co;
    co.url = url_ + "?create=1";
    auto conn = source::Connect(co);
    ASSERT_TRUE(conn.ok()) << conn.status();
    ASSERT_TRUE((*conn)->Execute(seed::SalesDdl(source::Dialect::kSqlite, "sales", **conn)).ok());
    seed::SalesGenerator gen(5000, 3);
    auto loaded = (*conn)->BulkLoad(
        "sales", seed::SalesColumnNames(source::Dialect::kSqlite),
        [&](std::vector<std::optional<std::string>>* row) -> StatusOr<bool> {
          return gen.Next(row);
        },
        nullptr);
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    ASSERT_EQ(*loaded, 5000u);
    lake_ = lake::NewMemStorage(dir_.string());
    core::ResetCancel();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  ImportOptions Options() {
    ImportOptions o;
    o.connect.url = url_;
    o.table = "sales";
    o.quiet = true;
    return o;
  }
  // All data lines of the dataset, sorted.
  std::vector<std::string> Lines(const std::string& target) {
    std::vector<std::string> out;
    std::vector<lake::FileInfo> files = lake_->List(target).value();
    for (const lake::FileInfo& f : files) {
      if (lake::IsHiddenName(f.name)) continue;
      std::string data = *lake::ReadFileToString(lake_.get(), f.path);
      for (std::string_view l : Split(data, '\n', true)) out.emplace_back(l);
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  std::filesystem::path dir_;
  std::string url_;
  std::unique_ptr<lake::Storage> lake_;
};

TEST_F(SqliteImportTest, OneAndFourMappersWriteTheSameRows) {
  ImportOptions o = Options();
  o.num_mappers = 1;
  o.target_dir = "/user/sqoop/sales1";
  auto r1 = RunImport(o, lake_.get());
  ASSERT_TRUE(r1.ok()) << r1.status();
  EXPECT_EQ(r1->rows, 5000u);
  o.num_mappers = 4;
  o.target_dir = "/user/sqoop/sales4";
  o.validate = true;
  auto r4 = RunImport(o, lake_.get());
  ASSERT_TRUE(r4.ok()) << r4.status();
  EXPECT_EQ(r4->rows, 5000u);
  EXPECT_EQ(r4->plan.splits.size(), 4u);
  EXPECT_EQ(r4->files.size(), 4u);
  for (const PlannedSplit& s : r4->plan.splits) {
    EXPECT_NEAR(static_cast<double>(s.split.estimated_rows), 1250.0, 1250.0 * 0.25);
  }
  std::vector<std::string> l1 = Lines("/user/sqoop/sales1");
  EXPECT_EQ(l1, Lines("/user/sqoop/sales4"));
  ASSERT_EQ(l1.size(), 5000u);
  // Decimals keep two digits and datetimes are ISO 8601 even though SQLite
  // stores them as numbers and text.
  EXPECT_NE(l1[0].find(".00,"), std::string::npos) << l1[0];
  EXPECT_NE(l1[0].find("T00:00:00,"), std::string::npos) << l1[0];
  EXPECT_TRUE(*lake::Exists(lake_.get(), "/user/sqoop/sales4/_SUCCESS"));
  EXPECT_TRUE(*lake::Exists(lake_.get(), "/user/sqoop/sales4/_schema.json"));
}

TEST_F(SqliteImportTest, ExistingTargetAppendAndDeleteTargetDir) {
  ImportOptions o = Options();
  o.num_mappers = 2;
  ASSERT_TRUE(RunImport(o, lake_.get()).ok());
  auto again = RunImport(o, lake_.get());
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
  o.append = true;
  auto appended = RunImport(o, lake_.get());
  ASSERT_TRUE(appended.ok()) << appended.status();
  EXPECT_EQ(Lines("/user/sqoop/sales").size(), 10000u);
  EXPECT_TRUE(*lake::Exists(lake_.get(), "/user/sqoop/sales/part-m-00003"));
  o.append = false;
  o.delete_target_dir = true;
  ASSERT_TRUE(RunImport(o, lake_.get()).ok());
  EXPECT_EQ(Lines("/user/sqoop/sales").size(), 5000u);
}

// Zone-less DATETIMEs are wall-clock readings: Avro `local-timestamp-micros`
// (Spark: TIMESTAMP_NTZ), never `timestamp-micros` (an instant in UTC that a
// Spark session outside UTC shows on another day).
TEST_F(SqliteImportTest, AvroDatetimesAreLocalTimestampsAndAppendsKeepTheDatasetsEncoding) {
  ImportOptions o = Options();
  o.format = ImportOptions::Format::kAvro;
  o.num_mappers = 1;
  ASSERT_TRUE(RunImport(o, lake_.get()).ok());
  auto schema = lake::ReadDatasetSchema(lake_.get(), "/user/sqoop/sales");
  ASSERT_TRUE(schema.ok()) << schema.status();
  int date = schema->ColumnIndex("ORDERDATE");
  ASSERT_GE(date, 0);
  EXPECT_EQ(schema->columns[date].type, "datetime");
  nlohmann::json avro = nlohmann::json::parse(schema->avro_schema_json);
  EXPECT_EQ(avro["fields"][date]["type"][1]["logicalType"], "local-timestamp-micros");
  EXPECT_FALSE(schema->AvroDatetimesAsInstants());
  auto part = lake::ReadFileToString(lake_.get(), "/user/sqoop/sales/part-m-00000.avro");
  ASSERT_TRUE(part.ok()) << part.status();
  nlohmann::json in_file = nlohmann::json::parse(*lake::AvroFileSchema(*part));
  EXPECT_EQ(in_file["fields"][date]["type"][1]["logicalType"], "local-timestamp-micros");

  // A dataset written before the fix: an append keeps its timestamp-micros.
  avro["fields"][date]["type"][1]["logicalType"] = "timestamp-micros";
  schema->avro_schema_json = avro.dump();
  ASSERT_TRUE(schema->AvroDatetimesAsInstants());
  {
    auto f = lake_->Create("/user/sqoop/sales/_schema.json", {.overwrite = true});
    ASSERT_TRUE(f.ok()) << f.status();
    ASSERT_TRUE((*f)->Append(schema->ToJson()).ok());
    ASSERT_TRUE((*f)->Close().ok());
  }
  o.append = true;
  ASSERT_TRUE(RunImport(o, lake_.get()).ok());
  auto appended = lake::ReadFileToString(lake_.get(), "/user/sqoop/sales/part-m-00001.avro");
  ASSERT_TRUE(appended.ok()) << appended.status();
  in_file = nlohmann::json::parse(*lake::AvroFileSchema(*appended));
  EXPECT_EQ(in_file["fields"][date]["type"][1]["logicalType"], "timestamp-micros");
  EXPECT_TRUE(lake::ReadDatasetSchema(lake_.get(), "/user/sqoop/sales")->AvroDatetimesAsInstants());
}

// Dataset rules measured across runs: the mean of a numeric column against
// the median of the earlier runs (drift), and rows repeating a key.
TEST_F(SqliteImportTest, DriftAndDuplicateFractionAcrossRuns) {
  std::string toml = (dir_ / "rules.toml").string();
  std::ofstream(toml) << "[[quality.rule]]\ndataset = \"/user/sqoop/sales\"\ncolumn = \"QUANTITYORDERED\"\n"
                         "check = \"drift\"\nmax = 0.2\n"
                         "[[quality.rule]]\ndataset = \"/user/sqoop/sales\"\ncolumn = \"ORDERNUMBER\"\n"
                         "check = \"duplicate_fraction\"\nmax = 0.1\n";
  ImportOptions o = Options();
  o.rules = *quality::LoadRules(toml, true);
  o.num_mappers = 2;
  // What the rules should find, from SQLite itself.
  double mean = 0;
  int64_t rows = 0, orders = 0;
  {
    source::ConnectOptions co;
    co.url = url_;
    auto conn = *source::Connect(co);
    ASSERT_TRUE(conn->Query("SELECT AVG(QUANTITYORDERED), COUNT(*), COUNT(DISTINCT ORDERNUMBER) FROM sales",
                            [&](const source::Row& r) {
                              mean = std::stod(std::string(*r.values[0]));
                              rows = std::stoll(std::string(*r.values[1]));
                              orders = std::stoll(std::string(*r.values[2]));
                              return absl::OkStatus();
                            })
                    .ok());
  }
  auto first = RunImport(o, lake_.get());
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(first->quality.has_value());
  const quality::RuleResult& drift = first->quality->rules[0];
  EXPECT_EQ(drift.failed, 0u) << "the first run sets the baseline";
  ASSERT_TRUE(drift.value.has_value());
  EXPECT_NEAR(*drift.value, mean, 1e-9);
  const quality::RuleResult& dup = first->quality->rules[1];
  ASSERT_GT(rows - orders, rows / 10) << "the generator writes orders of several lines";
  EXPECT_EQ(dup.failed, 1u);
  EXPECT_NE(dup.describe.find(std::to_string(rows - orders) + " rows repeat an earlier key"), std::string::npos)
      << dup.describe;
  // Only the small quantities: the mean moves far from the first run's.
  o.delete_target_dir = true;
  o.where = "QUANTITYORDERED < 25";
  auto second = RunImport(o, lake_.get());
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->quality->rules[0].failed, 1u) << second->quality->rules[0].describe;
  EXPECT_NE(second->quality->rules[0].describe.find("from the median"), std::string::npos)
      << second->quality->rules[0].describe;
  auto history = quality::ReadHistory(lake_.get(), "/user/sqoop/sales");
  ASSERT_EQ(history->size(), 2u);
  EXPECT_TRUE(history->at(0).rules[0].value.has_value()) << "the mean is kept for the next runs";
}

// drift of a categorical column: the shares of its values against their
// average over the earlier runs (total variation distance).
TEST_F(SqliteImportTest, DriftOfACategoricalColumnsDistribution) {
  std::string toml = (dir_ / "rules.toml").string();
  std::ofstream(toml) << "[[quality.rule]]\ndataset = \"/user/sqoop/sales\"\ncolumn = \"STATUS\"\n"
                         "check = \"drift\"\nmeasure = \"distribution\"\nmax = 0.02\nruns = 5\n";
  ImportOptions o = Options();
  o.rules = *quality::LoadRules(toml, true);
  o.num_mappers = 2;
  std::map<std::string, int64_t> counts;
  int64_t rows = 0;
  {
    source::ConnectOptions co;
    co.url = url_;
    auto conn = *source::Connect(co);
    ASSERT_TRUE(conn->Query("SELECT STATUS, COUNT(*) FROM sales GROUP BY STATUS", [&](const source::Row& r) {
                      counts[std::string(*r.values[0])] = std::stoll(std::string(*r.values[1]));
                      rows += std::stoll(std::string(*r.values[1]));
                      return absl::OkStatus();
                    }).ok());
  }
  ASSERT_GE(counts.size(), 3u) << "the generator writes several statuses";
  auto first = RunImport(o, lake_.get());
  ASSERT_TRUE(first.ok()) << first.status();
  const quality::RuleResult& baseline = first->quality->rules[0];
  EXPECT_EQ(baseline.failed, 0u) << "the first run sets the baseline";
  EXPECT_FALSE(baseline.value.has_value());
  ASSERT_EQ(baseline.shares.size(), counts.size());
  for (const auto& [status, n] : counts) {
    EXPECT_NEAR(baseline.shares.at(status), static_cast<double>(n) / rows, 1e-12) << status;
  }
  o.delete_target_dir = true;
  auto same = RunImport(o, lake_.get());  // the same data: distance 0
  ASSERT_TRUE(same.ok()) << same.status();
  EXPECT_EQ(same->quality->rules[0].failed, 0u) << same->quality->rules[0].describe;
  EXPECT_NEAR(same->quality->rules[0].value.value_or(-1), 0.0, 1e-12);
  // Only the shipped orders: the distance is everything that was not shipped.
  o.where = "STATUS = 'Shipped'";
  auto shipped = RunImport(o, lake_.get());
  ASSERT_TRUE(shipped.ok()) << shipped.status();
  const quality::RuleResult& moved = shipped->quality->rules[0];
  double want = 1.0 - static_cast<double>(counts["Shipped"]) / rows;
  EXPECT_NEAR(moved.value.value_or(-1), want, 1e-9);
  EXPECT_EQ(moved.failed, want > 0.02 ? 1u : 0u) << moved.describe;
  EXPECT_NE(moved.describe.find("(total variation) from the average of the last 2 run(s); most: Shipped"),
            std::string::npos)
      << moved.describe;
  auto history = quality::ReadHistory(lake_.get(), "/user/sqoop/sales");
  ASSERT_EQ(history->size(), 3u);
  EXPECT_EQ(history->at(2).rules[0].shares.size(), 1u) << "the shares are kept for the next runs";
}

TEST_F(SqliteImportTest, ColumnsWhereAndQuery) {
  ImportOptions o = Options();
  o.columns = {"ordernumber", "SALES"};
  o.where = "STATUS = 'Cancelled'";
  o.num_mappers = 2;
  auto r = RunImport(o, lake_.get());
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->plan.columns.size(), 2u);
  EXPECT_EQ(r->plan.columns[0].name, "ORDERNUMBER");
  ImportOptions q = Options();
  q.table.clear();
  q.query = "SELECT ORDERNUMBER, SALES FROM sales WHERE STATUS = 'Cancelled' AND $CONDITIONS";
  q.target_dir = "/q";
  q.split_by = "ORDERNUMBER";
  q.num_mappers = 3;
  auto rq = RunImport(q, lake_.get());
  ASSERT_TRUE(rq.ok()) << rq.status();
  EXPECT_EQ(rq->rows, r->rows);
  EXPECT_EQ(Lines("/q"), Lines("/user/sqoop/sales"));
}

TEST_F(SqliteImportTest, ClearErrorsForBadInput) {
  ImportOptions o = Options();
  o.table = "nope";
  EXPECT_EQ(RunImport(o, lake_.get()).status().code(), absl::StatusCode::kNotFound);
  o = Options();
  o.columns = {"ORDERNUMBER", "x; DROP TABLE sales"};
  auto bad = RunImport(o, lake_.get());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(std::string(bad.status().message()).starts_with(
      "--columns: column \"x; DROP TABLE sales\" does not exist in table sales"));
  o = Options();
  o.split_by = "ORDERNUMBER) OR (1=1";
  EXPECT_EQ(RunImport(o, lake_.get()).status().code(), absl::StatusCode::kNotFound);
  o = Options();
  o.table.clear();
  o.query = "SELECT * FROM sales";
  o.target_dir = "/x";
  EXPECT_EQ(RunImport(o, lake_.get()).status().message(),
            "--query must contain $CONDITIONS in its WHERE clause (e.g. \"SELECT ... WHERE "
            "$CONDITIONS\"), as with Sqoop");
  o = Options();
  o.connect.url = "sqlite://" + (dir_ / "missing.db").string();
  EXPECT_EQ(RunImport(o, lake_.get()).status().code(), absl::StatusCode::kNotFound);
  // Nothing was left behind by the failures.
  EXPECT_EQ(lake_->Stat("/user/sqoop/nope").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(SqliteImportTest, StorageFailureLeavesNothingVisible) {
  lake::FaultInjectionStorage faulty(lake_.get());
  faulty.FailAt(lake::FaultOp::kAppend, 3, absl::ResourceExhaustedError("disk full (injected)"));
  ImportOptions o = Options();
  o.num_mappers = 2;
  auto r = RunImport(o, &faulty);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(lake_->Stat("/user/sqoop/sales").status().code(), absl::StatusCode::kNotFound);
  faulty.Clear();
  core::ResetCancel();
  auto ok = RunImport(o, &faulty);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(Lines("/user/sqoop/sales").size(), 5000u);
}

TEST_F(SqliteImportTest, DryRunPlansWithoutWriting) {
  ImportOptions o = Options();
  o.dry_run = true;
  auto r = RunImport(o, lake_.get());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->plan.splits.size(), 4u);
  EXPECT_EQ(r->plan.split_column, "ORDERNUMBER");
  EXPECT_EQ(r->plan.source_rows.value_or(0), 5000u);
  EXPECT_EQ(lake_->Stat("/user/sqoop/sales").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(SqliteImportTest, IncrementalAppendThenLastModifiedMerge) {
  ImportOptions o = Options();
  o.incremental = Incremental::kAppend;
  o.check_column = "ORDERNUMBER";
  o.last_value = "10200";
  auto r = RunImport(o, lake_.get());
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(r->plan.new_last_value.has_value());
  uint64_t first = r->rows;
  EXPECT_GT(first, 0u);
  EXPECT_LT(first, 5000u);
  o.last_value = r->plan.new_last_value;
  auto none = RunImport(o, lake_.get());
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->rows, 0u);
  EXPECT_EQ(Lines("/user/sqoop/sales").size(), first);
}

}  // namespace
}  // namespace comptoir::importer
