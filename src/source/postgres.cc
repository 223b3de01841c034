// PostgreSQL through libpq. Rows stream with COPY (...) TO STDOUT in text
// format: one CopyData message per row, no result buffering.
#include <libpq-fe.h>

#include "comptoir/source/database.h"
#include "comptoir/source/errors.h"

namespace comptoir::source {
namespace {

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ResultDeleter>;

// Splits one COPY text row into fields, undoing backslash escapes. Views
// point into `row` or `scratch` (which is reserved so it never reallocates).
void ParseCopyRow(std::string_view line, std::string* scratch, Row* out) {
  out->values.clear();
  if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  scratch->clear();
  scratch->reserve(line.size());
  size_t start = 0;
  while (true) {
    size_t tab = line.find('\t', start);
    std::string_view f =
        line.substr(start, tab == std::string_view::npos ? std::string_view::npos : tab - start);
    if (f == "\\N") {
      out->values.emplace_back(std::nullopt);
    } else if (f.find('\\') == std::string_view::npos) {
      out->values.emplace_back(f);
    } else {
      size_t begin = scratch->size();
      for (size_t i = 0; i < f.size(); ++i) {
        char c = f[i];
        if (c != '\\' || i + 1 == f.size()) {
          scratch->push_back(c);
          continue;
        }
        char e = f[++i];
        switch (e) {
          case 'n':
            scratch->push_back('\n');
            break;
          case 't':
            scratch->push_back('\t');
            break;
          case 'r':
            scratch->push_back('\r');
            break;
          case 'b':
            scratch->push_back('\b');
            break;
          case 'f':
            scratch->push_back('\f');
            break;
          case 'v':
            scratch->push_back('\v');
            break;
          default:
            scratch->push_back(e);  // \\ and any other escaped character
        }
      }
      out->values.emplace_back(std::string_view(scratch->data() + begin, scratch->size() - begin));
    }
    if (tab == std::string_view::npos) break;
    start = tab + 1;
  }
}

class PostgresConnection final : public Connection {
 public:
  PostgresConnection(PGconn* conn, std::string database)
      : conn_(conn), database_(std::move(database)) {}
  ~PostgresConnection() override { PQfinish(conn_); }

  Dialect dialect() const override { return Dialect::kPostgres; }

  std::string ServerVersion() override {
    int v = PQserverVersion(conn_);
    return StrCat("PostgreSQL ", v / 10000, ".", v % 10000);
  }

  std::string QuoteIdentifier(std::string_view name) const override {
    return QuoteDoubled(name, '"');
  }

  std::string QuoteLiteral(std::string_view value) const override {
    char* q = PQescapeLiteral(conn_, value.data(), value.size());
    std::string out = q == nullptr ? "''" : q;
    PQfreemem(q);
    return out;
  }

  StatusOr<std::vector<std::string>> ListTables() override {
    ASSIGN_OR_RETURN(Result r, Exec("SELECT tablename FROM pg_catalog.pg_tables WHERE schemaname "
                                    "= current_schema() ORDER BY tablename",
                                    "list tables"));
    std::vector<std::string> out;
    for (int i = 0; i < PQntuples(r.get()); ++i) out.emplace_back(PQgetvalue(r.get(), i, 0));
    return out;
  }

  StatusOr<TableInfo> DescribeTable(std::string_view table) override {
    ASSIGN_OR_RETURN(std::string name, ResolveTable(table, database_));
    TableInfo info;
    info.name = name;
    std::string reg = QuoteLiteral(StrCat(QuoteIdentifier(name)));
    ASSIGN_OR_RETURN(
        Result cols,
        Exec(StrCat("SELECT a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull "
                    "FROM pg_catalog.pg_attribute a WHERE a.attrelid = ",
                    reg, "::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum"),
             "describe table"));
    for (int i = 0; i < PQntuples(cols.get()); ++i) {
      Column c;
      c.name = PQgetvalue(cols.get(), i, 0);
      ClassifyType(Dialect::kPostgres, PQgetvalue(cols.get(), i, 1), &c);
      c.nullable = std::string_view(PQgetvalue(cols.get(), i, 2)) == "t";
      info.columns.push_back(std::move(c));
    }
    ASSIGN_OR_RETURN(
        Result pk,
        Exec(StrCat("SELECT a.attname FROM pg_catalog.pg_index i JOIN pg_catalog.pg_attribute a "
                    "ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) WHERE i.indrelid = ",
                    reg,
                    "::regclass AND i.indisprimary ORDER BY array_position(i.indkey::int2[], "
                    "a.attnum)"),
             "describe primary key"));
    for (int i = 0; i < PQntuples(pk.get()); ++i) {
      info.primary_key.emplace_back(PQgetvalue(pk.get(), i, 0));
    }
    return info;
  }

  StatusOr<std::optional<uint64_t>> EstimateRows(const std::string& table) override {
    ASSIGN_OR_RETURN(Result r, Exec(StrCat("SELECT reltuples::bigint FROM pg_catalog.pg_class "
                                           "WHERE oid = ",
                                           QuoteLiteral(QuoteIdentifier(table)), "::regclass"),
                                    "estimate rows"));
    int64_t n = -1;
    if (PQntuples(r.get()) != 1 || !ParseInt(std::string_view(PQgetvalue(r.get(), 0, 0)), &n) ||
        n <= 0) {
      return std::optional<uint64_t>();  // never analyzed
    }
    return std::optional<uint64_t>(static_cast<uint64_t>(n));
  }

  StatusOr<std::vector<Column>> DescribeQuery(const std::string& sql) override {
    ASSIGN_OR_RETURN(Result r, Exec(StrCat("SELECT * FROM (", sql, ") AS comptoir_q LIMIT 0"),
                                    "describe query"));
    std::vector<Column> out;
    for (int i = 0; i < PQnfields(r.get()); ++i) {
      ASSIGN_OR_RETURN(Result t, Exec(StrCat("SELECT format_type(", PQftype(r.get(), i), ", ",
                                             PQfmod(r.get(), i), ")"),
                                      "describe type"));
      Column c;
      c.name = PQfname(r.get(), i);
      ClassifyType(Dialect::kPostgres, PQgetvalue(t.get(), 0, 0), &c);
      out.push_back(std::move(c));
    }
    return out;
  }

  Status Execute(const std::string& sql) override { return Exec(sql, "execute").status(); }

  Status Query(const std::string& sql, const RowCallback& on_row, int /*fetch_size*/ = 10000) override {
    std::string copy = StrCat("COPY (", sql, ") TO STDOUT");
    Result start(PQexec(conn_, copy.c_str()));
    if (PQresultStatus(start.get()) != PGRES_COPY_OUT) return ResultError(start.get(), "query");
    Row row;
    std::string scratch;
    Status status;
    while (true) {
      char* buf = nullptr;
      int n = PQgetCopyData(conn_, &buf, 0);
      if (n == -1) break;  // done
      if (n == -2) {
        return PostgresErrorToStatus("", PQerrorMessage(conn_), "postgresql read rows");
      }
      if (status.ok()) {
        ParseCopyRow(std::string_view(buf, static_cast<size_t>(n)), &scratch, &row);
        status = on_row(row);
        if (!status.ok()) {
          // Ask the server to stop; the loop then drains what is in flight.
          if (PGcancel* c = PQgetCancel(conn_)) {
            char err[256];
            PQcancel(c, err, sizeof(err));
            PQfreeCancel(c);
          }
        }
      }
      PQfreemem(buf);
    }
    Result end(PQgetResult(conn_));
    while (PGresult* extra = PQgetResult(conn_)) PQclear(extra);
    if (!status.ok()) return status;
    if (PQresultStatus(end.get()) != PGRES_COMMAND_OK) return ResultError(end.get(), "read rows");
    return absl::OkStatus();
  }

  StatusOr<uint64_t> BulkLoad(const std::string& table, const std::vector<std::string>& columns,
                              const RowSource& next,
                              const std::function<void(uint64_t)>& progress) override {
    std::vector<std::string> quoted;
    for (const std::string& c : columns) quoted.push_back(QuoteIdentifier(c));
    std::string sql =
        StrCat("COPY ", QuoteIdentifier(table), " (", Join(quoted, ", "), ") FROM STDIN");
    Result start(PQexec(conn_, sql.c_str()));
    if (PQresultStatus(start.get()) != PGRES_COPY_IN) return ResultError(start.get(), "load rows");
    std::string buf;
    std::vector<std::optional<std::string>> row;
    uint64_t rows = 0;
    Status status;
    while (true) {
      StatusOr<bool> more = next(&row);
      if (!more.ok()) {
        status = more.status();
        break;
      }
      if (!*more) break;
      for (size_t i = 0; i < row.size(); ++i) {
        if (i > 0) buf.push_back('\t');
        AppendCopyText(&buf, row[i]);
      }
      buf.push_back('\n');
      ++rows;
      if (buf.size() >= (1 << 18)) {
        if (PQputCopyData(conn_, buf.data(), static_cast<int>(buf.size())) != 1) break;
        buf.clear();
        if (progress) progress(rows);
      }
    }
    if (status.ok() && !buf.empty()) {
      PQputCopyData(conn_, buf.data(), static_cast<int>(buf.size()));
    }
    std::string abort_msg(status.message());
    PQputCopyEnd(conn_, status.ok() ? nullptr : abort_msg.c_str());
    Result end(PQgetResult(conn_));
    while (PGresult* extra = PQgetResult(conn_)) PQclear(extra);
    if (!status.ok()) return status;
    if (PQresultStatus(end.get()) != PGRES_COMMAND_OK) return ResultError(end.get(), "load rows");
    if (progress) progress(rows);
    return rows;
  }

 private:
  StatusOr<Result> Exec(const std::string& sql, std::string_view what) {
    Result r(PQexec(conn_, sql.c_str()));
    ExecStatusType st = PQresultStatus(r.get());
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return ResultError(r.get(), what);
    return r;
  }
  Status ResultError(PGresult* r, std::string_view what) {
    const char* state = r == nullptr ? nullptr : PQresultErrorField(r, PG_DIAG_SQLSTATE);
    const char* msg = r == nullptr ? PQerrorMessage(conn_) : PQresultErrorMessage(r);
    return PostgresErrorToStatus(state == nullptr ? "" : state, msg,
                                 StrCat("postgresql ", what));
  }

  PGconn* conn_;
  std::string database_;
};

}  // namespace

StatusOr<std::unique_ptr<Connection>> ConnectPostgres(const ConnectOptions& options) {
  ASSIGN_OR_RETURN(ServerAddress a, ResolveServer(options, 5432));
  std::string port = std::to_string(a.port);
  std::string timeout = std::to_string(options.connect_timeout_s);
  std::vector<const char*> keys = {"host", "port", "dbname", "connect_timeout",
                                   "application_name", "client_encoding"};
  std::vector<const char*> values = {a.host.c_str(), port.c_str(), a.database.c_str(), timeout.c_str(),
                                     "comptoir", "UTF8"};
  if (!a.user.empty()) {
    keys.push_back("user");
    values.push_back(a.user.c_str());
  }
  if (a.password) {
    keys.push_back("password");
    values.push_back(a.password->c_str());
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  PGconn* conn = PQconnectdbParams(keys.data(), values.data(), 0);
  if (PQstatus(conn) != CONNECTION_OK) {
    Status s = PostgresErrorToStatus("", PQerrorMessage(conn),
                                     StrCat("cannot connect to ", a.redacted_url));
    PQfinish(conn);
    return s;
  }
  auto c = std::make_unique<PostgresConnection>(conn, a.database);
  RETURN_IF_ERROR(c->Execute("SET DateStyle = ISO; SET TimeZone = 'UTC'; "
                             "SET bytea_output = 'hex'; SET extra_float_digits = 1"));
  return std::unique_ptr<Connection>(std::move(c));
}

}  // namespace comptoir::source
