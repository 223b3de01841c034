// MySQL / MariaDB through MariaDB Connector/C (libmariadb).
#include <mysql.h>

#include <cstring>
#include <mutex>

#include "comptoir/source/database.h"
#include "comptoir/source/errors.h"

namespace comptoir::source {
namespace {

constexpr uint64_t kRowsPerLoadStatement = 500000;

void InitLibraryOnce() {
  static std::once_flag once;
  std::call_once(once, [] { mysql_library_init(0, nullptr, nullptr); });
}

// Streams generated rows to the server for LOAD DATA LOCAL INFILE.
struct LocalInfileState {
  const RowSource* next = nullptr;
  const std::function<void(uint64_t)>* progress = nullptr;
  std::string buf;
  size_t pos = 0;
  uint64_t rows = 0;           // loaded in this statement
  uint64_t total_rows = 0;     // loaded by all statements
  bool exhausted = false;      // the source returned false
  Status error;
};

int InfileInit(void** ptr, const char* /*filename*/, void* userdata) {
  *ptr = userdata;
  return 0;
}

int InfileRead(void* ptr, char* buf, unsigned int len) {
  auto* st = static_cast<LocalInfileState*>(ptr);
  std::vector<std::optional<std::string>> row;
  while (st->buf.size() - st->pos < len && !st->exhausted && st->rows < kRowsPerLoadStatement) {
    if (st->pos > 0) {
      st->buf.erase(0, st->pos);
      st->pos = 0;
    }
    StatusOr<bool> more = (*st->next)(&row);
    if (!more.ok()) {
      st->error = more.status();
      return -1;
    }
    if (!*more) {
      st->exhausted = true;
      break;
    }
    for (size_t i = 0; i < row.size(); ++i) {
      if (i > 0) st->buf.push_back('\t');
      AppendCopyText(&st->buf, row[i]);
    }
    st->buf.push_back('\n');
    ++st->rows;
    ++st->total_rows;
    if (st->total_rows % 8192 == 0 && *st->progress) (*st->progress)(st->total_rows);
  }
  size_t n = std::min<size_t>(len, st->buf.size() - st->pos);
  std::memcpy(buf, st->buf.data() + st->pos, n);
  st->pos += n;
  return static_cast<int>(n);
}

void InfileEnd(void* /*ptr*/) {}

int InfileError(void* ptr, char* msg, unsigned int len) {
  auto* st = static_cast<LocalInfileState*>(ptr);
  std::snprintf(msg, len, "%s", std::string(st->error.message()).c_str());
  return 2000;
}

class MySqlConnection final : public Connection {
 public:
  explicit MySqlConnection(MYSQL* conn, std::string database)
      : conn_(conn), database_(std::move(database)) {}
  ~MySqlConnection() override {
    if (conn_ != nullptr) mysql_close(conn_);
  }

  Dialect dialect() const override { return Dialect::kMySql; }

  std::string ServerVersion() override {
    std::string v = mysql_get_server_info(conn_);
    return StrCat(v.find("MariaDB") != std::string::npos ? "MariaDB " : "MySQL ", v);
  }

  std::string QuoteIdentifier(std::string_view name) const override {
    return QuoteDoubled(name, '`');
  }

  std::string QuoteLiteral(std::string_view value) const override {
    std::string out(value.size() * 2 + 3, '\0');
    out[0] = '\'';
    unsigned long n = mysql_real_escape_string(conn_, out.data() + 1, value.data(), value.size());
    out.resize(n + 1);
    out.push_back('\'');
    return out;
  }

  StatusOr<std::vector<std::string>> ListTables() override {
    std::vector<std::string> out;
    RETURN_IF_ERROR(Query(
        "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() "
        "AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME",
        [&](const Row& r) {
          out.emplace_back(*r.values[0]);
          return absl::OkStatus();
        }));
    return out;
  }

  StatusOr<TableInfo> DescribeTable(std::string_view table) override {
    ASSIGN_OR_RETURN(std::string name, ResolveTable(table, database_));
    TableInfo info;
    info.name = name;
    RETURN_IF_ERROR(Query(
        StrCat("SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE FROM information_schema.COLUMNS "
               "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ",
               QuoteLiteral(name), " ORDER BY ORDINAL_POSITION"),
        [&](const Row& r) {
          Column c;
          c.name = std::string(*r.values[0]);
          ClassifyType(Dialect::kMySql, *r.values[1], &c);
          c.nullable = *r.values[2] == "YES";
          info.columns.push_back(std::move(c));
          return absl::OkStatus();
        }));
    RETURN_IF_ERROR(Query(
        StrCat("SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE WHERE "
               "TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ",
               QuoteLiteral(name), " AND CONSTRAINT_NAME = 'PRIMARY' ORDER BY ORDINAL_POSITION"),
        [&](const Row& r) {
          info.primary_key.emplace_back(*r.values[0]);
          return absl::OkStatus();
        }));
    return info;
  }

  StatusOr<std::optional<uint64_t>> EstimateRows(const std::string& table) override {
    ASSIGN_OR_RETURN(std::optional<std::string> v,
                     QueryScalar(StrCat("SELECT TABLE_ROWS FROM information_schema.TABLES WHERE "
                                        "TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ",
                                        QuoteLiteral(table))));
    uint64_t n = 0;
    if (!v || !ParseInt(*v, &n)) return std::optional<uint64_t>();
    return std::optional<uint64_t>(n);
  }

  // Not split: one switch from MySQL's field types to column kinds, the
  // single place that mapping is written.
  StatusOr<std::vector<Column>> DescribeQuery(const std::string& sql) override {
    RETURN_IF_ERROR(Run(StrCat("SELECT * FROM (", sql, ") AS comptoir_q LIMIT 0"), "describe query"));
    MYSQL_RES* res = mysql_store_result(conn_);
    if (res == nullptr) return Error("describe query");
    std::vector<Column> out;
    unsigned n = mysql_num_fields(res);
    MYSQL_FIELD* fields = mysql_fetch_fields(res);
    for (unsigned i = 0; i < n; ++i) {
      const MYSQL_FIELD& f = fields[i];
      Column c;
      c.name = f.name;
      bool uns = (f.flags & UNSIGNED_FLAG) != 0;
      bool binary = f.charsetnr == 63;
      std::string type;
      switch (f.type) {
        case MYSQL_TYPE_TINY:
          type = f.length == 1 ? "tinyint(1)" : "tinyint";
          break;
        case MYSQL_TYPE_SHORT:
          type = "smallint";
          break;
        case MYSQL_TYPE_INT24:
          type = "mediumint";
          break;
        case MYSQL_TYPE_LONG:
          type = "int";
          break;
        case MYSQL_TYPE_LONGLONG:
          type = "bigint";
          break;
        case MYSQL_TYPE_YEAR:
          type = "year";
          break;
        case MYSQL_TYPE_DECIMAL:
        case MYSQL_TYPE_NEWDECIMAL:
          type = StrCat("decimal(", f.length - (f.decimals > 0 ? 1 : 0) - (uns ? 0 : 1), ",",
                        f.decimals, ")");
          break;
        case MYSQL_TYPE_FLOAT:
          type = "float";
          break;
        case MYSQL_TYPE_DOUBLE:
          type = "double";
          break;
        case MYSQL_TYPE_DATE:
        case MYSQL_TYPE_NEWDATE:
          type = "date";
          break;
        case MYSQL_TYPE_DATETIME:
          type = "datetime";
          break;
        case MYSQL_TYPE_TIMESTAMP:
          type = "timestamp";
          break;
        case MYSQL_TYPE_TIME:
          type = "time";
          break;
        case MYSQL_TYPE_BIT:
          type = "bit";
          break;
        case MYSQL_TYPE_JSON:
          type = "json";
          break;
        case MYSQL_TYPE_TINY_BLOB:
        case MYSQL_TYPE_MEDIUM_BLOB:
        case MYSQL_TYPE_LONG_BLOB:
        case MYSQL_TYPE_BLOB:
          type = binary ? "blob" : "text";
          break;
        case MYSQL_TYPE_STRING:
          type = binary ? "binary" : "char";
          break;
        default:
          type = binary ? "varbinary" : "varchar";
      }
      if (uns) type += " unsigned";
      ClassifyType(Dialect::kMySql, type, &c);
      c.nullable = (f.flags & NOT_NULL_FLAG) == 0;
      out.push_back(std::move(c));
    }
    mysql_free_result(res);
    return out;
  }

  Status Execute(const std::string& sql) override {
    RETURN_IF_ERROR(Run(sql, "execute"));
    // Discard any result set(s).
    do {
      MYSQL_RES* res = mysql_store_result(conn_);
      if (res != nullptr) mysql_free_result(res);
    } while (mysql_next_result(conn_) == 0);
    return absl::OkStatus();
  }

  Status Query(const std::string& sql, const RowCallback& on_row, int /*fetch_size*/ = 10000) override {
    RETURN_IF_ERROR(Run(sql, "query"));
    MYSQL_RES* res = mysql_use_result(conn_);
    if (res == nullptr) {
      if (mysql_field_count(conn_) == 0) return absl::OkStatus();
      return Error("query");
    }
    unsigned n = mysql_num_fields(res);
    Row row;
    row.values.resize(n);
    Status status;
    while (MYSQL_ROW r = mysql_fetch_row(res)) {
      unsigned long* lengths = mysql_fetch_lengths(res);
      for (unsigned i = 0; i < n; ++i) {
        row.values[i] = r[i] == nullptr ? std::nullopt
                                        : std::optional<std::string_view>(
                                              std::string_view(r[i], lengths[i]));
      }
      status = on_row(row);
      if (!status.ok()) {
        // Stop the server from sending the rest instead of draining it.
        mariadb_cancel(conn_);
        mysql_free_result(res);
        broken_ = true;
        return status;
      }
    }
    if (mysql_errno(conn_) != 0) {
      Status err = Error("read rows");
      mysql_free_result(res);
      return err;
    }
    mysql_free_result(res);
    return absl::OkStatus();
  }

  StatusOr<uint64_t> BulkLoad(const std::string& table, const std::vector<std::string>& columns,
                              const RowSource& next,
                              const std::function<void(uint64_t)>& progress) override {
    LocalInfileState st;
    st.next = &next;
    st.progress = &progress;
    std::vector<std::string> quoted;
    for (const std::string& c : columns) quoted.push_back(QuoteIdentifier(c));
    std::string sql = StrCat(
        "LOAD DATA LOCAL INFILE 'comptoir-rows' INTO TABLE ", QuoteIdentifier(table),
        " CHARACTER SET utf8mb4 FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' "
        "LINES TERMINATED BY '\\n' (",
        Join(quoted, ", "), ")");
    mysql_set_local_infile_handler(conn_, InfileInit, InfileRead, InfileEnd, InfileError, &st);
    while (!st.exhausted) {
      st.rows = 0;
      Status s = Run(sql, StrCat("load rows into ", table));
      if (!st.error.ok()) return st.error;
      RETURN_IF_ERROR(s);
      if (mysql_warning_count(conn_) > 0) {
        return absl::InvalidArgumentError(StrCat(
            "loading into ", table, " produced ", mysql_warning_count(conn_),
            " warning(s) (values truncated or converted); nothing after them was checked"));
      }
    }
    mysql_set_local_infile_default(conn_);
    return st.total_rows;
  }

 private:
  Status Run(const std::string& sql, std::string_view what) {
    if (broken_) return absl::FailedPreconditionError("connection was cancelled; reconnect");
    if (mysql_real_query(conn_, sql.data(), sql.size()) != 0) return Error(what);
    return absl::OkStatus();
  }
  Status Error(std::string_view what) {
    return MySqlErrorToStatus(mysql_errno(conn_), mysql_error(conn_), StrCat("mysql ", what));
  }

  MYSQL* conn_;
  std::string database_;
  bool broken_ = false;
};

}  // namespace

StatusOr<std::unique_ptr<Connection>> ConnectMySql(const ConnectOptions& options) {
  InitLibraryOnce();
  ASSIGN_OR_RETURN(ServerAddress a, ResolveServer(options, 3306));
  MYSQL* conn = mysql_init(nullptr);
  if (conn == nullptr) return absl::ResourceExhaustedError("mysql_init failed (out of memory)");
  unsigned timeout = static_cast<unsigned>(options.connect_timeout_s);
  mysql_optionsv(conn, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
  mysql_optionsv(conn, MYSQL_SET_CHARSET_NAME, "utf8mb4");
  my_bool local_infile = 1;
  mysql_optionsv(conn, MYSQL_OPT_LOCAL_INFILE, &local_infile);
  std::string sock;
  if (auto it = a.query.find("socket"); it != a.query.end()) sock = it->second;
  if (mysql_real_connect(conn, a.host.c_str(), a.user.empty() ? nullptr : a.user.c_str(),
                         a.password ? a.password->c_str() : nullptr, a.database.c_str(), a.port,
                         sock.empty() ? nullptr : sock.c_str(), CLIENT_LOCAL_FILES) == nullptr) {
    Status s = MySqlErrorToStatus(mysql_errno(conn), mysql_error(conn),
                                  StrCat("cannot connect to ", a.redacted_url));
    mysql_close(conn);
    return s;
  }
  auto c = std::make_unique<MySqlConnection>(conn, a.database);
  // UTC for TIMESTAMP columns, strict conversions, no zero-date surprises on load.
  RETURN_IF_ERROR(c->Execute("SET time_zone = '+00:00', sql_mode = CONCAT(@@sql_mode, "
                             "',STRICT_ALL_TABLES'), net_write_timeout = 600"));
  return std::unique_ptr<Connection>(std::move(c));
}

}  // namespace comptoir::source
