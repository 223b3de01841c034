// The engine against an independent computation: SQLite over the same rows.
// Rows are seeded into SQLite, imported into a lake with the real importer,
// loaded by SalesDataset, and every answer is compared with SQL.
#include "comptoir/core/time.h"
#include "comptoir/analytics/sales.h"
#include "comptoir/analytics/sales_view.h"
#include "comptoir/views/views.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>

#include "comptoir/core/strings.h"
#include "comptoir/importer/importer.h"
#include "comptoir/seed/sales.h"
#include "comptoir/source/database.h"
#include "fmt/format.h"

namespace comptoir::analytics {
namespace {

namespace fs = std::filesystem;

// Seeds `rows` into SQLite (synthetic, or the real sample when `csv` is set),
// imports them into `lake_dir` with 3 mappers.
// `change`: SQL run on the seeded table before the import.
void SeedAndImport(const std::string& db, const std::string& lake_dir, uint64_t rows, const std::string& csv,
                   bool avro = false, const std::string& change = "") {
  source::ConnectOptions co;
  co.url = "sqlite://" + db + "?create=1";
  auto conn = source::Connect(co);
  ASSERT_TRUE(conn.ok()) << conn.status();
  std::vector<seed::SalesRow> sample;
  if (!csv.empty()) {
    auto r = seed::ReadSalesCsv(csv, "latin1");
    ASSERT_TRUE(r.ok()) << r.status();
    sample = std::move(*r);
    rows = sample.size();
  }
  seed::SalesGenerator gen(rows, 7);
  size_t next = 0;
  auto filled = seed::CreateAndFill(
      conn->get(), "sales", true,
      [&](std::vector<std::optional<std::string>>* row) -> StatusOr<bool> {
        if (csv.empty()) return gen.Next(row);
        if (next == sample.size()) return false;
        *row = sample[next++];
        return true;
      },
      rows, true);
  ASSERT_TRUE(filled.ok()) << filled.status();
  if (!change.empty()) {
    ASSERT_TRUE((*conn)->Execute(change).ok()) << change;
  }
  importer::ImportOptions o;
  o.connect.url = "sqlite://" + db;
  o.table = "sales";
  o.num_mappers = 3;
  o.quiet = true;
  if (avro) o.format = importer::ImportOptions::Format::kAvro;
  auto lake = lake::NewLocalStorage(lake_dir);
  auto r = importer::RunImport(o, lake.get());
  ASSERT_TRUE(r.ok()) << r.status();
}

class Sql {
 public:
  // The columns the engine serves, copied into a temporary table that shadows
  // the ERP's (the queries scan 12 columns instead of 25).
  explicit Sql(const std::string& path) {
    EXPECT_EQ(sqlite3_open(path.c_str(), &db_), SQLITE_OK);
    EXPECT_EQ(sqlite3_exec(db_,
                           "CREATE TEMP TABLE sales AS SELECT ORDERNUMBER, ORDERLINENUMBER, QUANTITYORDERED, SALES, "
                           "substr(ORDERDATE,1,10) AS ORDERDATE, STATUS, PRODUCTLINE, PRODUCTCODE, CUSTOMERNAME, "
                           "COUNTRY, TERRITORY, DEALSIZE FROM main.sales",
                           nullptr, nullptr, nullptr),
              SQLITE_OK)
        << sqlite3_errmsg(db_);
  }
  ~Sql() { sqlite3_close(db_); }
  // Rows of text values.
  std::vector<std::vector<std::string>> Query(const std::string& sql) {
    sqlite3_stmt* st = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr), SQLITE_OK) << sqlite3_errmsg(db_) << "\n" << sql;
    std::vector<std::vector<std::string>> out;
    while (sqlite3_step(st) == SQLITE_ROW) {
      std::vector<std::string> row;
      for (int i = 0; i < sqlite3_column_count(st); ++i) {
        const unsigned char* t = sqlite3_column_text(st, i);
        row.emplace_back(t ? reinterpret_cast<const char*>(t) : "");
      }
      out.push_back(std::move(row));
    }
    sqlite3_finalize(st);
    return out;
  }

 private:
  sqlite3* db_ = nullptr;
};

std::string Quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("''") : std::string(1, c);
  return q + "'";
}

// The WHERE clause equivalent to a Filter.
std::string Where(const Filter& f) {
  std::vector<std::string> parts = {"1=1"};
  if (f.from_day != INT32_MIN) parts.push_back("substr(ORDERDATE,1,10) >= " + Quote(core::FormatDay(f.from_day)));
  if (f.to_day != INT32_MAX) parts.push_back("substr(ORDERDATE,1,10) <= " + Quote(core::FormatDay(f.to_day)));
  const char* cols[] = {"PRODUCTLINE", "COUNTRY", "STATUS", "DEALSIZE", "TERRITORY"};
  for (int d = 0; d < 5; ++d) {
    if (f.in[static_cast<size_t>(d)].empty()) continue;
    std::vector<std::string> q;
    for (const auto& v : f.in[static_cast<size_t>(d)]) q.push_back(Quote(v));
    parts.push_back(fmt::format("COALESCE({},'') IN ({})", cols[d], Join(q, ",")));
  }
  if (!f.customer.empty()) parts.push_back("instr(lower(CUSTOMERNAME), lower(" + Quote(f.customer) + ")) > 0");
  return Join(parts, " AND ");
}

constexpr const char* kCents = "SUM(CAST(ROUND(SALES * 100) AS INTEGER))";

void ExpectGroups(Sql& sql, const std::string& where, const std::string& key_sql, const std::vector<Group>& got,
                  const std::string& what, bool by_key, size_t top = 0) {
  std::string order = by_key ? "k" : "s DESC, k";
  std::string q = fmt::format("SELECT {} AS k, {} AS s, COUNT(*), COUNT(DISTINCT ORDERNUMBER) FROM sales WHERE {} "
                              "GROUP BY k ORDER BY {}{}",
                              key_sql, kCents, where, order, top ? fmt::format(" LIMIT {}", top) : "");
  auto want = sql.Query(q);
  ASSERT_EQ(got.size(), want.size()) << what << ": " << where;
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(got[i].key, want[i][0]) << what << " #" << i;
    EXPECT_EQ(std::to_string(got[i].sales_cents), want[i][1]) << what << " " << got[i].key;
    EXPECT_EQ(std::to_string(got[i].rows), want[i][2]) << what << " " << got[i].key;
    EXPECT_EQ(std::to_string(got[i].orders), want[i][3]) << what << " " << got[i].key;
  }
}

void ExpectSummary(Sql& sql, const Snapshot& snap, const Filter& f) {
  std::string where = Where(f);
  Summary s = Summarize(snap, f);
  auto t = sql.Query(fmt::format("SELECT COUNT(*), COUNT(DISTINCT ORDERNUMBER), COUNT(DISTINCT CUSTOMERNAME), "
                                 "COALESCE(SUM(QUANTITYORDERED),0), COALESCE({},0) FROM sales WHERE {}",
                                 kCents, where));
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(std::to_string(s.rows), t[0][0]) << where;
  EXPECT_EQ(std::to_string(s.orders), t[0][1]) << where;
  EXPECT_EQ(std::to_string(s.customers), t[0][2]) << where;
  EXPECT_EQ(std::to_string(s.quantity), t[0][3]) << where;
  EXPECT_EQ(std::to_string(s.sales_cents), t[0][4]) << where;
  ExpectGroups(sql, where, "COALESCE(PRODUCTLINE,'')", s.by_productline, "by_productline", false);
  ExpectGroups(sql, where, "COALESCE(STATUS,'')", s.by_status, "by_status", false);
  ExpectGroups(sql, where, "COALESCE(DEALSIZE,'')", s.by_dealsize, "by_dealsize", false);
  ExpectGroups(sql, where, "COALESCE(COUNTRY,'')", s.by_country, "by_country", false);
  ExpectGroups(sql, where, "COALESCE(TERRITORY,'')", s.by_territory, "by_territory", false);
  ExpectGroups(sql, where, "substr(ORDERDATE,1,4)", s.by_year, "by_year", true);
  ExpectGroups(sql, where, "substr(ORDERDATE,1,7)", s.by_month, "by_month", true);
  ExpectGroups(sql, where, "CUSTOMERNAME", s.top_customers, "top_customers", false, 10);
}

// No filter, then `n` random filters (dates, lists, customer substrings,
// a value that matches nothing), each given to `check` until one fails.
void ForRandomFilters(const Snapshot& snap, int n, const std::function<void(const Filter&)>& check) {
  std::mt19937 rng(42);
  auto pick = [&](int d, int max) {
    std::vector<std::string> out;
    const auto& dict = snap.dicts[static_cast<size_t>(d)];
    int count = static_cast<int>(rng() % static_cast<unsigned>(max + 1));
    for (int i = 0; i < count; ++i) out.push_back(dict[rng() % dict.size()]);
    return out;
  };
  check(Filter{});
  for (int i = 0; i < n; ++i) {
    Filter f;
    if (rng() % 2) f.from_day = snap.min_day + static_cast<int32_t>(rng() % 400);
    if (rng() % 2) f.to_day = snap.min_day + 300 + static_cast<int32_t>(rng() % 600);
    for (int d = 0; d < 5; ++d) {
      if (rng() % 3 == 0) f.in[static_cast<size_t>(d)] = pick(d, 3);
    }
    if (rng() % 5 == 0) f.customer = snap.dicts[kCustomer][rng() % snap.dicts[kCustomer].size()].substr(0, 3);
    if (rng() % 17 == 0) f.in[kStatus] = {"No such status"};
    check(f);
    if (::testing::Test::HasFailure()) {
      ADD_FAILURE() << "filter #" << i << ": " << Where(f);
      return;
    }
  }
}

// The summary without a filter, then `n` random filters, each against SQL.
void ExpectRandomSummaries(Sql& sql, const Snapshot& snap, int n) {
  ForRandomFilters(snap, n, [&](const Filter& f) { ExpectSummary(sql, snap, f); });
}

// Seeded rows changed by an SQL statement, imported into a fresh lake; the
// directory goes with it.
struct ChangedDataset {
  ChangedDataset(const std::string& tag, uint64_t rows, const std::string& change)
      : dir(fs::temp_directory_path() / fmt::format("comptoir-analytics-{}-{}", tag, getpid())),
        lake(lake::NewLocalStorage(dir + "/lake")),
        ds(lake.get(), "/user/sqoop/sales") {
    fs::remove_all(dir);
    fs::create_directories(dir);
    SeedAndImport(dir + "/erp.db", dir + "/lake", rows, "", false, change);
  }
  ~ChangedDataset() { fs::remove_all(dir); }
  std::string dir;
  std::unique_ptr<lake::Storage> lake;
  SalesDataset ds;
};

class SalesEngine : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(fs::temp_directory_path() / fmt::format("comptoir-analytics-{}", getpid()));
    fs::remove_all(*dir_);
    fs::create_directories(*dir_);
    SeedAndImport(*dir_ + "/erp.db", *dir_ + "/lake", 100000, "");
  }
  static void TearDownTestSuite() {
    fs::remove_all(*dir_);
    delete dir_;
  }
  static std::string* dir_;
};
std::string* SalesEngine::dir_ = nullptr;

TEST_F(SalesEngine, TwoHundredRandomFiltersEqualSqlite) {
  auto lake = lake::NewLocalStorage(*dir_ + "/lake");
  SalesDataset ds(lake.get(), "/user/sqoop/sales");
  ASSERT_TRUE(ds.Refresh().ok());
  auto snap = ds.snapshot();
  ASSERT_EQ(snap->rows, 100000u);
  ASSERT_EQ(snap->chunks.size(), 3u);
  EXPECT_TRUE(snap->orders_contiguous);
  // The seed's orders have one customer, country, territory, status and date
  // each: those group-bys add up per order; product line and deal size per row.
  for (const auto& k : snap->chunks) {
    EXPECT_EQ(k->order_constant, (std::array<bool, kStringDims>{false, true, true, false, true, true, false}));
    EXPECT_TRUE(k->day_order_constant);
  }
  Sql sql(*dir_ + "/erp.db");
  ExpectRandomSummaries(sql, *snap, 200);
}

// Orders whose lines differ in status and date: those group-bys go row by row,
// with the same results.
TEST(SalesMixedOrders, LinesOfOneOrderWithDifferentStatusesAndDatesEqualSqlite) {
  ChangedDataset d("mixed", 20000,
                   "UPDATE sales SET STATUS = 'Disputed', ORDERDATE = date(ORDERDATE, '+40 days') "
                   "WHERE ORDERLINENUMBER = 2 AND ORDERNUMBER % 3 = 0");
  ASSERT_TRUE(d.ds.Refresh().ok());
  auto snap = d.ds.snapshot();
  ASSERT_EQ(snap->rows, 20000u);
  for (const auto& k : snap->chunks) {
    EXPECT_FALSE(k->order_constant[kStatus]);
    EXPECT_FALSE(k->day_order_constant);
    EXPECT_TRUE(k->order_constant[kCountry]);
  }
  Sql sql(d.dir + "/erp.db");
  ExpectRandomSummaries(sql, *snap, 40);
}

// The sales view of the dataset at `lake`, built and published by the
// embedded engine (views build), loaded as serve loads it.
std::shared_ptr<const Snapshot> BuildAndLoadView(lake::Storage* lake, views::BuildResult* built = nullptr) {
  views::BuildOptions o;
  o.quiet = true;
  auto r = views::BuildSalesView(lake, o);
  EXPECT_TRUE(r.ok()) << r.status();
  if (!r.ok()) return nullptr;
  if (built) *built = *r;
  SalesDataset ds(lake, "/user/sqoop/sales", SalesFrom::kViews, std::string(views::kSalesViewDir));
  Status loaded = ds.Refresh();
  EXPECT_TRUE(loaded.ok()) << loaded;
  return ds.snapshot();
}

// Every time bucket of a view equals the rows' (sales, rows, orders).
void ExpectSameBuckets(const Snapshot& rows, const Snapshot& view, const Filter& f) {
  for (GroupKey k : {GroupKey::kDay, GroupKey::kWeek, GroupKey::kMonth, GroupKey::kQuarter, GroupKey::kYear,
                     GroupKey::kProductLine, GroupKey::kCustomer}) {
    std::vector<Group> a = GroupBy(rows, f, k), b = GroupBy(view, f, k);
    ASSERT_EQ(a.size(), b.size()) << static_cast<int>(k);
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(std::tie(a[i].key, a[i].start, a[i].sales_cents, a[i].rows, a[i].orders, a[i].quantity),
                std::tie(b[i].key, b[i].start, b[i].sales_cents, b[i].rows, b[i].orders, b[i].quantity))
          << "group " << static_cast<int>(k) << " " << a[i].key;
    }
  }
}

TEST_F(SalesEngine, TheSalesViewAnswersTwoHundredRandomFiltersLikeTheRows) {
  auto lake = lake::NewLocalStorage(*dir_ + "/lake");
  SalesDataset raw(lake.get(), "/user/sqoop/sales");
  ASSERT_TRUE(raw.Refresh().ok());
  auto rows = raw.snapshot();
  views::BuildResult built;
  auto view = BuildAndLoadView(lake.get(), &built);
  ASSERT_TRUE(view);
  EXPECT_EQ(view->view.engine, "embedded");
  EXPECT_EQ(view->source_rows, 100000);
  EXPECT_EQ(built.manifest.source_rows, 100000);
  EXPECT_EQ(built.manifest.orders, static_cast<int64_t>(rows->orders));
  ASSERT_TRUE(view->order_sets && view->split_sets);
  EXPECT_EQ(built.manifest.records,
            static_cast<int64_t>(view->rows + view->order_sets->size() + view->split_sets->size()));
  EXPECT_EQ(built.manifest.groups, static_cast<int64_t>(view->order_sets->size() + view->split_sets->size()));
  EXPECT_LT(view->rows, rows->rows) << "the view is smaller than the rows";
  // Every field of the summary, view against rows (which the test above
  // checks against SQLite), and against SQLite itself on a few.
  auto same_groups = [](const std::vector<Group>& a, const std::vector<Group>& b, const char* what) {
    ASSERT_EQ(a.size(), b.size()) << what;
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(std::tie(a[i].key, a[i].sales_cents, a[i].rows, a[i].orders, a[i].quantity),
                std::tie(b[i].key, b[i].sales_cents, b[i].rows, b[i].orders, b[i].quantity))
          << what << " " << a[i].key;
    }
  };
  ForRandomFilters(*rows, 200, [&](const Filter& f) {
    Summary a = Summarize(*rows, f), b = Summarize(*view, f);
    EXPECT_EQ(std::tie(a.rows, a.orders, a.customers, a.quantity, a.sales_cents),
              std::tie(b.rows, b.orders, b.customers, b.quantity, b.sales_cents));
    same_groups(a.by_productline, b.by_productline, "by_productline");
    same_groups(a.by_status, b.by_status, "by_status");
    same_groups(a.by_dealsize, b.by_dealsize, "by_dealsize");
    same_groups(a.by_country, b.by_country, "by_country");
    same_groups(a.by_territory, b.by_territory, "by_territory");
    same_groups(a.by_year, b.by_year, "by_year");
    same_groups(a.by_month, b.by_month, "by_month");
    same_groups(a.top_customers, b.top_customers, "top_customers");
  });
  Sql sql(*dir_ + "/erp.db");
  ExpectRandomSummaries(sql, *view, 15);
  // Time buckets and groups, view against rows, on random filters too.
  std::mt19937 rng(7);
  for (int i = 0; i < 50 && !HasFailure(); ++i) {
    Filter f;
    if (rng() % 2) f.from_day = rows->min_day + static_cast<int32_t>(rng() % 400);
    if (rng() % 2) f.in[kProductLine] = {rows->dicts[kProductLine][rng() % rows->dicts[kProductLine].size()]};
    if (rng() % 2) f.in[kDealSize] = {rows->dicts[kDealSize][rng() % rows->dicts[kDealSize].size()]};
    if (rng() % 3 == 0) f.customer = rows->dicts[kCustomer][rng() % rows->dicts[kCustomer].size()].substr(0, 2);
    ExpectSameBuckets(*rows, *view, f);
  }
}

// Orders whose lines disagree on status and date keep groups of their own:
// still exact.
TEST(SalesMixedOrders, TheViewOfOrdersWithDifferentStatusesAndDatesEqualsSqlite) {
  ChangedDataset d("mixed-view", 20000,
                   "UPDATE sales SET STATUS = 'Disputed', ORDERDATE = date(ORDERDATE, '+40 days') "
                   "WHERE ORDERLINENUMBER = 2 AND ORDERNUMBER % 3 = 0");
  ASSERT_TRUE(d.ds.Refresh().ok());
  views::BuildResult built;
  auto view = BuildAndLoadView(d.lake.get(), &built);
  ASSERT_TRUE(view);
  Sql sql(d.dir + "/erp.db");
  auto split = sql.Query("SELECT COUNT(DISTINCT ORDERNUMBER) FROM sales WHERE ORDERLINENUMBER = 2 AND ORDERNUMBER % 3 = 0 "
                         "AND ORDERNUMBER IN (SELECT ORDERNUMBER FROM sales GROUP BY ORDERNUMBER HAVING COUNT(*) > 1)");
  EXPECT_EQ(std::to_string(built.manifest.split_orders), split[0][0]);
  EXPECT_GT(built.manifest.split_orders, 0);
  ExpectRandomSummaries(sql, *view, 25);
  ExpectSameBuckets(*d.ds.snapshot(), *view, Filter{});
  // The same records dealt out to three parts in reverse order (as a Spark
  // build may write them): groups and an order's records kept apart come in
  // pieces from several parts, out of day order; the answers stay exact.
  const std::string views = d.dir + "/lake" + std::string(views::kSalesViewDir);
  std::vector<std::string> lines;
  {
    std::ifstream in(views + "/part-m-00000");
    for (std::string line; std::getline(in, line);) lines.push_back(line);
  }
  ASSERT_GT(lines.size(), 1000u);
  fs::remove(views + "/part-m-00000");
  {
    std::array<std::ofstream, 3> parts;
    for (size_t i = 0; i < parts.size(); ++i) parts[i].open(fmt::format("{}/part-m-{:05d}", views, i));
    for (size_t i = lines.size(); i-- > 0;) parts[i % 3] << lines[i] << "\n";
  }
  SalesDataset dealt(d.lake.get(), "/user/sqoop/sales", SalesFrom::kViews, std::string(views::kSalesViewDir));
  ASSERT_TRUE(dealt.Refresh().ok());
  auto shuffled = dealt.snapshot();
  ASSERT_EQ(shuffled->chunks.size(), 3u);
  EXPECT_EQ(shuffled->order_sets->size(), view->order_sets->size());
  EXPECT_EQ(shuffled->split_sets->size(), view->split_sets->size());
  EXPECT_GT(shuffled->order_sets->groups(), view->order_sets->groups()) << "groups in pieces";
  ExpectRandomSummaries(sql, *shuffled, 25);
  ExpectSameBuckets(*d.ds.snapshot(), *shuffled, Filter{});
}

// Orders of one customer on one day with the same cells share a group (one
// record per cell counts all of them): distinct orders stay exact.
TEST(SalesMergedOrders, OrderGroupsCountEveryOrderOnceEqualSqlite) {
  ChangedDataset d("merged-view", 20000,
                   "UPDATE sales SET ORDERDATE = date(ORDERDATE, 'start of year'), DEALSIZE = 'Medium', "
                   "PRODUCTLINE = CASE WHEN ORDERNUMBER % 3 = 0 THEN 'Classic Cars' ELSE 'Ships' END");
  views::BuildResult built;
  auto view = BuildAndLoadView(d.lake.get(), &built);
  ASSERT_TRUE(view);
  EXPECT_EQ(built.manifest.split_orders, 0);
  EXPECT_LT(built.manifest.groups * 2, built.manifest.orders) << "most orders share an order set";
  Sql sql(d.dir + "/erp.db");
  EXPECT_EQ(std::to_string(built.manifest.orders), sql.Query("SELECT COUNT(DISTINCT ORDERNUMBER) FROM sales")[0][0]);
  ExpectRandomSummaries(sql, *view, 25);
  ASSERT_TRUE(d.ds.Refresh().ok());
  ExpectSameBuckets(*d.ds.snapshot(), *view, Filter{});
}

TEST_F(SalesEngine, AViewIsRebuiltOnlyWhenItsInputChangedAndServedOnlyWhenCurrent) {
  std::string copy = *dir_ + "/lake-view";
  fs::remove_all(copy);
  fs::copy(*dir_ + "/lake", copy, fs::copy_options::recursive);
  auto lake = lake::NewLocalStorage(copy);
  views::BuildOptions o;
  o.quiet = true;
  auto first = views::BuildSalesView(lake.get(), o);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_FALSE(first->skipped);
  auto again = views::BuildSalesView(lake.get(), o);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->skipped);
  EXPECT_EQ(again->manifest.built_at_ms, first->manifest.built_at_ms);
  SalesDataset ds(lake.get(), "/user/sqoop/sales", SalesFrom::kAuto, std::string(views::kSalesViewDir));
  ASSERT_TRUE(ds.Refresh().ok());
  EXPECT_EQ(ds.snapshot()->view.engine, "embedded");
  EXPECT_EQ(ViewStaleness(lake.get(), "/user/sqoop/sales", std::string(views::kSalesViewDir)), "");
  // The dataset changes (a part removed): auto falls back to the rows, views still serves the old view.
  fs::remove(copy + "/user/sqoop/sales/part-m-00002");
  ASSERT_TRUE(ds.Refresh().ok());
  auto snap = ds.snapshot();
  EXPECT_TRUE(snap->view.engine.empty());
  EXPECT_EQ(snap->path, "/user/sqoop/sales");
  EXPECT_EQ(snap->version, 2u) << "a reload never reuses a version (serve caches answers by version)";
  EXPECT_NE(snap->rows_reason.find("from an older /user/sqoop/sales"), std::string::npos) << snap->rows_reason;
  SalesDataset pinned(lake.get(), "/user/sqoop/sales", SalesFrom::kViews, std::string(views::kSalesViewDir));
  ASSERT_TRUE(pinned.Refresh().ok());
  EXPECT_NE(pinned.snapshot()->view.stale.find("older"), std::string::npos);
  EXPECT_EQ(pinned.snapshot()->source_rows, 100000);
  auto rebuilt = views::BuildSalesView(lake.get(), o);
  ASSERT_TRUE(rebuilt.ok());
  EXPECT_FALSE(rebuilt->skipped);
  ASSERT_TRUE(ds.Refresh().ok());
  EXPECT_EQ(ds.snapshot()->view.engine, "embedded");
  EXPECT_EQ(ds.snapshot()->source_rows, static_cast<int64_t>(snap->rows));
  EXPECT_EQ(Summarize(*ds.snapshot(), Filter{}).sales_cents, Summarize(*snap, Filter{}).sales_cents);
  // No view where --sales-from views asks for one: a clear error.
  SalesDataset none(lake.get(), "/user/sqoop/sales", SalesFrom::kViews, "/user/comptoir/views/none");
  EXPECT_EQ(none.Refresh().message(),
            "no sales view at /user/comptoir/views/none yet; build it with `comptoir views build`");
  // The orders table from the raw parts equals the rows'.
  Filter f;
  f.in[kProductLine] = {"Ships"};
  auto a = Rows(*snap, f, "-sales", 5, 20);
  auto b = RowsFromParts(lake.get(), "/user/sqoop/sales", f, "-sales", 5, 20);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->total, b->total);
  ASSERT_EQ(a->rows.size(), b->rows.size());
  for (size_t i = 0; i < a->rows.size(); ++i) {
    EXPECT_EQ(std::tie(a->rows[i].order_number, a->rows[i].order_line, a->rows[i].customer, a->rows[i].sales_cents),
              std::tie(b->rows[i].order_number, b->rows[i].order_line, b->rows[i].customer, b->rows[i].sales_cents));
  }
  // Missing input: the build says so.
  views::BuildOptions missing = o;
  missing.source = "/user/sqoop/nothing";
  EXPECT_EQ(views::BuildSalesView(lake.get(), missing).status().message(),
            fmt::format("the input /user/sqoop/nothing is missing in file://{}: import it first (comptoir import "
                        "--table sales --target-dir /user/sqoop/nothing)", copy));
  fs::remove_all(copy);
}

TEST_F(SalesEngine, TimeBucketsRowsAndPagingEqualSqlite) {
  auto lake = lake::NewLocalStorage(*dir_ + "/lake");
  SalesDataset ds(lake.get(), "/user/sqoop/sales");
  ASSERT_TRUE(ds.Refresh().ok());
  auto snap = ds.snapshot();
  Sql sql(*dir_ + "/erp.db");
  Filter f;
  f.in[kProductLine] = {"Motorcycles", "Ships"};
  std::string where = Where(f);
  ExpectGroups(sql, where, "substr(ORDERDATE,1,10)", GroupBy(*snap, f, GroupKey::kDay), "day", true);
  ExpectGroups(sql, where, "substr(ORDERDATE,1,4) || '-Q' || ((CAST(substr(ORDERDATE,6,2) AS INTEGER) + 2) / 3)",
               GroupBy(*snap, f, GroupKey::kQuarter), "quarter", true);
  // ISO weeks: the year and day of the year of the week's Thursday.
  ExpectGroups(sql, where, "strftime('%Y', date(ORDERDATE, '-3 days', 'weekday 4')) || '-W' || printf('%02d', "
               "(strftime('%j', date(ORDERDATE, '-3 days', 'weekday 4')) - 1) / 7 + 1)",
               GroupBy(*snap, f, GroupKey::kWeek), "week", true);
  ExpectGroups(sql, where, "PRODUCTCODE", GroupBy(*snap, f, GroupKey::kProductCode, 5), "productcode", false, 5);

  auto page = Rows(*snap, f, "-sales", 20, 10);
  ASSERT_TRUE(page.ok()) << page.status();
  auto want = sql.Query(fmt::format("SELECT ORDERNUMBER, ORDERLINENUMBER, CAST(ROUND(SALES*100) AS INTEGER) FROM sales "
                                    "WHERE {} ORDER BY SALES DESC, ORDERNUMBER DESC, ORDERLINENUMBER DESC LIMIT 10 OFFSET 20",
                                    where));
  auto total = sql.Query("SELECT COUNT(*) FROM sales WHERE " + where);
  EXPECT_EQ(std::to_string(page->total), total[0][0]);
  ASSERT_EQ(page->rows.size(), 10u);
  for (size_t i = 0; i < 10; ++i) {
    EXPECT_EQ(std::to_string(page->rows[i].order_number), want[i][0]);
    EXPECT_EQ(std::to_string(page->rows[i].order_line), want[i][1]);
    EXPECT_EQ(std::to_string(page->rows[i].sales_cents), want[i][2]);
  }
  EXPECT_EQ(Rows(*snap, f, "price", 0, 10).status().message(),
            "'price' is not a sortable column (ordernumber, orderdate, customer, productline, productcode, quantity, "
            "priceeach, sales, status, dealsize, country, territory)");
}

TEST_F(SalesEngine, NewPartsAreFoldedInAndAVanishedPartReloads) {
  std::string copy = *dir_ + "/lake-copy";
  fs::remove_all(copy);
  fs::copy(*dir_ + "/lake", copy, fs::copy_options::recursive);
  std::string sales = copy + "/user/sqoop/sales";
  fs::rename(sales + "/part-m-00002", copy + "/held");
  auto lake = lake::NewLocalStorage(copy);
  SalesDataset ds(lake.get(), "/user/sqoop/sales");
  ASSERT_TRUE(ds.Refresh().ok());
  auto first = ds.snapshot();
  EXPECT_EQ(first->chunks.size(), 2u);
  ASSERT_TRUE(ds.Refresh().ok());
  EXPECT_EQ(ds.snapshot(), first);  // nothing changed: same snapshot, same version
  fs::rename(copy + "/held", sales + "/part-m-00002");  // an --append import's new part
  ASSERT_TRUE(ds.Refresh().ok());
  auto second = ds.snapshot();
  EXPECT_EQ(second->version, first->version + 1);
  EXPECT_EQ(second->rows, 100000u);
  EXPECT_EQ(second->chunks[0], first->chunks[0]);  // not reloaded
  fs::remove(sales + "/part-m-00000");
  ASSERT_TRUE(ds.Refresh().ok());
  auto third = ds.snapshot();
  EXPECT_EQ(third->chunks.size(), 2u);
  EXPECT_EQ(third->rows, 100000u - first->chunks[0]->rows());
  Summary s = Summarize(*third, Filter{});
  EXPECT_EQ(s.rows, static_cast<int64_t>(third->rows));
  fs::remove_all(copy);
}

// Killed past its commit point, a publication leaves a mix of files and no
// _SUCCESS until the next writer finishes it: the engine keeps what it had.
TEST_F(SalesEngine, ACommitUnderWayIsNotLoaded) {
  std::string copy = *dir_ + "/lake-committing";
  fs::remove_all(copy);
  fs::copy(*dir_ + "/lake", copy, fs::copy_options::recursive);
  std::string sales = copy + "/user/sqoop/sales";
  auto lake = lake::NewLocalStorage(copy);
  SalesDataset ds(lake.get(), "/user/sqoop/sales");
  ASSERT_TRUE(ds.Refresh().ok());
  auto before = ds.snapshot();
  fs::remove(sales + "/_SUCCESS");
  fs::remove(sales + "/part-m-00002");  // half of a replacement is in place
  fs::create_directories(sales + "/_temporary/host-1-abc");
  std::ofstream(sales + "/_temporary/host-1-abc/_COMMITTING") << R"({"new": [], "old": []})";
  ASSERT_TRUE(ds.Refresh().ok());
  EXPECT_EQ(ds.snapshot(), before) << "the mix is not loaded";
  SalesDataset fresh(lake.get(), "/user/sqoop/sales");
  Status s = fresh.Refresh();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_EQ(s.message(), "/user/sqoop/sales is being published; its answers come once that ends");
  fs::remove_all(sales + "/_temporary");  // the commit ended (here: without _SUCCESS, as a hand-made dataset)
  ASSERT_TRUE(ds.Refresh().ok());
  EXPECT_EQ(ds.snapshot()->rows, 100000u - before->chunks[2]->rows());
  fs::remove_all(copy);
}

TEST_F(SalesEngine, BadPartsAndMissingDatasetsAreClearErrors) {
  std::string copy = *dir_ + "/lake-bad";
  fs::remove_all(copy);
  fs::create_directories(copy + "/user/sqoop/sales");
  fs::copy(*dir_ + "/lake/user/sqoop/sales/_schema.json", copy + "/user/sqoop/sales/_schema.json");
  {
    std::ofstream(copy + "/user/sqoop/sales/part-m-00000")
        << "10100,30,95.70,1,abc,2003-01-06T00:00:00,Shipped,1,1,2003,Motorcycles,95,S10_1678,Land,1,a,\\N,c,d,e,"
           "USA,NA,x,y,Small\n";
  }
  auto lake = lake::NewLocalStorage(copy);
  SalesDataset ds(lake.get(), "/user/sqoop/sales");
  EXPECT_EQ(ds.Refresh().message(), "/user/sqoop/sales/part-m-00000:1: SALES is not an amount: 'abc'");
  EXPECT_EQ(ds.snapshot()->rows, 0u);  // nothing half-loaded
  SalesDataset none(lake.get(), "/user/sqoop/nothing");
  EXPECT_TRUE(absl::IsNotFound(none.Refresh()));
  fs::remove_all(copy);
}

// A part larger than the parser's 8 MB block, with a 5 MB record across a
// block boundary: the block grows and nothing is lost or split.
TEST(SalesLoad, ARecordLongerThanHalfAParseBlockLoadsWhole) {
  ChangedDataset d("long", 60000,
                   "UPDATE sales SET CUSTOMERNAME = CUSTOMERNAME || printf('%.*c', 5000000, 'x') WHERE rowid = 39900");
  ASSERT_TRUE(d.ds.Refresh().ok());
  auto snap = d.ds.snapshot();
  ASSERT_EQ(snap->rows, 60000u);
  uint64_t biggest = 0;
  for (const auto& k : snap->chunks) biggest = std::max(biggest, k->size);
  EXPECT_GT(biggest, uint64_t{8} << 20);
  size_t longest = 0;
  for (const std::string& c : snap->dicts[kCustomer]) longest = std::max(longest, c.size());
  EXPECT_GT(longest, 5000000u);
  Sql sql(d.dir + "/erp.db");
  ExpectSummary(sql, *snap, Filter{});
}

TEST(SalesSample, AvroPartsLoadLikeText) {
  std::string dir = fs::temp_directory_path() / fmt::format("comptoir-analytics-avro-{}", getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);
  SeedAndImport(dir + "/erp.db", dir + "/lake", 0, COMPTOIR_SHARED_DATA_DIR "/sales_data_sample.csv", true);
  auto lake = lake::NewLocalStorage(dir + "/lake");
  SalesDataset ds(lake.get(), "/user/sqoop/sales");
  Status loaded = ds.Refresh();
  ASSERT_TRUE(loaded.ok()) << loaded.ToString();
  auto snap = ds.snapshot();
  EXPECT_TRUE(fs::exists(dir + "/lake/user/sqoop/sales/part-m-00000.avro"));
  Summary s = Summarize(*snap, Filter{});
  EXPECT_EQ(s.rows, 2823);
  EXPECT_EQ(s.sales_cents, 1003262885);
  Sql sql(dir + "/erp.db");
  ExpectSummary(sql, *snap, Filter{});
  Filter f;
  f.from_day = *core::ParseDay("2003-06-01");
  f.to_day = *core::ParseDay("2004-06-30");
  ExpectSummary(sql, *snap, f);
  fs::remove_all(dir);
}

TEST(SalesSample, TheRealSalesDataSampleToTheCent) {
  std::string dir = fs::temp_directory_path() / fmt::format("comptoir-analytics-sample-{}", getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);
  SeedAndImport(dir + "/erp.db", dir + "/lake", 0, COMPTOIR_SHARED_DATA_DIR "/sales_data_sample.csv");
  auto lake = lake::NewLocalStorage(dir + "/lake");
  SalesDataset ds(lake.get(), "/user/sqoop/sales");
  ASSERT_TRUE(ds.Refresh().ok());
  auto snap = ds.snapshot();
  Summary s = Summarize(*snap, Filter{});
  EXPECT_EQ(s.rows, 2823);
  EXPECT_EQ(s.orders, 307);
  EXPECT_EQ(s.customers, 92);
  EXPECT_EQ(s.sales_cents, 1003262885);  // $10,032,628.85
  Sql sql(dir + "/erp.db");
  ExpectSummary(sql, *snap, Filter{});
  Filter f;
  f.from_day = *core::ParseDay("2004-01-01");
  f.to_day = *core::ParseDay("2004-12-31");
  f.in[kDealSize] = {"Large"};
  ExpectSummary(sql, *snap, f);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace comptoir::analytics
