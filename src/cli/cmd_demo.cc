// comptoir demo: the main job. For now Flow A end to end on embedded parts:
// a SQLite ERP seeded with synthetic sales, imported into a local lake.
#include <chrono>
#include <filesystem>
#include <map>
#include <iostream>

#include "common.h"
#include "comptoir/bus/client.h"
#include "comptoir/core/decimal.h"
#include "comptoir/core/progress.h"
#include "comptoir/importer/importer.h"
#include "comptoir/seed/sales.h"
#include "comptoir/stream/event.h"
#include "comptoir/stream/simulator.h"
#include "fmt/format.h"

namespace comptoir::cli {
namespace {

struct DemoFlags {
  std::string dir = "demo";
  uint64_t rows = 200000;
  int mappers = 4;
};

Status RunDemo(const DemoFlags& f, bool quiet) {
  std::error_code ec;
  std::filesystem::path dir = std::filesystem::absolute(f.dir, ec);
  std::filesystem::create_directories(dir, ec);
  if (ec) return ErrnoToStatus(ec.value(), StrCat("create ", dir.string()));
  std::string db = (dir / "erp.db").string();
  std::string lake_dir = (dir / "lake").string();
  std::cout << fmt::format("[1/4] ERP: SQLite database {} with {} synthetic sales rows\n", db,
                           core::WithThousands(f.rows));
  source::ConnectOptions co;
  co.url = StrCat("sqlite://", db, "?create=1");
  {
    ASSIGN_OR_RETURN(auto conn, source::Connect(co));
    ASSIGN_OR_RETURN(std::vector<std::string> tables, conn->ListTables());
    uint64_t have = 0;
    if (std::find(tables.begin(), tables.end(), "sales") != tables.end()) {
      ASSIGN_OR_RETURN(std::optional<std::string> n, conn->QueryScalar("SELECT COUNT(*) FROM sales"));
      (void)ParseInt(n.value_or("0"), &have);
    }
    if (have == f.rows) {
      std::cout << "      already seeded; reusing it\n";
    } else {
      seed::SalesGenerator gen(f.rows, 1);
      double t0 = core::NowSeconds();
      ASSIGN_OR_RETURN(uint64_t n,
                       seed::CreateAndFill(
                           conn.get(), "sales", true,
                           [&](std::vector<std::optional<std::string>>* row) -> StatusOr<bool> {
                             return gen.Next(row);
                           },
                           f.rows, quiet));
      std::cout << fmt::format("      seeded {} rows in {:.1f} s\n", core::WithThousands(n),
                               core::NowSeconds() - t0);
    }
  }
  std::cout << fmt::format("[2/4] Flow A: import sales into {}/user/sqoop/sales with {} mappers\n",
                           lake_dir, f.mappers);
  importer::ImportOptions o;
  o.connect.url = StrCat("sqlite://", db);
  o.table = "sales";
  o.num_mappers = f.mappers;
  o.delete_target_dir = true;
  o.validate = true;
  o.quiet = quiet;
  ASSIGN_OR_RETURN(std::unique_ptr<lake::Storage> fs, OpenLake(lake_dir));
  ASSIGN_OR_RETURN(importer::ImportResult r, importer::RunImport(o, fs.get()));
  std::cout << fmt::format(
      "      {} rows ({}) in {:.2f} s ({} rows/s), validated against the source's count\n",
      core::WithThousands(r.rows), core::HumanBytes(static_cast<double>(r.bytes)), r.seconds,
      core::WithThousands(static_cast<uint64_t>(r.rows / std::max(r.seconds, 1e-6))));
  std::cout << "[3/4] The lake now holds:\n";
  ASSIGN_OR_RETURN(std::vector<lake::FileInfo> files, fs->List("/user/sqoop/sales"));
  for (const lake::FileInfo& file : files) {
    std::cout << fmt::format("      {:>12}  {}\n", file.size, file.path);
  }
  ASSIGN_OR_RETURN(auto in, fs->Open("/user/sqoop/sales/part-m-00000", 0, 600));
  char buf[600];
  ASSIGN_OR_RETURN(size_t n, in->Read(buf, sizeof(buf)));
  std::string head(buf, n);
  head = head.substr(0, head.rfind('\n') + 1);
  std::cout << "      first lines of part-m-00000:\n";
  for (std::string_view line : Split(head, '\n', true)) std::cout << "        " << line << "\n";
  // Flow B: a burst of live point-of-sale events on the embedded bus, read back.
  std::string bus_uri = StrCat("log://", (dir / "bus").string());
  std::cout << fmt::format("[4/4] Flow B: 1,000 live events to {} (topic transactions), then read "
                           "back by consumer group demo\n",
                           bus_uri);
  {
    ASSIGN_OR_RETURN(std::unique_ptr<bus::Producer> producer,
                     bus::OpenProducer(bus_uri, "transactions", 3));
    int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
    stream::Simulator sim(2, "demo", (now / 1000 - 1700000000) * 1000);
    for (int i = 0; i < 1000; ++i) {
      stream::Event e = sim.Next(now + i);
      RETURN_IF_ERROR(producer->Send(std::to_string(e.order_number), stream::ToJson(e), e.ts_ms));
    }
    RETURN_IF_ERROR(producer->Flush());
  }
  bus::ConsumerOptions group;
  group.group = "demo";
  ASSIGN_OR_RETURN(std::unique_ptr<bus::Consumer> consumer,
                   bus::OpenConsumer(bus_uri, "transactions", group));
  stream::EventParser parser;
  std::map<std::string, int64_t> by_status;
  uint64_t events = 0;
  while (true) {
    ASSIGN_OR_RETURN(std::vector<bus::Record> batch,
                     consumer->Poll(5000, std::chrono::milliseconds(50)));
    if (batch.empty()) break;
    for (const bus::Record& rec : batch) {
      StatusOr<stream::Event> e = parser.Parse(rec.value, rec.timestamp_ms);
      if (!e.ok()) continue;
      by_status[e->status] += e->amount_cents;
      ++events;
    }
    RETURN_IF_ERROR(consumer->Commit());
  }
  std::cout << fmt::format("      read {} new events; revenue by status:\n", core::WithThousands(events));
  for (const auto& [status, cents] : by_status) {
    std::string amount;
    core::AppendFixed(&amount, cents, 2);
    std::cout << fmt::format("        {:<12} {:>14}\n", status, amount);
  }
  std::cout << fmt::format(
      "Done. Browse the lake with `build/comptoir lake ls -R --lake {}`, watch live events with\n"
      "`build/comptoir produce --bus {} --rate 5` and `build/comptoir consume --bus {} --format "
      "table`.\n",
      lake_dir, bus_uri, bus_uri);
  return absl::OkStatus();
}

}  // namespace

void AddDemoCommand(CLI::App* app, Globals* g, int* result) {
  auto f = std::make_shared<DemoFlags>();
  CLI::App* cmd = app->add_subcommand(
      "demo", "Run the platform end to end on embedded parts (today: seed an ERP, import it, live events)");
  cmd->add_option("--dir", f->dir, "Working directory for the ERP database and the lake (default ./demo)");
  cmd->add_option("--rows", f->rows, "Synthetic sales rows to seed (default 200000)");
  cmd->add_option("-m,--num-mappers", f->mappers, "Parallel readers for the import (default 4)");
  cmd->callback([f, g, result] {
    Status s = RunDemo(*f, g->quiet);
    *result = s.ok() ? 0 : Fail("demo", s);
  });
}

}  // namespace comptoir::cli
