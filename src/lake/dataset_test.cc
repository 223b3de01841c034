// The dataset contract (_schema.json) and the text scanner.
#include "comptoir/lake/dataset.h"

#include <gtest/gtest.h>

#include "comptoir/lake/compression.h"
#include "comptoir/lake/text_scan.h"
#include "nlohmann/json.hpp"

namespace comptoir::lake {
namespace {

DatasetSchema Sample() {
  DatasetSchema s;
  s.columns = {{"ORDERNUMBER", "int", "integer", false, 0, 0, false, ""},
               {"SALES", "decimal(10,2)", "decimal", true, 10, 2, false, ""},
               {"ORDERDATE", "datetime", "datetime", true, 0, 0, false, ""}};
  s.source_url = "sqlite:///erp.db";
  s.source_table = "sales";
  s.last_import_rows = 2823;
  s.check_column = "ORDERDATE";
  s.last_value = "2005-05-31 00:00:00";
  return s;
}

TEST(DatasetSchemaTest, RoundTripsAndFindsColumns) {
  DatasetSchema s = Sample();
  auto back = DatasetSchema::Parse(s.ToJson(), "x");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->ToJson(), s.ToJson());
  EXPECT_EQ(back->columns[1].scale, 2);
  EXPECT_EQ(back->ColumnIndex("sales"), 1);
  EXPECT_EQ(back->ColumnIndex("nope"), -1);
  EXPECT_EQ(*back->last_value, "2005-05-31 00:00:00");
  EXPECT_TRUE(back->CompatibleWith(s).ok());
}

TEST(DatasetSchemaTest, EachDamageIsNamed) {
  std::string good = Sample().ToJson();
  nlohmann::json j = nlohmann::json::parse(good);
  auto with = [&](const char* key, nlohmann::json v) {
    nlohmann::json k = j;
    k[key] = std::move(v);
    return k.dump();
  };
  nlohmann::json bad_col = j;
  bad_col["columns"][1]["scale"] = "two";
  struct Case {
    std::string text, what;
  } cases[] = {
      {"", "it is empty"},
      {good.substr(0, good.size() / 2), "it is not valid JSON"},
      {"[1,2]", "it holds array instead of an object"},
      {std::string("\0\0\0", 3), "it is not valid JSON"},
      {with("columns", 5), "\"columns\" must be a non-empty array"},
      {with("format", "parquet"), "\"format\" is \"parquet\"; expected text or avro"},
      {with("text", "csv"), "\"text\" must be an object, not string"},
      {bad_col.dump(), "\"columns[1].scale\" must be an integer, not string"},
      {with("last_import_rows", "many"), "\"last_import_rows\" must be an integer, not string"},
  };
  for (const Case& c : cases) {
    auto r = DatasetSchema::Parse(c.text, "/lake/user/sqoop/sales/_schema.json");
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_EQ(r.status().message(), "/lake/user/sqoop/sales/_schema.json is damaged: " + c.what +
                                        "; re-import the dataset (comptoir import ... --delete-target-dir) to "
                                        "rewrite it")
        << c.text;
  }
}

TEST(DatasetSchemaTest, CompatibilityNamesWhatDiffers) {
  DatasetSchema a = Sample();
  DatasetSchema b = Sample();
  b.columns[1].scale = 3;
  EXPECT_EQ(a.CompatibleWith(b).message(), "column 2 is SALES decimal(2) there, SALES decimal(3) in this import");
  b = Sample();
  b.columns.pop_back();
  EXPECT_EQ(a.CompatibleWith(b).message(), "it has 3 columns, this import has 2");
  b = Sample();
  b.format = DatasetSchema::Format::kAvro;
  EXPECT_EQ(a.CompatibleWith(b).message(), "its parts are text, this import writes avro");
}

// Records across the scanner's 8 MB blocks, quoted fields with delimiters,
// newlines and doubled quotes, NULL tokens, and a compressed part.
TEST(TextScannerTest, SplitsRfc4180InPlaceAcrossBlocks) {
  RegisterBuiltinStorages();
  auto fs = OpenStorage("mem://text-scan-test");
  ASSERT_TRUE(fs.ok());
  std::string data;
  for (int i = 0; i < 200000; ++i) {
    data += std::to_string(i) + ",\"a, \"\"quoted\"\"\nvalue\",\\N,\"\",plain-" + std::to_string(i % 7) + "\n";
  }
  ASSERT_TRUE(WriteStringToFile(fs->get(), "/d/part-m-00000", data).ok());
  for (Codec codec : {Codec::kNone, Codec::kGzip}) {
    std::string name = codec == Codec::kNone ? "part-m-00000" : "part-m-00001.gz";
    if (codec == Codec::kGzip) {
      auto out = (*fs)->Create("/d/" + name, CreateOptions{});
      ASSERT_TRUE(out.ok());
      auto z = NewCompressingFile(*std::move(out), codec);
      ASSERT_TRUE(z->Append(data).ok());
      ASSERT_TRUE(z->Close().ok());
    }
    auto info = (*fs)->Stat("/d/" + name);
    ASSERT_TRUE(info.ok());
    auto scanner = TextScanner::Open(fs->get(), *info, TextFormat{}, Codec::kNone);
    ASSERT_TRUE(scanner.ok()) << scanner.status();
    std::vector<std::string_view> f;
    std::vector<uint8_t> null;
    int n = 0;
    while (true) {
      auto more = (*scanner)->Next(&f, &null);
      ASSERT_TRUE(more.ok()) << more.status();
      if (!*more) break;
      ASSERT_EQ(f.size(), 5u);
      ASSERT_EQ(f[0], std::to_string(n));
      ASSERT_EQ(f[1], "a, \"quoted\"\nvalue");
      ASSERT_TRUE(null[2]);
      ASSERT_FALSE(null[3]);
      ASSERT_EQ(f[3], "");
      ASSERT_EQ(f[4], "plain-" + std::to_string(n % 7));
      ASSERT_EQ((*scanner)->line(), static_cast<size_t>(2 * n + 1));
      ++n;
    }
    EXPECT_EQ(n, 200000) << name;
    EXPECT_EQ((*scanner)->consumed(), data.size());
  }
}

TEST(TextScannerTest, AMalformedRecordNamesTheFileAndLine) {
  RegisterBuiltinStorages();
  auto fs = OpenStorage("mem://text-scan-bad");
  ASSERT_TRUE(fs.ok());
  ASSERT_TRUE(WriteStringToFile(fs->get(), "/d/part-m-00000", "1,a\n2,\"open\n").ok());
  auto info = (*fs)->Stat("/d/part-m-00000");
  auto scanner = TextScanner::Open(fs->get(), *info, TextFormat{}, Codec::kNone);
  ASSERT_TRUE(scanner.ok());
  std::vector<std::string_view> f;
  std::vector<uint8_t> null;
  ASSERT_TRUE(*(*scanner)->Next(&f, &null));
  auto second = (*scanner)->Next(&f, &null);
  EXPECT_EQ(second.status().message(), "/d/part-m-00000:2: malformed record");
}

}  // namespace
}  // namespace comptoir::lake
