// The ERP's `sales` table: the 25 columns of the Sample Sales Data, its DDL
// per dialect, a deterministic synthetic generator and the CSV loader.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "comptoir/core/status.h"
#include "comptoir/source/database.h"

namespace comptoir::seed {

struct SalesColumn {
  std::string_view name;
  std::string_view sql_type;  // portable spelling; DATETIME becomes TIMESTAMP on PostgreSQL
  bool nullable;
};

// The 25 columns in the CSV's order.
const std::vector<SalesColumn>& SalesColumns();
std::vector<std::string> SalesColumnNames(source::Dialect dialect);

// CREATE TABLE for `table` in `dialect`, primary key (ORDERNUMBER,
// ORDERLINENUMBER). PostgreSQL gets lower-case names (its convention).
std::string SalesDdl(source::Dialect dialect, std::string_view table,
                     const source::Connection& conn);

using SalesRow = std::vector<std::optional<std::string>>;

// Deterministic synthetic rows shaped like the real data: 7 product lines,
// 109 products with MSRP, 92 customers in 19 countries and 4 territories,
// Shipped ~93 %, orders from 2003-01 to 2005-05 with several lines each,
// DEALSIZE from SALES (3000/7000). Money is computed in integer cents.
// One generated order line before any text formatting (the fast path of
// the stream simulator). The views stay valid until the next call.
struct SalesLine {
  int64_t order_number = 0;
  int order_line = 0;
  int64_t quantity = 0;
  int64_t price_each_cents = 0;
  int64_t sales_cents = 0;
  int64_t day = 0;  // days since 2003-01-06
  int msrp = 0;
  std::string_view status, product_line, product_code, customer, country, territory, deal_size;
  size_t customer_index = 0;
};

class SalesGenerator {
 public:
  SalesGenerator(uint64_t rows, uint64_t seed);
  // Fills `row` with the next row; false after `rows` rows.
  bool Next(SalesRow* row);
  // The same row, unformatted.
  bool NextLine(SalesLine* line);

 private:
  void StartOrder();
  uint64_t NextRandom();
  uint64_t Uniform(uint64_t n) { return NextRandom() % n; }

  uint64_t rows_;
  uint64_t produced_ = 0;
  uint64_t state_;
  int64_t order_number_ = 10099;
  int lines_left_ = 0;
  int line_ = 0;
  int64_t day_ = 0;  // days since 2003-01-06
  size_t customer_ = 0;
  std::string_view status_;  // a literal: stable, so its address identifies it
};

// Creates `table` (dropping it first when `drop`) and bulk-loads the rows of
// `next`, drawing a progress bar over `total` rows unless `quiet`. On failure
// the half-filled table is dropped. Returns the rows loaded.
StatusOr<uint64_t> CreateAndFill(source::Connection* conn, const std::string& table, bool drop,
                                 const source::RowSource& next, uint64_t total, bool quiet);

// Reads the Sample Sales Data CSV (header line, 25 columns, month-first
// dates) and converts it to rows. `encoding` is utf-8 (checked: invalid
// bytes fail with the line and a hint to pass --encoding), latin1, cp1252 or
// cp437. Empty ADDRESSLINE2/STATE/POSTALCODE/TERRITORY fields become NULL; "NA" is kept.
StatusOr<std::vector<SalesRow>> ReadSalesCsv(const std::string& path, const std::string& encoding);

// Converts `data` from `encoding` to UTF-8 (glibc iconv). For utf-8, checks
// validity and returns InvalidArgument naming the 1-based line of the first
// bad byte.
StatusOr<std::string> ToUtf8(std::string_view data, const std::string& encoding,
                             std::string_view what);

// "2/24/2003 0:00" -> "2003-02-24 00:00:00".
StatusOr<std::string> ParseMonthFirstDate(std::string_view text);

}  // namespace comptoir::seed
