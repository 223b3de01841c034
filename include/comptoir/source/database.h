// SQL sources: one Connection interface over MySQL/MariaDB (libmariadb),
// PostgreSQL (libpq) and SQLite (libsqlite3).
//
// URLs (see ConnectOptions): mysql://user[:pass]@host[:port]/db (also
// mariadb:// and jdbc:mysql://), postgresql://user@host[:port]/db (also
// postgres:// and jdbc:postgresql://), sqlite:///absolute/path.db.
//
// Rows stream: Query() hands each row to a callback as text views valid only
// during the call, without buffering the result (mysql_use_result, COPY TO
// STDOUT, sqlite3_step), so memory stays flat whatever the table size.
//
// Errors are classified once, here: a refused or lost connection is
// Unavailable, bad credentials PermissionDenied, a missing table or column
// NotFound, SQL the server rejects InvalidArgument.
//
// A Connection is used by one thread at a time; open one per thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "comptoir/core/status.h"

namespace comptoir::source {

enum class Dialect { kMySql, kPostgres, kSqlite };
std::string_view DialectName(Dialect d);

// What a column holds, independent of the dialect's spelling.
enum class ColumnKind {
  kBool,
  kInt,       // any signed or unsigned integer (text keeps the full range)
  kDecimal,   // exact; `scale` digits after the point
  kFloat,     // binary floating point (FLOAT, DOUBLE, REAL)
  kDate,      // YYYY-MM-DD
  kDateTime,  // YYYY-MM-DDTHH:MM:SS[.ffffff] (no time zone)
  kTimestampTz,
  kTime,
  kString,
  kBinary,  // written as base64 in text files
  kJson,
};
std::string_view ColumnKindName(ColumnKind k);
bool IsStringKind(ColumnKind k);

struct Column {
  std::string name;      // as the catalog spells it
  std::string sql_type;  // declared type, e.g. "DECIMAL(10,2)", "int unsigned"
  ColumnKind kind = ColumnKind::kString;
  int precision = 0;
  int scale = 0;
  bool nullable = true;
  bool is_unsigned = false;
  bool tiny_int1 = false;  // MySQL TINYINT(1): kept an integer (JDBC makes it a boolean)
  bool supported = true;   // false for types Comptoir cannot write faithfully (MySQL spatial)
};

struct TableInfo {
  std::string name;
  std::vector<Column> columns;
  std::vector<std::string> primary_key;  // column names in key order
};

// One row: `values[i]` is nullopt for NULL. Views are valid during the
// callback only.
struct Row {
  std::vector<std::optional<std::string_view>> values;
};
using RowCallback = std::function<Status(const Row&)>;

// A source of rows for bulk loading; returns false when there are no more.
using RowSource = std::function<StatusOr<bool>(std::vector<std::optional<std::string>>*)>;

class Connection {
 public:
  virtual ~Connection() = default;
  virtual Dialect dialect() const = 0;
  // "MariaDB 10.11.6", "PostgreSQL 15.4", "SQLite 3.40.1".
  virtual std::string ServerVersion() = 0;

  // Quotes an identifier for this dialect (`x` or "x"), doubling quotes.
  virtual std::string QuoteIdentifier(std::string_view name) const = 0;
  // Quotes a string literal ('it''s').
  virtual std::string QuoteLiteral(std::string_view value) const = 0;

  // User tables of the current database/schema, sorted.
  virtual StatusOr<std::vector<std::string>> ListTables() = 0;
  // NotFound (naming the table and the database) when missing. The name is
  // matched exactly first, then case-insensitively.
  virtual StatusOr<TableInfo> DescribeTable(std::string_view table) = 0;
  // Columns of the result of `sql` without reading rows.
  virtual StatusOr<std::vector<Column>> DescribeQuery(const std::string& sql) = 0;

  virtual Status Execute(const std::string& sql) = 0;
  // Streams every row of `sql` to `on_row`; stops at the first non-OK status
  // the callback returns and returns it. `fetch_size` hints the batch size.
  virtual Status Query(const std::string& sql, const RowCallback& on_row,
                       int fetch_size = 10000) = 0;
  // The catalog's cheap row-count estimate for `table` (InnoDB statistics,
  // pg_class.reltuples); nullopt when the dialect has none. Never scans.
  virtual StatusOr<std::optional<uint64_t>> EstimateRows(const std::string& table) = 0;
  // First column of the first row, nullopt for NULL or no row.
  StatusOr<std::optional<std::string>> QueryScalar(const std::string& sql);

 protected:
  // The catalog's spelling of `table` (exact match first, then ignoring
  // case); NotFound names `database` and lists its tables.
  StatusOr<std::string> ResolveTable(std::string_view table, std::string_view database);

 public:

  // Loads rows into `table` (columns in `columns` order) with the fastest
  // path of the dialect (LOAD DATA LOCAL INFILE, COPY FROM STDIN, prepared
  // inserts in one transaction). Returns the number of rows loaded.
  virtual StatusOr<uint64_t> BulkLoad(const std::string& table,
                                      const std::vector<std::string>& columns,
                                      const RowSource& next, const std::function<void(uint64_t)>& progress) = 0;
};

struct ConnectOptions {
  std::string url;       // see the file comment
  std::string username;  // --username; overrides the URL's user
  std::optional<std::string> password;  // from --password-file, -P or the URL
  int connect_timeout_s = 10;
};

// Reads a password file (one trailing newline, as `echo secret > file`
// writes, is not part of the password). PermissionDenied for a file that
// other users can read, naming the chmod that fixes it.
StatusOr<std::string> ReadPasswordFile(const std::string& path);

// Where and as whom to connect to a database server, from the URL and flags.
struct ServerAddress {
  std::string redacted_url;  // for messages
  std::string database;
  std::string user;
  std::optional<std::string> password;
  std::string host;
  uint16_t port = 0;
  std::map<std::string, std::string> query;
};
// InvalidArgument when the URL names no database.
StatusOr<ServerAddress> ResolveServer(const ConnectOptions& options, uint16_t default_port);

// Opens a connection. Errors say what failed and what to do.
StatusOr<std::unique_ptr<Connection>> Connect(const ConnectOptions& options);

// Connection factories (used by Connect()).
StatusOr<std::unique_ptr<Connection>> ConnectMySql(const ConnectOptions& options);
StatusOr<std::unique_ptr<Connection>> ConnectPostgres(const ConnectOptions& options);
StatusOr<std::unique_ptr<Connection>> ConnectSqlite(const ConnectOptions& options);

// Maps a declared SQL type ("decimal(10,2) unsigned", "character varying")
// to a Column's kind, precision, scale and flags.
void ClassifyType(Dialect dialect, std::string_view declared, Column* column);

// `quote` + `text` with every `quote` doubled + `quote`: identifiers ("x",
// `x`) and SQL string literals ('it''s').
std::string QuoteDoubled(std::string_view text, char quote);

// Appends `value` to `out` escaped for MySQL LOAD DATA / PostgreSQL COPY text
// format (backslash escapes for \t \n \r \\; NULL is \N).
void AppendCopyText(std::string* out, const std::optional<std::string>& value);

}  // namespace comptoir::source
