// `comptoir views build` end to end: the real Sales Data Sample on the
// stack's HDFS, its sales view built by the stack's Spark cluster and by the
// embedded engine (value for value the same), serve answering from the view
// exactly as from the rows, a Spark build killed mid-run (the previous view
// stays, a rerun succeeds) and the failures users meet, one clear line each.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <thread>

#include "cli_runner.h"
#include "nlohmann/json.hpp"

namespace comptoir {
namespace {

using testing::CliResult;
using testing::RunCli;
using json = nlohmann::json;

// The sorted lines of a dataset's part files, read through `comptoir lake`.
std::vector<std::string> ViewLines(const std::string& lake, const std::string& dir) {
  CliResult ls = RunCli({"lake", "ls", dir, "--lake", lake});
  EXPECT_EQ(ls.exit_code, 0) << ls.err;
  std::vector<std::string> lines;
  std::istringstream names(ls.out);
  for (std::string line; std::getline(names, line);) {
    size_t at = line.find(dir + "/part-");
    if (at == std::string::npos) continue;
    std::string path = line.substr(at, line.find_first_of(" \t", at) - at);
    CliResult cat = RunCli({"lake", "cat", path, "--lake", lake});
    EXPECT_EQ(cat.exit_code, 0) << cat.err;
    std::istringstream in(cat.out);
    for (std::string l; std::getline(in, l);) lines.push_back(l);
  }
  std::sort(lines.begin(), lines.end());
  return lines;
}

std::string SeedSample(const std::string& dir) {
  std::string db = "sqlite://" + dir + "/erp.db";
  CliResult seed = RunCli({"seed", "--connect", db + "?create=1", "--from-csv",
                           testing::SharedData() + "/sales_data_sample.csv", "--encoding", "latin1", "--drop"});
  EXPECT_EQ(seed.exit_code, 0) << seed.err;
  return db;
}

int FreePort() {
  for (int i = 0; i < 50; ++i) {
    int p = 20000 + static_cast<int>((getpid() * 7 + i * 131) % 20000);
    if (testing::HttpGet("http://127.0.0.1:" + std::to_string(p) + "/", {}, "", 200).status == 0) return p;
  }
  return 0;
}

// A serve on `lake` answering the Sales tab as `from` says; its base URL.
struct Serve {
  Serve(const std::string& dir, const std::string& lake, const std::string& sales, const std::string& views,
        const std::string& from) {
    port = FreePort();
    log = dir + "/serve-" + from + ".log";
    pid = testing::StartCli({"serve", "--lake", lake, "--no-live", "--listen", "127.0.0.1:" + std::to_string(port),
                             "--sales", sales, "--views-dir", views, "--sales-from", from},
                            log);
    url = "http://127.0.0.1:" + std::to_string(port);
    for (int i = 0; i < 200; ++i) {
      if (testing::HttpGet(url + "/api/v1/sales/options").status == 200) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  ~Serve() {
    kill(pid, SIGTERM);
    waitpid(pid, nullptr, 0);
  }
  json Get(const std::string& q) const {
    testing::HttpResult r = testing::HttpGet(url + "/api/v1/sales/" + q);
    EXPECT_EQ(r.status, 200) << q << ": " << r.body;
    json j = json::parse(r.body, nullptr, false);
    if (j.is_object()) j.erase("elapsed_ms");
    return j;
  }
  int port = 0, pid = -1;
  std::string log, url;
};

TEST(ViewsCli, SparkOnHdfsBuildsTheEmbeddedViewValueForValueAndServeAnswersFromItExactly) {
  std::string master = testing::ServiceEnv("COMPTOIR_TEST_SPARK_MASTER");
  std::string hdfs = testing::ServiceEnv("COMPTOIR_TEST_WEBHDFS");
  if (master.empty() || hdfs.empty()) GTEST_SKIP() << "no Spark cluster or HDFS (run `make test`)";
  std::string dir = testing::TempDir("views-hdfs");
  std::string db = SeedSample(dir);
  std::string base = "/t/views-" + std::to_string(getpid());
  std::string sales = base + "/sales", spark_view = base + "/view-spark", embedded_view = base + "/view-embedded";
  CliResult imp = RunCli({"-q", "import", "--connect", db, "--table", "sales", "-m", "2", "--target-dir", sales,
                          "--lake", hdfs});
  ASSERT_EQ(imp.exit_code, 0) << imp.err;
  CliResult e = RunCli({"views", "build", "--lake", hdfs, "--source", sales, "--target-dir", embedded_view});
  ASSERT_EQ(e.exit_code, 0) << e.err;
  EXPECT_NE(e.out.find("1,521 records for 2,823 rows of " + sales + " (307 orders in 307 groups)"), std::string::npos)
      << e.out;
  CliResult s = RunCli({"views", "build", "--lake", hdfs, "--source", sales, "--target-dir", spark_view, "--engine",
                        "spark", "--spark-master", master, "--driver-log", dir + "/driver.log", "--json"});
  ASSERT_EQ(s.exit_code, 0) << s.err << testing::Slurp(dir + "/driver.log").substr(0, 3000);
  json m = json::parse(s.out, nullptr, false);
  ASSERT_TRUE(m.is_object()) << s.out;
  EXPECT_EQ(m["engine"], "spark");
  EXPECT_EQ(m["spark"]["master"], master);
  EXPECT_TRUE(m["spark"]["application"].get<std::string>().starts_with("app-")) << m.dump();
  EXPECT_EQ(m["records"], 1521);
  EXPECT_EQ(m["source_rows"], 2823);
  EXPECT_EQ(m["orders"], 307);
  EXPECT_EQ(m["groups"], 307);
  EXPECT_EQ(m["skipped"], false);
  std::vector<std::string> a = ViewLines(hdfs, embedded_view), b = ViewLines(hdfs, spark_view);
  EXPECT_EQ(a.size(), 1521u);
  EXPECT_EQ(a, b) << "the Spark view equals the embedded one, record for record";
  // Unchanged input: a no-op.
  CliResult again = RunCli({"views", "build", "--lake", hdfs, "--source", sales, "--target-dir", spark_view,
                            "--engine", "spark", "--spark-master", master});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("is current"), std::string::npos) << again.out;

  // serve from the Spark view and from the rows: the same answers.
  Serve views(dir, hdfs, sales, spark_view, "views"), rows(dir, hdfs, sales, spark_view, "rows");
  json d = views.Get("summary")["dataset"];
  EXPECT_EQ(d["from"], "views");
  EXPECT_EQ(d["view"]["engine"], "spark");
  EXPECT_EQ(d["rows"], 2823);
  EXPECT_EQ(d["records"], 1521);
  EXPECT_EQ(rows.Get("summary")["dataset"]["from"], "rows");
  for (const std::string q :
       {"summary", "summary?productline=Motorcycles,Ships&dealsize=Small", "summary?country=USA,France&status=Shipped",
        "summary?from=2004-01-01&to=2004-06-30&customer=mini", "summary?territory=EMEA&dealsize=Large",
        "timeseries?bucket=day", "timeseries?bucket=week&productline=Classic%20Cars",
        "timeseries?bucket=month&customer=gift", "timeseries?bucket=quarter&status=Cancelled,On%20Hold",
        "timeseries?bucket=year", "options", "rows?sort=-sales&limit=25&offset=10",
        "rows?productline=Trains&sort=customer"}) {
    json x = views.Get(q), y = rows.Get(q);
    x.erase("dataset"), y.erase("dataset");
    EXPECT_EQ(x, y) << q;
  }
  json summary = views.Get("summary");
  EXPECT_EQ(summary["total_sales"], 10032628.85);
  EXPECT_EQ(summary["orders"], 307);
  EXPECT_EQ(summary["customers"], 92);
  testing::HttpResult csv_v = testing::HttpGet(views.url + "/api/v1/sales/export.csv?country=Japan");
  testing::HttpResult csv_r = testing::HttpGet(rows.url + "/api/v1/sales/export.csv?country=Japan");
  EXPECT_EQ(csv_v.status, 200);
  EXPECT_EQ(csv_v.body, csv_r.body);

  // A new import: the view is stale. auto answers from the rows, health says so.
  CliResult re = RunCli({"-q", "import", "--connect", db, "--table", "sales", "-m", "3", "--target-dir", sales,
                         "--lake", hdfs, "--delete-target-dir"});
  ASSERT_EQ(re.exit_code, 0) << re.err;
  CliResult st = RunCli({"views", "status", "--lake", hdfs, "--source", sales, "--target-dir", spark_view});
  EXPECT_EQ(st.exit_code, 1);
  EXPECT_NE(st.out.find("stale: the view was built "), std::string::npos) << st.out;
  CliResult h = RunCli({"health", "--lake", hdfs, "--bus", "none", "--jobs-dir", "none", "--dataset", sales,
                        "--views-dir", spark_view, "--json"});
  json hj = json::parse(h.out, nullptr, false);
  bool degraded = false;
  for (const json& c : hj.value("components", json::array())) {
    if (c.value("name", "") == "view " + spark_view) degraded = c.value("status", "") == "degraded";
  }
  EXPECT_TRUE(degraded) << h.out;
  std::filesystem::remove_all(dir);
}

TEST(ViewsCli, ASparkBuildKilledMidRunLeavesThePreviousViewAndARerunSucceeds) {
  std::string master = testing::ServiceEnv("COMPTOIR_TEST_SPARK_MASTER");
  if (master.empty()) GTEST_SKIP() << "no Spark cluster (run `make test`)";
  std::string dir = testing::TempDir("views-kill");
  std::string db = SeedSample(dir);
  std::string lake = dir + "/lake";
  auto import = [&](const std::string& mappers) {
    CliResult r = RunCli({"-q", "import", "--connect", db, "--table", "sales", "-m", mappers, "--target-dir",
                          "/user/sqoop/sales", "--lake", lake, "--delete-target-dir"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  };
  import("2");
  ASSERT_EQ(RunCli({"views", "build", "--lake", lake}).exit_code, 0);
  std::string view = lake + "/user/comptoir/views/sales";
  std::string manifest = testing::Slurp(view + "/_view.json"), part = testing::Slurp(view + "/part-m-00000");
  ASSERT_FALSE(part.empty());
  import("3");  // a new input: the next build has work to do
  std::string log = dir + "/driver.log";
  int pid = testing::StartCli({"views", "build", "--lake", lake, "--engine", "spark", "--spark-master", master,
                               "--driver-log", log},
                              dir + "/build.log");
  testing::ChildReaper reaper{pid};
  ASSERT_FALSE(testing::WaitForLine(log, "(Starting job|Submitting .*tasks)", 120000).empty())
      << testing::Slurp(log).substr(0, 3000);
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  reaper.pid = -1;
  // The driver goes with comptoir (its parent-death signal).
  std::string alive;
  for (int i = 0; i < 100; ++i) {
    alive = testing::Shell("pgrep -f '[c]omptoir-sales_views-" + std::to_string(pid) + "' || true");
    if (alive.empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(alive, "") << "a Spark driver outlived its comptoir";
  EXPECT_EQ(testing::Slurp(view + "/_view.json"), manifest);
  EXPECT_EQ(testing::Slurp(view + "/part-m-00000"), part);
  CliResult st = RunCli({"views", "status", "--lake", lake});
  EXPECT_EQ(st.exit_code, 1) << st.out;
  CliResult rerun = RunCli({"views", "build", "--lake", lake, "--engine", "spark", "--spark-master", master});
  ASSERT_EQ(rerun.exit_code, 0) << rerun.err;
  EXPECT_NE(rerun.out.find("by spark"), std::string::npos) << rerun.out;
  EXPECT_EQ(RunCli({"views", "status", "--lake", lake}).exit_code, 0);
  EXPECT_FALSE(std::filesystem::exists(view + "/_temporary")) << "the killed attempt was cleaned";
  std::vector<std::string> lines = ViewLines(lake, "/user/comptoir/views/sales");
  std::vector<std::string> before;
  std::istringstream in(part);
  for (std::string l; std::getline(in, l);) before.push_back(l);
  std::sort(before.begin(), before.end());
  EXPECT_EQ(lines, before) << "same rows, same view";
  std::filesystem::remove_all(dir);
}

TEST(ViewsCli, TheArchivesDailyViewBySparkEqualsTheEmbeddedOne) {
  std::string master = testing::ServiceEnv("COMPTOIR_TEST_SPARK_MASTER");
  if (master.empty()) GTEST_SKIP() << "no Spark cluster (run `make test`)";
  std::string dir = testing::TempDir("views-tx");
  std::string lake = dir + "/lake", bus = dir + "/bus";
  ASSERT_EQ(RunCli({"-q", "produce", "--bus", bus, "--rate", "0", "--count", "20000", "--seed", "3"}).exit_code, 0);
  CliResult a = RunCli({"-q", "archive", "--bus", bus, "--lake", lake, "--idle-exit", "2s", "--coord",
                        "local://" + dir + "/coord", "--roll-size", "200KB"});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  CliResult e = RunCli({"views", "build", "--lake", lake, "--view", "transactions"});
  ASSERT_EQ(e.exit_code, 0) << e.err;
  EXPECT_NE(e.out.find("for 20,000 events of /user/kafka/transactions"), std::string::npos) << e.out;
  CliResult s = RunCli({"views", "build", "--lake", lake, "--view", "transactions", "--engine", "spark",
                        "--spark-master", master, "--target-dir", "/user/comptoir/views/tx-spark"});
  ASSERT_EQ(s.exit_code, 0) << s.err;
  std::vector<std::string> x = ViewLines(lake, "/user/comptoir/views/transactions");
  std::vector<std::string> y = ViewLines(lake, "/user/comptoir/views/tx-spark");
  EXPECT_EQ(x, y);
  ASSERT_FALSE(x.empty());
  // Every event counted once, revenue to the cent: the sums of the view equal the archive's.
  int64_t events = 0, cents = 0;
  for (const std::string& line : x) {
    size_t c3 = line.rfind(','), c2 = line.rfind(',', c3 - 1), c1 = line.rfind(',', c2 - 1);
    events += std::stoll(line.substr(c1 + 1, c2 - c1 - 1));
    std::string money = line.substr(c3 + 1);
    cents += std::stoll(money.substr(0, money.find('.'))) * 100 + std::stoll(money.substr(money.find('.') + 1));
  }
  EXPECT_EQ(events, 20000);
  std::string archived = testing::Shell("cat " + testing::ShellQuote(lake) +
                                        "/user/kafka/transactions/dt=*/part-* | grep -o '\"amount\":[0-9.]*' | "
                                        "cut -d: -f2 | awk -F. '{s += $1 * 100 + $2} END {printf \"%d\", s}'");
  EXPECT_EQ(std::to_string(cents), archived);
  std::filesystem::remove_all(dir);
}

TEST(ViewsCli, NoSparkAnUnreachableMasterAndAMissingInputAreOneClearLineEach) {
  std::string dir = testing::TempDir("views-errors");
  std::string db = SeedSample(dir);
  std::string lake = dir + "/lake";
  ASSERT_EQ(RunCli({"-q", "import", "--connect", db, "--table", "sales", "--target-dir", "/user/sqoop/sales",
                    "--lake", lake})
                .exit_code,
            0);
  int port = FreePort();
  CliResult unreachable = RunCli({"views", "build", "--lake", lake, "--engine", "spark", "--spark-master",
                                  "spark://127.0.0.1:" + std::to_string(port), "--spark-submit", "/bin/true"});
  EXPECT_EQ(unreachable.exit_code, 1);
  EXPECT_EQ(unreachable.err, "comptoir: error: views build: the Spark master spark://127.0.0.1:" + std::to_string(port) +
                                 " is unreachable (127.0.0.1:" + std::to_string(port) +
                                 ": Connection refused); start it, or build with --spark-master local[2] or "
                                 "--engine embedded\n");
  CliResult nospark = RunCli({"views", "build", "--lake", lake, "--engine", "spark", "--spark-submit",
                              "/nonexistent/spark-submit"});
  EXPECT_EQ(nospark.exit_code, 1);
  EXPECT_EQ(nospark.err,
            "comptoir: error: views build: no Spark found: /nonexistent/spark-submit (--spark-submit) is not "
            "executable; no spark-submit on PATH. Install one (pip install pyspark==4.2.0, or an Apache Spark "
            "distribution) and set SPARK_HOME or COMPTOIR_SPARK_SUBMIT, or build with --engine embedded\n");
  CliResult missing = RunCli({"views", "build", "--lake", lake, "--source", "/user/sqoop/nothing"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_EQ(missing.err, "comptoir: error: views build: the input /user/sqoop/nothing is missing in file://" + lake +
                             ": import it first (comptoir import --table sales --target-dir /user/sqoop/nothing)\n");
  CliResult engine = RunCli({"views", "build", "--lake", lake, "--engine", "duckdb"});
  EXPECT_EQ(engine.exit_code, 1);
  EXPECT_NE(engine.err.find("--engine 'duckdb' is not one of embedded, spark"), std::string::npos) << engine.err;
  EXPECT_FALSE(std::filesystem::exists(lake + "/user/comptoir/views/sales/_SUCCESS")) << "nothing published";
  CliResult serve = RunCli({"serve", "--lake", lake, "--sales-from", "cache"});
  EXPECT_EQ(serve.exit_code, 1);
  EXPECT_NE(serve.err.find("--sales-from 'cache' is not one of auto, views, rows"), std::string::npos) << serve.err;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace comptoir
