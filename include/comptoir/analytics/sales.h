// The analytics engine over the imported sales history (`/user/sqoop/sales`).
//
// A SalesDataset loads a lake dataset's text part files (read per its
// `_schema.json`) into columns: strings dictionary-encoded, money as exact
// integer cents, dates as day numbers, order numbers mapped to dense ids.
// Refresh() lists the directory again and folds new part files in (an
// `--append` import) without reloading the others; a file that vanished or
// changed (a `--merge-key` swap, a re-import) reloads the whole dataset. Each
// change bumps the version.
//
// Queries run on an immutable Snapshot, so they never block loading: one fused
// scan over the filtered rows computes the totals and every group at once,
// split across threads at order boundaries. Distinct orders per group are
// counted exactly: rows of one order are kept together (each part is sorted
// by order at load), so a group counts an order when it changes.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "comptoir/core/status.h"
#include "comptoir/lake/storage.h"

namespace comptoir::analytics {

// The string dimensions, in the order of Chunk::codes.
enum StringDim : int {
  kProductLine = 0,
  kCountry,
  kStatus,
  kDealSize,
  kTerritory,
  kCustomer,
  kProductCode,
  kStringDims
};

// Group-by keys: the string dimensions and time buckets.
enum class GroupKey {
  kProductLine, kCountry, kStatus, kDealSize, kTerritory, kCustomer, kProductCode,
  kYear, kQuarter, kMonth, kWeek, kDay
};
// "productline", "year", ... -> key; InvalidArgument names the text.
StatusOr<GroupKey> ParseGroupKey(std::string_view name);

// Rows of one part file; immutable once published in a snapshot.
struct Chunk {
  std::string file;  // lake path
  uint64_t size = 0;
  int64_t mtime_ms = 0;
  std::vector<int64_t> order_number;
  std::vector<uint32_t> order_id;  // dense, per dataset
  std::vector<int32_t> order_line;
  std::vector<int32_t> day;  // days since 1970-01-01
  std::vector<int32_t> quantity;
  std::vector<int64_t> price_cents;
  std::vector<int64_t> sales_cents;
  std::array<std::vector<uint32_t>, kStringDims> codes;
  // Dimensions with one value per order (checked at load): a scan adds these
  // up per order instead of per row.
  std::array<bool, kStringDims> order_constant{};
  bool day_order_constant = false;
  size_t rows() const { return day.size(); }
};

struct Snapshot {
  std::string path;
  uint64_t version = 0;
  std::vector<std::shared_ptr<const Chunk>> chunks;
  std::array<std::vector<std::string>, kStringDims> dicts;
  size_t rows = 0;
  uint32_t orders = 0;           // distinct order numbers
  bool orders_contiguous = true;  // every order's rows are in one run
  int32_t min_day = 0, max_day = -1;
  int64_t loaded_at_ms = 0;
};

// Filters of the sales endpoints. Empty lists mean "any".
struct Filter {
  int32_t from_day = INT32_MIN;  // inclusive
  int32_t to_day = INT32_MAX;    // inclusive
  std::array<std::vector<std::string>, kStringDims> in;  // productline, country, status, dealsize, territory
  std::string customer;  // case-insensitive substring
  std::string CacheKey() const;
};

struct Group {
  std::string key;
  int64_t sales_cents = 0;
  int64_t rows = 0;
  int64_t orders = 0;
  int64_t quantity = 0;
  int64_t min_cents = 0;  // smallest and largest sale: GroupBy() only, 0 in a Summary
  int64_t max_cents = 0;
  std::string start;  // time buckets: the bucket's first day (YYYY-MM-DD)
};

struct Summary {
  int64_t rows = 0;
  int64_t orders = 0;
  int64_t customers = 0;
  int64_t quantity = 0;
  int64_t sales_cents = 0;
  std::vector<Group> by_productline, by_status, by_dealsize, by_country, by_territory, by_year,
      by_month, top_customers;
};

// The summary of the filtered rows (groups sorted by sales descending, years
// and months by key; top 10 customers).
Summary Summarize(const Snapshot& s, const Filter& f);
// One group-by: sorted by key for time buckets, by sales descending otherwise;
// `top` > 0 keeps the first `top` groups.
std::vector<Group> GroupBy(const Snapshot& s, const Filter& f, GroupKey key, size_t top = 0);

// One row of the orders table.
struct RowView {
  int64_t order_number;
  int32_t order_line;
  int32_t day;
  std::string_view customer, product_line, product_code, status, deal_size, country, territory;
  int32_t quantity;
  int64_t price_cents;
  int64_t sales_cents;
};
// Sortable columns of Rows(): ordernumber, orderdate, customer, productline,
// productcode, quantity, priceeach, sales, status, dealsize, country, territory.
struct RowsPage {
  int64_t total = 0;
  std::vector<RowView> rows;
};
// `sort` is a column name, '-' in front for descending. InvalidArgument names a bad column.
StatusOr<RowsPage> Rows(const Snapshot& s, const Filter& f, std::string_view sort, size_t offset, size_t limit);
// Where a row scan resumes.
struct RowCursor {
  size_t chunk = 0;
  size_t row = 0;
  bool done = false;
};
// Calls `row` for every filtered row, in storage order, from `cursor` (when
// given); stops after a call that returns false, leaving the cursor after that row.
void ForEachRow(const Snapshot& s, const Filter& f, const std::function<bool(const RowView&)>& row,
                RowCursor* cursor = nullptr);


class SalesDataset {
 public:
  SalesDataset(lake::Storage* lake, std::string path);
  ~SalesDataset();
  // Folds in new part files; reloads on a vanished or changed file.
  // NotFound when the dataset does not exist (yet).
  Status Refresh();
  // The current snapshot (never null; empty before the first load).
  std::shared_ptr<const Snapshot> snapshot() const;
  const std::string& path() const { return path_; }

 private:
  struct State;
  lake::Storage* lake_;
  std::string path_;
  std::unique_ptr<State> state_;
  mutable std::mutex mu_;
  std::shared_ptr<const Snapshot> current_;
};

}  // namespace comptoir::analytics
