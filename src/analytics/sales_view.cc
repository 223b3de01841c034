#include "comptoir/analytics/sales_view.h"

#include <absl/container/flat_hash_map.h>
#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <map>
#include <tuple>

#include "comptoir/core/decimal.h"
#include "comptoir/lake/compression.h"
#include "comptoir/stream/archiver.h"
#include "comptoir/stream/event.h"
#include "comptoir/core/names.h"
#include "comptoir/core/strings.h"
#include "comptoir/core/time.h"
#include "comptoir/lake/text_format.h"
#include "nlohmann/json.hpp"

namespace comptoir::analytics {
namespace {

using json = nlohmann::json;

lake::ColumnSchema Column(std::string name, std::string type, std::string sql_type) {
  lake::ColumnSchema c;
  c.name = std::move(name);
  c.type = std::move(type);
  c.sql_type = std::move(sql_type);
  c.nullable = false;
  if (c.type == "decimal") c.precision = 38, c.scale = 2;
  return c;
}

}  // namespace

lake::DatasetSchema SalesViewSchema() {
  lake::DatasetSchema s;
  s.written_by = "comptoir views build";
  s.columns = {Column("ORDERDATE", "date", "DATE"),       Column("STATUS", "string", "VARCHAR"),
               Column("CUSTOMERNAME", "string", "VARCHAR"), Column("COUNTRY", "string", "VARCHAR"),
               Column("TERRITORY", "string", "VARCHAR"),    Column("PRODUCTLINE", "string", "VARCHAR"),
               Column("DEALSIZE", "string", "VARCHAR"),     Column("CELLS", "json", "JSON"),
               Column("ORDERNUMBER", "integer", "BIGINT"),  Column("ORDERS", "integer", "BIGINT"),
               Column("LINES", "integer", "BIGINT"),        Column("QUANTITY", "integer", "BIGINT"),
               Column("SALES", "decimal", "DECIMAL(38,2)")};
  for (lake::ColumnSchema& c : s.columns) {
    c.nullable = c.name == "PRODUCTLINE" || c.name == "DEALSIZE" || c.name == "CELLS" || c.name == "ORDERNUMBER";
  }
  return s;
}

StatusOr<InputSignature> SignInput(lake::Storage* lake, const std::string& dir, bool require_success) {
  InputSignature sig;
  bool success = false;
  std::function<Status(const std::string&, const std::string&)> walk = [&](const std::string& at,
                                                                          const std::string& prefix) -> Status {
    ASSIGN_OR_RETURN(std::vector<lake::FileInfo> listed, lake->List(at));
    for (const lake::FileInfo& f : listed) {
      if (f.is_dir) {
        if (!lake::IsHiddenName(f.name)) RETURN_IF_ERROR(walk(f.path, prefix + f.name + "/"));
        continue;
      }
      if (prefix.empty() && f.name == "_SUCCESS") success = true;
      if (!lake::IsHiddenName(f.name) || (prefix.empty() && f.name == lake::kSchemaFile)) {
        sig.parts.push_back({prefix + f.name, f.size, f.mtime_ms});
      }
    }
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(walk(dir, ""));
  if (require_success ? !success : sig.parts.empty()) {
    return absl::NotFoundError(StrCat(dir, require_success ? " holds no published dataset (no _SUCCESS)" : " holds no files"));
  }
  std::sort(sig.parts.begin(), sig.parts.end(), [](const InputPart& a, const InputPart& b) { return a.name < b.name; });
  // A stable fingerprint of the listing (not a security measure: it tells
  // a changed input from an unchanged one).
  std::string listing = "comptoir-input-v1\n";
  for (const InputPart& p : sig.parts) listing += fmt::format("{}\n{}\n{}\n", p.name, p.size, p.mtime_ms);
  sig.fingerprint = core::NameHash(listing);
  return sig;
}

std::string ViewManifest::ToJson() const {
  json parts = json::array();
  for (const InputPart& p : input.parts) {
    parts.push_back({{"name", p.name}, {"size", p.size}, {"mtime", core::FormatIsoMillis(p.mtime_ms)},
                     {"mtime_ms", p.mtime_ms}});
  }
  json j = {{"view", view},
            {"version", version},
            {"engine", engine},
            {"source", source},
            {"lake", lake},
            {"input", {{"fingerprint", input.fingerprint}, {"parts", parts}}},
            {"built_at", core::FormatIsoMillis(built_at_ms)},
            {"built_at_ms", built_at_ms},
            {"build_ms", build_ms},
            {"source_rows", source_rows},
            {"records", records},
            {"orders", orders},
            {"groups", groups},
            {"split_orders", split_orders}};
  if (engine == "spark") j["spark"] = {{"master", spark_master}, {"application", spark_app}};
  return j.dump(2) + "\n";
}

StatusOr<ViewManifest> ViewManifest::Parse(std::string_view text, const std::string& origin) {
  json j = json::parse(text, nullptr, false);
  auto damaged = [&](std::string_view why) {
    return absl::DataLossError(fmt::format("{} is damaged ({}); rebuild the view with `comptoir views build`",
                                           origin, why));
  };
  if (j.is_discarded() || !j.is_object()) return damaged("not a JSON object");
  ViewManifest m;
  try {
    m.view = j.at("view").get<std::string>();
    m.version = j.at("version").get<int>();
    m.engine = j.at("engine").get<std::string>();
    m.source = j.at("source").get<std::string>();
    m.lake = j.value("lake", "");
    m.input.fingerprint = j.at("input").at("fingerprint").get<std::string>();
    for (const json& p : j.at("input").at("parts")) {
      m.input.parts.push_back({p.at("name").get<std::string>(), p.at("size").get<uint64_t>(),
                               p.at("mtime_ms").get<int64_t>()});
    }
    m.built_at_ms = j.at("built_at_ms").get<int64_t>();
    m.build_ms = j.value("build_ms", int64_t{0});
    m.source_rows = j.value("source_rows", int64_t{0});
    m.records = j.value("records", int64_t{0});
    m.orders = j.value("orders", int64_t{0});
    m.groups = j.value("groups", int64_t{0});
    m.split_orders = j.value("split_orders", int64_t{0});
    if (j.contains("spark")) {
      m.spark_master = j["spark"].value("master", "");
      m.spark_app = j["spark"].value("application", "");
    }
  } catch (const json::exception& e) {
    return damaged(e.what());
  }
  if ((m.view != "sales" && m.view != "transactions") || m.version != 1) {
    return damaged(fmt::format("view '{}' version {}", m.view, m.version));
  }
  return m;
}

StatusOr<ViewManifest> ReadViewManifest(lake::Storage* lake, const std::string& dir) {
  std::string path = lake::JoinPath(dir, std::string(kViewManifest));
  ASSIGN_OR_RETURN(std::string text, lake::ReadFileToString(lake, path));
  return ViewManifest::Parse(text, path);
}

std::string ViewStaleness(lake::Storage* lake, const std::string& dataset, const std::string& view_dir) {
  StatusOr<ViewManifest> m = ReadViewManifest(lake, view_dir);
  if (absl::IsNotFound(m.status())) return fmt::format("no view at {} (build it with `comptoir views build`)", view_dir);
  if (!m.ok()) return std::string(m.status().message());
  return ViewStaleness(lake, dataset, *m);
}

std::string ViewStaleness(lake::Storage* lake, const std::string& dataset, const ViewManifest& m) {
  if (m.source != dataset) return fmt::format("the view was built from {}, not {}", m.source, dataset);
  StatusOr<InputSignature> now = SignInput(lake, dataset);
  if (!now.ok()) return StrCat(dataset, ": ", now.status().message());
  if (now->fingerprint != m.input.fingerprint) {
    return fmt::format("the view was built {} from an older {} (run `comptoir views build`)",
                       core::FormatIsoSeconds(m.built_at_ms), dataset);
  }
  return "";
}

namespace {

// One order's cells: (order-level values, product line, deal size) and sums.
struct OrderCell {
  int64_t order;
  int32_t day;
  uint32_t st, cu, co, te, pl, ds;
  int64_t lines, qty, sales;
  auto key() const { return std::tie(order, day, st, cu, co, te, pl, ds); }
  auto attrs() const { return std::tie(day, st, cu, co, te); }
};

struct CubeKey {
  int32_t day;
  uint32_t st, cu, co, te, pl, ds;
  bool operator==(const CubeKey&) const = default;
  template <typename H>
  friend H AbslHashValue(H h, const CubeKey& k) {
    return H::combine(std::move(h), k.day, k.st, k.cu, k.co, k.te, k.pl, k.ds);
  }
};
struct SetKey {
  int64_t apart;
  int32_t day;
  uint32_t st, cu, co, te, cells;
  bool operator==(const SetKey&) const = default;
  template <typename H>
  friend H AbslHashValue(H h, const SetKey& k) {
    return H::combine(std::move(h), k.apart, k.day, k.st, k.cu, k.co, k.te, k.cells);
  }
};
struct Sums {
  int64_t lines = 0, qty = 0, sales = 0;
};

// Builds the view order by order, in the raw snapshot's codes.
class ViewBuilder {
 public:
  explicit ViewBuilder(const Snapshot& raw) : raw_(raw) {}

  // All the cells of one order (merged: one per key), sorted by key.
  void AddOrder(std::vector<OrderCell>& cells) {
    ++t_.orders;
    for (const OrderCell& c : cells) {
      Sums& s = cube_[CubeKey{c.day, c.st, c.cu, c.co, c.te, c.pl, c.ds}];
      s.lines += c.lines, s.qty += c.qty, s.sales += c.sales;
    }
    const bool split = cells.front().attrs() != cells.back().attrs();  // sorted: they differ iff the ends do
    t_.split_orders += split ? 1 : 0;
    for (size_t s = 0; s < cells.size();) {
      size_t e = s;
      std::string key;  // the set's (product line, deal size) codes, in key order
      while (e < cells.size() && cells[e].attrs() == cells[s].attrs()) {
        key.append(reinterpret_cast<const char*>(&cells[e].pl), 4).append(reinterpret_cast<const char*>(&cells[e].ds), 4);
        ++e;
      }
      auto [it, added] = cell_set_ids_.try_emplace(std::move(key), static_cast<uint32_t>(t_.cell_sets.size()));
      if (added) t_.cell_sets.push_back(CellsText(cells, s, e));
      const OrderCell& c = cells[s];
      ++sets_[SetKey{split ? c.order : 0, c.day, c.st, c.cu, c.co, c.te, it->second}];
      s = e;
    }
  }

  ViewTable Finish(int64_t source_rows) {
    t_.raw = &raw_;
    t_.source_rows = source_rows;
    for (const auto& [k, s] : cube_) t_.cube.push_back({k.day, k.st, k.cu, k.co, k.te, k.pl, k.ds, s.lines, s.qty, s.sales});
    cube_ = {};
    for (const auto& [k, n] : sets_) t_.sets.push_back({k.apart, k.day, k.st, k.cu, k.co, k.te, k.cells, n});
    sets_ = {};
    std::sort(t_.cube.begin(), t_.cube.end(), [](const ViewTable::Cube& a, const ViewTable::Cube& b) {
      return std::tie(a.day, a.st, a.cu, a.co, a.te, a.pl, a.ds) < std::tie(b.day, b.st, b.cu, b.co, b.te, b.pl, b.ds);
    });
    std::sort(t_.sets.begin(), t_.sets.end(), [](const ViewTable::Set& a, const ViewTable::Set& b) {
      return std::tie(a.day, a.st, a.cu, a.co, a.te, a.cells, a.apart) <
             std::tie(b.day, b.st, b.cu, b.co, b.te, b.cells, b.apart);
    });
    return std::move(t_);
  }

 private:
  // [["PRODUCTLINE","DEALSIZE"],...] of cells [b, e), sorted by the strings.
  std::string CellsText(const std::vector<OrderCell>& cells, size_t b, size_t e) const {
    std::vector<std::pair<std::string, std::string>> pairs;
    for (size_t i = b; i < e; ++i) {
      pairs.emplace_back(raw_.dicts[kProductLine][cells[i].pl], raw_.dicts[kDealSize][cells[i].ds]);
    }
    std::sort(pairs.begin(), pairs.end());
    nlohmann::json list = nlohmann::json::array();
    for (const auto& [pl, ds] : pairs) list.push_back({pl, ds});
    return list.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }

  const Snapshot& raw_;
  ViewTable t_;
  absl::flat_hash_map<CubeKey, Sums> cube_;
  absl::flat_hash_map<SetKey, int64_t> sets_;
  absl::flat_hash_map<std::string, uint32_t> cell_set_ids_;
};

// Merges equal keys of sorted cells [b, e) in place; returns the new end.
size_t MergeCells(std::vector<OrderCell>& cells, size_t b, size_t e) {
  size_t w = b;
  for (size_t r = b; r < e; ++r) {
    if (w > b && cells[w - 1].key() == cells[r].key()) {
      cells[w - 1].lines += cells[r].lines, cells[w - 1].qty += cells[r].qty, cells[w - 1].sales += cells[r].sales;
    } else {
      cells[w++] = cells[r];
    }
  }
  return w;
}

}  // namespace

ViewTable ComputeSalesView(const Snapshot& raw) {
  ViewBuilder view(raw);
  int64_t rows = 0;
  std::vector<OrderCell> order, continued;  // an order's cells; those of orders that span parts
  for (const auto& chunk : raw.chunks) {
    const Chunk& k = *chunk;
    const size_t n = k.rows();
    auto code = [&](int d, size_t i) { return k.codes[static_cast<size_t>(d)][i]; };
    for (size_t b = 0; b < n;) {  // one order's run (each part is sorted by order)
      size_t e = b;
      while (e < n && k.order_number[e] == k.order_number[b]) ++e;
      order.clear();
      for (size_t i = b; i < e; ++i) {
        order.push_back({k.order_number[i], k.day[i], code(kStatus, i), code(kCustomer, i), code(kCountry, i),
                         code(kTerritory, i), code(kProductLine, i), code(kDealSize, i), 1, k.quantity[i],
                         k.sales_cents[i]});
      }
      rows += static_cast<int64_t>(e - b);
      b = e;
      if (!raw.orders_contiguous) {  // the order may go on in another part: gather them all first
        continued.insert(continued.end(), order.begin(), order.end());
        continue;
      }
      std::sort(order.begin(), order.end(), [](const OrderCell& x, const OrderCell& y) { return x.key() < y.key(); });
      order.resize(MergeCells(order, 0, order.size()));
      view.AddOrder(order);
    }
  }
  std::sort(continued.begin(), continued.end(), [](const OrderCell& x, const OrderCell& y) { return x.key() < y.key(); });
  for (size_t b = 0; b < continued.size();) {
    size_t e = b;
    while (e < continued.size() && continued[e].order == continued[b].order) ++e;
    order.assign(continued.begin() + static_cast<ptrdiff_t>(b), continued.begin() + static_cast<ptrdiff_t>(e));
    order.resize(MergeCells(order, 0, order.size()));
    view.AddOrder(order);
    b = e;
  }
  return view.Finish(rows);
}

ViewRecord ViewTable::Record(size_t i) const {
  ViewRecord r;
  auto str = [&](int d, uint32_t code) -> const std::string& { return raw->dicts[static_cast<size_t>(d)][code]; };
  auto attrs = [&](int32_t day, uint32_t st, uint32_t cu, uint32_t co, uint32_t te) {
    r.day = day, r.status = str(kStatus, st), r.customer = str(kCustomer, cu);
    r.country = str(kCountry, co), r.territory = str(kTerritory, te);
  };
  if (i < cube.size()) {
    const Cube& c = cube[i];
    attrs(c.day, c.st, c.cu, c.co, c.te);
    r.product_line = str(kProductLine, c.pl), r.deal_size = str(kDealSize, c.ds);
    r.lines = c.lines, r.quantity = c.qty, r.sales_cents = c.sales;
  } else {
    const Set& s = sets[i - cube.size()];
    attrs(s.day, s.st, s.cu, s.co, s.te);
    r.cells = cell_sets[s.cells];
    r.order_number = s.apart;
    r.orders = s.orders;
  }
  return r;
}

std::string ViewRecordText(const ViewRecord& r) {
  static const lake::TextRowWriter writer{lake::TextFormat{}};
  std::string line = core::FormatDay(r.day);
  for (const std::string* s : {&r.status, &r.customer, &r.country, &r.territory}) writer.Field(&line, *s, false);
  if (r.cells.empty()) {
    writer.Field(&line, r.product_line, false);
    writer.Field(&line, r.deal_size, false);
    line += ",\\N,\\N,0";
  } else {
    line += ",\\N,\\N";
    writer.Field(&line, r.cells, false);
    line += r.order_number != 0 ? fmt::format(",{}", r.order_number) : std::string(",\\N");
    line += fmt::format(",{}", r.orders);
  }
  line += fmt::format(",{},{},", r.lines, r.quantity);
  core::AppendFixed(&line, r.sales_cents, 2);
  return line;
}

// --- The daily view of the archived transactions -------------------------------------

lake::DatasetSchema TransactionsViewSchema() {
  lake::DatasetSchema s;
  s.written_by = "comptoir views build";
  s.columns = {Column("DAY", "date", "DATE"),          Column("STATUS", "string", "VARCHAR"),
               Column("PRODUCTLINE", "string", "VARCHAR"), Column("EVENTS", "integer", "BIGINT"),
               Column("QUANTITY", "integer", "BIGINT"),    Column("REVENUE", "decimal", "DECIMAL(38,2)")};
  return s;
}

StatusOr<DailyTable> ComputeTransactionsView(lake::Storage* lake, const std::string& archive_dir) {
  ASSIGN_OR_RETURN(std::vector<lake::FileInfo> days, lake->List(archive_dir));
  std::map<std::tuple<int32_t, std::string, std::string>, DailyRecord> acc;
  DailyTable out;
  stream::EventParser parser;
  stream::Event e;
  for (const lake::FileInfo& day : days) {
    if (!day.is_dir || !day.name.starts_with("dt=")) continue;
    ASSIGN_OR_RETURN(std::vector<lake::FileInfo> files, lake->List(day.path));
    for (const lake::FileInfo& f : files) {
      if (f.is_dir || lake::IsHiddenName(f.name) || !stream::ParseArchiveFileName(f.name)) continue;
      ASSIGN_OR_RETURN(std::string data, lake::ReadDecompressed(lake, f.path));
      size_t line = 0;
      for (std::string_view text : Split(data, '\n', true)) {
        ++line;
        if (Status s = parser.Parse(text, 0, &e); !s.ok()) {
          return absl::DataLossError(fmt::format("{}:{}: not an event ({}); the archive is damaged", f.path, line,
                                                 std::string(s.message())));
        }
        int32_t d = static_cast<int32_t>((e.ts_ms >= 0 ? e.ts_ms : e.ts_ms - 86'399'999) / 86'400'000);
        DailyRecord& r = acc[{d, e.status, e.product_line}];
        ++r.events, r.quantity += e.quantity, r.revenue_cents += e.amount_cents;
        ++out.events;
      }
      ++out.files;
    }
  }
  for (auto& [k, r] : acc) {
    r.day = std::get<0>(k), r.status = std::get<1>(k), r.product_line = std::get<2>(k);
    out.records.push_back(std::move(r));
  }
  return out;
}

std::string DailyRecordText(const DailyRecord& r) {
  static const lake::TextRowWriter writer{lake::TextFormat{}};
  std::string line = core::FormatDay(r.day);
  writer.Field(&line, r.status, false);
  writer.Field(&line, r.product_line, false);
  line += fmt::format(",{},{},", r.events, r.quantity);
  core::AppendFixed(&line, r.revenue_cents, 2);
  return line;
}

StatusOr<std::vector<DailyRecord>> ReadTransactionsView(lake::Storage* lake, const std::string& dir) {
  ASSIGN_OR_RETURN(lake::DatasetSchema schema, lake::ReadDatasetSchema(lake, dir));
  if (schema.ColumnIndex("REVENUE") != 5 || schema.ColumnIndex("DAY") != 0) {
    return absl::FailedPreconditionError(StrCat(dir, " is not a daily transactions view (views build --view transactions)"));
  }
  std::vector<DailyRecord> out;
  RETURN_IF_ERROR(lake::ForEachRecord(
      lake, dir, schema,
      [&](const lake::FileInfo& part, size_t pos, const std::vector<std::string_view>& f,
          const std::vector<uint8_t>&) -> Status {
        DailyRecord r;
        StatusOr<int64_t> cents = core::ParseCents(f[5]);
        if (f.size() < 6 || !core::ParseDateText(f[0], &r.day) || !ParseInt(f[3], &r.events) ||
            !ParseInt(f[4], &r.quantity) || !cents.ok()) {
          return absl::DataLossError(fmt::format("{}:{}: not a daily view record", part.path, pos));
        }
        r.status = std::string(f[1]), r.product_line = std::string(f[2]), r.revenue_cents = *cents;
        out.push_back(std::move(r));
        return absl::OkStatus();
      }));
  return out;
}

}  // namespace comptoir::analytics
