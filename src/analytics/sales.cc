#include "comptoir/analytics/sales.h"
#include "comptoir/analytics/sales_view.h"

#include <absl/container/flat_hash_map.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <climits>
#include <cstring>
#include <numeric>
#include <queue>
#include <thread>

#include "comptoir/core/time.h"
#include "comptoir/core/decimal.h"
#include "comptoir/core/strings.h"
#include "comptoir/core/time.h"
#include "comptoir/lake/avro.h"
#include "comptoir/lake/compression.h"
#include "comptoir/lake/dataset.h"
#include "comptoir/lake/publish.h"
#include "comptoir/lake/text_scan.h"

namespace comptoir::analytics {
namespace {

namespace chr = std::chrono;

chr::year_month_day Civil(int32_t day) { return chr::year_month_day(chr::sys_days(chr::days(day))); }
using core::DayOf;
using core::FormatDay;

// --- Loading --------------------------------------------------------------------------

// The columns the engine reads, by their names in the sales table.
enum Col { cOrder, cLine, cDate, cQty, cPrice, cSales, cProductLine, cCountry, cStatus, cDealSize,
           cTerritory, cCustomer, cProductCode, cLines, cOrders, cCells, kCols };
constexpr std::array<std::string_view, kCols> kColNames = {
    "ORDERNUMBER", "ORDERLINENUMBER", "ORDERDATE", "QUANTITYORDERED", "PRICEEACH", "SALES", "PRODUCTLINE",
    "COUNTRY", "STATUS", "DEALSIZE", "TERRITORY", "CUSTOMERNAME", "PRODUCTCODE", "LINES", "ORDERS", "CELLS"};
// A sales view's names where they differ (sales_view.h).
constexpr std::array<std::string_view, kCols> kViewColNames = {
    "ORDERNUMBER", "", "ORDERDATE", "QUANTITY", "", "SALES", "PRODUCTLINE",
    "COUNTRY", "STATUS", "DEALSIZE", "TERRITORY", "CUSTOMERNAME", "", "LINES", "ORDERS", "CELLS"};
constexpr int kStringColBase = cProductLine;  // cProductLine + StringDim

struct Layout {
  lake::DatasetSchema schema;
  std::array<int, kCols> index;  // field index per column, -1 = absent
  int fields = 0;
  lake::Codec codec = lake::Codec::kNone;
  bool avro = false;
  bool view = false;  // a sales view's records
};

StatusOr<Layout> ReadLayout(lake::Storage* lake, const std::string& dir) {
  Layout l;
  ASSIGN_OR_RETURN(l.schema, lake::ReadDatasetSchema(lake, dir));
  l.avro = l.schema.format == lake::DatasetSchema::Format::kAvro;
  if (!l.avro) {  // Avro files compress their blocks themselves ("null", "deflate")
    ASSIGN_OR_RETURN(l.codec, lake::ParseCodec(l.schema.codec));
  }
  l.fields = static_cast<int>(l.schema.columns.size());
  l.view = l.schema.ColumnIndex("CELLS") >= 0;
  const auto& names = l.view ? kViewColNames : kColNames;
  for (int c = 0; c < kCols; ++c) {
    std::string_view name = names[static_cast<size_t>(c)];
    l.index[static_cast<size_t>(c)] = name.empty() ? -1 : l.schema.ColumnIndex(name);
  }
  std::vector<Col> required = {cOrder, cDate, cSales};
  if (l.view) required.insert(required.end(), {cQty, cLines, cOrders, cCells});
  for (Col c : required) {
    if (l.index[c] < 0) {
      return absl::FailedPreconditionError(StrCat(dir, ": the dataset has no ", names[c], " column; serve needs ",
                                                  l.view ? "a sales view (views build)" : "the sales table"));
    }
  }
  return l;
}

// A part file parsed with its own dictionaries (merged into the dataset's later).
struct Parsed {
  Chunk chunk;
  std::array<std::vector<std::string>, kStringDims> dict;
  // A view's order-set records in the part's own codes, their masks in the
  // part's own cell bits: `cells`, (product line, deal size) codes per bit.
  OrderSets sets, apart;
  std::vector<std::pair<uint32_t, uint32_t>> cells;
};

// Sorts a chunk's rows by order number (stable), so each order is one run.
void SortByOrder(Chunk* k) {
  if (std::is_sorted(k->order_number.begin(), k->order_number.end())) return;
  std::vector<uint32_t> perm(k->rows());
  std::iota(perm.begin(), perm.end(), 0u);
  std::stable_sort(perm.begin(), perm.end(),
                   [&](uint32_t a, uint32_t b) { return k->order_number[a] < k->order_number[b]; });
  auto apply = [&](auto& v) {
    if (v.empty()) return;  // a view has no line numbers or prices
    auto copy = v;
    for (size_t i = 0; i < perm.size(); ++i) v[i] = copy[perm[i]];
  };
  apply(k->order_number);
  apply(k->order_line);
  apply(k->day);
  apply(k->quantity);
  apply(k->price_cents);
  apply(k->sales_cents);
  for (auto& c : k->codes) apply(c);
  apply(k->lines);
  apply(k->orders);
}

// Which dimensions are the same on every row of an order (in the sample data:
// customer, country, territory, status and the date, not the product line or
// the deal size); the scan adds those up per order instead of per row. Rows
// must be sorted by order.
void MarkOrderConstant(Chunk* k) {
  const size_t n = k->rows();
  const int64_t* order = k->order_number.data();
  auto constant = [&](const auto& v) {
    for (size_t i = 1; i < n; ++i) {
      if (order[i] == order[i - 1] && v[i] != v[i - 1]) return false;
    }
    return true;
  };
  for (int d = 0; d < kStringDims; ++d) k->order_constant[static_cast<size_t>(d)] = constant(k->codes[static_cast<size_t>(d)]);
  k->day_order_constant = constant(k->day);
}

// A dictionary under construction: string -> code, looked up by string_view.
struct DictHash {
  using is_transparent = void;
  size_t operator()(absl::string_view v) const { return absl::Hash<absl::string_view>{}(v); }
};
struct DictEq {
  using is_transparent = void;
  bool operator()(absl::string_view a, absl::string_view b) const {
    return SameBytes(std::string_view(a.data(), a.size()), std::string_view(b.data(), b.size()));
  }
};
using LocalDict = absl::flat_hash_map<std::string, uint32_t, DictHash, DictEq>;

class ChunkBuilder {
 public:
  ChunkBuilder(const Layout& l, std::string file) : l_(l), file_(std::move(file)) {}

  // One record's fields (NULL = nullopt-like: `null` true).
  Status Add(const std::vector<std::string_view>& f, const std::vector<uint8_t>& null, size_t line) {
    if (static_cast<int>(f.size()) < l_.fields) {
      return absl::DataLossError(fmt::format("{}:{}: {} fields where the schema has {}", file_, line, f.size(), l_.fields));
    }
    auto field = [&](Col c) -> std::string_view {
      int i = l_.index[c];
      return i < 0 || null[static_cast<size_t>(i)] ? std::string_view() : f[static_cast<size_t>(i)];
    };
    auto integer = [&](Col c, auto* out) -> Status {
      std::string_view v = field(c);
      *out = 0;
      if (v.empty()) return absl::OkStatus();
      auto r = std::from_chars(v.data(), v.data() + v.size(), *out);
      if (r.ec != std::errc() || r.ptr != v.data() + v.size()) {
        return absl::DataLossError(fmt::format("{}:{}: {} is not an integer: '{}'", file_, line, kColNames[c], v));
      }
      return absl::OkStatus();
    };
    auto money = [&](Col c, int64_t* out) -> Status {
      std::string_view v = field(c);
      *out = 0;
      if (v.empty()) return absl::OkStatus();
      StatusOr<int64_t> cents = core::ParseCents(v);
      if (!cents.ok()) {
        return absl::DataLossError(fmt::format("{}:{}: {} is not an amount: '{}'", file_, line, kColNames[c], v));
      }
      *out = *cents;
      return absl::OkStatus();
    };
    Chunk& k = p_.chunk;
    int64_t order = 0, price = 0, sales = 0;
    int32_t line_no = 0, qty = 0, day = 0;
    if (l_.view) {
      int32_t view_day = 0;
      if (!core::ParseDateText(field(cDate), &view_day)) {
        return absl::DataLossError(fmt::format("{}:{}: ORDERDATE is not a date: '{}'", file_, line, field(cDate)));
      }
      uint32_t lines = 0, orders = 0;
      RETURN_IF_ERROR(integer(cLines, &lines));
      RETURN_IF_ERROR(integer(cOrders, &orders));
      if (int i = l_.index[cCells]; !null[static_cast<size_t>(i)]) {  // an order set
        if (orders == 0) return absl::DataLossError(fmt::format("{}:{}: an order set of no orders", file_, line));
        int64_t split = 0;
        RETURN_IF_ERROR(integer(cOrder, &split));
        ASSIGN_OR_RETURN(uint64_t mask, CellMask(f[static_cast<size_t>(i)], line));
        auto code = [&](int d) { return Intern(d, field(static_cast<Col>(kStringColBase + d))); };
        const std::array<uint32_t, 4> c{code(kStatus), code(kCustomer), code(kCountry), code(kTerritory)};
        if (split != 0) {  // an order kept apart: a group of its own
          p_.apart.StartGroup(view_day, c, split);
          p_.apart.Add(mask, orders);
          return absl::OkStatus();
        }
        // Records of one group are next to each other in a view's parts.
        OrderSets& o = p_.sets;
        if (o.groups() == 0 || o.day.back() != view_day || o.GroupCodes(o.groups() - 1) != c) o.StartGroup(view_day, c);
        o.Add(mask, orders);
        return absl::OkStatus();
      }
      if (lines == 0) return absl::DataLossError(fmt::format("{}:{}: a view record of no lines", file_, line));
      k.lines.push_back(lines);
      k.orders.push_back(0);  // cube records carry no orders: the order sets do
      order = static_cast<int64_t>(k.rows());  // each its own "order": no run spans two records
      k.order_number.push_back(order);
    } else {
      RETURN_IF_ERROR(integer(cOrder, &order));
      k.order_number.push_back(order);
    }
    RETURN_IF_ERROR(integer(cLine, &line_no));
    RETURN_IF_ERROR(integer(cQty, &qty));
    RETURN_IF_ERROR(money(cPrice, &price));
    RETURN_IF_ERROR(money(cSales, &sales));
    if (!core::ParseDateText(field(cDate), &day)) {
      return absl::DataLossError(fmt::format("{}:{}: ORDERDATE is not a date: '{}'", file_, line, field(cDate)));
    }
    k.quantity.push_back(qty);
    if (!l_.view) k.order_line.push_back(line_no), k.price_cents.push_back(price);
    k.sales_cents.push_back(sales);
    k.day.push_back(day);
    for (int d = 0; d < kStringDims; ++d) {
      k.codes[static_cast<size_t>(d)].push_back(Intern(d, field(static_cast<Col>(kStringColBase + d))));
    }
    return absl::OkStatus();
  }

  // The part's code of `v` in dimension `d`.
  uint32_t Intern(int d, std::string_view v) {
    auto& dict = p_.dict[static_cast<size_t>(d)];
    uint32_t& last = last_code_[static_cast<size_t>(d)];
    if (last < dict.size() && SameBytes(dict[last], v)) return last;  // the lines of one order repeat their strings
    auto& codes = local_[static_cast<size_t>(d)];
    auto it = codes.find(absl::string_view(v.data(), v.size()));
    if (it == codes.end()) {
      last = static_cast<uint32_t>(dict.size());
      dict.emplace_back(v);
      codes.emplace(std::string(v), last);
    } else {
      last = it->second;
    }
    return last;
  }

  // Room for `scale` times the records read so far (no regrowth of the
  // columns while parsing).
  void Reserve(double scale) {
    auto more = [scale](size_t n) { return static_cast<size_t>(static_cast<double>(n) * scale); };
    Chunk& k = p_.chunk;
    const size_t rows = more(k.rows());
    k.order_number.reserve(rows), k.day.reserve(rows), k.quantity.reserve(rows), k.sales_cents.reserve(rows);
    for (auto& c : k.codes) c.reserve(rows);
    if (l_.view) {
      k.lines.reserve(rows), k.orders.reserve(rows);
      for (OrderSets* o : {&p_.sets, &p_.apart}) {
        o->mask.reserve(more(o->size())), o->orders.reserve(more(o->size()));
        o->day.reserve(more(o->groups())), o->first.reserve(more(o->groups()) + 1);
        for (int d : OrderSets::kDims) o->codes[static_cast<size_t>(d)].reserve(more(o->groups()));
      }
    } else {
      k.order_line.reserve(rows), k.price_cents.reserve(rows);
    }
  }
  size_t records() const { return p_.chunk.rows() + p_.sets.size() + p_.apart.size(); }

  // Sorted by order, constant dimensions marked (on the parsing thread).
  Parsed Finish() {
    SortByOrder(&p_.chunk);
    MarkOrderConstant(&p_.chunk);
    Chunk& k = p_.chunk;
    k.day_sorted = std::is_sorted(k.day.begin(), k.day.end());
    if (l_.view) k.order_number = {};  // each record its own "order": order_id numbers them
    return std::move(p_);
  }

 private:
  // A view's CELLS, a JSON list of [product line, deal size] pairs, as the
  // part's cell bits (new pairs get the next bits). The last texts seen are
  // kept (a few thousand sets of cells recur throughout a view).
  StatusOr<uint64_t> CellMask(std::string_view text, size_t line) {
    if (auto it = cell_masks_.find(absl::string_view(text.data(), text.size())); it != cell_masks_.end()) return it->second;
    struct Pairs : nlohmann::json_sax<nlohmann::json> {  // exactly [[string, string], ...]
      std::vector<std::string> items;
      int depth = 0;
      size_t in_pair = 0;
      bool null() override { return false; }
      bool boolean(bool) override { return false; }
      bool number_integer(number_integer_t) override { return false; }
      bool number_unsigned(number_unsigned_t) override { return false; }
      bool number_float(number_float_t, const string_t&) override { return false; }
      bool string(string_t& v) override {
        items.push_back(std::move(v));
        return depth == 2 && ++in_pair <= 2;
      }
      bool binary(binary_t&) override { return false; }
      bool start_object(std::size_t) override { return false; }
      bool key(string_t&) override { return false; }
      bool end_object() override { return false; }
      bool start_array(std::size_t) override {
        in_pair = 0;
        return ++depth <= 2;
      }
      bool end_array() override { return depth-- != 2 || in_pair == 2; }
      bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override { return false; }
    } pairs;
    uint64_t mask = 0;
    const bool ok = nlohmann::json::sax_parse(text, &pairs) && !pairs.items.empty();
    for (size_t i = 0; ok && i + 1 < pairs.items.size(); i += 2) {
      std::pair<uint32_t, uint32_t> cell{Intern(kProductLine, pairs.items[i]), Intern(kDealSize, pairs.items[i + 1])};
      auto bit = std::find(p_.cells.begin(), p_.cells.end(), cell) - p_.cells.begin();
      if (bit == static_cast<ptrdiff_t>(p_.cells.size())) {
        if (bit == 64) {
          return absl::FailedPreconditionError(StrCat(
              file_, ": the view has more than 64 (product line, deal size) pairs, more than serve can count "
                     "orders over; serve it with --sales-from rows"));
        }
        p_.cells.push_back(cell);
      }
      mask |= uint64_t{1} << bit;
    }
    if (!ok) {
      return absl::DataLossError(fmt::format("{}:{}: CELLS '{}' is not a list of [product line, deal size] pairs; "
                                             "rebuild the view", file_, line, text.substr(0, 200)));
    }
    if (cell_masks_.size() >= kCellMasksKept) cell_masks_.clear();
    cell_masks_.emplace(std::string(text), mask);
    return mask;
  }

  static constexpr size_t kCellMasksKept = 1 << 16;
  const Layout& l_;
  std::string file_;
  Parsed p_;
  std::array<LocalDict, kStringDims> local_;
  absl::flat_hash_map<std::string, uint64_t> cell_masks_;
  std::array<uint32_t, kStringDims> last_code_ = [] {
    std::array<uint32_t, kStringDims> a;
    a.fill(UINT32_MAX);
    return a;
  }();
};

// A part file: text parts through the lake's fast scanner, Avro parts
// through its reader (each field in the text spelling).
StatusOr<Parsed> ParsePart(lake::Storage* lake, const Layout& l, const lake::FileInfo& info) {
  ChunkBuilder b(l, info.path);
  std::vector<std::string_view> fields;
  std::vector<uint8_t> null;
  if (l.avro) {
    ASSIGN_OR_RETURN(std::unique_ptr<lake::AvroFileReader> reader, lake::AvroFileReader::Open(lake, info.path, l.schema));
    while (true) {
      ASSIGN_OR_RETURN(bool more, reader->Next(&fields, &null));
      if (!more) break;
      RETURN_IF_ERROR(b.Add(fields, null, reader->record()));
    }
    return b.Finish();
  }
  ASSIGN_OR_RETURN(std::unique_ptr<lake::TextScanner> scanner,
                   lake::TextScanner::Open(lake, info, l.schema.text, l.codec));
  const bool plain = lake::CodecForName(info.name) == lake::Codec::kNone && l.codec == lake::Codec::kNone;
  constexpr size_t kSampleRecords = 4096;
  while (true) {
    ASSIGN_OR_RETURN(bool more, scanner->Next(&fields, &null));
    if (!more) break;
    RETURN_IF_ERROR(b.Add(fields, null, scanner->line()));
    if (b.records() == kSampleRecords && plain) {
      // The columns' final size, from the first records' length and the file's.
      b.Reserve(static_cast<double>(info.size) / static_cast<double>(scanner->consumed()) * 1.02);
    }
  }
  return b.Finish();
}

// --- Querying ---------------------------------------------------------------------------

struct Compiled {
  int32_t from = INT32_MIN, to = INT32_MAX;
  std::vector<std::pair<int, std::vector<uint8_t>>> masks;  // (dim, allowed codes)
  bool empty = false;  // a filter value that matches nothing
};

Compiled Compile(const Snapshot& s, const Filter& f) {
  Compiled c;
  c.from = f.from_day;
  c.to = f.to_day;
  for (int d = 0; d < kStringDims; ++d) {
    const auto& want = f.in[static_cast<size_t>(d)];
    if (want.empty()) continue;
    const auto& dict = s.dicts[static_cast<size_t>(d)];
    std::vector<uint8_t> mask(dict.size(), 0);
    bool any = false;
    for (size_t i = 0; i < dict.size(); ++i) {
      if (std::find(want.begin(), want.end(), dict[i]) != want.end()) mask[i] = 1, any = true;
    }
    if (!any) c.empty = true;
    c.masks.emplace_back(d, std::move(mask));
  }
  if (!f.customer.empty()) {
    const auto& dict = s.dicts[kCustomer];
    std::string needle = ToLower(f.customer);
    std::vector<uint8_t> mask(dict.size(), 0);
    bool any = false;
    for (size_t i = 0; i < dict.size(); ++i) {
      if (ToLower(dict[i]).find(needle) != std::string::npos) mask[i] = 1, any = true;
    }
    if (!any) c.empty = true;
    c.masks.emplace_back(kCustomer, std::move(mask));
  }
  return c;
}

inline bool Pass(const Compiled& c, const Chunk& k, size_t i) {
  int32_t d = k.day[i];
  if (d < c.from || d > c.to) return false;
  for (const auto& [dim, mask] : c.masks) {
    if (!mask[k.codes[static_cast<size_t>(dim)][i]]) return false;
  }
  return true;
}

bool IsTime(GroupKey k) { return k >= GroupKey::kYear; }

// Time bucket of each day of the snapshot's range, and the buckets' names.
struct TimeBuckets {
  std::vector<uint32_t> slot;  // per day - min_day
  std::vector<std::string> key, start;
};

TimeBuckets MakeBuckets(const Snapshot& s, GroupKey key) {
  TimeBuckets t;
  if (s.max_day < s.min_day) return t;
  absl::flat_hash_map<int64_t, uint32_t> ids;
  t.slot.resize(static_cast<size_t>(s.max_day - s.min_day + 1));
  for (int32_t day = s.min_day; day <= s.max_day; ++day) {
    chr::year_month_day ymd = Civil(day);
    int y = static_cast<int>(ymd.year());
    unsigned m = static_cast<unsigned>(ymd.month());
    int64_t id = 0;
    std::string name, first;
    switch (key) {
      case GroupKey::kYear:
        id = y, name = fmt::format("{}", y), first = fmt::format("{}-01-01", y);
        break;
      case GroupKey::kQuarter: {
        unsigned q = (m - 1) / 3 + 1;
        id = y * 4 + q, name = fmt::format("{}-Q{}", y, q), first = FormatDay(DayOf(y, (q - 1) * 3 + 1, 1));
        break;
      }
      case GroupKey::kMonth:
        id = y * 12 + m, name = fmt::format("{}-{:02d}", y, m), first = FormatDay(DayOf(y, m, 1));
        break;
      case GroupKey::kWeek: {
        // ISO weeks: Monday first; the week belongs to the year of its Thursday.
        int32_t monday = day - ((day + 3) % 7 + 7) % 7;  // 1970-01-01 was a Thursday
        chr::year_month_day th = Civil(monday + 3);
        int iso_year = static_cast<int>(th.year());
        int week = (monday + 3 - DayOf(iso_year, 1, 1)) / 7 + 1;
        id = monday, name = fmt::format("{}-W{:02d}", iso_year, week), first = FormatDay(monday);
        break;
      }
      default:
        id = day, name = FormatDay(day), first = name;
        break;
    }
    auto [it, added] = ids.emplace(id, static_cast<uint32_t>(t.key.size()));
    if (added) {
      t.key.push_back(std::move(name));
      t.start.push_back(std::move(first));
    }
    t.slot[static_cast<size_t>(day - s.min_day)] = it->second;
  }
  return t;
}

struct Acc {
  int64_t sales = 0, rows = 0, orders = 0, qty = 0;
  int64_t min = INT64_MAX, max = INT64_MIN;
  uint32_t last_order = UINT32_MAX;
};

// One group-by inside a fused scan.
struct Plan {
  GroupKey key;
  bool minmax = false;   // also the smallest and largest sale (GroupBy only)
  int dim = -1;          // string dimension, or -1 for time
  TimeBuckets buckets;   // time keys
  size_t slots = 0;
};

struct ScanResult {
  Acc total;
  std::vector<uint8_t> customers;
  std::vector<std::vector<Acc>> groups;              // per plan, per slot
  std::vector<std::vector<std::vector<uint64_t>>> order_bits;  // non-contiguous orders: per plan, per slot
};

struct Range {
  const Chunk* chunk;
  size_t begin, end;
};

// Work ranges of about 256k rows that end on order boundaries; in a chunk
// sorted by day, only the rows of the filter's date range.
std::vector<Range> Ranges(const Snapshot& s, const Compiled& c) {
  std::vector<Range> out;
  constexpr size_t kRows = 256 << 10;
  for (const auto& k : s.chunks) {
    size_t b = 0, n = k->rows();
    if (k->day_sorted) {
      b = static_cast<size_t>(std::lower_bound(k->day.begin(), k->day.end(), c.from) - k->day.begin());
      n = static_cast<size_t>(std::upper_bound(k->day.begin(), k->day.end(), c.to) - k->day.begin());
    }
    while (b < n) {
      size_t e = std::min(n, b + kRows);
      while (e < n && k->order_id[e] == k->order_id[e - 1]) ++e;
      out.push_back({k.get(), b, e});
      b = e;
    }
  }
  return out;
}

// `weight`: the orders a view record's group holds (1 for raw rows; always 1
// when orders are not contiguous, which the loader checks).
void CountOrder(Acc* a, std::vector<uint64_t>* bits, uint32_t order, uint32_t weight, bool contiguous,
                size_t orders) {
  if (contiguous) {
    if (a->last_order != order) a->last_order = order, a->orders += weight;
    return;
  }
  if (bits->empty()) bits->assign((orders + 63) / 64, 0);
  (*bits)[order / 64] |= uint64_t{1} << (order % 64);
}

// The fused scan: every group-by of a query in one pass over the filtered
// rows, split across threads at order boundaries. Not split into smaller
// functions: its inner loop (the `work` lambda) is the engine's hot path, and
// keeping the per-row and per-order paths in one body keeps them inlined and
// their state in registers (measured in bench/analytics: splitting cost ~15%).
ScanResult Scan(const Snapshot& s, const Compiled& c, std::vector<Plan>& plans) {
  ScanResult total;
  const bool contiguous = s.orders_contiguous;
  auto init = [&](ScanResult* r) {
    r->customers.assign(s.dicts[kCustomer].size(), 0);
    r->groups.resize(plans.size());
    r->order_bits.resize(plans.size());
    for (size_t p = 0; p < plans.size(); ++p) {
      r->groups[p].assign(plans[p].slots, Acc{});
      if (!contiguous) r->order_bits[p].assign(plans[p].slots, {});
    }
  };
  init(&total);
  if (c.empty || s.rows == 0) return total;
  std::vector<uint64_t> total_bits;
  std::vector<Range> ranges = Ranges(s, c);
  size_t threads = std::max<size_t>(1, std::min<size_t>(ranges.size(), std::thread::hardware_concurrency()));
  std::vector<ScanResult> parts(threads);
  std::vector<std::vector<uint64_t>> part_total_bits(threads);
  std::atomic<size_t> next{0};
  // Column at a time over blocks of rows: the filter makes a selection vector,
  // then each group-by runs its own tight loop over it (no per-row dispatch on
  // the kind of group, the block's columns stay in cache).
  auto work = [&](size_t t) {
    ScanResult& r = parts[t];
    init(&r);
    constexpr size_t kBlock = 4096;
    std::vector<uint32_t> sel;
    sel.reserve(kBlock);
    struct Run {
      uint32_t first;
      int64_t rows, sales, qty;
    };
    std::vector<Run> runs;
    runs.reserve(kBlock);
    for (size_t ri; (ri = next.fetch_add(1)) < ranges.size();) {
      const Range& g = ranges[ri];
      const Chunk& k = *g.chunk;
      const int64_t* sales = k.sales_cents.data();
      const int32_t* qty = k.quantity.data();
      const uint32_t* order = k.order_id.data();
      const int32_t* day = k.day.data();
      // A view's records stand for several lines and orders (raw rows: 1).
      const uint32_t* lines = k.lines.empty() ? nullptr : k.lines.data();
      const uint32_t* group_orders = k.orders.empty() ? nullptr : k.orders.data();
      auto lw = [lines](uint32_t i) -> int64_t { return lines ? lines[i] : 1; };
      auto ow = [group_orders](uint32_t i) -> uint32_t { return group_orders ? group_orders[i] : 1; };
      for (size_t b = g.begin; b < g.end; b += kBlock) {
        size_t e = std::min(g.end, b + kBlock);
        sel.clear();
        for (size_t i = b; i < e; ++i) {
          if (Pass(c, k, i)) sel.push_back(static_cast<uint32_t>(i));
        }
        if (sel.empty()) continue;
        Acc& a = r.total;
        const uint32_t* customer = k.codes[kCustomer].data();
        for (uint32_t i : sel) {
          a.sales += sales[i], a.rows += lw(i), a.qty += qty[i];
          CountOrder(&a, &part_total_bits[t], order[i], ow(i), contiguous, s.orders);
          r.customers[customer[i]] = 1;
        }
        // The selected rows of each order, added up once for the group-bys
        // whose key is the same on all of an order's rows.
        runs.clear();
        for (uint32_t i : sel) {
          if (runs.empty() || order[runs.back().first] != order[i]) {
            runs.push_back({i, lw(i), sales[i], qty[i]});
          } else {
            Run& run = runs.back();
            run.rows += lw(i), run.sales += sales[i], run.qty += qty[i];
          }
        }
        for (size_t p = 0; p < plans.size(); ++p) {
          const Plan& plan = plans[p];
          Acc* accs = r.groups[p].data();
          auto count_order = [&](Acc& x, uint32_t slot, uint32_t i) {
            CountOrder(&x, contiguous ? nullptr : &r.order_bits[p][slot], order[i], ow(i), contiguous, s.orders);
          };
          auto update = [&](uint32_t i, uint32_t slot) {
            Acc& x = accs[slot];
            x.sales += sales[i], x.rows += lw(i), x.qty += qty[i];
            if (plan.minmax) x.min = std::min(x.min, sales[i]), x.max = std::max(x.max, sales[i]);
            count_order(x, slot, i);
          };
          auto add_run = [&](const Run& run, uint32_t slot) {
            Acc& x = accs[slot];
            x.sales += run.sales, x.rows += run.rows, x.qty += run.qty;
            count_order(x, slot, run.first);
          };
          bool per_order = !plan.minmax && (plan.dim >= 0 ? k.order_constant[static_cast<size_t>(plan.dim)]
                                                          : k.day_order_constant);
          if (plan.dim >= 0) {
            const uint32_t* codes = k.codes[static_cast<size_t>(plan.dim)].data();
            if (per_order) {
              for (const Run& run : runs) add_run(run, codes[run.first]);
            } else {
              for (uint32_t i : sel) update(i, codes[i]);
            }
          } else {
            const uint32_t* lut = plan.buckets.slot.data();
            if (per_order) {
              for (const Run& run : runs) add_run(run, lut[day[run.first] - s.min_day]);
            } else {
              for (uint32_t i : sel) update(i, lut[day[i] - s.min_day]);
            }
          }
        }
      }
    }
  };
  std::vector<std::thread> pool;
  for (size_t t = 1; t < threads; ++t) pool.emplace_back(work, t);
  work(0);
  for (auto& th : pool) th.join();
  // Merge. Contiguous orders never straddle two ranges, so counts add up.
  auto merge_bits = [](std::vector<uint64_t>* into, const std::vector<uint64_t>& from) {
    if (from.empty()) return;
    if (into->empty()) into->assign(from.size(), 0);
    for (size_t w = 0; w < from.size(); ++w) (*into)[w] |= from[w];
  };
  auto popcount = [](const std::vector<uint64_t>& b) {
    int64_t n = 0;
    for (uint64_t w : b) n += __builtin_popcountll(w);
    return n;
  };
  for (size_t t = 0; t < threads; ++t) {
    const ScanResult& r = parts[t];
    total.total.sales += r.total.sales, total.total.rows += r.total.rows, total.total.qty += r.total.qty;
    total.total.orders += r.total.orders;
    merge_bits(&total_bits, part_total_bits[t]);
    for (size_t i = 0; i < r.customers.size(); ++i) total.customers[i] |= r.customers[i];
    for (size_t p = 0; p < plans.size(); ++p) {
      for (size_t sl = 0; sl < plans[p].slots; ++sl) {
        Acc& x = total.groups[p][sl];
        const Acc& y = r.groups[p][sl];
        x.sales += y.sales, x.rows += y.rows, x.qty += y.qty, x.orders += y.orders;
        x.min = std::min(x.min, y.min), x.max = std::max(x.max, y.max);
        if (!contiguous) merge_bits(&total.order_bits[p][sl], r.order_bits[p][sl]);
      }
    }
  }
  if (!contiguous) {
    total.total.orders = popcount(total_bits);
    for (size_t p = 0; p < plans.size(); ++p) {
      for (size_t sl = 0; sl < plans[p].slots; ++sl) total.groups[p][sl].orders = popcount(total.order_bits[p][sl]);
    }
  }
  return total;
}

// A view's distinct orders (sales_view.h): an order set passes when its
// group's order-level values do and one of its cells passes the product line
// and deal size filters; it adds its orders to the total and to every group
// it reaches (a product line or deal size group when one of its passing cells
// is in it, else its group's value or time bucket, added once per group).
// Records of one order kept apart count that order once per result. The
// scan's order counts are 0 for a view: these are added to them.
void CountOrderSets(const Snapshot& s, const Compiled& c, const std::vector<Plan>& plans, ScanResult* out) {
  if (!s.order_sets || c.empty) return;
  const std::vector<uint8_t>* lines_in = nullptr;
  const std::vector<uint8_t>* deals_in = nullptr;
  std::vector<std::pair<int, const std::vector<uint8_t>*>> order_level;
  for (const auto& [dim, mask] : c.masks) {
    if (dim == kProductLine) lines_in = &mask;
    else if (dim == kDealSize) deals_in = &mask;
    else order_level.emplace_back(dim, &mask);
  }
  uint64_t sel = 0;
  for (size_t b = 0; b < s.cells.size(); ++b) {
    auto [pl, ds] = s.cells[b];
    if ((lines_in == nullptr || (*lines_in)[pl]) && (deals_in == nullptr || (*deals_in)[ds])) sel |= uint64_t{1} << b;
  }
  if (sel == 0) return;
  // Plans by a cell's value: each group's passing cells. The others take a
  // group's value or time bucket.
  std::vector<std::pair<size_t, std::vector<std::pair<uint32_t, uint64_t>>>> cell_plans;
  std::vector<size_t> group_plans;
  for (size_t p = 0; p < plans.size(); ++p) {
    if (plans[p].dim != kProductLine && plans[p].dim != kDealSize) {
      if (plans[p].dim < 0 || plans[p].dim == kStatus || plans[p].dim == kCustomer || plans[p].dim == kCountry ||
          plans[p].dim == kTerritory) {
        group_plans.push_back(p);
      }
      continue;
    }
    std::map<uint32_t, uint64_t> by_slot;
    for (size_t b = 0; b < s.cells.size(); ++b) {
      if (!(sel >> b & 1)) continue;
      by_slot[plans[p].dim == kProductLine ? s.cells[b].first : s.cells[b].second] |= uint64_t{1} << b;
    }
    cell_plans.emplace_back(p, std::vector<std::pair<uint32_t, uint64_t>>(by_slot.begin(), by_slot.end()));
  }
  auto group_passes = [&](const OrderSets& o, size_t g) {
    if (o.day[g] < c.from || o.day[g] > c.to) return false;
    for (const auto& [dim, mask] : order_level) {
      if (!(*mask)[o.codes[static_cast<size_t>(dim)][g]]) return false;
    }
    return true;
  };
  auto group_slot = [&](const OrderSets& o, size_t g, const Plan& plan) {
    return plan.dim < 0 ? plan.buckets.slot[static_cast<size_t>(o.day[g] - s.min_day)]
                        : o.codes[static_cast<size_t>(plan.dim)][g];
  };
  // Groups of orders that agree on their order-level values (sorted by day:
  // only the date range's), on every core.
  const OrderSets& o = *s.order_sets;
  const size_t lo = static_cast<size_t>(std::lower_bound(o.day.begin(), o.day.end(), c.from) - o.day.begin());
  const size_t hi = static_cast<size_t>(std::upper_bound(o.day.begin(), o.day.end(), c.to) - o.day.begin());
  const size_t span = hi > lo ? hi - lo : 0;
  const size_t records = span == 0 ? 0 : o.first[hi] - o.first[lo];
  size_t threads = std::max<size_t>(1, std::min<size_t>(std::thread::hardware_concurrency(), records / 65536 + 1));
  std::vector<std::vector<std::vector<int64_t>>> counts(threads);  // per thread, plan, slot
  std::vector<int64_t> totals(threads, 0);
  auto work = [&](size_t t) {
    auto& mine = counts[t];
    mine.resize(plans.size());
    for (size_t p = 0; p < plans.size(); ++p) mine[p].assign(plans[p].slots, 0);
    for (size_t g = lo + span * t / threads, e = lo + span * (t + 1) / threads; g < e; ++g) {
      if (!group_passes(o, g)) continue;
      int64_t n = 0;
      for (uint32_t r = o.first[g]; r < o.first[g + 1]; ++r) {
        const uint64_t m = o.mask[r] & sel;
        if (m == 0) continue;
        const int64_t k = o.orders[r];
        n += k;
        for (const auto& [p, cells] : cell_plans) {
          for (const auto& [slot, bits] : cells) {
            if (m & bits) mine[p][slot] += k;
          }
        }
      }
      totals[t] += n;
      if (n == 0) continue;
      for (size_t p : group_plans) mine[p][group_slot(o, g, plans[p])] += n;
    }
  };
  std::vector<std::thread> pool;
  for (size_t t = 1; t < threads; ++t) pool.emplace_back(work, t);
  work(0);
  for (auto& th : pool) th.join();
  for (size_t t = 0; t < threads; ++t) {
    out->total.orders += totals[t];
    for (size_t p = 0; p < plans.size(); ++p) {
      for (size_t sl = 0; sl < plans[p].slots; ++sl) out->groups[p][sl].orders += counts[t][p][sl];
    }
  }
  // Orders kept apart (a group of one record each, an order's next to each
  // other): once per result, however many of their records pass.
  const OrderSets& a = *s.split_sets;
  std::vector<std::vector<uint32_t>> reached(plans.size());
  for (size_t b = 0; b < a.groups();) {
    size_t e = b;
    while (e < a.groups() && a.order_number[e] == a.order_number[b]) ++e;
    bool any = false;
    for (auto& r : reached) r.clear();
    for (size_t g = b; g < e; ++g) {
      const uint64_t m = a.mask[a.first[g]] & sel;
      if (m == 0 || !group_passes(a, g)) continue;
      any = true;
      for (const auto& [p, cells] : cell_plans) {
        for (const auto& [slot, bits] : cells) {
          if (m & bits) reached[p].push_back(slot);
        }
      }
      for (size_t p : group_plans) reached[p].push_back(group_slot(a, g, plans[p]));
    }
    if (any) ++out->total.orders;
    for (size_t p = 0; p < plans.size(); ++p) {
      std::sort(reached[p].begin(), reached[p].end());
      reached[p].erase(std::unique(reached[p].begin(), reached[p].end()), reached[p].end());
      for (uint32_t slot : reached[p]) ++out->groups[p][slot].orders;
    }
    b = e;
  }
}

Plan MakePlan(const Snapshot& s, GroupKey key) {
  Plan p;
  p.key = key;
  if (IsTime(key)) {
    p.buckets = MakeBuckets(s, key);
    p.slots = p.buckets.key.size();
  } else {
    p.dim = static_cast<int>(key);
    p.slots = s.dicts[static_cast<size_t>(p.dim)].size();
  }
  return p;
}

std::vector<Group> Groups(const Snapshot& s, const Plan& p, const std::vector<Acc>& accs, size_t top) {
  std::vector<Group> out;
  for (size_t sl = 0; sl < accs.size(); ++sl) {
    const Acc& a = accs[sl];
    if (a.rows == 0) continue;
    Group g;
    g.key = p.dim >= 0 ? s.dicts[static_cast<size_t>(p.dim)][sl] : p.buckets.key[sl];
    if (p.dim < 0) g.start = p.buckets.start[sl];
    g.sales_cents = a.sales, g.rows = a.rows, g.orders = a.orders, g.quantity = a.qty;
    if (p.minmax && s.view.engine.empty()) g.min_cents = a.min, g.max_cents = a.max;  // a view has no lines
    out.push_back(std::move(g));
  }
  if (p.dim < 0) {
    std::sort(out.begin(), out.end(), [](const Group& a, const Group& b) { return a.start < b.start; });
  } else {
    std::sort(out.begin(), out.end(), [](const Group& a, const Group& b) {
      return a.sales_cents != b.sales_cents ? a.sales_cents > b.sales_cents : a.key < b.key;
    });
  }
  if (top > 0 && out.size() > top) out.resize(top);
  return out;
}

RowView View(const Snapshot& s, const Chunk& k, size_t i) {
  auto str = [&](int d) -> std::string_view { return s.dicts[static_cast<size_t>(d)][k.codes[static_cast<size_t>(d)][i]]; };
  return RowView{k.order_number[i], k.order_line[i], k.day[i], str(kCustomer), str(kProductLine),
                 str(kProductCode), str(kStatus), str(kDealSize), str(kCountry), str(kTerritory),
                 k.quantity[i], k.price_cents[i], k.sales_cents[i]};
}

}  // namespace

// --- Public helpers -------------------------------------------------------------------

StatusOr<GroupKey> ParseGroupKey(std::string_view name) {
  static const std::pair<std::string_view, GroupKey> kNames[] = {
      {"productline", GroupKey::kProductLine}, {"country", GroupKey::kCountry},   {"status", GroupKey::kStatus},
      {"dealsize", GroupKey::kDealSize},       {"territory", GroupKey::kTerritory}, {"customer", GroupKey::kCustomer},
      {"productcode", GroupKey::kProductCode}, {"year", GroupKey::kYear},         {"quarter", GroupKey::kQuarter},
      {"month", GroupKey::kMonth},             {"week", GroupKey::kWeek},         {"day", GroupKey::kDay}};
  for (const auto& [n, k] : kNames) {
    if (n == name) return k;
  }
  return absl::InvalidArgumentError(StrCat("'", name, "' is not a group (expected productline, country, status, "
                                           "dealsize, territory, customer, productcode, year, quarter, month, week, day)"));
}

std::string Filter::CacheKey() const {
  std::string k = fmt::format("{}|{}|{}", from_day, to_day, customer);
  for (const auto& v : in) k += "|" + Join(v, ",");
  return k;
}

Summary Summarize(const Snapshot& s, const Filter& f) {
  Compiled c = Compile(s, f);
  const GroupKey keys[] = {GroupKey::kProductLine, GroupKey::kStatus, GroupKey::kDealSize, GroupKey::kCountry,
                           GroupKey::kTerritory,   GroupKey::kYear,   GroupKey::kMonth,    GroupKey::kCustomer};
  std::vector<Plan> plans;
  for (GroupKey k : keys) plans.push_back(MakePlan(s, k));
  ScanResult r = Scan(s, c, plans);
  CountOrderSets(s, c, plans, &r);
  Summary out;
  out.rows = r.total.rows, out.orders = r.total.orders, out.quantity = r.total.qty, out.sales_cents = r.total.sales;
  out.customers = std::count(r.customers.begin(), r.customers.end(), 1);
  std::vector<Group>* dest[] = {&out.by_productline, &out.by_status, &out.by_dealsize, &out.by_country,
                                &out.by_territory,   &out.by_year,   &out.by_month,    &out.top_customers};
  for (size_t p = 0; p < plans.size(); ++p) {
    *dest[p] = Groups(s, plans[p], r.groups[p], plans[p].key == GroupKey::kCustomer ? 10 : 0);
  }
  return out;
}

std::vector<Group> GroupBy(const Snapshot& s, const Filter& f, GroupKey key, size_t top) {
  std::vector<Plan> plans{MakePlan(s, key)};
  plans[0].minmax = true;
  Compiled c = Compile(s, f);
  ScanResult r = Scan(s, c, plans);
  CountOrderSets(s, c, plans, &r);
  return Groups(s, plans[0], r.groups[0], top);
}

void ForEachRow(const Snapshot& s, const Filter& f, const std::function<bool(const RowView&)>& row,
                RowCursor* cursor) {
  RowCursor whole;
  RowCursor& at = cursor ? *cursor : whole;
  Compiled c = Compile(s, f);
  if (c.empty || !s.view.engine.empty()) at.chunk = s.chunks.size();  // a view has no rows
  for (; at.chunk < s.chunks.size(); ++at.chunk, at.row = 0) {
    const Chunk& k = *s.chunks[at.chunk];
    while (at.row < k.rows()) {
      size_t i = at.row++;
      if (Pass(c, k, i) && !row(View(s, k, i))) return;
    }
  }
  at.done = true;
}

namespace {

using RowOrder = std::function<bool(const RowView&, const RowView&)>;

// The order of a `sort` parameter; InvalidArgument names a bad column.
StatusOr<RowOrder> ParseRowOrder(std::string_view sort) {
  bool desc = sort.starts_with('-');
  std::string_view col = desc ? sort.substr(1) : sort;
  auto by = [](auto field) -> RowOrder {
    return [field](const RowView& a, const RowView& b) {
      auto x = field(a), y = field(b);
      if (x != y) return x < y;
      return std::tie(a.order_number, a.order_line) < std::tie(b.order_number, b.order_line);
    };
  };
  RowOrder less;
  if (col == "ordernumber") less = by([](const RowView& r) { return std::tie(r.order_number, r.order_line); });
  else if (col == "orderdate") less = by([](const RowView& r) { return r.day; });
  else if (col == "customer") less = by([](const RowView& r) { return r.customer; });
  else if (col == "productline") less = by([](const RowView& r) { return r.product_line; });
  else if (col == "productcode") less = by([](const RowView& r) { return r.product_code; });
  else if (col == "quantity") less = by([](const RowView& r) { return r.quantity; });
  else if (col == "priceeach") less = by([](const RowView& r) { return r.price_cents; });
  else if (col == "sales") less = by([](const RowView& r) { return r.sales_cents; });
  else if (col == "status") less = by([](const RowView& r) { return r.status; });
  else if (col == "dealsize") less = by([](const RowView& r) { return r.deal_size; });
  else if (col == "country") less = by([](const RowView& r) { return r.country; });
  else if (col == "territory") less = by([](const RowView& r) { return r.territory; });
  else {
    return absl::InvalidArgumentError(StrCat("'", col, "' is not a sortable column (ordernumber, orderdate, customer, "
                                             "productline, productcode, quantity, priceeach, sales, status, dealsize, "
                                             "country, territory)"));
  }
  return desc ? RowOrder([less](const RowView& a, const RowView& b) { return less(b, a); }) : less;
}

// The first `keep` rows in `before` order, of those `scan` offers.
std::vector<RowView> FirstRows(const RowOrder& before, size_t keep,
                               const std::function<void(const std::function<bool(const RowView&)>&)>& scan,
                               int64_t* total) {
  std::priority_queue<RowView, std::vector<RowView>, RowOrder> heap(before);
  scan([&](const RowView& r) {
    ++*total;
    if (heap.size() < keep) {
      heap.push(r);
    } else if (keep > 0 && before(r, heap.top())) {
      heap.pop();
      heap.push(r);
    }
    return true;
  });
  std::vector<RowView> all;
  while (!heap.empty()) all.push_back(heap.top()), heap.pop();
  std::reverse(all.begin(), all.end());
  return all;
}

}  // namespace

StatusOr<RowsPage> Rows(const Snapshot& s, const Filter& f, std::string_view sort, size_t offset, size_t limit) {
  if (!s.view.engine.empty()) {
    return absl::FailedPreconditionError(StrCat("the snapshot is the view ", s.path, ", which holds no order lines"));
  }
  ASSIGN_OR_RETURN(RowOrder before, ParseRowOrder(sort));
  RowsPage page;
  std::vector<RowView> all = FirstRows(before, offset + limit, [&](const auto& cb) { ForEachRow(s, f, cb); }, &page.total);
  for (size_t i = offset; i < all.size(); ++i) page.rows.push_back(all[i]);
  return page;
}

namespace {

// A dataset's visible part files.
StatusOr<std::vector<lake::FileInfo>> VisibleParts(lake::Storage* lake, const std::string& dir) {
  ASSIGN_OR_RETURN(std::vector<lake::FileInfo> listed, lake->List(dir));
  std::vector<lake::FileInfo> parts;
  for (lake::FileInfo& f : listed) {
    if (!f.is_dir && !lake::IsHiddenName(f.name)) parts.push_back(std::move(f));
  }
  return parts;
}

// One part as a snapshot of its own (its own dictionaries).
StatusOr<std::shared_ptr<const Snapshot>> LoadPart(lake::Storage* lake, const Layout& layout, const std::string& dir,
                                                   const lake::FileInfo& part) {
  ASSIGN_OR_RETURN(Parsed p, ParsePart(lake, layout, part));
  auto snap = std::make_shared<Snapshot>();
  snap->path = dir;
  snap->dicts = std::move(p.dict);
  snap->rows = p.chunk.rows();
  snap->source_rows = static_cast<int64_t>(snap->rows);
  snap->chunks.push_back(std::make_shared<const Chunk>(std::move(p.chunk)));
  return std::shared_ptr<const Snapshot>(std::move(snap));
}

}  // namespace

StatusOr<PartRows> PartRows::Open(lake::Storage* lake, std::string dir) {
  PartRows r;
  r.lake_ = lake;
  ASSIGN_OR_RETURN(r.parts_, VisibleParts(lake, dir));
  r.dir_ = std::move(dir);
  return r;
}

Status PartRows::ForEach(const Filter& f, const std::function<bool(const RowView&)>& row) {
  std::optional<Layout> layout;
  while (true) {
    if (current_ == nullptr || cursor_.done) {
      if (next_ >= parts_.size()) return absl::OkStatus();
      if (!layout) {
        ASSIGN_OR_RETURN(layout, ReadLayout(lake_, dir_));
      }
      ASSIGN_OR_RETURN(current_, LoadPart(lake_, *layout, dir_, parts_[next_++]));
      cursor_ = {};
    }
    bool stopped = false;
    ForEachRow(*current_, f, [&](const RowView& r) { return (stopped = !row(r)) == false; }, &cursor_);
    if (stopped) return absl::OkStatus();
  }
}

StatusOr<RowsPage> RowsFromParts(lake::Storage* lake, const std::string& dir, const Filter& f, std::string_view sort,
                                 size_t offset, size_t limit) {
  ASSIGN_OR_RETURN(RowOrder before, ParseRowOrder(sort));
  ASSIGN_OR_RETURN(std::vector<lake::FileInfo> parts, VisibleParts(lake, dir));
  ASSIGN_OR_RETURN(Layout layout, ReadLayout(lake, dir));
  RowsPage page;
  page.strings = std::make_shared<std::deque<std::string>>();
  const size_t keep = offset + limit;
  std::vector<RowView> best;  // strings in page.strings
  auto own = [&](std::string_view v) { return std::string_view(page.strings->emplace_back(v)); };
  for (const lake::FileInfo& part : parts) {
    ASSIGN_OR_RETURN(std::shared_ptr<const Snapshot> snap, LoadPart(lake, layout, dir, part));
    for (RowView r : FirstRows(before, keep, [&](const auto& cb) { ForEachRow(*snap, f, cb); }, &page.total)) {
      for (std::string_view* v : {&r.customer, &r.product_line, &r.product_code, &r.status, &r.deal_size, &r.country,
                                  &r.territory}) {
        *v = own(*v);
      }
      best.push_back(r);
    }
    std::sort(best.begin(), best.end(), before);
    if (best.size() > keep) best.resize(keep);
  }
  for (size_t i = offset; i < best.size(); ++i) page.rows.push_back(best[i]);
  return page;
}

// --- The dataset ----------------------------------------------------------------------------

struct SalesDataset::State {
  std::string dir;  // loaded from
  std::optional<Layout> layout;
  std::map<std::string, std::pair<uint64_t, int64_t>> files;  // name -> (size, mtime)
  std::array<absl::flat_hash_map<std::string, uint32_t>, kStringDims> codes;
  absl::flat_hash_map<int64_t, uint32_t> order_ids;
  std::map<std::pair<uint32_t, uint32_t>, uint32_t> cell_bits;  // a view's (product line, deal size) -> bit
  uint64_t version = 0;
};

SalesDataset::SalesDataset(lake::Storage* lake, std::string path, SalesFrom from, std::string views_dir)
    : lake_(lake), path_(std::move(path)), from_(from), views_dir_(std::move(views_dir)), state_(std::make_unique<State>()),
      current_(std::make_shared<Snapshot>()) {
  auto s = std::make_shared<Snapshot>();
  s->path = path_;
  current_ = s;
}

SalesDataset::~SalesDataset() = default;

std::shared_ptr<const Snapshot> SalesDataset::snapshot() const {
  std::lock_guard<std::mutex> l(mu_);
  return current_;
}

namespace {

// Parses `todo` on every core, one part per thread at a time.
// Reorders `o`'s groups (with their records) by `less` on group indexes,
// stably; nothing moves when they are in order already.
template <typename Less>
void SortGroups(OrderSets* o, Less less) {
  std::vector<uint32_t> perm(o->groups());
  std::iota(perm.begin(), perm.end(), 0u);
  if (std::is_sorted(perm.begin(), perm.end(), less)) return;
  std::stable_sort(perm.begin(), perm.end(), less);
  OrderSets sorted;
  sorted.mask.reserve(o->size()), sorted.orders.reserve(o->size());
  for (uint32_t g : perm) {
    sorted.StartGroup(o->day[g], o->GroupCodes(g), o->order_number.empty() ? 0 : o->order_number[g]);
    for (uint32_t r = o->first[g]; r < o->first[g + 1]; ++r) sorted.Add(o->mask[r], o->orders[r]);
  }
  *o = std::move(sorted);
}

StatusOr<std::vector<Parsed>> ParseParts(lake::Storage* lake, const Layout& layout,
                                         const std::vector<const lake::FileInfo*>& todo) {
  std::vector<StatusOr<Parsed>> parsed(todo.size(), absl::UnknownError("not parsed"));
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i; (i = next.fetch_add(1)) < todo.size();) parsed[i] = ParsePart(lake, layout, *todo[i]);
  };
  size_t threads = std::min<size_t>(todo.size(), std::max(1u, std::thread::hardware_concurrency()));
  std::vector<std::thread> pool;
  for (size_t t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& th : pool) th.join();
  std::vector<Parsed> out;
  for (auto& p : parsed) {
    RETURN_IF_ERROR(p.status());
    out.push_back(*std::move(p));
  }
  return out;
}

}  // namespace

StatusOr<SalesFrom> ParseSalesFrom(std::string_view text) {
  if (text == "auto") return SalesFrom::kAuto;
  if (text == "views") return SalesFrom::kViews;
  if (text == "rows") return SalesFrom::kRows;
  return absl::InvalidArgumentError(StrCat("--sales-from '", text, "' is not one of auto, views, rows"));
}

StatusOr<SalesDataset::Choice> SalesDataset::Choose() {
  Choice c{path_, {}, ""};
  if (from_ == SalesFrom::kRows || views_dir_.empty()) return c;
  StatusOr<ViewManifest> m = ReadViewManifest(lake_, views_dir_);
  if (!m.ok()) {
    if (from_ == SalesFrom::kViews) {
      if (absl::IsNotFound(m.status())) {
        return absl::NotFoundError(StrCat("no sales view at ", views_dir_, " yet; build it with `comptoir views build`"));
      }
      return m.status();
    }
    c.rows_reason = absl::IsNotFound(m.status()) ? StrCat("no view at ", views_dir_) : std::string(m.status().message());
    return c;
  }
  std::string stale = ViewStaleness(lake_, path_, *m);
  if (!stale.empty() && from_ == SalesFrom::kAuto) {
    c.rows_reason = stale;
    return c;
  }
  c.dir = views_dir_;
  c.view = {views_dir_, m->engine, m->built_at_ms, stale};
  return c;
}

Status SalesDataset::Refresh() {
  ASSIGN_OR_RETURN(Choice c, Choose());
  return Load(c);
}

Status SalesDataset::Load(const Choice& choice) {
  const std::string& dir = choice.dir;
  StatusOr<std::vector<lake::FileInfo>> listed = lake_->List(dir);
  if (!listed.ok()) return listed.status();
  std::vector<lake::FileInfo> parts;
  bool has_success = false;
  for (const lake::FileInfo& f : *listed) {
    if (f.name == "_SUCCESS") has_success = true;
    if (!f.is_dir && !lake::IsHiddenName(f.name)) parts.push_back(f);
  }
  if (!has_success && parts.empty()) return absl::NotFoundError(StrCat(dir, ": no dataset here yet"));
  State& st = *state_;
  if (!has_success) {  // a commit under way shows a mix of old and new files: keep what was loaded
    ASSIGN_OR_RETURN(bool committing, lake::CommitInProgress(lake_, dir));
    if (committing && st.layout.has_value()) return absl::OkStatus();
    if (committing) return absl::UnavailableError(StrCat(dir, " is being published; its answers come once that ends"));
  }
  // A vanished or changed file: reload everything.
  bool reload = !st.layout.has_value() || st.dir != dir;
  std::map<std::string, const lake::FileInfo*> now;
  for (const auto& f : parts) now[f.name] = &f;
  for (const auto& [name, sig] : st.files) {
    auto it = now.find(name);
    if (it == now.end() || it->second->size != sig.first || it->second->mtime_ms != sig.second) reload = true;
  }
  std::vector<const lake::FileInfo*> todo;
  for (const auto& f : parts) {
    if (reload || !st.files.contains(f.name)) todo.push_back(&f);
  }
  std::shared_ptr<const Snapshot> old = snapshot();
  const bool same_origin = old->view.engine == choice.view.engine && old->view.built_at_ms == choice.view.built_at_ms &&
                           old->view.stale == choice.view.stale && old->rows_reason == choice.rows_reason;
  if (!reload && todo.empty() && same_origin) return absl::OkStatus();
  if (reload) {
    ASSIGN_OR_RETURN(Layout layout, ReadLayout(lake_, dir));
    const uint64_t version = st.version;  // versions only grow: answers are cached by version
    st = State{};
    st.version = version;
    st.layout = layout;
    st.dir = dir;
  }
  ASSIGN_OR_RETURN(std::vector<Parsed> parsed, ParseParts(lake_, *st.layout, todo));
  // Merge into a new snapshot: global dictionaries and order ids.
  auto snap = std::make_shared<Snapshot>();
  if (!reload) *snap = *old;
  snap->path = dir;
  snap->view = choice.view;
  snap->rows_reason = choice.rows_reason;
  snap->version = ++st.version;
  auto intern = [&](int d, const std::string& v) {
    auto [it, added] = st.codes[static_cast<size_t>(d)].emplace(v, static_cast<uint32_t>(snap->dicts[static_cast<size_t>(d)].size()));
    if (added) snap->dicts[static_cast<size_t>(d)].push_back(v);
    return it->second;
  };
  // A view's order sets: the snapshot's so far, then each part's (its codes
  // and cell bits in the snapshot's).
  OrderSets sets = snap->order_sets ? *snap->order_sets : OrderSets{};
  OrderSets apart = snap->split_sets ? *snap->split_sets : OrderSets{};
  if (st.layout->view) {
    size_t records = sets.size(), groups = sets.groups();
    for (const Parsed& p : parsed) records += p.sets.size(), groups += p.sets.groups();
    sets.mask.reserve(records), sets.orders.reserve(records), sets.first.reserve(groups + 1);
    sets.day.reserve(groups);
    for (int d : OrderSets::kDims) sets.codes[static_cast<size_t>(d)].reserve(groups);
  }
  for (size_t i = 0; i < todo.size(); ++i) {
    Parsed& p = parsed[i];
    Chunk& k = p.chunk;
    k.file = todo[i]->path, k.size = todo[i]->size, k.mtime_ms = todo[i]->mtime_ms;
    std::array<std::vector<uint32_t>, kStringDims> remap;
    for (int d = 0; d < kStringDims; ++d) {
      for (const std::string& v : p.dict[static_cast<size_t>(d)]) remap[static_cast<size_t>(d)].push_back(intern(d, v));
      for (uint32_t& c : k.codes[static_cast<size_t>(d)]) c = remap[static_cast<size_t>(d)][c];
    }
    k.order_id.resize(k.rows());
    if (st.layout->view) {
      // Cube records: each its own run (orders come from the order sets).
      for (size_t r = 0; r < k.rows(); ++r) k.order_id[r] = static_cast<uint32_t>(r);
      std::vector<uint64_t> bit_of;  // the part's cell bits -> the snapshot's
      for (auto [pl, ds] : p.cells) {
        std::pair<uint32_t, uint32_t> cell{remap[kProductLine][pl], remap[kDealSize][ds]};
        auto [it, added] = st.cell_bits.emplace(cell, static_cast<uint32_t>(snap->cells.size()));
        if (added) {
          if (snap->cells.size() == 64) {
            return absl::FailedPreconditionError(StrCat(
                dir, ": the view has more than 64 (product line, deal size) pairs, more than serve can count "
                     "orders over; serve it with --sales-from rows"));
          }
          snap->cells.push_back(cell);
        }
        bit_of.push_back(uint64_t{1} << it->second);
      }
      for (auto [from, into] : {std::pair{&p.sets, &sets}, std::pair{&p.apart, &apart}}) {
        const OrderSets& o = *from;
        for (size_t g = 0; g < o.groups(); ++g) {
          std::array<uint32_t, 4> c = o.GroupCodes(g);
          for (size_t d = 0; d < 4; ++d) c[d] = remap[static_cast<size_t>(OrderSets::kDims[d])][c[d]];
          into->StartGroup(o.day[g], c, o.order_number.empty() ? 0 : o.order_number[g]);
          for (uint32_t r = o.first[g]; r < o.first[g + 1]; ++r) {
            uint64_t mask = 0;
            for (uint64_t m = o.mask[r]; m != 0; m &= m - 1) mask |= bit_of[static_cast<size_t>(__builtin_ctzll(m))];
            into->Add(mask, o.orders[r]);
          }
        }
      }
      p.sets = OrderSets{}, p.apart = OrderSets{};  // merged: free the part's copy now (peak memory)
    } else {
      uint32_t known = static_cast<uint32_t>(st.order_ids.size());
      for (size_t r = 0; r < k.rows(); ++r) {
        auto [it, added] = st.order_ids.emplace(k.order_number[r], static_cast<uint32_t>(st.order_ids.size()));
        if (!added && it->second < known) snap->orders_contiguous = false;  // an order continued from another part
        k.order_id[r] = it->second;
      }
    }
    if (k.rows() > 0) {
      auto [lo, hi] = std::minmax_element(k.day.begin(), k.day.end());
      if (snap->rows == 0 || *lo < snap->min_day) snap->min_day = *lo;
      if (snap->rows == 0 || *hi > snap->max_day) snap->max_day = *hi;
    }
    snap->rows += k.rows();
    snap->source_rows += k.lines.empty() ? static_cast<int64_t>(k.rows())
                                         : std::accumulate(k.lines.begin(), k.lines.end(), int64_t{0});
    st.files[todo[i]->name] = {todo[i]->size, todo[i]->mtime_ms};
    snap->chunks.push_back(std::make_shared<const Chunk>(std::move(k)));
  }
  snap->orders = static_cast<uint32_t>(st.order_ids.size());
  if (st.layout->view) {
    // Groups by day (a date range scans only its own), the records of an
    // order kept apart next to each other.
    SortGroups(&sets, [&](uint32_t a, uint32_t b) { return sets.day[a] < sets.day[b]; });
    SortGroups(&apart, [&](uint32_t a, uint32_t b) { return apart.order_number[a] < apart.order_number[b]; });
    snap->order_sets = std::make_shared<const OrderSets>(std::move(sets));
    snap->split_sets = std::make_shared<const OrderSets>(std::move(apart));
  }
  snap->loaded_at_ms = core::UnixMillis();
  std::lock_guard<std::mutex> l(mu_);
  current_ = std::move(snap);
  return absl::OkStatus();
}

}  // namespace comptoir::analytics
