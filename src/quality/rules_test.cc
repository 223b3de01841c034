#include "comptoir/quality/rules.h"

#include <gtest/gtest.h>

#include <thread>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "comptoir/lake/dataset.h"
#include "comptoir/lake/storage.h"

namespace comptoir::quality {
namespace {

std::string WriteToml(const std::string& text) {
  static int n = 0;
  std::string path = (std::filesystem::temp_directory_path() /
                      ("comptoir-quality-" + std::to_string(getpid()) + "-" + std::to_string(++n) + ".toml"))
                         .string();
  std::ofstream(path) << text;
  return path;
}

constexpr std::string_view kStewardRules = R"(lake = "./lake"

[[quality.rule]]
dataset = "/user/sqoop/sales"
column  = "QUANTITYORDERED"
check   = "range"
min     = 1
max     = 50
action  = "reject"

[[quality.rule]]
dataset = "/user/sqoop/sales"
column  = "STATUS"
check   = "allowed"
values  = ["Shipped", "Cancelled", "Resolved", "On Hold", "In Process", "Disputed"]

[[quality.rule]]
dataset = "/user/sqoop/sales"
columns = ["ORDERNUMBER", "ORDERLINENUMBER"]
check   = "unique"
action  = "fail"

[[quality.rule]]
dataset = "/user/sqoop/sales"
column  = "PRODUCTCODE"
check   = "regex"
pattern = 'S\d+_\d+'

[[quality.rule]]
dataset = "/user/sqoop/sales"
column  = "PRODUCTCODE"
check   = "references"
ref_dataset = "/user/sqoop/products"
ref_column  = "productCode"

[[quality.rule]]
dataset = "/user/sqoop/sales"
check   = "row_count"
min     = 1
)";

TEST(QualityRules, ReadsEveryKindOfRuleInFileOrder) {
  auto rules = LoadRules(WriteToml(std::string(kStewardRules)));
  ASSERT_TRUE(rules.ok()) << rules.status();
  ASSERT_EQ(rules->size(), 6u);
  const Rule& range = (*rules)[0];
  EXPECT_EQ(range.number, 1);
  EXPECT_EQ(range.line, 3);
  EXPECT_EQ(range.check, Check::kRange);
  EXPECT_EQ(range.action, Action::kReject);
  EXPECT_EQ(range.Describe(), "QUANTITYORDERED range [1, 50]");
  EXPECT_EQ((*rules)[1].action, Action::kWarn) << "warn is the default";
  EXPECT_EQ((*rules)[1].values.size(), 6u);
  EXPECT_EQ((*rules)[2].columns, (std::vector<std::string>{"ORDERNUMBER", "ORDERLINENUMBER"}));
  EXPECT_EQ((*rules)[2].Describe(), "ORDERNUMBER+ORDERLINENUMBER unique");
  EXPECT_EQ((*rules)[3].pattern, "S\\d+_\\d+");
  EXPECT_EQ((*rules)[4].Describe(), "PRODUCTCODE references /user/sqoop/products.productCode");
  EXPECT_FALSE((*rules)[5].per_record());
  EXPECT_EQ((*rules)[5].Describe(), "row_count >= 1");
}

TEST(QualityRules, NoFileOrNoRulesIsNoRule) {
  auto none = LoadRules("/nonexistent/comptoir.toml");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  EXPECT_TRUE(absl::IsNotFound(LoadRules("/nonexistent/comptoir.toml", true).status()));
  auto empty = LoadRules(WriteToml("lake = \"./lake\"\n"));
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST(QualityRules, EveryMistakeNamesTheLineTheRuleAndTheKey) {
  const std::string head = "[[quality.rule]]\ndataset = \"/d\"\n";  // the rule's table starts on line 1
  struct Case {
    std::string toml, message;
  } cases[] = {
      {head + "column = \"A\"\ncheck = \"rnage\"\n",
       ":4: quality rule 1: check \"rnage\" is not one of not_null, range, allowed, length, regex, unique, "
       "references, row_count, product, source_count, change, null_fraction, reject_fraction, freshness, "
       "duplicate_fraction, drift"},
      {head + "column = \"A\"\ncheck = \"not_null\"\naction = \"drop\"\n",
       ":5: quality rule 1: action must be one of warn, reject, fail"},
      {"[[quality.rule]]\ncolumn = \"A\"\ncheck = \"not_null\"\n", ":1: quality rule 1: `dataset` is missing"},
      {"[[quality.rule]]\ndataset = \"sales\"\ncolumn = \"A\"\ncheck = \"not_null\"\n",
       ":2: quality rule 1: dataset \"sales\" must be a lake path such as /user/sqoop/sales"},
      {head + "column = \"A\"\ncheck = \"range\"\nmin = 1\npattern = \"x\"\n",
       ":6: quality rule 1: key `pattern` does not apply to check range (its keys: action, check, column, "
       "dataset, max, min, name)"},
      {head + "column = \"A\"\ncheck = \"regex\"\npattern = \"(a\"\n",
       ":5: quality rule 1: pattern is not a valid RE2 expression: missing ): (a"},
      {head + "column = \"A\"\ncheck = \"range\"\nmin = 10\nmax = 9.5\n", ":6: quality rule 1: max 9.5 is below min 10"},
      {head + "column = \"A\"\ncheck = \"range\"\n", ":1: quality rule 1: give `min`, `max` or both"},
      {head + "column = \"A\"\ncheck = \"range\"\nmin = \"ten\"\n", ":5: quality rule 1: `min` = \"ten\" is not a number"},
      {head + "column = \"A\"\ncheck = \"length\"\nmax = -1\n", ":5: quality rule 1: `max` must be a whole number >= 0"},
      {head + "column = \"A\"\ncheck = \"allowed\"\n",
       ":1: quality rule 1: `values` is missing: the allowed values, e.g. [\"Shipped\"]"},
      {head + "column = \"A\"\ncolumns = [\"B\"]\ncheck = \"unique\"\n",
       ":4: quality rule 1: give `column` or `columns`, not both"},
      {head + "check = \"not_null\"\n", ":1: quality rule 1: `column` is missing"},
      {head + "column = \"A\"\ncheck = \"references\"\nref_dataset = \"/p\"\n",
       ":1: quality rule 1: `ref_column` is missing"},
      {"[quality]\nrule = 5\n", ":2: quality.rule must be written [[quality.rule]] (an array of tables)"},
      {"[quality]\nrules = []\n", ":2: unknown key quality.rules (rules are [[quality.rule]] tables)"},
      {"quality = 3\n", ":1: `quality` must be a table holding [[quality.rule]] tables"},
      {"[[quality.rule]]\ndataset = \"/d\"\ncheck = \"not_null\"\ncolumn = \"A\"\n[[quality.rule]]\ncheck = 1\n",
       ":5: quality rule 2: `dataset` is missing"},
  };
  for (const Case& c : cases) {
    std::string path = WriteToml(c.toml);
    auto r = LoadRules(path);
    ASSERT_FALSE(r.ok()) << c.toml;
    EXPECT_TRUE(absl::IsInvalidArgument(r.status())) << r.status();
    EXPECT_EQ(std::string(r.status().message()), path + c.message) << c.toml;
  }
}

TEST(QualityRules, DecimalsCompareExactly) {
  struct Case {
    std::string_view a, b;
    int want;
  } cases[] = {{"1", "1.0", 0},      {"-0", "0.00", 0},      {"2.5", "10", -1},     {"-3", "-2.99", -1},
               {"0.125", "0.13", -1}, {"007", "7", 0},       {"+4", "4", 0},        {"0.1", "0.10000000000000000001", -1},
               {"99999999999999999999.99", "99999999999999999999.98", 1}, {".5", "0.5", 0}, {"5.", "5", 0}};
  for (const Case& c : cases) {
    auto r = CompareDecimal(c.a, c.b);
    ASSERT_TRUE(r.ok()) << c.a << " " << c.b;
    EXPECT_EQ(*r, c.want) << c.a << " vs " << c.b;
    EXPECT_EQ(*CompareDecimal(c.b, c.a), -c.want) << c.b << " vs " << c.a;
  }
  for (std::string_view bad : {"", "-", ".", "1e3", "1,5", " 1", "0x10", "1.2.3"}) {
    EXPECT_TRUE(absl::IsInvalidArgument(CompareDecimal(bad, "0").status())) << bad;
  }
}

using Record = std::vector<std::optional<std::string_view>>;

TEST(QualityRowChecker, EachCheckOnTypedValuesWithCountsAndTheStrictestAction) {
  auto rules = LoadRules(WriteToml(R"(
[[quality.rule]]
dataset = "/s"
column = "qty"
check = "range"
min = 1
max = 50
action = "reject"
[[quality.rule]]
dataset = "/s"
column = "status"
check = "allowed"
values = ["Shipped", "On Hold"]
[[quality.rule]]
dataset = "/s"
column = "name"
check = "length"
max = 3
action = "reject"
[[quality.rule]]
dataset = "/s"
column = "code"
check = "regex"
pattern = 'S\d+_\d+'
action = "reject"
[[quality.rule]]
dataset = "/s"
columns = ["order", "line"]
check = "unique"
action = "fail"
[[quality.rule]]
dataset = "/s"
column = "code"
check = "not_null"
action = "reject"
[[quality.rule]]
dataset = "/other"
column = "nothing"
check = "not_null"
)"));
  ASSERT_TRUE(rules.ok()) << rules.status();
  // Column names match whatever their case; reasons use the rule's spelling.
  auto c = RowChecker::Create(*rules, "/s", {"ORDER", "LINE", "QTY", "STATUS", "NAME", "CODE"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->rules().size(), 6u) << "the rule of /other is not this dataset's";

  auto check = [&](Record r) { return c->CheckRecord(r); };
  EXPECT_TRUE(check({"1", "1", "50", "Shipped", "Zoë", "S10_1678"}).passed()) << "3 characters, 4 bytes";
  RowChecker::Verdict v = check({"1", "2", "50.01", "Shipped", "abc", "S10_1678"});
  EXPECT_EQ(v.action, Action::kReject);
  EXPECT_EQ(v.reason, "qty range [1, 50]: 50.01");
  v = check({"1", "3", "7", "Lost", "abc", "S10_1678"});
  EXPECT_FALSE(v.passed());
  EXPECT_EQ(v.action, Action::kWarn) << v.reason;
  EXPECT_EQ(v.reason, "status allowed {Shipped, On Hold}: \"Lost\"");
  v = check({"1", "4", "seven", "Shipped", "abcd", "X"});
  EXPECT_EQ(v.action, Action::kReject);
  EXPECT_EQ(v.reason, "qty range [1, 50]: \"seven\" is not a number") << "the first failed rule of the strictest action";
  v = check({"1", "1", "5", "Shipped", "abc", std::nullopt});
  EXPECT_EQ(v.action, Action::kFail);
  EXPECT_EQ(v.reason, "order+line unique: repeats 1, 1");
  EXPECT_TRUE(check({std::nullopt, "1", "5", "On Hold", std::nullopt, "S1_2"}).passed())
      << "a key with a NULL is not compared; NULL passes every check but not_null";
  EXPECT_TRUE(check({std::nullopt, "1", "5", "On Hold", std::nullopt, "S1_2"}).passed());

  // Per rule: range, allowed, length, regex, unique, not_null.
  EXPECT_EQ(c->failed(), (std::vector<uint64_t>{2, 1, 1, 1, 1, 1}));
}

// Integer bounds compare plain integers as numbers; anything else goes through
// the exact decimal comparison; both give the same answers.
TEST(QualityRowChecker, RangeIsExactOnIntegersDecimalsAndHugeValues) {
  for (std::string bounds : {"min = 1\nmax = 60\n", "min = 1.0\nmax = 60.00\n", "min = 1\n", "max = 60\n"}) {
    auto rules = LoadRules(WriteToml("[[quality.rule]]\ndataset = \"/s\"\ncolumn = \"q\"\ncheck = \"range\"\n" + bounds));
    ASSERT_TRUE(rules.ok()) << rules.status();
    auto c = RowChecker::Create(*rules, "/s", {"q"});
    ASSERT_TRUE(c.ok()) << c.status();
    const bool low = bounds.find("min") != std::string::npos, high = bounds.find("max") != std::string::npos;
    const std::vector<std::pair<std::string, bool>> cases = {
        {"1", true},        {"60", true},          {"007", true},       {"0", !low},
        {"61", !high},      {"-5", !low},          {"60.001", !high},   {"0.999", !low},
        {"+7", true},       {"59.9999999999999999999999", true},        {"99999999999999999999", !high},
        {"-99999999999999999999", !low}};
    for (const auto& [value, passes] : cases) {
      EXPECT_EQ(c->CheckRecord(Record{value}).passed(), passes) << value << " with " << bounds;
    }
    EXPECT_EQ(c->CheckRecord(Record{"1e3"}).reason, "q range " + std::string(low && high ? "[1, 60]" : low ? ">= 1" : "<= 60") + ": \"1e3\" is not a number");
  }
}

TEST(QualityRowChecker, ProductIsExactWithinTheTolerance) {
  auto rules = LoadRules(WriteToml(R"(
[[quality.rule]]
dataset = "/s"
column = "SALES"
check = "product"
factors = ["QTY", "PRICE"]
tolerance = 0.01
action = "reject"
)"));
  ASSERT_TRUE(rules.ok()) << rules.status();
  EXPECT_EQ((*rules)[0].Describe(), "SALES = QTY × PRICE ± 0.01");
  auto c = RowChecker::Create(*rules, "/s", {"qty", "price", "sales"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->CheckRecord(Record{"30", "95.70", "2871.00"}).passed());
  EXPECT_TRUE(c->CheckRecord(Record{"3", "0.333", "1.00"}).passed()) << "0.999 is within 0.01";
  EXPECT_EQ(c->CheckRecord(Record{"3", "0.333", "1.01"}).reason, "SALES = QTY × PRICE ± 0.01: 1.01, but 3 × 0.333 = 0.999");
  EXPECT_EQ(c->CheckRecord(Record{"49", "100.00", "5205.27"}).reason,
            "SALES = QTY × PRICE ± 0.01: 5205.27, but 49 × 100.00 = 4900.00");
  EXPECT_EQ(c->CheckRecord(Record{"-2", "0.5", "-1"}).passed(), true);
  EXPECT_TRUE(c->CheckRecord(Record{std::nullopt, "1", "5"}).passed()) << "a NULL factor is for not_null to catch";
  EXPECT_EQ(c->CheckRecord(Record{"x", "1", "5"}).reason, "SALES = QTY × PRICE ± 0.01: factor \"x\" is not a number");
  EXPECT_EQ(c->CheckRecord(Record{"12345678901234567890", "12345678901234567890", "1"}).reason,
            "SALES = QTY × PRICE ± 0.01: the product has too many digits to check");
  auto bad = LoadRules(WriteToml("[[quality.rule]]\ndataset = \"/s\"\ncolumn = \"S\"\ncheck = \"product\"\nfactors = [\"A\"]\n"));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(std::string(bad.status().message()).find("`factors` must name at least two columns"), std::string::npos);
}

TEST(QualityRules, DatasetRulesAndTheMetricsTheyNeed) {
  auto rules = LoadRules(WriteToml(R"(
[[quality.rule]]
dataset = "/s"
check = "change"
max = 0.5
runs = 7
[[quality.rule]]
dataset = "/s"
column = "zip"
check = "null_fraction"
max = 0.1
[[quality.rule]]
dataset = "/s"
column = "at"
check = "freshness"
max_age = "2d"
[[quality.rule]]
dataset = "/s"
check = "reject_fraction"
max = 0.01
[[quality.rule]]
dataset = "/s"
check = "source_count"
)"));
  ASSERT_TRUE(rules.ok()) << rules.status();
  EXPECT_EQ((*rules)[0].Describe(), "change within 0.5 of the median of 7 runs");
  EXPECT_EQ((*rules)[2].max_age_ms, 2 * 86400000);
  for (const Rule& r : *rules) EXPECT_FALSE(r.per_record()) << r.Describe();
  auto more = LoadRules(WriteToml("[[quality.rule]]\ndataset = \"/s\"\ncolumn = \"n\"\ncheck = \"drift\"\nmax = 0.3\n"
                                  "[[quality.rule]]\ndataset = \"/s\"\ncolumns = [\"k\", \"n\"]\n"
                                  "check = \"duplicate_fraction\"\nmax = 0.5\n"));
  ASSERT_TRUE(more.ok()) << more.status();
  auto d = RowChecker::Create(*more, "/s", {"k", "n"});
  ASSERT_TRUE(d.ok()) << d.status();
  for (auto [k, n] : std::vector<std::pair<const char*, const char*>>{{"a", "1"}, {"a", "1"}, {"b", "2.5"}, {"a", "x"}}) {
    EXPECT_TRUE(d->CheckRecord(Record{k, n}).passed());
  }
  EXPECT_EQ(d->column_metrics().at(1).numbers, 3u) << "\"x\" is not a number";
  EXPECT_DOUBLE_EQ(d->column_metrics().at(1).sum, 4.5);
  EXPECT_EQ(d->column_metrics().at(2).repeats, 1u);
  auto c = RowChecker::Create(*rules, "/s", {"zip", "at"});
  ASSERT_TRUE(c.ok()) << c.status();
  RowChecker f = c->Fork();
  EXPECT_TRUE(f.CheckRecord(Record{std::nullopt, "2026-12-01T00:00:00"}).passed());
  EXPECT_TRUE(f.CheckRecord(Record{"44000", "2026-12-05T10:00:00"}).passed());
  EXPECT_TRUE(c->CheckRecord(Record{std::nullopt, "2026-11-01T00:00:00"}).passed());
  c->AddCounts(f);
  EXPECT_EQ(c->column_metrics().at(2).nulls, 2u);
  EXPECT_EQ(c->column_metrics().at(3).max, "2026-12-05T10:00:00");
  auto bad = LoadRules(WriteToml("[[quality.rule]]\ndataset = \"/s\"\ncheck = \"null_fraction\"\ncolumn = \"a\"\nmax = 2\n"));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(std::string(bad.status().message()).find("`max` = 2 is not a fraction (0 to 1)"), std::string::npos)
      << bad.status();
}

TEST(QualityRules, DriftOfADistributionCountsEachValueAcrossForks) {
  auto rules = LoadRules(WriteToml("[[quality.rule]]\ndataset = \"/s\"\ncolumn = \"status\"\ncheck = \"drift\"\n"
                                   "measure = \"distribution\"\nmax = 0.1\nruns = 3\n"));
  ASSERT_TRUE(rules.ok()) << rules.status();
  EXPECT_EQ((*rules)[0].Describe(), "status drift distribution within 0.1 (total variation) of the last 3 runs");
  auto c = RowChecker::Create(*rules, "/s", {"status"});
  ASSERT_TRUE(c.ok()) << c.status();
  RowChecker f = c->Fork();
  for (const char* v : {"Shipped", "Shipped", "On Hold"}) EXPECT_TRUE(c->CheckRecord(Record{v}).passed());
  EXPECT_TRUE(f.CheckRecord(Record{"Shipped"}).passed());
  EXPECT_TRUE(f.CheckRecord(Record{std::nullopt}).passed());
  c->AddCounts(f);
  const auto& counts = c->column_metrics().at(1).counts;
  EXPECT_EQ(counts.size(), 2u);
  EXPECT_EQ(counts.at("Shipped"), 3u);
  EXPECT_EQ(counts.at("On Hold"), 1u);
  EXPECT_EQ(c->column_metrics().at(1).nulls, 1u);
  // More distinct values than kept: the rest share one bucket.
  RowChecker many = c->Fork(false);
  for (size_t i = 0; i < kMaxCategories + 5; ++i) EXPECT_TRUE(many.CheckRecord(Record{std::to_string(i)}).passed());
  EXPECT_EQ(many.column_metrics().at(1).counts.size(), kMaxCategories + 1);
  EXPECT_EQ(many.column_metrics().at(1).counts.at(std::string(kOtherCategory)), 5u);
  auto bad = LoadRules(WriteToml("[[quality.rule]]\ndataset = \"/s\"\ncolumn = \"a\"\ncheck = \"drift\"\n"
                                 "measure = \"mode\"\nmax = 0.1\n"));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(std::string(bad.status().message()).find("`measure` must be \"mean\" (a numeric column) or \"distribution\""),
            std::string::npos)
      << bad.status();
}

// A split's own unique keys: in order, a repeat is the key just before; out
// of order (or numbers in text), every earlier key is still found.
TEST(QualityRowChecker, ASplitsUniqueKeysAreExactInAndOutOfOrder) {
  auto rules = LoadRules(WriteToml("[[quality.rule]]\ndataset = \"/s\"\ncolumns = [\"order\", \"line\"]\n"
                                   "check = \"unique\"\naction = \"reject\"\n"));
  ASSERT_TRUE(rules.ok()) << rules.status();
  auto c = RowChecker::Create(*rules, "/s", {"order", "line", "other"});
  ASSERT_TRUE(c.ok()) << c.status();
  RowChecker split = c->ForkForSplit(0, false);  // split on `order`, part of the key
  std::vector<std::pair<std::string, std::string>> keys;
  for (int order = 10100; order < 10103; ++order) {
    for (int line = 1; line <= 12; ++line) keys.emplace_back(std::to_string(order), std::to_string(line));
  }
  auto repeats = [&](RowChecker& k, const std::vector<std::pair<std::string, std::string>>& in) {
    std::vector<size_t> out;
    for (size_t i = 0; i < in.size(); ++i) {
      if (!k.CheckRecord(Record{in[i].first, in[i].second, "x"}).passed()) out.push_back(i);
    }
    return out;
  };
  std::vector<std::pair<std::string, std::string>> in_order = keys;
  in_order.insert(in_order.begin() + 20, keys[19]);  // (10101, 8) twice in a row
  EXPECT_EQ(repeats(split, in_order), (std::vector<size_t>{20}));
  // Out of order from then on: an old key, a new one, text that is not a number.
  std::vector<std::pair<std::string, std::string>> later = {
      {"10100", "5"}, {"10099", "1"}, {"1a", "2"}, {"10099", "1"}, {"10102", "12"}, {"1a", "2"}, {"10200", "1"}};
  EXPECT_EQ(repeats(split, later), (std::vector<size_t>{0, 3, 4, 5}));
  EXPECT_EQ(split.failed()[0], 5u);
  // Text keys (one with a NUL byte, one a number with a leading zero) kept in
  // order, then each found again after the switch; 7 is not 007.
  RowChecker text = c->ForkForSplit(0, false);
  const std::string nul("b\0c", 3);
  EXPECT_EQ(repeats(text, {{"a", "x"}, {nul, "y"}, {"b\x01", "007"}, {"c", "z"}}), (std::vector<size_t>{}));
  EXPECT_EQ(repeats(text, {{"a", "x"}, {nul, "y"}, {"b\x01", "007"}, {"b\x01", "7"}, {"c", "z"}}),
            (std::vector<size_t>{0, 1, 2, 4}));
  // Whole numbers kept as numbers, then a key with text (still in order: text
  // sorts after numbers), then out of order: every earlier key found, either kind.
  RowChecker mixed = c->ForkForSplit(0, false);
  EXPECT_EQ(repeats(mixed, {{"1", "1"}, {"1", "2"}, {"2", "1"}, {"2", "1"}, {"2", "x"}, {"3", "1"}, {"3", "1"}}),
            (std::vector<size_t>{3, 6}));
  EXPECT_EQ(repeats(mixed, {{"1", "2"}, {"2", "x"}, {"2", "1"}, {"3", "1"}, {"9", "9"}, {"18446744073709551616", "1"}}),
            (std::vector<size_t>{0, 1, 2, 3}));
  // Without the split column in the key, the forks share one set.
  RowChecker a = c->ForkForSplit(2, false), b = c->ForkForSplit(2, false);
  EXPECT_TRUE(a.CheckRecord(Record{"1", "1", "x"}).passed());
  EXPECT_FALSE(b.CheckRecord(Record{"1", "1", "y"}).passed()) << "a repeat across splits";
  // The only split: its own keys, whatever the split column.
  RowChecker only = c->ForkForSplit(std::nullopt, true);
  EXPECT_TRUE(only.CheckRecord(Record{"1", "1", "x"}).passed()) << "not in the shared set";
  EXPECT_FALSE(only.CheckRecord(Record{"1", "1", "x"}).passed());
}

TEST(QualityRowChecker, ForksOnThreadsShareUniqueKeysAndSumTheirCounts) {
  auto rules = LoadRules(WriteToml(R"(
[[quality.rule]]
dataset = "/s"
column = "id"
check = "unique"
action = "reject"
[[quality.rule]]
dataset = "/s"
column = "qty"
check = "range"
min = 1
)"));
  ASSERT_TRUE(rules.ok()) << rules.status();
  auto c = RowChecker::Create(*rules, "/s", {"id", "qty"});
  ASSERT_TRUE(c.ok()) << c.status();
  // Four threads each check ids 0..9999: every id passes once in all.
  std::vector<RowChecker> forks;
  for (int t = 0; t < 4; ++t) forks.push_back(c->Fork());
  std::vector<int> passed(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10000; ++i) {
        std::string id = std::to_string(i);
        if (forks[t].CheckRecord(Record{id, t == 0 ? "0" : "1"}).rule != 0) ++passed[t];
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(passed[0] + passed[1] + passed[2] + passed[3], 10000);
  for (const RowChecker& f : forks) c->AddCounts(f);
  EXPECT_EQ(c->failed(), (std::vector<uint64_t>{30000, 10000}));
}

TEST(QualityRowChecker, ReferencesReadTheOtherDatasetOnceAndAMissingColumnIsNamed) {
  auto rules = LoadRules(WriteToml(R"(
[[quality.rule]]
dataset = "/s"
column = "code"
check = "references"
ref_dataset = "/p"
ref_column = "productCode"
action = "reject"
)"));
  ASSERT_TRUE(rules.ok()) << rules.status();
  int reads = 0;
  auto values = [&](const std::string& dataset, const std::string& column) -> StatusOr<std::vector<std::string>> {
    ++reads;
    EXPECT_EQ(dataset, "/p");
    EXPECT_EQ(column, "productCode");
    return std::vector<std::string>{"S10_1678", "S10_1949"};
  };
  auto c = RowChecker::Create(*rules, "/s", {"code"}, values);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->CheckRecord(Record{"S10_1949"}).passed());
  EXPECT_EQ(c->CheckRecord(Record{"S99_0000"}).reason, "code references /p.productCode: \"S99_0000\"");
  EXPECT_EQ(reads, 1);
  EXPECT_TRUE(absl::IsFailedPrecondition(RowChecker::Create(*rules, "/s", {"code"}).status()));

  auto missing = RowChecker::Create(*rules, "/s", {"id", "name"}, values);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(std::string(missing.status().message()),
            "quality rule 1 (line 2): dataset /s has no column code (its columns: id, name)");
}

TEST(QualityLakeCheck, DatasetsAndColumnsComeFromTheirSchema) {
  auto rules = LoadRules(WriteToml(std::string(kStewardRules)));
  ASSERT_TRUE(rules.ok()) << rules.status();
  std::unique_ptr<lake::Storage> fs = lake::NewMemStorage("quality");
  std::vector<RuleStatus> before = CheckAgainstLake(*rules, fs.get());
  ASSERT_EQ(before.size(), 6u);
  EXPECT_TRUE(before[0].ok);
  EXPECT_EQ(before[0].text, "dataset not imported yet: checked at its first import");
  EXPECT_FALSE(before[4].ok);
  EXPECT_EQ(before[4].text, "referenced dataset /user/sqoop/products does not exist: import it first");

  lake::DatasetSchema sales;
  for (const char* name : {"ORDERNUMBER", "QUANTITYORDERED", "ORDERLINENUMBER", "STATUS", "PRODUCTCODE"}) {
    lake::ColumnSchema c;
    c.name = name;
    c.type = "string";
    sales.columns.push_back(c);
  }
  ASSERT_TRUE(fs->MakeDirs("/user/sqoop/sales").ok());
  ASSERT_TRUE(lake::WriteStringToFile(fs.get(), "/user/sqoop/sales/_schema.json", sales.ToJson()).ok());
  std::vector<RuleStatus> after = CheckAgainstLake(*rules, fs.get());
  for (size_t i : {0u, 1u, 2u, 3u, 5u}) EXPECT_EQ(after[i].text, "ok") << i;
  EXPECT_FALSE(after[4].ok);
  EXPECT_EQ(after[4].text, "referenced dataset /user/sqoop/products does not exist: import it first");

  sales.columns.pop_back();
  ASSERT_TRUE(lake::WriteStringToFile(fs.get(), "/user/sqoop/sales/_schema.json", sales.ToJson(), {.overwrite = true}).ok());
  std::vector<RuleStatus> gone = CheckAgainstLake(*rules, fs.get());
  EXPECT_FALSE(gone[3].ok);
  EXPECT_EQ(gone[3].text,
            "no column PRODUCTCODE in /user/sqoop/sales (its columns: ORDERNUMBER, QUANTITYORDERED, "
            "ORDERLINENUMBER, STATUS)");
}

}  // namespace
}  // namespace comptoir::quality
