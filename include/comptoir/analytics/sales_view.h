// The sales view: the batch view serve answers the Sales tab from when the
// raw rows outgrow one process (docs/views.md). Two kinds of records:
//
// - Cube records, one per (date, status, customer, country, territory,
//   product line, deal size): the lines, quantity and sales of that cell.
//   Every dashboard filter keeps or drops whole cube records, so sums, line
//   counts and distinct customers are exact.
// - Order-set records, one per (date, status, customer, country, territory,
//   set of (product line, deal size) cells): how many orders have exactly
//   those order-level values and cells (CELLS, a JSON list of the pairs).
//   An order passes a filter when its order-level values do and one of its
//   cells does, so distinct orders per filter and per group are exact too.
//   An order whose lines disagree on an order-level value gets records of
//   its own (ORDERNUMBER set, ORDERS = 1 each), counted once per result.
//
// The size is bounded by the days × customers × statuses × cells actually
// seen, not by the rows. `_view.json` beside the records says which input
// the view was built from (the dataset's parts with their sizes and times),
// by which engine, when.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "comptoir/analytics/sales.h"
#include "comptoir/core/status.h"
#include "comptoir/lake/dataset.h"
#include "comptoir/lake/storage.h"

namespace comptoir::analytics {

inline constexpr std::string_view kViewManifest = "_view.json";

// The view's columns, in file order.
lake::DatasetSchema SalesViewSchema();

// A dataset's parts as a view records them: names, sizes and times of its
// visible files and of its _schema.json, and a fingerprint of all of them.
struct InputPart {
  std::string name;
  uint64_t size = 0;
  int64_t mtime_ms = 0;
};
struct InputSignature {
  std::vector<InputPart> parts;
  std::string fingerprint;  // 16 hex digits
};
// NotFound when `dir` holds no published dataset (`require_success`: no
// _SUCCESS; else no part at all). Visible subdirectories (an archive's
// `dt=YYYY-MM-DD/`) are signed too, their files named "dt=.../part-...".
StatusOr<InputSignature> SignInput(lake::Storage* lake, const std::string& dir, bool require_success = true);

struct ViewManifest {
  std::string view = "sales";  // sales | transactions
  int version = 1;
  std::string engine;     // embedded | spark
  std::string source;     // the dataset's directory
  std::string lake;       // the lake's URI
  InputSignature input;
  int64_t built_at_ms = 0;
  int64_t build_ms = 0;
  int64_t source_rows = 0;  // raw rows read
  int64_t records = 0;      // view records written
  int64_t orders = 0;       // distinct orders
  int64_t groups = 0;       // order groups
  int64_t split_orders = 0;  // orders whose lines disagree on an order-level column
  std::string spark_master, spark_app;  // engine spark

  std::string ToJson() const;
  static StatusOr<ViewManifest> Parse(std::string_view json, const std::string& origin);
};
// `<dir>/_view.json`; NotFound when there is none.
StatusOr<ViewManifest> ReadViewManifest(lake::Storage* lake, const std::string& dir);

// Whether the view at `view_dir` answers for `dataset` now: "" when it does,
// else why not (no view, built from another dataset, built before the
// dataset last changed).
std::string ViewStaleness(lake::Storage* lake, const std::string& dataset, const std::string& view_dir);
// The same for a manifest already read.
std::string ViewStaleness(lake::Storage* lake, const std::string& dataset, const ViewManifest& m);

// One record of the view (cube when `cells` is empty).
struct ViewRecord {
  int32_t day = 0;
  std::string status, customer, country, territory;
  std::string product_line, deal_size;  // cube records
  std::string cells;                    // order-set records: [["PRODUCTLINE","DEALSIZE"],...] sorted
  int64_t order_number = 0;             // order-set records of an order kept apart, else 0
  int64_t orders = 0, lines = 0, quantity = 0, sales_cents = 0;
};
// The view as the embedded engine computes it: compact records in the raw
// snapshot's dictionary codes (the snapshot must outlive the table),
// materialized one at a time by Record().
struct ViewTable {
  struct Cube {
    int32_t day;
    uint32_t st, cu, co, te, pl, ds;
    int64_t lines, qty, sales;
  };
  struct Set {
    int64_t apart;  // the order's number when kept apart, else 0
    int32_t day;
    uint32_t st, cu, co, te, cells;  // cells: index into cell_sets
    int64_t orders;
  };
  const Snapshot* raw = nullptr;
  std::vector<Cube> cube;              // sorted by day, then codes
  std::vector<Set> sets;               // the same
  std::vector<std::string> cell_sets;  // CELLS texts
  int64_t source_rows = 0, orders = 0, split_orders = 0;
  size_t size() const { return cube.size() + sets.size(); }
  int64_t groups() const { return static_cast<int64_t>(sets.size()); }
  ViewRecord Record(size_t i) const;
};
// The view of a snapshot of raw rows (the embedded engine).
ViewTable ComputeSalesView(const Snapshot& raw);
// The record as a text line of the view's schema (no line end).
std::string ViewRecordText(const ViewRecord& r);

// --- The daily view of the archived transactions -------------------------------------
// `/user/comptoir/views/transactions`: one record per (day, status, product
// line) of the archive's events (days in UTC, of each event's `ts`), with
// the events, their quantity and revenue. The Live tab's days before today.
lake::DatasetSchema TransactionsViewSchema();
struct DailyRecord {
  int32_t day = 0;
  std::string status, product_line;
  int64_t events = 0, quantity = 0, revenue_cents = 0;
};
struct DailyTable {
  std::vector<DailyRecord> records;  // sorted by (day, status, product line)
  int64_t events = 0, files = 0;
};
// Reads every archive file under `archive_dir` (`dt=*/part-*.jsonl[.gz|.zst]`).
// DataLoss names the file and line of an event that does not parse.
StatusOr<DailyTable> ComputeTransactionsView(lake::Storage* lake, const std::string& archive_dir);
std::string DailyRecordText(const DailyRecord& r);
// The records of a published daily view (NotFound when there is none).
StatusOr<std::vector<DailyRecord>> ReadTransactionsView(lake::Storage* lake, const std::string& dir);

}  // namespace comptoir::analytics
