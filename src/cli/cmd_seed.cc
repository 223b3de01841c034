// comptoir seed: create and fill the ERP's sales table.
#include <iostream>

#include "common.h"
#include "comptoir/core/progress.h"
#include "comptoir/core/time.h"
#include "comptoir/core/uri.h"
#include "comptoir/seed/sales.h"
#include "fmt/format.h"

namespace comptoir::cli {
namespace {

struct SeedFlags {
  ConnectionFlags conn;
  std::string table = "sales";
  bool drop = false;
  uint64_t rows = 0;
  uint64_t seed = 1;
  std::string from_csv;
  std::string encoding = "utf-8";
};

Status RunSeed(const SeedFlags& f, bool quiet) {
  if ((f.rows > 0) == !f.from_csv.empty()) {
    return absl::InvalidArgumentError("give exactly one of --rows N and --from-csv FILE");
  }
  ASSIGN_OR_RETURN(source::ConnectOptions co, f.conn.Resolve());
  ASSIGN_OR_RETURN(core::Uri uri, core::ParseUri(co.url));
  if (uri.scheme == "sqlite" || uri.scheme == "sqlite3") {
    co.url += co.url.find('?') == std::string::npos ? "?create=1" : "&create=1";
  }
  // Read (and validate) the CSV before touching the database.
  std::vector<seed::SalesRow> csv_rows;
  if (!f.from_csv.empty()) {
    ASSIGN_OR_RETURN(csv_rows, seed::ReadSalesCsv(f.from_csv, f.encoding));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<source::Connection> conn, source::Connect(co));
  ASSIGN_OR_RETURN(std::vector<std::string> tables, conn->ListTables());
  bool exists = std::any_of(tables.begin(), tables.end(),
                            [&](const std::string& t) { return EqualsIgnoreCase(t, f.table); });
  if (exists && !f.drop) {
    return absl::AlreadyExistsError(StrCat("table ", f.table, " already exists in ",
                                           uri.Redacted(), "; pass --drop to recreate it"));
  }
  uint64_t total = f.rows > 0 ? f.rows : csv_rows.size();
  seed::SalesGenerator gen(f.rows, f.seed);
  size_t next_csv = 0;
  double start = core::NowSeconds();
  ASSIGN_OR_RETURN(uint64_t loaded,
                   seed::CreateAndFill(
                       conn.get(), f.table, exists,
                       [&](std::vector<std::optional<std::string>>* row) -> StatusOr<bool> {
                         if (f.rows > 0) return gen.Next(row);
                         if (next_csv == csv_rows.size()) return false;
                         *row = std::move(csv_rows[next_csv++]);
                         return true;
                       },
                       total, quiet));
  double secs = core::NowSeconds() - start;
  std::cout << fmt::format("Seeded {} rows into {} ({}, {}) in {:.2f} s ({:.0f} rows/s)\n",
                           core::WithThousands(loaded), f.table, uri.Redacted(),
                           conn->ServerVersion(), secs, secs > 0 ? loaded / secs : 0.0);
  return absl::OkStatus();
}

}  // namespace

std::vector<CommandDef> SeedCommands() {
  return {{{.name = "seed",
            .help = "Create the ERP `sales` table (Sample Sales Data schema) and fill it",
            .start_rank = 2},
           [](Command& cmd) {
             auto f = std::make_shared<SeedFlags>();
             f->conn.Add(cmd);
             cmd.Option("--table", &f->table, "Table to create (default: sales)");
             cmd.Flag("--drop", &f->drop, "Drop the table first if it exists");
             cmd.Option("--rows", &f->rows, "Generate N synthetic rows shaped like the real data");
             cmd.Option("--seed", &f->seed, "Random seed for --rows (same seed, same rows)");
             cmd.Option("--from-csv", &f->from_csv, "Load the Sample Sales Data CSV file instead");
             cmd.Option("--encoding", &f->encoding,
                        "Encoding of --from-csv: utf-8 (default, checked), latin1, cp1252, cp437");
             const Globals* g = &cmd.globals();
             cmd.Action([f, g] { return RunSeed(*f, g->quiet); });
           }}};
}

}  // namespace comptoir::cli
