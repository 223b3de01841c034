#include "comptoir/seed/sales.h"

#include <iconv.h>

#include <cerrno>
#include <chrono>
#include <fstream>
#include <map>
#include <sstream>

#include "comptoir/core/decimal.h"
#include "comptoir/core/progress.h"
#include "comptoir/core/signals.h"
#include "fmt/format.h"
#include "comptoir/lake/text_format.h"

namespace comptoir::seed {
namespace {

struct Product {
  std::string code;
  std::string line;
  int msrp;
};

struct Country {
  const char* name;
  const char* territory;
  int customers;
  std::vector<const char*> cities;
  bool has_state;
};

const std::vector<Country>& Countries() {
  static const auto* c = new std::vector<Country>{
      {"USA", "NA", 33, {"NYC", "San Francisco", "Boston", "Philadelphia", "Los Angeles"}, true},
      {"France", "EMEA", 12, {"Paris", "Nantes", "Lyon", "Marseille"}, false},
      {"Spain", "EMEA", 5, {"Madrid", "Barcelona", "Sevilla"}, false},
      {"Australia", "APAC", 5, {"Melbourne", "North Sydney", "Glen Waverly"}, true},
      {"UK", "EMEA", 5, {"London", "Manchester", "Liverpool"}, false},
      {"Italy", "EMEA", 4, {"Torino", "Bergamo", "Reggio Emilia"}, false},
      {"Finland", "EMEA", 3, {"Helsinki", "Espoo", "Oulu"}, false},
      {"Norway", "EMEA", 3, {"Oslo", "Stavern", "Bergen"}, false},
      {"Germany", "EMEA", 3, {"Frankfurt", "München", "Köln"}, false},
      {"Canada", "NA", 3, {"Montréal", "Vancouver", "Tsawassen"}, true},
      {"Singapore", "APAC", 3, {"Singapore"}, false},
      {"Denmark", "EMEA", 2, {"Kobenhavn", "Århus"}, false},
      {"Japan", "Japan", 2, {"Minato-ku", "Osaka"}, false},
      {"Sweden", "EMEA", 2, {"Luleå", "Bräcke"}, false},
      {"Austria", "EMEA", 2, {"Graz", "Salzburg"}, false},
      {"Belgium", "EMEA", 2, {"Bruxelles", "Charleroi"}, false},
      {"Switzerland", "EMEA", 1, {"Genève"}, false},
      {"Ireland", "EMEA", 1, {"Dublin"}, false},
      {"Philippines", "Japan", 1, {"Makati City"}, false},
  };
  return *c;
}

struct Customer {
  std::string name, phone, address1, city, country, territory, last, first;
  std::optional<std::string> address2, state, postal;
};

// A tiny fixed PRNG (SplitMix64) so the catalogue is the same for every seed.
uint64_t Mix(uint64_t* s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

const std::vector<Product>& Products() {
  static const auto* p = [] {
    auto* out = new std::vector<Product>();
    const std::pair<const char*, int> lines[] = {{"Classic Cars", 37}, {"Vintage Cars", 24},
                                                 {"Motorcycles", 13},  {"Planes", 12},
                                                 {"Trucks and Buses", 11}, {"Ships", 9},
                                                 {"Trains", 3}};
    const int scales[] = {10, 12, 18, 24, 32, 50, 700, 72};
    uint64_t s = 1;
    for (const auto& [line, n] : lines) {
      for (int i = 0; i < n; ++i) {
        int scale = scales[Mix(&s) % 8];
        std::string code = StrCat("S", scale, "_", 1000 + out->size() * 37 + Mix(&s) % 30);
        out->push_back({code, line, static_cast<int>(33 + Mix(&s) % 182)});
      }
    }
    return out;
  }();
  return *p;
}

const std::vector<Customer>& Customers() {
  static const auto* c = [] {
    auto* out = new std::vector<Customer>();
    const char* a[] = {"Land of", "Mini", "Euro", "Royal", "Classic", "Diecast", "Auto",
                       "Corporate", "Toys4", "Gift", "Super Scale", "Marta's", "Vitachrome",
                       "Atelier", "Heintze", "Volvo", "Danish", "Petit", "Online", "Suominen"};
    const char* b[] = {"Toys", "Gifts", "Shopping", "Replicas", "Models", "Collectables",
                       "Souveniers", "Imports", "Classics", "Miniatures"};
    const char* suffix[] = {" Inc.", ", Ltd", " Co.", " Ltd.", ", Co.", " Distributors",
                            " & Co.", " Corp"};
    const char* lasts[] = {"Young", "Frick", "Brown", "King", "Pipps", "Saveley", "Larsson",
                           "Hernandez", "Lincoln", "Müller", "Ibáñez", "Nelson", "Smith", "Roulet",
                           "Ashworth", "Perrier"};
    const char* firsts[] = {"Julie", "Michael", "William", "Jean", "Georg", "Mary", "Maria",
                            "Diego", "Elizabeth", "Jonas", "Pierre", "Annette", "Yoshi", "Rachel"};
    const char* streets[] = {"Strong St.", "Rue Royale", "Berguvsvägen", "Fauntleroy Circus",
                             "Hauptstr.", "Via Monte Bianco", "Kirchgasse", "Drammensveien",
                             "Maple Ave.", "Calle de la Paz"};
    const std::map<std::string_view, std::vector<const char*>> states = {
        {"USA", {"NY", "CA", "MA", "PA", "NH", "CT"}},
        {"Australia", {"NSW", "Victoria", "Queensland"}},
        {"Canada", {"BC", "Québec"}}};
    uint64_t s = 7;
    for (const Country& country : Countries()) {
      for (int i = 0; i < country.customers; ++i) {
        Customer cu;
        // (i % 20, (i / 20 + i) % 10) is a distinct pair for every i < 200: unique names.
        size_t n = out->size();
        cu.name = StrCat(a[n % 20], " ", b[(n / 20 + n) % 10], suffix[Mix(&s) % 8]);
        cu.phone = StrCat("(", Mix(&s) % 90 + 1, ") ", Mix(&s) % 900 + 100, "-",
                          Mix(&s) % 9000 + 1000);
        // Some street addresses carry a double space, as in the real data.
        cu.address1 = StrCat(streets[Mix(&s) % 10], Mix(&s) % 5 == 0 ? "  " : " ",
                             Mix(&s) % 300 + 1);
        if (Mix(&s) % 9 == 0) cu.address2 = StrCat("Level ", Mix(&s) % 20 + 1);
        cu.city = country.cities[Mix(&s) % country.cities.size()];
        if (country.has_state) {
          const auto& options = states.at(country.name);
          cu.state = options[Mix(&s) % options.size()];
        }
        if (Mix(&s) % 33 != 0) cu.postal = std::to_string(10000 + Mix(&s) % 89999);
        cu.country = country.name;
        cu.territory = country.territory;
        cu.last = lasts[Mix(&s) % 16];
        cu.first = firsts[Mix(&s) % 14];
        out->push_back(std::move(cu));
      }
    }
    return out;
  }();
  return *c;
}

std::string_view DealSize(int64_t sales_cents) {
  if (sales_cents < 300000) return "Small";
  if (sales_cents <= 700000) return "Medium";
  return "Large";
}

std::string Money(int64_t cents) {
  std::string s;
  core::AppendFixed(&s, cents, 2);
  return s;
}

}  // namespace

const std::vector<SalesColumn>& SalesColumns() {
  static const auto* c = new std::vector<SalesColumn>{
      {"ORDERNUMBER", "INT", false},          {"QUANTITYORDERED", "INT", false},
      {"PRICEEACH", "DECIMAL(10,2)", false},  {"ORDERLINENUMBER", "INT", false},
      {"SALES", "DECIMAL(12,2)", false},      {"ORDERDATE", "DATETIME", false},
      {"STATUS", "VARCHAR(16)", false},       {"QTR_ID", "INT", false},
      {"MONTH_ID", "INT", false},             {"YEAR_ID", "INT", false},
      {"PRODUCTLINE", "VARCHAR(32)", false},  {"MSRP", "INT", false},
      {"PRODUCTCODE", "VARCHAR(16)", false},  {"CUSTOMERNAME", "VARCHAR(64)", false},
      {"PHONE", "VARCHAR(32)", false},        {"ADDRESSLINE1", "VARCHAR(64)", false},
      {"ADDRESSLINE2", "VARCHAR(64)", true},  {"CITY", "VARCHAR(32)", false},
      {"STATE", "VARCHAR(32)", true},         {"POSTALCODE", "VARCHAR(16)", true},
      {"COUNTRY", "VARCHAR(32)", false},      {"TERRITORY", "VARCHAR(16)", true},
      {"CONTACTLASTNAME", "VARCHAR(32)", false}, {"CONTACTFIRSTNAME", "VARCHAR(32)", false},
      {"DEALSIZE", "VARCHAR(8)", false},
  };
  return *c;
}

std::vector<std::string> SalesColumnNames(source::Dialect dialect) {
  std::vector<std::string> out;
  for (const SalesColumn& c : SalesColumns()) {
    out.push_back(dialect == source::Dialect::kPostgres ? ToLower(c.name) : std::string(c.name));
  }
  return out;
}

std::string SalesDdl(source::Dialect dialect, std::string_view table,
                     const source::Connection& conn) {
  std::vector<std::string> cols;
  std::vector<std::string> names = SalesColumnNames(dialect);
  for (size_t i = 0; i < SalesColumns().size(); ++i) {
    const SalesColumn& c = SalesColumns()[i];
    std::string type(c.sql_type);
    if (dialect == source::Dialect::kPostgres && type == "DATETIME") type = "TIMESTAMP";
    cols.push_back(StrCat(conn.QuoteIdentifier(names[i]), " ", type, c.nullable ? "" : " NOT NULL"));
  }
  cols.push_back(StrCat("PRIMARY KEY (", conn.QuoteIdentifier(names[0]), ", ",
                        conn.QuoteIdentifier(names[3]), ")"));
  std::string ddl = StrCat("CREATE TABLE ", conn.QuoteIdentifier(table), " (\n  ",
                           Join(cols, ",\n  "), "\n)");
  if (dialect == source::Dialect::kMySql) ddl += " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4";
  return ddl;
}

SalesGenerator::SalesGenerator(uint64_t rows, uint64_t seed)
    : rows_(rows), state_(seed * 0x2545F4914F6CDD1DULL + 0x1234567ULL) {}

uint64_t SalesGenerator::NextRandom() { return Mix(&state_); }

void SalesGenerator::StartOrder() {
  ++order_number_;
  line_ = 0;
  lines_left_ = 1 + static_cast<int>(Uniform(18));
  // Spread the orders over 2003-01-06 .. 2005-05-31 (876 days) whatever the size.
  day_ = static_cast<int64_t>(rows_ == 0 ? 0 : produced_ * 876 / rows_);
  // Two big accounts take ~7 % of the orders, like the real data's top customers.
  uint64_t pick = Uniform(100);
  customer_ = pick < 4 ? 0 : pick < 7 ? 1 : Uniform(Customers().size());
  uint64_t st = Uniform(1000);
  status_ = st < 927   ? "Shipped"
            : st < 948 ? "Cancelled"
            : st < 965 ? "Resolved"
            : st < 981 ? "On Hold"
            : st < 995 ? "In Process"
                       : "Disputed";
}

bool SalesGenerator::NextLine(SalesLine* out) {
  if (produced_ >= rows_) return false;
  if (lines_left_ == 0) StartOrder();
  --lines_left_;
  ++line_;
  const Product& p = Products()[Uniform(Products().size())];
  const Customer& c = Customers()[customer_];
  int64_t qty = Uniform(20) == 0 ? 6 + static_cast<int64_t>(Uniform(92))
                                 : 20 + static_cast<int64_t>(Uniform(31));
  int64_t true_price = p.msrp * (85 + static_cast<int64_t>(Uniform(31)));  // cents
  SalesLine& l = *out;
  l.order_number = order_number_;
  l.order_line = line_;
  l.quantity = qty;
  l.price_each_cents = std::min<int64_t>(true_price, 10000);  // capped at 100, as in the source
  l.sales_cents = qty * true_price;
  l.day = day_;
  l.msrp = p.msrp;
  l.status = status_;
  l.product_line = p.line;
  l.product_code = p.code;
  l.customer = c.name;
  l.country = c.country;
  l.territory = c.territory;
  l.deal_size = DealSize(l.sales_cents);
  l.customer_index = customer_;
  ++produced_;
  return true;
}

bool SalesGenerator::Next(SalesRow* row) {
  SalesLine l;
  if (!NextLine(&l)) return false;
  const Customer& c = Customers()[l.customer_index];
  using namespace std::chrono;
  year_month_day ymd{sys_days{2003y / January / 6} + days{l.day}};
  int month = static_cast<int>(static_cast<unsigned>(ymd.month()));
  int year = static_cast<int>(ymd.year());
  std::string date = fmt::format("{:04}-{:02}-{:02} 00:00:00", year, month,
                                 static_cast<unsigned>(ymd.day()));
  *row = {std::to_string(l.order_number), std::to_string(l.quantity), Money(l.price_each_cents),
          std::to_string(l.order_line), Money(l.sales_cents), date, std::string(l.status),
          std::to_string((month - 1) / 3 + 1), std::to_string(month), std::to_string(year),
          std::string(l.product_line), std::to_string(l.msrp), std::string(l.product_code), c.name,
          c.phone, c.address1, c.address2, c.city, c.state, c.postal, c.country, c.territory,
          c.last, c.first, std::string(l.deal_size)};
  return true;
}

StatusOr<uint64_t> CreateAndFill(source::Connection* conn, const std::string& table, bool drop,
                                 const source::RowSource& next, uint64_t total, bool quiet) {
  if (drop) RETURN_IF_ERROR(conn->Execute(StrCat("DROP TABLE IF EXISTS ", conn->QuoteIdentifier(table))));
  RETURN_IF_ERROR(conn->Execute(SalesDdl(conn->dialect(), table, *conn)));
  core::Progress progress("seeding", total, "rows", quiet);
  uint64_t reported = 0;
  StatusOr<uint64_t> loaded = conn->BulkLoad(
      table, SalesColumnNames(conn->dialect()),
      [&](std::vector<std::optional<std::string>>* row) -> StatusOr<bool> {
        RETURN_IF_ERROR(core::CheckCancelled("seed"));
        return next(row);
      },
      [&](uint64_t n) {
        progress.Add(n - reported, 0);
        reported = n;
      });
  progress.Finish();
  if (!loaded.ok()) {
    (void)conn->Execute(StrCat("DROP TABLE ", conn->QuoteIdentifier(table)));  // no half table
  }
  return loaded;
}

StatusOr<std::string> ToUtf8(std::string_view data, const std::string& encoding,
                             std::string_view what) {
  std::string enc = ToLower(encoding);
  std::string from = enc == "utf-8" || enc == "utf8"                    ? "UTF-8"
                     : enc == "latin1" || enc == "latin-1" || enc == "iso-8859-1" ? "ISO-8859-1"
                     : enc == "cp1252" || enc == "windows-1252"         ? "CP1252"
                     : enc == "cp437" || enc == "ibm437"                ? "CP437"
                                                                        : "";
  if (from.empty()) {
    return absl::InvalidArgumentError(StrCat("unknown --encoding \"", encoding,
                                             "\"; use utf-8, latin1, cp1252 or cp437"));
  }
  iconv_t cd = iconv_open("UTF-8", from.c_str());
  if (cd == reinterpret_cast<iconv_t>(-1)) {
    return absl::InternalError(StrCat("iconv cannot convert from ", from));
  }
  std::string out(data.size() * 3 + 16, '\0');
  char* in = const_cast<char*>(data.data());
  size_t in_left = data.size();
  char* op = out.data();
  size_t out_left = out.size();
  size_t rc = iconv(cd, &in, &in_left, &op, &out_left);
  int err = errno;
  iconv_close(cd);
  if (rc == static_cast<size_t>(-1)) {
    size_t offset = data.size() - in_left;
    size_t line = 1 + static_cast<size_t>(std::count(data.begin(), data.begin() + offset, '\n'));
    if (err == EILSEQ || err == EINVAL) {
      return absl::InvalidArgumentError(fmt::format(
          "{}: line {}: byte 0x{:02X} is not valid {}; if the file uses another encoding, pass "
          "--encoding (latin1, cp1252 or cp437)",
          what, line, static_cast<unsigned char>(data[offset]), from));
    }
    return absl::InternalError(StrCat(what, ": conversion failed at line ", line));
  }
  out.resize(out.size() - out_left);
  return out;
}

StatusOr<std::string> ParseMonthFirstDate(std::string_view text) {
  auto bad = [&] {
    return absl::InvalidArgumentError(
        StrCat("\"", text, "\" is not a month-first date like 2/24/2003 0:00"));
  };
  auto [date, time] = SplitOnce(StripAsciiWhitespace(text), ' ');
  std::vector<std::string_view> d = Split(date, '/');
  if (d.size() != 3) return bad();
  int m = 0, dd = 0, y = 0, hh = 0, mm = 0, ss = 0;
  if (!ParseInt(d[0], &m) || !ParseInt(d[1], &dd) || !ParseInt(d[2], &y)) return bad();
  if (!time.empty()) {
    std::vector<std::string_view> t = Split(time, ':');
    if (t.size() < 2 || t.size() > 3 || !ParseInt(t[0], &hh) || !ParseInt(t[1], &mm) ||
        (t.size() == 3 && !ParseInt(t[2], &ss))) {
      return bad();
    }
  }
  using namespace std::chrono;
  year_month_day ymd{year{y}, month{static_cast<unsigned>(m)}, day{static_cast<unsigned>(dd)}};
  if (!ymd.ok() || hh > 23 || mm > 59 || ss > 59 || hh < 0 || mm < 0 || ss < 0) return bad();
  return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02}", y, m, dd, hh, mm, ss);
}

StatusOr<std::vector<SalesRow>> ReadSalesCsv(const std::string& path,
                                             const std::string& encoding) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return ErrnoToStatus(errno, StrCat("cannot read ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  ASSIGN_OR_RETURN(std::string text, ToUtf8(ss.str(), encoding, path));
  lake::TextFormat f;
  f.null_string = f.null_non_string = std::string("\x01\x02", 2);  // never matches: no NULL token
  lake::TextReader reader(f, text);
  std::vector<lake::TextField> fields;
  const auto& cols = SalesColumns();
  std::vector<SalesRow> rows;
  bool header = true;
  while (true) {
    StatusOr<bool> more = reader.Next(&fields);
    if (!more.ok()) return Annotate(more.status(), path);
    if (!*more) break;
    if (fields.size() == 1 && fields[0] && fields[0]->empty()) continue;  // blank line
    if (fields.size() != cols.size()) {
      return absl::InvalidArgumentError(StrCat(path, ": line ", reader.line(), ": expected ",
                                               cols.size(), " fields, found ", fields.size()));
    }
    if (header) {
      header = false;
      for (size_t i = 0; i < cols.size(); ++i) {
        if (!EqualsIgnoreCase(StripAsciiWhitespace(*fields[i]), cols[i].name)) {
          return absl::InvalidArgumentError(
              StrCat(path, ": line 1: column ", i + 1, " is \"", *fields[i], "\", expected \"",
                     cols[i].name, "\" (the Sample Sales Data header)"));
        }
      }
      continue;
    }
    SalesRow row(cols.size());
    for (size_t i = 0; i < cols.size(); ++i) {
      std::string& v = *fields[i];
      auto fail = [&](const Status& s) {
        return absl::InvalidArgumentError(StrCat(path, ": line ", reader.line(), ": column ",
                                                 cols[i].name, ": ", s.message()));
      };
      if (v.empty() && !reader.quoted(i)) {
        if (!cols[i].nullable) return fail(absl::InvalidArgumentError("is empty but required"));
        continue;  // NULL
      }
      std::string_view type = cols[i].sql_type;
      if (type == "INT") {
        int64_t n = 0;
        if (!ParseInt(v, &n)) return fail(absl::InvalidArgumentError(StrCat("\"", v, "\" is not an integer")));
        row[i] = v;
      } else if (type.starts_with("DECIMAL")) {
        StatusOr<std::string> d = core::NormalizeDecimal(v, 2);
        if (!d.ok()) return fail(d.status());
        row[i] = *d;
      } else if (type == "DATETIME") {
        StatusOr<std::string> d = ParseMonthFirstDate(v);
        if (!d.ok()) return fail(d.status());
        row[i] = *d;
      } else {
        row[i] = v;
      }
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace comptoir::seed
