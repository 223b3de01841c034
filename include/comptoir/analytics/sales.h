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
#include <deque>
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
  // A sales view's cube records (docs/views.md): each stands for `lines`
  // rows; `orders` is 0 (the view's order sets count orders). Empty for raw
  // rows, where both are 1. In a view the raw-only columns (order_number,
  // order_line, price_cents) are empty and order_id numbers the records.
  std::vector<uint32_t> lines;
  std::vector<uint32_t> orders;
  // Dimensions with one value per order (checked at load): a scan adds these
  // up per order instead of per row.
  std::array<bool, kStringDims> order_constant{};
  bool day_order_constant = false;
  // Rows sorted by day (a view's records; raw rows mostly not): a date range
  // scans only its own rows.
  bool day_sorted = false;
  size_t rows() const { return day.size(); }
};

// A sales view's order-set records (sales_view.h), grouped by their
// order-level values: group g (a day and its status, customer, country and
// territory codes) holds records first[g] .. first[g + 1] - 1, each the set of
// (product line, deal size) cells of its orders (a bit per entry of
// Snapshot::cells) and how many orders have exactly that set. A query tests
// the order-level filters once per group and only the cells per record:
// 12 bytes a record. Records of an order kept apart (Snapshot::split_sets)
// are groups of one record each, with the order's number.
struct OrderSets {
  // The order-level dimensions, in the order of StartGroup's and GroupCodes' arrays.
  static constexpr std::array<int, 4> kDims = {kStatus, kCustomer, kCountry, kTerritory};
  std::vector<int32_t> day;                              // per group
  std::array<std::vector<uint32_t>, kStringDims> codes;  // per group: status, customer, country, territory
  std::vector<int64_t> order_number;                     // per group, split_sets only
  std::vector<uint32_t> first{0};                        // per group, then the end
  std::vector<uint64_t> mask;                            // per record
  std::vector<uint32_t> orders;                          // per record
  size_t size() const { return mask.size(); }
  size_t groups() const { return day.size(); }
  // A new group for the records added next (`number`: an order kept apart).
  void StartGroup(int32_t d, const std::array<uint32_t, 4>& c, int64_t number = 0) {
    day.push_back(d);
    for (size_t i = 0; i < kDims.size(); ++i) codes[static_cast<size_t>(kDims[i])].push_back(c[i]);
    if (number != 0) order_number.push_back(number);
    first.push_back(first.back());
  }
  // A record of the last group.
  void Add(uint64_t cells, uint32_t n) {
    mask.push_back(cells), orders.push_back(n);
    first.back() = static_cast<uint32_t>(mask.size());
  }
  std::array<uint32_t, 4> GroupCodes(size_t g) const {
    std::array<uint32_t, 4> c;
    for (size_t i = 0; i < kDims.size(); ++i) c[i] = codes[static_cast<size_t>(kDims[i])][g];
    return c;
  }
};

// Where serve's sales numbers come from (`serve --sales-from`).
enum class SalesFrom { kAuto, kViews, kRows };
// "auto" | "views" | "rows"; InvalidArgument names the text.
StatusOr<SalesFrom> ParseSalesFrom(std::string_view text);

// The view a snapshot was loaded from (empty `engine` for raw rows).
struct ViewOrigin {
  std::string dir;            // the view's directory
  std::string engine;         // "embedded" | "spark"
  int64_t built_at_ms = 0;
  std::string stale;          // why it is not current ("" when it is)
};

struct Snapshot {
  std::string path;  // the directory loaded: the dataset, or its view
  ViewOrigin view;   // set when loaded from a sales view
  std::string rows_reason;  // auto mode on raw rows: why not from the view
  int64_t source_rows = 0;  // raw rows represented (== rows unless a view)
  uint64_t version = 0;
  std::vector<std::shared_ptr<const Chunk>> chunks;
  std::array<std::vector<std::string>, kStringDims> dicts;
  // A view's order sets: records of orders that agree on their order-level
  // values, then those that do not (sorted by order number), and the cells
  // their masks index: (product line code, deal size code).
  std::shared_ptr<const OrderSets> order_sets, split_sets;
  std::vector<std::pair<uint32_t, uint32_t>> cells;
  // Records loaded: rows, or a view's cube records and order sets.
  size_t records() const {
    return rows + (order_sets ? order_sets->size() : 0) + (split_sets ? split_sets->size() : 0);
  }
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
  int64_t min_cents = 0;  // smallest and largest sale: GroupBy() on raw rows only, else 0
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
  std::shared_ptr<std::deque<std::string>> strings;  // what `rows` point into (RowsFromParts)
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

// The raw rows of a dataset read part by part, one part in memory at a
// time: the orders table when serve answers from a sales view.
class PartRows {
 public:
  // NotFound when `dir` holds no dataset.
  static StatusOr<PartRows> Open(lake::Storage* lake, std::string dir);
  // ForEachRow() over the parts from where the last call stopped.
  Status ForEach(const Filter& f, const std::function<bool(const RowView&)>& row);
  bool done() const { return next_ >= parts_.size() && (current_ == nullptr || cursor_.done); }

 private:
  lake::Storage* lake_ = nullptr;
  std::string dir_;
  std::vector<lake::FileInfo> parts_;
  size_t next_ = 0;
  std::shared_ptr<const Snapshot> current_;
  RowCursor cursor_;
};
// Rows() over the raw parts of `dir` (PartRows).
StatusOr<RowsPage> RowsFromParts(lake::Storage* lake, const std::string& dir, const Filter& f, std::string_view sort,
                                 size_t offset, size_t limit);


class SalesDataset {
 public:
  // `path` is the raw dataset; `views_dir` its sales view (views/), used as
  // `from` says: kAuto uses the view when it was built from the dataset's
  // current parts, kViews only the view, kRows only the rows.
  SalesDataset(lake::Storage* lake, std::string path, SalesFrom from = SalesFrom::kRows,
               std::string views_dir = {});
  ~SalesDataset();
  // Folds in new part files; reloads on a vanished or changed file.
  // NotFound when the dataset does not exist (yet).
  Status Refresh();
  // The current snapshot (never null; empty before the first load).
  std::shared_ptr<const Snapshot> snapshot() const;
  const std::string& path() const { return path_; }

 private:
  struct State;
  // The directory to load now and, for a view, where it came from.
  struct Choice {
    std::string dir;
    ViewOrigin view;
    std::string rows_reason;
  };
  StatusOr<Choice> Choose();
  Status Load(const Choice& c);

  lake::Storage* lake_;
  std::string path_;
  SalesFrom from_;
  std::string views_dir_;
  std::unique_ptr<State> state_;
  mutable std::mutex mu_;
  std::shared_ptr<const Snapshot> current_;
};

}  // namespace comptoir::analytics
