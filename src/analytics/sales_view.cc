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

ViewTable ComputeSalesView(const Snapshot& raw) {
  // 1. Order cells: (order, date, status, customer, country, territory,
  //    product line, deal size) with their lines, quantity and sales.
  struct Cell {
    int64_t order;
    int32_t day;
    uint32_t st, cu, co, te, pl, ds;
    int64_t lines, qty, sales;
    auto key() const { return std::tie(order, day, st, cu, co, te, pl, ds); }
    auto attrs() const { return std::tie(day, st, cu, co, te); }
  };
  std::vector<Cell> cells;
  ViewTable out;
  for (const auto& chunk : raw.chunks) {
    const Chunk& k = *chunk;
    const size_t n = k.rows();
    auto code = [&](int d, size_t i) { return k.codes[static_cast<size_t>(d)][i]; };
    for (size_t b = 0; b < n;) {  // one order's run (chunks are sorted by order)
      size_t e = b;
      while (e < n && k.order_number[e] == k.order_number[b]) ++e;
      size_t first = cells.size();
      for (size_t i = b; i < e; ++i) {
        Cell c{k.order_number[i], k.day[i], code(kStatus, i), code(kCustomer, i), code(kCountry, i),
               code(kTerritory, i), code(kProductLine, i), code(kDealSize, i), 1, k.quantity[i], k.sales_cents[i]};
        auto same = std::find_if(cells.begin() + static_cast<ptrdiff_t>(first), cells.end(),
                                 [&](const Cell& x) { return x.key() == c.key(); });
        if (same == cells.end()) {
          cells.push_back(c);
        } else {
          ++same->lines, same->qty += c.qty, same->sales += c.sales;
        }
      }
      out.source_rows += static_cast<int64_t>(e - b);
      b = e;
    }
  }
  // An order continued in another part (an --append): merge its cells.
  std::sort(cells.begin(), cells.end(), [](const Cell& a, const Cell& b) { return a.key() < b.key(); });
  size_t w = 0;
  for (size_t r = 0; r < cells.size(); ++r) {
    if (w > 0 && cells[w - 1].key() == cells[r].key()) {
      cells[w - 1].lines += cells[r].lines, cells[w - 1].qty += cells[r].qty, cells[w - 1].sales += cells[r].sales;
    } else {
      cells[w++] = cells[r];
    }
  }
  cells.resize(w);
  auto str = [&](int d, uint32_t code) -> const std::string& { return raw.dicts[static_cast<size_t>(d)][code]; };
  auto attrs_of = [&](ViewRecord* r, const Cell& c) {
    r->day = c.day, r->status = str(kStatus, c.st), r->customer = str(kCustomer, c.cu);
    r->country = str(kCountry, c.co), r->territory = str(kTerritory, c.te);
  };
  // 2. Cube records: the cells of every order added up.
  std::map<std::tuple<int32_t, uint32_t, uint32_t, uint32_t, uint32_t, uint32_t, uint32_t>, ViewRecord> cube;
  for (const Cell& c : cells) {
    ViewRecord& r = cube[{c.day, c.st, c.cu, c.co, c.te, c.pl, c.ds}];
    if (r.lines == 0) {
      attrs_of(&r, c);
      r.product_line = str(kProductLine, c.pl), r.deal_size = str(kDealSize, c.ds);
    }
    r.lines += c.lines, r.quantity += c.qty, r.sales_cents += c.sales;
  }
  // 3. Order sets: each order's order-level values and set of cells; an
  //    order whose lines disagree on a value keeps a record per value set.
  std::map<std::tuple<int64_t, int32_t, uint32_t, uint32_t, uint32_t, uint32_t, std::string>, ViewRecord> sets;
  for (size_t b = 0; b < cells.size();) {
    size_t e = b;
    while (e < cells.size() && cells[e].order == cells[b].order) ++e;
    ++out.orders;
    const bool split = cells[b].attrs() != cells[e - 1].attrs();  // sorted: they differ iff the ends do
    out.split_orders += split ? 1 : 0;
    for (size_t s = b; s < e;) {
      size_t t = s;
      while (t < e && cells[t].attrs() == cells[s].attrs()) ++t;
      std::vector<std::pair<std::string, std::string>> pairs;
      for (size_t i = s; i < t; ++i) pairs.emplace_back(str(kProductLine, cells[i].pl), str(kDealSize, cells[i].ds));
      std::sort(pairs.begin(), pairs.end());
      nlohmann::json list = nlohmann::json::array();
      for (const auto& [pl, ds] : pairs) list.push_back({pl, ds});
      std::string text = list.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      const Cell& c = cells[s];
      ViewRecord& r = sets[{split ? c.order : 0, c.day, c.st, c.cu, c.co, c.te, text}];
      if (r.orders++ == 0) {
        attrs_of(&r, c);
        r.cells = std::move(text);
        r.order_number = split ? c.order : 0;
      }
      s = t;
    }
    b = e;
  }
  out.groups = static_cast<int64_t>(sets.size());
  // 4. Records, in a total order both engines can reproduce.
  auto order = [](const ViewRecord& a, const ViewRecord& b) {
    return std::tie(a.day, a.status, a.customer, a.country, a.territory, a.product_line, a.deal_size, a.cells,
                    a.order_number) <
           std::tie(b.day, b.status, b.customer, b.country, b.territory, b.product_line, b.deal_size, b.cells,
                    b.order_number);
  };
  for (auto& [k, r] : cube) out.records.push_back(std::move(r));
  const auto cube_end = static_cast<ptrdiff_t>(out.records.size());
  for (auto& [k, r] : sets) out.records.push_back(std::move(r));
  std::sort(out.records.begin(), out.records.begin() + cube_end, order);
  std::sort(out.records.begin() + cube_end, out.records.end(), order);
  return out;
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
