// SQLite through libsqlite3. The URL names an absolute file path.
#include <sqlite3.h>

#include <filesystem>

#include "comptoir/core/uri.h"
#include "comptoir/source/database.h"
#include "comptoir/source/errors.h"

namespace comptoir::source {
namespace {

constexpr uint64_t kRowsPerTransaction = 200000;

struct StmtDeleter {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using Stmt = std::unique_ptr<sqlite3_stmt, StmtDeleter>;

class SqliteConnection final : public Connection {
 public:
  SqliteConnection(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  ~SqliteConnection() override { sqlite3_close_v2(db_); }

  Dialect dialect() const override { return Dialect::kSqlite; }
  std::string ServerVersion() override { return StrCat("SQLite ", sqlite3_libversion()); }

  std::string QuoteIdentifier(std::string_view name) const override {
    return QuoteDoubled(name, '"');
  }

  std::string QuoteLiteral(std::string_view value) const override {
    return QuoteDoubled(value, '\'');
  }

  StatusOr<std::vector<std::string>> ListTables() override {
    std::vector<std::string> out;
    RETURN_IF_ERROR(Query(
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "ORDER BY name",
        [&](const Row& r) {
          out.emplace_back(*r.values[0]);
          return absl::OkStatus();
        }));
    return out;
  }

  StatusOr<TableInfo> DescribeTable(std::string_view table) override {
    ASSIGN_OR_RETURN(std::string name, ResolveTable(table, path_));
    TableInfo info;
    info.name = name;
    std::vector<std::pair<int, std::string>> pk;
    RETURN_IF_ERROR(Query(StrCat("PRAGMA table_info(", QuoteIdentifier(name), ")"),
                          [&](const Row& r) {
                            Column c;
                            c.name = std::string(*r.values[1]);
                            ClassifyType(Dialect::kSqlite, r.values[2].value_or(""), &c);
                            c.nullable = *r.values[3] == "0";
                            int pk_pos = 0;
                            (void)ParseInt(*r.values[5], &pk_pos);
                            if (pk_pos > 0) pk.emplace_back(pk_pos, c.name);
                            info.columns.push_back(std::move(c));
                            return absl::OkStatus();
                          }));
    std::sort(pk.begin(), pk.end());
    for (auto& [pos, col] : pk) info.primary_key.push_back(col);
    return info;
  }

  StatusOr<std::optional<uint64_t>> EstimateRows(const std::string& /*table*/) override {
    return std::optional<uint64_t>();  // COUNT(*) is cheap enough on SQLite
  }

  StatusOr<std::vector<Column>> DescribeQuery(const std::string& sql) override {
    ASSIGN_OR_RETURN(Stmt st, Prepare(sql));
    std::vector<Column> out;
    for (int i = 0; i < sqlite3_column_count(st.get()); ++i) {
      Column c;
      c.name = sqlite3_column_name(st.get(), i);
      const char* decl = sqlite3_column_decltype(st.get(), i);
      ClassifyType(Dialect::kSqlite, decl == nullptr ? "" : decl, &c);
      out.push_back(std::move(c));
    }
    return out;
  }

  Status Execute(const std::string& sql) override {
    char* err = nullptr;
    int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
    if (rc != SQLITE_OK) {
      std::string msg = err == nullptr ? sqlite3_errmsg(db_) : err;
      sqlite3_free(err);
      return SqliteErrorToStatus(rc, msg, "sqlite execute");
    }
    return absl::OkStatus();
  }

  Status Query(const std::string& sql, const RowCallback& on_row, int /*fetch_size*/ = 10000) override {
    ASSIGN_OR_RETURN(Stmt st, Prepare(sql));
    int n = sqlite3_column_count(st.get());
    Row row;
    row.values.resize(static_cast<size_t>(n));
    while (true) {
      int rc = sqlite3_step(st.get());
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) return SqliteErrorToStatus(rc, sqlite3_errmsg(db_), "sqlite read rows");
      for (int i = 0; i < n; ++i) {
        int type = sqlite3_column_type(st.get(), i);
        if (type == SQLITE_NULL) {
          row.values[i] = std::nullopt;
        } else if (type == SQLITE_BLOB) {
          const void* p = sqlite3_column_blob(st.get(), i);
          row.values[i] = std::string_view(static_cast<const char*>(p),
                                           static_cast<size_t>(sqlite3_column_bytes(st.get(), i)));
        } else {
          const unsigned char* p = sqlite3_column_text(st.get(), i);
          row.values[i] = std::string_view(reinterpret_cast<const char*>(p),
                                           static_cast<size_t>(sqlite3_column_bytes(st.get(), i)));
        }
      }
      RETURN_IF_ERROR(on_row(row));
    }
    return absl::OkStatus();
  }

  StatusOr<uint64_t> BulkLoad(const std::string& table, const std::vector<std::string>& columns,
                              const RowSource& next,
                              const std::function<void(uint64_t)>& progress) override {
    std::vector<std::string> quoted;
    std::vector<std::string> marks;
    for (const std::string& c : columns) {
      quoted.push_back(QuoteIdentifier(c));
      marks.emplace_back("?");
    }
    ASSIGN_OR_RETURN(Stmt st, Prepare(StrCat("INSERT INTO ", QuoteIdentifier(table), " (",
                                             Join(quoted, ", "), ") VALUES (", Join(marks, ", "),
                                             ")")));
    RETURN_IF_ERROR(Execute("BEGIN"));
    std::vector<std::optional<std::string>> row;
    uint64_t rows = 0;
    Status status = [&]() -> Status {
      while (true) {
        ASSIGN_OR_RETURN(bool more, next(&row));
        if (!more) return absl::OkStatus();
        for (size_t i = 0; i < row.size(); ++i) {
          int idx = static_cast<int>(i) + 1;
          if (row[i]) {
            sqlite3_bind_text(st.get(), idx, row[i]->data(), static_cast<int>(row[i]->size()),
                              SQLITE_TRANSIENT);
          } else {
            sqlite3_bind_null(st.get(), idx);
          }
        }
        int rc = sqlite3_step(st.get());
        if (rc != SQLITE_DONE) {
          return SqliteErrorToStatus(rc, sqlite3_errmsg(db_),
                                     StrCat("sqlite insert into ", table, " (row ", rows + 1, ")"));
        }
        sqlite3_reset(st.get());
        ++rows;
        if (rows % kRowsPerTransaction == 0) {
          RETURN_IF_ERROR(Execute("COMMIT"));
          RETURN_IF_ERROR(Execute("BEGIN"));
        }
        if (rows % 8192 == 0 && progress) progress(rows);
      }
    }();
    if (!status.ok()) {
      (void)Execute("ROLLBACK");
      return status;
    }
    RETURN_IF_ERROR(Execute("COMMIT"));
    if (progress) progress(rows);
    return rows;
  }

 private:
  StatusOr<Stmt> Prepare(const std::string& sql) {
    sqlite3_stmt* raw = nullptr;
    int rc = sqlite3_prepare_v2(db_, sql.c_str(), static_cast<int>(sql.size()), &raw, nullptr);
    if (rc != SQLITE_OK) return SqliteErrorToStatus(rc, sqlite3_errmsg(db_), "sqlite query");
    return Stmt(raw);
  }

  sqlite3* db_;
  std::string path_;
};

}  // namespace

StatusOr<std::unique_ptr<Connection>> ConnectSqlite(const ConnectOptions& options) {
  ASSIGN_OR_RETURN(core::Uri uri, core::ParseUri(options.url));
  if (!uri.hosts.empty() || uri.path.empty()) {
    return absl::InvalidArgumentError(StrCat("SQLite URL ", uri.Redacted(),
                                             " must be sqlite:///absolute/path.db (three slashes)"));
  }
  bool create = uri.query.contains("create");
  std::error_code ec;
  if (!create && !std::filesystem::exists(uri.path, ec)) {
    return absl::NotFoundError(StrCat("SQLite database ", uri.path,
                                      " does not exist; create it with `comptoir seed`"));
  }
  sqlite3* db = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
  int rc = sqlite3_open_v2(uri.path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    Status s = SqliteErrorToStatus(rc, db == nullptr ? "out of memory" : sqlite3_errmsg(db),
                                   StrCat("cannot open ", uri.path));
    sqlite3_close_v2(db);
    return s;
  }
  sqlite3_busy_timeout(db, options.connect_timeout_s * 1000);
  auto c = std::make_unique<SqliteConnection>(db, uri.path);
  RETURN_IF_ERROR(c->Execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL"));
  return std::unique_ptr<Connection>(std::move(c));
}

}  // namespace comptoir::source
