// comptoir demo: the main job. The whole platform on embedded parts: a SQLite
// ERP seeded with synthetic sales and imported into a local lake (Flow A), live
// point-of-sale events on the embedded bus with their app.log lines (Flow B),
// the agent tailing app.log into the lake (Flow C), the archiver and the
// dashboard (`serve`), all in this process until Ctrl-C.
#include <chrono>
#include <filesystem>
#include <iostream>
#include <thread>

#include "common.h"
#include "comptoir/core/progress.h"
#include "comptoir/core/time.h"
#include "comptoir/core/signals.h"
#include "comptoir/core/units.h"
#include "comptoir/core/uri.h"
#include "comptoir/importer/importer.h"
#include "comptoir/seed/sales.h"
#include "fmt/format.h"

namespace comptoir::cli {
namespace {

struct DemoFlags {
  std::string dir = "demo";
  uint64_t rows = 200000;
  int mappers = 4;
  int port = 8080;
  double rate = 5;
  std::string duration = "0";
  // --stack real: the services of scripts/stack (or any others).
  std::string stack = "embedded";
  std::string db, bus, lake, coord;
};

// The real engines' URIs: flags first, else the variables scripts/stack exports.
Status ResolveRealStack(DemoFlags* f) {
  auto pick = [](std::string* v, const char* env) {
    if (v->empty() && std::getenv(env) != nullptr) *v = std::getenv(env);
  };
  pick(&f->db, "COMPTOIR_TEST_MYSQL_URI");
  pick(&f->bus, "COMPTOIR_TEST_KAFKA");
  pick(&f->lake, "COMPTOIR_TEST_WEBHDFS");
  pick(&f->coord, "COMPTOIR_TEST_ZK");
  if (f->db.empty() || f->bus.empty() || f->lake.empty() || f->coord.empty()) {
    return absl::FailedPreconditionError(
        "demo --stack real needs MariaDB, Kafka, HDFS and ZooKeeper: run `make demo-real` (it starts them with "
        "scripts/stack), or give --db, --bus, --lake and --coord");
  }
  if (f->coord.starts_with("zk://") && f->coord.find('/', 5) == std::string::npos) f->coord += "/comptoir-demo";
  return absl::OkStatus();
}

// Step 1: the ERP's sales table, seeded unless it already holds the rows.
Status SeedErp(const std::string& db_url, bool create, uint64_t rows, bool quiet) {
  source::ConnectOptions co;
  co.url = create ? db_url + "?create=1" : db_url;
  ASSIGN_OR_RETURN(auto conn, source::Connect(co));
  ASSIGN_OR_RETURN(std::vector<std::string> tables, conn->ListTables());
  uint64_t have = 0;
  if (std::find(tables.begin(), tables.end(), "sales") != tables.end()) {
    ASSIGN_OR_RETURN(std::optional<std::string> n, conn->QueryScalar("SELECT COUNT(*) FROM sales"));
    (void)ParseInt(n.value_or("0"), &have);
  }
  if (have == rows) {
    std::cout << "      already seeded; reusing it\n";
    return absl::OkStatus();
  }
  seed::SalesGenerator gen(rows, 1);
  double t0 = core::NowSeconds();
  ASSIGN_OR_RETURN(uint64_t n, seed::CreateAndFill(
                                   conn.get(), "sales", true,
                                   [&](std::vector<std::optional<std::string>>* row) -> StatusOr<bool> {
                                     return gen.Next(row);
                                   },
                                   rows, quiet));
  std::cout << fmt::format("      seeded {} rows in {:.1f} s\n", core::WithThousands(n), core::NowSeconds() - t0);
  return absl::OkStatus();
}

// Steps 2 and 3: the import, and what it left in the lake.
Status ImportAndShow(const std::string& db_url, lake::Storage* fs, int mappers, bool quiet) {
  importer::ImportOptions o;
  o.connect.url = db_url;
  o.table = "sales";
  o.num_mappers = mappers;
  o.delete_target_dir = true;
  o.validate = true;
  o.quiet = quiet;
  ASSIGN_OR_RETURN(importer::ImportResult r, importer::RunImport(o, fs));
  std::cout << fmt::format("      {} rows ({}) in {:.2f} s ({} rows/s), validated against the source's count\n",
                           core::WithThousands(r.rows), core::HumanBytes(static_cast<double>(r.bytes)), r.seconds,
                           core::WithThousands(static_cast<uint64_t>(r.rows / std::max(r.seconds, 1e-6))));
  std::cout << "[3/6] The lake now holds:\n";
  ASSIGN_OR_RETURN(std::vector<lake::FileInfo> files, fs->List(std::string(core::kSalesDir)));
  for (const lake::FileInfo& file : files) std::cout << fmt::format("      {:>12}  {}\n", file.size, file.path);
  ASSIGN_OR_RETURN(auto in, fs->Open(StrCat(core::kSalesDir, "/part-m-00000"), 0, 600));
  char buf[600];
  ASSIGN_OR_RETURN(size_t n, in->Read(buf, sizeof(buf)));
  std::string head(buf, n);
  head = head.substr(0, head.rfind('\n') + 1);
  std::cout << "      first lines of part-m-00000:\n";
  for (std::string_view line : Split(head, '\n', true)) std::cout << "        " << line << "\n";
  return absl::OkStatus();
}

// Steps 4 to 6: the producer, the agent and serve (with the archiver), the
// real commands on threads of this process, until Ctrl-C or `duration`.
Status RunLiveParts(std::vector<std::pair<std::string, std::vector<std::string>>> commands,
                    std::chrono::milliseconds duration) {
  std::vector<int> codes(commands.size(), 0);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < commands.size(); ++i) {
    threads.emplace_back([&, i] {
      codes[i] = RunCommandLine(commands[i].second);
      if (codes[i] != 0) core::RequestCancel();  // one part failed: stop the demo
    });
    // The producer first creates the topic the others read.
    if (commands[i].first == "produce") std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  auto t0 = std::chrono::steady_clock::now();
  while (!core::Cancelled()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (duration.count() > 0 && std::chrono::steady_clock::now() - t0 >= duration) core::RequestCancel();
  }
  for (std::thread& t : threads) t.join();
  for (size_t i = 0; i < commands.size(); ++i) {
    if (codes[i] != 0 && codes[i] != 130) {
      return absl::InternalError(fmt::format("the {} part of the demo failed (exit {}); see its message above",
                                             commands[i].first, codes[i]));
    }
  }
  return absl::OkStatus();
}

Status RunDemo(DemoFlags f, bool quiet) {
  std::error_code ec;
  std::filesystem::path dir = std::filesystem::absolute(f.dir, ec);
  std::filesystem::create_directories(dir, ec);
  if (ec) return ErrnoToStatus(ec.value(), StrCat("create ", dir.string()));
  const bool real = f.stack == "real";
  if (real) {
    RETURN_IF_ERROR(ResolveRealStack(&f));
  } else if (f.stack != "embedded") {
    return absl::InvalidArgumentError(StrCat("--stack ", f.stack, ": expected embedded or real"));
  }
  ASSIGN_OR_RETURN(std::chrono::milliseconds duration, core::ParseDuration(f.duration));
  std::string db_url = real ? f.db : StrCat("sqlite://", (dir / "erp.db").string());
  std::string lake_dir = real ? f.lake : (dir / "lake").string();
  std::string bus_uri = real ? f.bus : StrCat("log://", (dir / "bus").string());
  std::string coord_uri = real ? f.coord : StrCat("local://", (dir / "coord").string());
  std::string app_log = (dir / "app.log").string();
  std::cout << fmt::format("[1/6] ERP: {} with {} synthetic sales rows\n",
                           real ? "MariaDB " + core::ParseUri(db_url).value_or(core::Uri{}).Redacted()
                                : "SQLite database " + (dir / "erp.db").string(),
                           core::WithThousands(f.rows));
  RETURN_IF_ERROR(SeedErp(db_url, !real, f.rows, quiet));
  std::cout << fmt::format("[2/6] Flow A: import sales into {}/user/sqoop/sales with {} mappers\n", lake_dir,
                           f.mappers);
  ASSIGN_OR_RETURN(std::unique_ptr<lake::Storage> fs, lake::OpenStorage(lake_dir));
  RETURN_IF_ERROR(ImportAndShow(db_url, fs.get(), f.mappers, quiet));
  std::cout << fmt::format("[4/6] Flow B: {} point-of-sale events/s to {} (topic transactions), their log lines "
                           "to {}\n", f.rate, bus_uri, app_log);
  std::cout << fmt::format("[5/6] Flow C: the agent tails {} into {}/user/flume/logs/%Y-%m-%d (rolls every 10 s)\n",
                           app_log, lake_dir);
  std::cout << "[6/6] Serving the dashboard, archiving the stream into /user/kafka/transactions\n" << std::flush;
  Status status = RunLiveParts(
      {{"produce", {"-q", "produce", "--bus", bus_uri, "--rate", fmt::format("{}", f.rate), "--log", app_log}},
       {"agent", {"-q", "agent", "--source", app_log, "--lake", lake_dir, "--state-dir", (dir / "agent").string(),
                  "--target-dir", std::string(core::kLogsTemplate), "--roll-interval", "10s", "--idle-timeout", "5s",
                  "--coord", coord_uri}},
       {"serve", {"-q", "serve", "--listen", fmt::format("127.0.0.1:{}", f.port), "--lake", lake_dir, "--bus",
                  bus_uri, "--archive", "--coord", coord_uri, "--jobs-dir", (dir / "jobs").string()}}},
      duration);
  std::cout << fmt::format("demo: stopped. Run it again to resume; the lake is in {}, the bus in {}\n", lake_dir,
                           bus_uri);
  return status;
}

void DefineDemo(Command& cmd) {
  auto f = std::make_shared<DemoFlags>();
  cmd.Option("--dir", &f->dir, "Working directory for the ERP database and the lake (default ./demo)");
  cmd.Option("--rows", &f->rows, "Synthetic sales rows to seed (default 200000)");
  cmd.Option("-m,--num-mappers", &f->mappers, "Parallel readers for the import (default 4)");
  cmd.Option("--port", &f->port, "Dashboard port on 127.0.0.1 (default 8080)");
  cmd.Option("--rate", &f->rate, "Live events per second (default 5)");
  cmd.Option("--duration", &f->duration, "Stop after this long (e.g. 60s); default: until Ctrl-C");
  cmd.Option("--stack", &f->stack,
             "embedded (default: SQLite, local lake, embedded bus, local coordination) or real (MariaDB, HDFS, Kafka, "
             "ZooKeeper; `make demo-real` starts them)");
  cmd.Option("--db", &f->db, "With --stack real: the ERP database URL (default $COMPTOIR_TEST_MYSQL_URI)");
  cmd.Option("--bus", &f->bus, "With --stack real: kafka://host:port (default $COMPTOIR_TEST_KAFKA)");
  cmd.Option("--lake", &f->lake, "With --stack real: webhdfs://host:port (default $COMPTOIR_TEST_WEBHDFS)");
  cmd.Option("--coord", &f->coord, "With --stack real: zk://host:port/chroot (default $COMPTOIR_TEST_ZK)");
  const Globals* g = &cmd.globals();
  cmd.Action([f, g] { return RunDemo(*f, g->quiet); });
}

}  // namespace

std::vector<CommandDef> DemoCommands() {
  return {{{.name = "demo",
            .help = "Run the whole platform on embedded parts: ERP import, live events, log agent, archiver, dashboard",
            .lifetime = orchestrate::Lifetime::kLongRunning,
            .supervised = false},
           DefineDemo}};
}

}  // namespace comptoir::cli
