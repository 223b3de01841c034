#include "comptoir/source/database.h"

#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "comptoir/core/uri.h"
#include "fmt/format.h"

namespace comptoir::source {

StatusOr<std::string> ReadPasswordFile(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return ErrnoToStatus(errno, StrCat("--password-file ", path));
  if ((st.st_mode & 0077) != 0) {
    return absl::PermissionDeniedError(fmt::format(
        "--password-file {} can be read by other users (mode {:04o}); run `chmod 600 {}` first", path,
        st.st_mode & 07777, path));
  }
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string pw = ss.str();
  // Unlike Sqoop, one trailing newline is not part of the password.
  if (pw.ends_with("\r\n")) {
    pw.resize(pw.size() - 2);
  } else if (pw.ends_with('\n')) {
    pw.pop_back();
  }
  return pw;
}

std::string_view DialectName(Dialect d) {
  switch (d) {
    case Dialect::kMySql:
      return "mysql";
    case Dialect::kPostgres:
      return "postgresql";
    case Dialect::kSqlite:
      break;
  }
  return "sqlite";
}

std::string_view ColumnKindName(ColumnKind k) {
  switch (k) {
    case ColumnKind::kBool:
      return "boolean";
    case ColumnKind::kInt:
      return "integer";
    case ColumnKind::kDecimal:
      return "decimal";
    case ColumnKind::kFloat:
      return "float";
    case ColumnKind::kDate:
      return "date";
    case ColumnKind::kDateTime:
      return "datetime";
    case ColumnKind::kTimestampTz:
      return "timestamptz";
    case ColumnKind::kTime:
      return "time";
    case ColumnKind::kString:
      return "string";
    case ColumnKind::kBinary:
      return "binary";
    case ColumnKind::kJson:
      break;
  }
  return "json";
}

bool IsStringKind(ColumnKind k) { return k == ColumnKind::kString || k == ColumnKind::kJson; }

StatusOr<std::optional<std::string>> Connection::QueryScalar(const std::string& sql) {
  std::optional<std::string> out;
  bool seen = false;
  RETURN_IF_ERROR(Query(sql, [&](const Row& row) -> Status {
    if (!seen && !row.values.empty() && row.values[0]) out = std::string(*row.values[0]);
    seen = true;
    return absl::OkStatus();
  }));
  return out;
}

StatusOr<std::string> Connection::ResolveTable(std::string_view table,
                                               std::string_view database) {
  ASSIGN_OR_RETURN(std::vector<std::string> tables, ListTables());
  for (const std::string& t : tables) {
    if (t == table) return t;
  }
  for (const std::string& t : tables) {
    if (EqualsIgnoreCase(t, table)) return t;
  }
  return absl::NotFoundError(StrCat("table \"", table, "\" does not exist in database \"",
                                    database, "\" (tables: ", Join(tables, ", "), ")"));
}

std::string QuoteDoubled(std::string_view text, char quote) {
  std::string out(1, quote);
  for (char c : text) {
    if (c == quote) out.push_back(quote);
    out.push_back(c);
  }
  out.push_back(quote);
  return out;
}

void ClassifyType(Dialect dialect, std::string_view declared, Column* c) {
  c->sql_type = std::string(declared);
  std::string t = ToLower(StripAsciiWhitespace(declared));
  c->is_unsigned = t.find("unsigned") != std::string::npos;
  // Base name and "(p[,s])".
  std::string base = t.substr(0, t.find_first_of("( "));
  if (size_t open = t.find('('); open != std::string::npos) {
    size_t close = t.find(')', open);
    std::string_view args(t.data() + open + 1, (close == std::string::npos ? t.size() : close) -
                                                   open - 1);
    auto [p, s] = SplitOnce(args, ',');
    (void)ParseInt(StripAsciiWhitespace(p), &c->precision);
    (void)ParseInt(StripAsciiWhitespace(s), &c->scale);
  }
  auto is = [&](std::initializer_list<std::string_view> names) {
    for (std::string_view n : names) {
      if (base == n) return true;
    }
    return false;
  };
  auto contains = [&](std::string_view s) { return t.find(s) != std::string::npos; };
  if (dialect == Dialect::kSqlite) {
    // SQLite's affinity rules, refined by the common type names.
    if (is({"decimal", "numeric"})) {
      c->kind = ColumnKind::kDecimal;
    } else if (is({"datetime", "timestamp"})) {
      c->kind = ColumnKind::kDateTime;
    } else if (is({"date"})) {
      c->kind = ColumnKind::kDate;
    } else if (is({"boolean", "bool"})) {
      c->kind = ColumnKind::kBool;
    } else if (contains("int")) {
      c->kind = ColumnKind::kInt;
    } else if (contains("char") || contains("clob") || contains("text")) {
      c->kind = ColumnKind::kString;
    } else if (contains("blob") || t.empty()) {
      c->kind = t.empty() ? ColumnKind::kString : ColumnKind::kBinary;
    } else if (contains("real") || contains("floa") || contains("doub")) {
      c->kind = ColumnKind::kFloat;
    } else {
      c->kind = ColumnKind::kString;
    }
    return;
  }
  if (is({"tinyint", "smallint", "mediumint", "int", "integer", "bigint", "int2", "int4", "int8",
          "serial", "bigserial", "smallserial", "year"})) {
    c->kind = ColumnKind::kInt;
    c->tiny_int1 = base == "tinyint" && c->precision == 1;
  } else if (is({"bool", "boolean"})) {
    if (dialect == Dialect::kMySql) {
      c->kind = ColumnKind::kInt;  // MySQL's BOOLEAN is TINYINT(1)
      c->tiny_int1 = true;
    } else {
      c->kind = ColumnKind::kBool;
    }
  } else if (is({"decimal", "numeric", "dec", "fixed"})) {
    c->kind = ColumnKind::kDecimal;
  } else if (is({"float", "double", "real", "float4", "float8"}) || t == "double precision") {
    c->kind = ColumnKind::kFloat;
  } else if (is({"date"})) {
    c->kind = ColumnKind::kDate;
  } else if (base == "datetime" || (base == "timestamp" && !contains("with time zone"))) {
    c->kind = ColumnKind::kDateTime;
  } else if (base == "timestamptz" || (base == "timestamp" && contains("with time zone"))) {
    c->kind = ColumnKind::kTimestampTz;
  } else if (is({"time", "timetz"}) || t.starts_with("time ")) {
    c->kind = ColumnKind::kTime;
  } else if (is({"binary", "varbinary", "blob", "tinyblob", "mediumblob", "longblob", "bytea",
                 "bit"})) {
    c->kind = ColumnKind::kBinary;
  } else if (dialect == Dialect::kMySql &&
             is({"geometry", "point", "linestring", "polygon", "multipoint", "multilinestring",
                 "multipolygon", "geometrycollection"})) {
    c->kind = ColumnKind::kBinary;
    c->supported = false;  // MySQL sends internal WKB with an SRID prefix
  } else if (is({"json", "jsonb"})) {
    c->kind = ColumnKind::kJson;
  } else {
    c->kind = ColumnKind::kString;  // char, varchar, text, enum, set, uuid, ...
  }
}

void AppendCopyText(std::string* out, const std::optional<std::string>& value) {
  if (!value) {
    out->append("\\N");
    return;
  }
  for (char ch : *value) {
    switch (ch) {
      case '\\':
        out->append("\\\\");
        break;
      case '\t':
        out->append("\\t");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      default:
        out->push_back(ch);
    }
  }
}

StatusOr<ServerAddress> ResolveServer(const ConnectOptions& options, uint16_t default_port) {
  ASSIGN_OR_RETURN(core::Uri uri, core::ParseUri(options.url));
  ServerAddress a;
  a.redacted_url = uri.Redacted();
  a.database = uri.path.empty() ? "" : uri.path.substr(1);
  if (a.database.empty()) {
    return absl::InvalidArgumentError(
        StrCat("database URL ", a.redacted_url, " names no database; add /DBNAME"));
  }
  a.user = options.username.empty() ? uri.user : options.username;
  a.password = options.password ? options.password : uri.password;
  a.host = uri.host().empty() ? "127.0.0.1" : uri.host();
  a.port = uri.port().value_or(default_port);
  a.query = uri.query;
  return a;
}

StatusOr<std::unique_ptr<Connection>> Connect(const ConnectOptions& options) {
  ASSIGN_OR_RETURN(core::Uri uri, core::ParseUri(options.url));
  if (uri.scheme == "mysql" || uri.scheme == "mariadb") return ConnectMySql(options);
  if (uri.scheme == "postgresql" || uri.scheme == "postgres") return ConnectPostgres(options);
  if (uri.scheme == "sqlite" || uri.scheme == "sqlite3") return ConnectSqlite(options);
  return absl::InvalidArgumentError(
      StrCat("unsupported database URL scheme \"", uri.scheme, "\" in ", uri.Redacted(),
             "; use mysql://, mariadb://, jdbc:mysql://, postgresql:// or sqlite:///"));
}

}  // namespace comptoir::source
