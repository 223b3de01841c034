#include "comptoir/seed/sales.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

namespace comptoir::seed {
namespace {

TEST(SalesGeneratorTest, DeterministicForASeedAndShapedLikeTheRealData) {
  SalesGenerator a(20000, 7);
  SalesGenerator b(20000, 7);
  SalesGenerator other(20000, 8);
  SalesRow ra, rb, ro;
  std::map<std::string, int> status, lines, deal;
  std::set<std::string> customers, countries, territories, products;
  std::set<std::pair<std::string, std::string>> keys;
  bool differs = false;
  int n = 0;
  while (a.Next(&ra)) {
    ASSERT_TRUE(b.Next(&rb));
    ASSERT_TRUE(other.Next(&ro));
    ASSERT_EQ(ra, rb);
    differs |= ra != ro;
    ASSERT_EQ(ra.size(), 25u);
    ++n;
    status[*ra[6]]++;
    lines[*ra[10]]++;
    deal[*ra[24]]++;
    customers.insert(*ra[13]);
    countries.insert(*ra[20]);
    territories.insert(*ra[21]);
    products.insert(*ra[12]);
    EXPECT_TRUE(keys.insert({*ra[0], *ra[3]}).second) << "duplicate primary key";
    // DEALSIZE follows SALES with the 3000 / 7000 thresholds.
    double sales = std::stod(*ra[4]);
    const std::string& d = *ra[24];
    EXPECT_EQ(d, sales < 3000 ? "Small" : sales <= 7000 ? "Medium" : "Large");
    EXPECT_LE(std::stod(*ra[2]), 100.0);
    EXPECT_GE(*ra[5], "2003-01-06 00:00:00");
    EXPECT_LE(*ra[5], "2005-05-31 00:00:00");
  }
  EXPECT_EQ(n, 20000);
  EXPECT_TRUE(differs);
  EXPECT_EQ(lines.size(), 7u);
  EXPECT_EQ(status.size(), 6u);
  EXPECT_NEAR(status["Shipped"] / 20000.0, 0.93, 0.02);
  EXPECT_EQ(countries.size(), 19u);
  EXPECT_EQ(territories, (std::set<std::string>{"APAC", "EMEA", "Japan", "NA"}));
  EXPECT_GE(customers.size(), 85u);
  EXPECT_LE(customers.size(), 92u);
  EXPECT_GE(products.size(), 100u);
  EXPECT_EQ(deal.size(), 3u);
}

TEST(SalesCsvTest, MonthFirstDates) {
  EXPECT_EQ(*ParseMonthFirstDate("2/24/2003 0:00"), "2003-02-24 00:00:00");
  EXPECT_EQ(*ParseMonthFirstDate("12/1/2004 13:05"), "2004-12-01 13:05:00");
  EXPECT_EQ(ParseMonthFirstDate("2/31/2004 0:00").status().message(),
            "\"2/31/2004 0:00\" is not a month-first date like 2/24/2003 0:00");
  EXPECT_FALSE(ParseMonthFirstDate("2004-02-01").ok());
}

TEST(SalesCsvTest, Encodings) {
  EXPECT_EQ(*ToUtf8("Berguvsv\x84gen", "cp437", "f"), "Berguvsv\xC3\xA4gen");
  EXPECT_EQ(*ToUtf8("Berguvsv\xE4gen", "latin1", "f"), "Berguvsv\xC3\xA4gen");
  EXPECT_EQ(ToUtf8("a\nb\nBerguvsv\x84gen\n", "utf-8", "sales.csv").status().message(),
            "sales.csv: line 3: byte 0x84 is not valid UTF-8; if the file uses another encoding, "
            "pass --encoding (latin1, cp1252 or cp437)");
  EXPECT_EQ(ToUtf8("x", "ebcdic", "f").status().message(),
            "unknown --encoding \"ebcdic\"; use utf-8, latin1, cp1252 or cp437");
}

TEST(SalesCsvTest, RealSampleLoadsAllRowsWithCp437) {
  std::string path = std::string(COMPTOIR_SHARED_DATA_DIR "/sales_data_sample.csv");
  StatusOr<std::vector<SalesRow>> rows = ReadSalesCsv(path, "cp437");
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 2823u);
  bool found = false;
  int na = 0;
  int64_t cents = 0;
  for (const SalesRow& r : *rows) {
    found |= r[15] == std::optional<std::string>("Berguvsv\xC3\xA4gen  8");
    na += r[21] == std::optional<std::string>("NA");
    std::string s = *r[4];
    cents += std::stoll(s.substr(0, s.find('.'))) * 100 + std::stoll(s.substr(s.find('.') + 1));
  }
  EXPECT_TRUE(found);
  EXPECT_GT(na, 1000);
  EXPECT_EQ(cents, 1003262885);  // 10,032,628.85: the SALES total of the sample
  EXPECT_EQ(*(*rows)[0][5], "2003-02-24 00:00:00");
  // Without --encoding the same file fails and names the line.
  StatusOr<std::vector<SalesRow>> utf8 = ReadSalesCsv(path, "utf-8");
  EXPECT_EQ(utf8.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(utf8.status().message()).find("pass --encoding"), std::string::npos);
}

}  // namespace
}  // namespace comptoir::seed
