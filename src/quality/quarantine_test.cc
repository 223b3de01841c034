// The quarantine (rejects staged in a run's publication) and the history.
#include "comptoir/quality/quarantine.h"

#include <gtest/gtest.h>

#include "comptoir/quality/history.h"

namespace comptoir::quality {
namespace {

using Record = std::vector<std::optional<std::string_view>>;

lake::DatasetSchema TextSchema() {
  lake::DatasetSchema s;
  s.columns = {{"ORDERNUMBER", "int", "integer", false, 0, 0, false, ""},
               {"CUSTOMERNAME", "varchar(50)", "string", true, 0, 0, false, ""},
               {"SALES", "decimal(10,2)", "decimal", true, 10, 2, false, ""}};
  return s;
}

Rule RangeRule() {
  Rule r;
  r.number = 2;
  r.dataset = "/s";
  r.columns = {"SALES"};
  r.check = Check::kRange;
  r.min = "0";
  return r;
}

TEST(QualityQuarantine, RejectsArePublishedByTheRunsCommitWithTheirColumns) {
  auto lake = lake::NewMemStorage("quarantine");
  lake::DatasetSchema schema = TextSchema();
  lake::DatasetSchema rejects = *RejectsSchema(schema);
  ASSERT_EQ(rejects.columns.size(), 6u);
  EXPECT_EQ(rejects.columns[3].name, "_rule");
  EXPECT_EQ(rejects.columns[5].name, "_source");

  auto pub = lake::Publication::Begin(lake.get(), "/s", lake::PublishMode::kCreate);
  ASSERT_TRUE(pub.ok()) << pub.status();
  RejectWriter none(pub->get(), "R1", "part-m-00000", &rejects);
  RejectWriter w(pub->get(), "R1", "part-m-00001", &rejects);
  Rule rule = RangeRule();
  ASSERT_TRUE(w.Write(Record{"10100", "Mini Gifts, Ltd", "-1.00"}, rule, "SALES range >= 0: -1.00", "split 1 row 7")
                  .ok());
  rule.name = "sales are positive";
  ASSERT_TRUE(w.Write(Record{"10101", std::nullopt, "-2.50"}, rule, "SALES range >= 0: -2.50", "split 1 row 9").ok());
  ASSERT_TRUE(none.Close().ok());
  ASSERT_TRUE(w.Close().ok());
  EXPECT_EQ(w.rows(), 2u);
  EXPECT_EQ(none.rows(), 0u);
  // Nothing is visible before the commit.
  EXPECT_FALSE(*lake::Exists(lake.get(), "/s/_rejects"));
  ASSERT_TRUE((*pub)->Commit().ok());
  EXPECT_EQ(*lake::ReadFileToString(lake.get(), "/s/_rejects/R1/part-m-00001"),
            "10100,\"Mini Gifts, Ltd\",-1.00,rule 2,SALES range >= 0: -1.00,split 1 row 7\n"
            "10101,\\N,-2.50,sales are positive,SALES range >= 0: -2.50,split 1 row 9\n");
  EXPECT_FALSE(*lake::Exists(lake.get(), "/s/_rejects/R1/part-m-00000")) << "a split without rejects writes none";

  // Read back as a dataset of its own.
  std::vector<std::string> sources;
  ASSERT_TRUE(lake::ForEachRecord(lake.get(), "/s/_rejects/R1", rejects,
                                  [&](const lake::FileInfo&, size_t, const std::vector<std::string_view>& f,
                                      const std::vector<uint8_t>& null) -> Status {
                                    EXPECT_EQ(null[1], f[0] == "10101");
                                    sources.emplace_back(f[5]);
                                    return absl::OkStatus();
                                  })
                  .ok());
  EXPECT_EQ(sources, (std::vector<std::string>{"split 1 row 7", "split 1 row 9"}));
}

TEST(QualityQuarantine, AvroRejectsCarryTheDatasetsFieldsAndThreeStrings) {
  auto lake = lake::NewMemStorage("quarantine-avro");
  lake::DatasetSchema schema = TextSchema();
  schema.format = lake::DatasetSchema::Format::kAvro;
  schema.codec = "deflate";
  schema.avro_schema_json = lake::AvroSchemaJson(
      "sales", {{"ORDERNUMBER", lake::AvroType::kLong}, {"CUSTOMERNAME", lake::AvroType::kString},
                {"SALES", lake::AvroType::kDecimal, 10, 2}});
  lake::DatasetSchema rejects = *RejectsSchema(schema);
  EXPECT_NE(rejects.avro_schema_json.find("\"name\":\"_reason\""), std::string::npos) << rejects.avro_schema_json;
  auto pub = lake::Publication::Begin(lake.get(), "/s", lake::PublishMode::kCreate);
  ASSERT_TRUE(pub.ok()) << pub.status();
  RejectWriter w(pub->get(), "R1", "part-m-00000.avro", &rejects);
  ASSERT_TRUE(w.Write(Record{"10100", "Mini Gifts", "-1.00"}, RangeRule(), "SALES range >= 0: -1.00", "split 0 row 1").ok());
  ASSERT_TRUE(w.Close().ok());
  ASSERT_TRUE((*pub)->Commit().ok());
  std::vector<std::string> got;
  ASSERT_TRUE(lake::ForEachRecord(lake.get(), "/s/_rejects/R1", rejects,
                                  [&](const lake::FileInfo&, size_t, const std::vector<std::string_view>& f,
                                      const std::vector<uint8_t>&) -> Status {
                                    for (std::string_view v : f) got.emplace_back(v);
                                    return absl::OkStatus();
                                  })
                  .ok());
  EXPECT_EQ(got, (std::vector<std::string>{"10100", "Mini Gifts", "-1.00", "rule 2", "SALES range >= 0: -1.00",
                                           "split 0 row 1"}));
}

TEST(QualityQuarantine, ReferencedValuesAreReadFromTheLake) {
  auto lake = lake::NewMemStorage("quarantine-refs");
  lake::DatasetSchema products;
  products.columns = {{"productCode", "varchar(15)", "string", false, 0, 0, false, ""}};
  ASSERT_TRUE(lake::WriteStringToFile(lake.get(), "/p/_schema.json", products.ToJson()).ok());
  ASSERT_TRUE(lake::WriteStringToFile(lake.get(), "/p/part-m-00000", "S10_1678\nS10_1949\n").ok());
  ASSERT_TRUE(lake::WriteStringToFile(lake.get(), "/p/part-m-00001", "S12_1099\n").ok());
  auto values = LakeColumnValues(lake.get());
  auto got = values("/p", "PRODUCTCODE");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, (std::vector<std::string>{"S10_1678", "S10_1949", "S12_1099"}));
  EXPECT_EQ(values("/p", "nope").status().message(), "the referenced dataset /p has no column nope");
  EXPECT_EQ(values("/missing", "x").status().message(),
            "the referenced dataset /missing does not exist in mem://quarantine-refs: import it first");
}

TEST(QualityHistory, RunsAppendAndSurviveDamagedLinesAndAnInterruptedSwap) {
  auto lake = lake::NewMemStorage("history");
  EXPECT_TRUE(ReadHistory(lake.get(), "/s")->empty());
  RunRecord r;
  r.run = "20261206T161500.123Z";
  r.dataset = "/s";
  r.rows_in = 10;
  r.rows_out = 9;
  r.rejected = 1;
  r.rules = {{2, "rule 2", "range", "SALES", "reject", "SALES range >= 0", 1, std::nullopt}};
  ASSERT_TRUE(lake::WriteStringToFile(lake.get(), "/s/_quality/history.jsonl", *HistoryWith(lake.get(), "/s", r)).ok());
  // A torn line, then a failed run recorded outside any commit.
  auto text = *lake::ReadFileToString(lake.get(), "/s/_quality/history.jsonl");
  ASSERT_TRUE(lake::WriteStringToFile(lake.get(), "/s/_quality/history.jsonl", text + "{\"run\": \"x", {.overwrite = true}).ok());
  RunRecord f = r;
  f.run = "20261206T161600.000Z";
  f.outcome = "failed";
  f.failure = "rule 3 (fail) failed on 2 rows";
  ASSERT_TRUE(RecordRunOutsideCommit(lake.get(), "/s", f).ok());
  size_t skipped = 0;
  auto runs = ReadHistory(lake.get(), "/s", &skipped);
  ASSERT_TRUE(runs.ok()) << runs.status();
  ASSERT_EQ(runs->size(), 2u);
  EXPECT_EQ(skipped, 1u);
  EXPECT_EQ((*runs)[0].rules[0].describe, "SALES range >= 0");
  EXPECT_EQ((*runs)[0].rejected, 1u);
  EXPECT_TRUE((*runs)[1].failed());
  EXPECT_EQ((*runs)[1].failure, "rule 3 (fail) failed on 2 rows");
  // A swap interrupted after the new copy was written: the reader takes it.
  RunRecord g = r;
  g.run = "20261206T161700.000Z";
  ASSERT_TRUE(lake::WriteStringToFile(lake.get(), "/s/_quality/.history.jsonl.new", *HistoryWith(lake.get(), "/s", g), {.overwrite = true})
                  .ok());
  runs = ReadHistory(lake.get(), "/s");
  ASSERT_EQ(runs->size(), 3u);
  EXPECT_EQ(runs->back().run, "20261206T161700.000Z");
}

}  // namespace
}  // namespace comptoir::quality
