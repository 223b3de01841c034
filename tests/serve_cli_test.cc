// `comptoir serve` end to end: the real Sales Data Sample imported into a lake,
// logs published by the agent, events on an embedded bus (part archived), and
// every endpoint of docs/api.md checked over HTTP, errors included.
#include <curl/curl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

#include "cli_runner.h"
#include "comptoir/core/time.h"
#include "comptoir/analytics/sales.h"
#include "comptoir/bus/client.h"
#include "comptoir/core/strings.h"
#include "comptoir/lake/storage.h"
#include "comptoir/stream/event.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"

namespace comptoir {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::CliResult;
using testing::RunCli;

using Http = testing::HttpResult;

Http Get(const std::string& url, const std::vector<std::string>& headers = {}, const std::string& post = "") {
  return testing::HttpGet(url, headers, post);
}

json GetJson(const std::string& url, long want = 200) {
  Http r = Get(url);
  EXPECT_EQ(r.status, want) << url << "\n" << r.body;
  return json::parse(r.body, nullptr, false);
}

int64_t Cents(double v) { return std::llround(v * 100); }

// A `comptoir serve` in the background; its URL read from its first line.
struct Server {
  int pid = -1;
  std::string url;
  std::string log;
  bool Start(const std::vector<std::string>& args, const std::string& log_path) {
    log = log_path;
    std::vector<std::string> all = {"serve", "--listen", "127.0.0.1:0", "--jobs-dir", "none"};  // not the user's jobs
    all.insert(all.end(), args.begin(), args.end());
    pid = testing::StartCli(all, log_path);
    url = testing::WaitForLine(log_path, "dashboard on (http://127\\.0\\.0\\.1:[0-9]+)/", 10000);
    return !url.empty();
  }
  ~Server() {
    if (pid > 0) {
      kill(pid, SIGTERM);
      waitpid(pid, nullptr, 0);
    }
  }
};

class Serve : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(testing::TempDir("serve"));
    const std::string& d = *dir_;
    CliResult seed = RunCli({"seed", "--connect", "sqlite://" + d + "/erp.db?create=1", "--from-csv",
                             testing::SharedData() + "/sales_data_sample.csv", "--encoding", "latin1", "--drop"});
    ASSERT_EQ(seed.exit_code, 0) << seed.err;
    CliResult imp = RunCli({"import", "--connect", "sqlite://" + d + "/erp.db", "--table", "sales", "--lake",
                            d + "/lake", "-m", "2"});
    ASSERT_EQ(imp.exit_code, 0) << imp.err;
    // Logs: an error with its traceback, warnings, infos, published by the agent.
    fs::create_directories(d + "/logs");
    std::ofstream(d + "/logs/app.log")
        << "2026-11-27 10:00:00,000 INFO sale order=10100 amount=10.00\n"
        << "2026-11-27 10:00:01,000 WARNING slow payment provider order=10101\n"
        << "2026-11-27 10:00:02,000 ERROR payment gateway timeout order=10102\n"
        << "Traceback (most recent call last):\n  File \"app.py\", line 3, in pay\nTimeoutError\n"
        << "2026-11-27 10:00:03,000 INFO sale order=10103 amount=12.50\n";
    CliResult agent = RunCli({"agent", "-q", "--source", d + "/logs/*.log", "--lake", d + "/lake", "--state-dir",
                              d + "/agent", "--once"});
    ASSERT_EQ(agent.exit_code, 0) << agent.err;
    // Events: 20 archived, then 7 live only, then one malformed message.
    std::string bus = "log://" + d + "/bus";
    ASSERT_EQ(RunCli({"produce", "-q", "--bus", bus, "--count", "20", "--rate", "0"}).exit_code, 0);
    CliResult arch = RunCli({"archive", "-q", "--bus", bus, "--lake", d + "/lake", "--idle-exit", "1s"});
    ASSERT_EQ(arch.exit_code, 0) << arch.err;
    ASSERT_EQ(RunCli({"produce", "-q", "--bus", bus, "--count", "7", "--rate", "0", "--seed", "9"}).exit_code, 0);
    {
      auto p = bus::OpenProducer(bus, "transactions");
      ASSERT_TRUE(p.ok()) << p.status();
      ASSERT_TRUE((*p)->Send("x", "{not json", std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count()).ok());
      ASSERT_TRUE((*p)->Flush().ok());
    }
    server_ = new Server;
    ASSERT_TRUE(server_->Start({"--lake", d + "/lake", "--bus", bus}, d + "/serve.log"));
    // The live view catches up with the 28 messages.
    for (int i = 0; i < 100; ++i) {
      json live = json::parse(Get(server_->url + "/api/v1/live/summary").body, nullptr, false);
      if (live.is_object() && live.value("events", 0) == 27 && live.value("malformed", 0) == 1) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  static void TearDownTestSuite() {
    delete server_;
    if (!::testing::Test::HasFailure()) fs::remove_all(*dir_);
    delete dir_;
  }
  static std::string Url(const std::string& path) { return server_->url + path; }
  static std::string* dir_;
  static Server* server_;
};
std::string* Serve::dir_ = nullptr;
Server* Serve::server_ = nullptr;

// The engine's answer for the same filter, rendered as the API does.
void ExpectSummaryEqualsEngine(const json& got, const analytics::Filter& f, const std::string& lake_dir) {
  auto lake = lake::NewLocalStorage(lake_dir);
  analytics::SalesDataset ds(lake.get(), "/user/sqoop/sales");
  ASSERT_TRUE(ds.Refresh().ok());
  analytics::Summary s = analytics::Summarize(*ds.snapshot(), f);
  EXPECT_EQ(got["rows"], s.rows);
  EXPECT_EQ(got["orders"], s.orders);
  EXPECT_EQ(got["customers"], s.customers);
  EXPECT_EQ(got["quantity"], s.quantity);
  EXPECT_EQ(Cents(got["total_sales"]), s.sales_cents);
  auto groups = [&](const char* name, const std::vector<analytics::Group>& want) {
    ASSERT_EQ(got[name].size(), want.size()) << name;
    for (size_t i = 0; i < want.size(); ++i) {
      EXPECT_EQ(got[name][i]["key"], want[i].key) << name;
      EXPECT_EQ(Cents(got[name][i]["sales"]), want[i].sales_cents) << name << " " << want[i].key;
      EXPECT_EQ(got[name][i]["rows"], want[i].rows) << name;
      EXPECT_EQ(got[name][i]["orders"], want[i].orders) << name;
    }
  };
  groups("by_productline", s.by_productline);
  groups("by_status", s.by_status);
  groups("by_dealsize", s.by_dealsize);
  groups("by_country", s.by_country);
  groups("by_territory", s.by_territory);
  groups("by_year", s.by_year);
  groups("by_month", s.by_month);
  groups("top_customers", s.top_customers);
}

TEST_F(Serve, SummaryOfTheRealSampleToTheCentWithAndWithoutFilters) {
  json all = GetJson(Url("/api/v1/sales/summary"));
  EXPECT_EQ(all["rows"], 2823);
  EXPECT_EQ(all["orders"], 307);
  EXPECT_EQ(all["customers"], 92);
  EXPECT_EQ(Cents(all["total_sales"]), 1003262885);
  EXPECT_EQ(Cents(all["avg_sales_per_order"]), (1003262885 * 2 + 307) / (2 * 307));
  EXPECT_EQ(all["top_customers"].size(), 10u);
  EXPECT_EQ(all["top_customers"][0]["key"], "Euro Shopping Channel");
  EXPECT_EQ(all["by_year"][0]["key"], "2003");
  EXPECT_EQ(all["dataset"]["rows"], 2823);
  ExpectSummaryEqualsEngine(all, analytics::Filter{}, *dir_ + "/lake");
  json f = GetJson(Url("/api/v1/sales/summary?from=2004-01-01&to=2004-12-31&productline=Motorcycles,Ships&dealsize=Large"));
  analytics::Filter want;
  want.from_day = *core::ParseDay("2004-01-01");
  want.to_day = *core::ParseDay("2004-12-31");
  want.in[analytics::kProductLine] = {"Motorcycles", "Ships"};
  want.in[analytics::kDealSize] = {"Large"};
  ExpectSummaryEqualsEngine(f, want, *dir_ + "/lake");
  EXPECT_LT(f["rows"].get<int>(), 2823);
  EXPECT_GT(f["rows"].get<int>(), 0);
  json again = GetJson(Url("/api/v1/sales/summary?dealsize=Large&productline=Motorcycles,Ships&to=2004-12-31&from=2004-01-01"));
  EXPECT_EQ(again["total_sales"], f["total_sales"]);  // same query in another order: the cache
  json cust = GetJson(Url("/api/v1/sales/summary?customer=euro%20shop"));
  EXPECT_EQ(cust["customers"], 1);
}

TEST_F(Serve, BadParametersAreFourHundredsNamingTheParameter) {
  struct Case {
    std::string path;
    long status;
    std::string message;
  };
  const Case cases[] = {
      {"/api/v1/sales/summary?foo=1", 400,
       "unknown parameter 'foo' (allowed: from, to, productline, country, status, dealsize, territory, customer)"},
      {"/api/v1/sales/summary?from=2004-13-01", 400, "parameter 'from': '2004-13-01' is not a date (expected YYYY-MM-DD)"},
      {"/api/v1/sales/summary?from=2005-01-01&to=2004-01-01", 400, "parameter 'from' is after 'to'"},
      {"/api/v1/sales/summary?dealsize=Huge", 400, "parameter 'dealsize': unknown value 'Huge' (expected Large, Medium, Small)"},
      {"/api/v1/sales/summary?status=Shipped&status=Cancelled", 400,
       "parameter 'status' is given twice; give it once (lists are comma-separated)"},
      {"/api/v1/sales/timeseries?bucket=hour", 400, "parameter 'bucket': 'hour' is not one of day, week, month, quarter, year"},
      {"/api/v1/sales/rows?limit=0", 400, "parameter 'limit': '0' is not an integer from 1 to 1000"},
      {"/api/v1/sales/rows?sort=-price", 400,
       "parameter 'sort': 'price' is not a sortable column (ordernumber, orderdate, customer, productline, productcode, "
       "quantity, priceeach, sales, status, dealsize, country, territory)"},
      {"/api/v1/sales/options?x=1", 400, "unknown parameter 'x' (this endpoint takes none)"},
      {"/api/v1/live/summary?window=2h", 400, "parameter 'window': '2h' is not a duration from 1m to 1h"},
      {"/api/v1/logs/search?level=LOUD", 400,
       "parameter 'level': unknown level 'LOUD' (expected DEBUG, INFO, WARNING, ERROR, CRITICAL)"},
      {"/api/v1/logs/search?q=(unclosed&regex=1", 400, "bad regular expression: missing ): (unclosed"},
      {"/api/v1/lake/ls?path=/user/../etc", 403, "path '/user/../etc' escapes the lake root"},
      {"/api/v1/lake/ls?path=user", 400, "parameter 'path': 'user' is not absolute"},
      {"/api/v1/lake/head?path=/user/sqoop", 400, "/user/sqoop is a directory; list it with /api/v1/lake/ls"},
      {"/api/v1/nothing", 404, "no endpoint /api/v1/nothing (see docs/api.md)"},
  };
  for (const Case& c : cases) {
    Http r = Get(Url(c.path));
    EXPECT_EQ(r.status, c.status) << c.path << "\n" << r.body;
    json j = json::parse(r.body, nullptr, false);
    ASSERT_TRUE(j.is_object()) << c.path << ": " << r.body;
    EXPECT_EQ(j["status"], c.status) << c.path;
    EXPECT_EQ(j["message"], c.message) << c.path;
  }
  Http missing = Get(Url("/api/v1/lake/head?path=/user/none"));
  EXPECT_EQ(missing.status, 404) << missing.body;
  Http post = Get(Url("/api/v1/sales/summary"), {}, "x=1");
  EXPECT_EQ(post.status, 405);
}

TEST_F(Serve, TimeseriesRowsAndExportAgreeWithTheSummary) {
  json total = GetJson(Url("/api/v1/sales/summary?status=Shipped"));
  json ts = GetJson(Url("/api/v1/sales/timeseries?bucket=month&status=Shipped"));
  ASSERT_EQ(ts["bucket"], "month");
  int64_t sum = 0;
  std::string prev;
  for (const auto& p : ts["points"]) {
    sum += Cents(p["sales"]);
    EXPECT_LT(prev, p["key"].get<std::string>());
    EXPECT_EQ(p["start"].get<std::string>().substr(0, 7), p["key"]);
    prev = p["key"];
  }
  EXPECT_EQ(sum, Cents(total["total_sales"]));
  EXPECT_EQ(ts["points"].size(), 29u);  // 2003-01 .. 2005-05
  json weeks = GetJson(Url("/api/v1/sales/timeseries?bucket=week&from=2004-01-01&to=2004-01-31"));
  EXPECT_EQ(weeks["points"][0]["key"], "2004-W01");

  json rows = GetJson(Url("/api/v1/sales/rows?status=Shipped&sort=-sales&limit=5&offset=0"));
  EXPECT_EQ(rows["total"], total["rows"]);
  ASSERT_EQ(rows["rows"].size(), 5u);
  EXPECT_GE(rows["rows"][0]["sales"].get<double>(), rows["rows"][4]["sales"].get<double>());
  json next = GetJson(Url("/api/v1/sales/rows?status=Shipped&sort=-sales&limit=5&offset=4"));
  EXPECT_EQ(next["rows"][0], rows["rows"][4]);
  EXPECT_EQ(rows["rows"][0]["status"], "Shipped");

  Http csv = Get(Url("/api/v1/sales/export.csv?status=Shipped"));
  ASSERT_EQ(csv.status, 200);
  EXPECT_NE(csv.headers.find("text/csv"), std::string::npos);
  std::vector<std::string_view> lines = Split(csv.body, '\n', true);
  ASSERT_EQ(static_cast<int>(lines.size()), total["rows"].get<int>() + 1);
  EXPECT_EQ(lines[0], "ordernumber,orderlinenumber,orderdate,customer,productline,productcode,quantity,priceeach,"
                      "sales,status,dealsize,country,territory\r");
  int64_t csv_cents = 0;
  for (size_t i = 1; i < lines.size(); ++i) {
    // The sales column is the 9th; customer names may hold quoted commas.
    std::string line(lines[i]);
    std::regex re(R"(,([0-9]+)\.([0-9]{2}),Shipped,)");
    std::smatch m;
    ASSERT_TRUE(std::regex_search(line, m, re)) << line;
    csv_cents += std::stoll(m[1]) * 100 + std::stoll(m[2]);
  }
  EXPECT_EQ(csv_cents, Cents(total["total_sales"]));
}

TEST_F(Serve, LiveSummaryMergesArchivedAndLiveEventsOnce) {
  // Independent count: every event on the bus.
  auto c = bus::OpenConsumer("log://" + *dir_ + "/bus", "transactions", bus::ConsumerOptions{});
  ASSERT_TRUE(c.ok());
  stream::EventParser parser;
  int64_t cents = 0, events = 0;
  for (int i = 0; i < 20; ++i) {
    auto batch = (*c)->Poll(1000, std::chrono::milliseconds(100));
    ASSERT_TRUE(batch.ok());
    for (const auto& r : *batch) {
      stream::Event e;
      if (parser.Parse(r.value, r.timestamp_ms, &e).ok()) cents += e.amount_cents, ++events;
    }
  }
  ASSERT_EQ(events, 27);
  json live = GetJson(Url("/api/v1/live/summary?window=15m"));
  EXPECT_EQ(live["events"], 27);
  EXPECT_EQ(Cents(live["revenue"]), cents);
  EXPECT_EQ(live["today_events"], 27);  // 20 from the archive + 7 live, none twice
  EXPECT_EQ(Cents(live["today_revenue"]), cents);
  EXPECT_EQ(live["malformed"], 1);
  EXPECT_EQ(live["latest"].size(), 27u);
  EXPECT_EQ(live["per_second"].size(), 900u);
  int64_t series = 0;
  for (const auto& p : live["per_second"]) series += p["events"].get<int64_t>();
  EXPECT_EQ(series, 27);
  EXPECT_TRUE(live["latency_ms"]["p99"].is_number());
}

// Reads an SSE stream until `done` says so or the time is up.
std::string ReadStream(const std::string& url, const std::vector<std::string>& headers, long ms,
                       const std::function<void()>& after_connect = nullptr) {
  struct State {
    std::string data;
    std::function<void()> hook;
  } st{"", after_connect};
  CURL* c = curl_easy_init();
  curl_slist* h = nullptr;
  for (const auto& x : headers) h = curl_slist_append(h, x.c_str());
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, +[](char* d, size_t s, size_t n, void* p) {
    auto* state = static_cast<State*>(p);
    state->data.append(d, s * n);
    if (state->hook) {
      auto hook = std::move(state->hook);
      state->hook = nullptr;
      hook();
    }
    return s * n;
  });
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &st);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, ms);
  curl_easy_perform(c);
  curl_slist_free_all(h);
  curl_easy_cleanup(c);
  return st.data;
}

TEST_F(Serve, LiveStreamSendsASnapshotThenTicksAndResumesFromLastEventId) {
  // Connect once the fixture's last second is over, so that its events are all
  // in the snapshot and the ticks carry only the event produced below.
  auto now = std::chrono::system_clock::now().time_since_epoch();
  std::this_thread::sleep_for(std::chrono::seconds(2) - (now % std::chrono::seconds(1)));
  std::thread producer;
  std::string body = ReadStream(Url("/api/v1/live/stream"), {}, 3500, [&] {
    producer = std::thread([&] {
      RunCli({"produce", "-q", "--bus", "log://" + *dir_ + "/bus", "--count", "1", "--rate", "0", "--seed", "11"});
    });
  });
  producer.join();
  ASSERT_TRUE(body.starts_with("retry: 2000\n\nid: ")) << body.substr(0, 200);
  EXPECT_NE(body.find("event: snapshot\ndata: {"), std::string::npos);
  // Within the 3.5 s: ticks, one of which carries the produced event.
  std::regex tick(R"(id: ([0-9]+)\nevent: tick\ndata: (\{[^\n]*\})\n\n)");
  int ticks = 0, seen = 0;
  int64_t first_id = 0;
  for (auto it = std::sregex_iterator(body.begin(), body.end(), tick); it != std::sregex_iterator(); ++it) {
    json t = json::parse((*it)[2].str());
    if (ticks++ == 0) first_id = std::stoll((*it)[1].str());
    seen += t["events"].get<int>();
    EXPECT_EQ(t["t"], std::stoll((*it)[1].str()));
  }
  EXPECT_GE(ticks, 2);
  EXPECT_EQ(seen, 1) << body;
  // A client back with Last-Event-ID gets the ticks after it, no snapshot.
  std::string resumed = ReadStream(Url("/api/v1/live/stream"), {fmt::format("Last-Event-ID: {}", first_id - 3)}, 800);
  EXPECT_EQ(resumed.find("event: snapshot"), std::string::npos);
  EXPECT_NE(resumed.find(fmt::format("id: {}\nevent: tick", first_id - 2)), std::string::npos) << resumed.substr(0, 300);
  EXPECT_EQ(resumed.find(fmt::format("id: {}\n", first_id - 3)), std::string::npos);
}

TEST_F(Serve, LogSearchByLevelTextRegexAndTimeSkipsFiles) {
  json errors = GetJson(Url("/api/v1/logs/search?level=ERROR"));
  ASSERT_EQ(errors["lines"].size(), 1u);
  EXPECT_EQ(errors["lines"][0]["level"], "ERROR");
  EXPECT_EQ(errors["lines"][0]["ts"], "2026-11-27T10:00:02.000Z");
  EXPECT_EQ(errors["lines"][0]["message"],
            "2026-11-27 10:00:02,000 ERROR payment gateway timeout order=10102\nTraceback (most recent call last):\n"
            "  File \"app.py\", line 3, in pay\nTimeoutError");
  EXPECT_TRUE(errors["lines"][0]["file"].get<std::string>().starts_with("/user/flume/logs/2026-11-27/app.log."));
  json text = GetJson(Url("/api/v1/logs/search?q=PAYMENT"));
  EXPECT_EQ(text["lines"].size(), 2u);
  EXPECT_EQ(text["lines"][0]["level"], "ERROR");  // newest first
  json re = GetJson(Url("/api/v1/logs/search?q=order%3D1010%5B12%5D%24&regex=1"));
  EXPECT_EQ(re["lines"].size(), 1u);  // the traceback makes 10102's record end elsewhere
  json limited = GetJson(Url("/api/v1/logs/search?limit=2"));
  EXPECT_EQ(limited["lines"].size(), 2u);
  EXPECT_TRUE(limited["truncated"]);
  json later = GetJson(Url("/api/v1/logs/search?from=2026-11-28"));
  EXPECT_EQ(later["lines"].size(), 0u);
  EXPECT_EQ(later["files_skipped"], 1);  // known to end on the 27th: not read again
  json range = GetJson(Url("/api/v1/logs/search?from=2026-11-27T10:00:01.000Z&to=2026-11-27T10:00:02.500Z"));
  EXPECT_EQ(range["lines"].size(), 2u);
}

TEST_F(Serve, LakeBrowsingIsConfinedToTheLake) {
  json ls = GetJson(Url("/api/v1/lake/ls?path=/user/sqoop/sales"));
  std::set<std::string> names;
  for (const auto& e : ls["entries"]) names.insert(e["name"]);
  EXPECT_TRUE(names.contains("part-m-00000"));
  EXPECT_TRUE(names.contains("_SUCCESS"));
  json root = GetJson(Url("/api/v1/lake/ls"));
  EXPECT_EQ(root["path"], "/");
  EXPECT_EQ(root["entries"][0]["name"], "user");
  EXPECT_EQ(root["entries"][0]["type"], "dir");
  json head = GetJson(Url("/api/v1/lake/head?path=/user/sqoop/sales/part-m-00000&lines=2"));
  std::ifstream in(*dir_ + "/lake/user/sqoop/sales/part-m-00000");
  std::string l1, l2;
  std::getline(in, l1);
  std::getline(in, l2);
  EXPECT_EQ(head["lines"], json::array({l1, l2}));
  EXPECT_TRUE(head["truncated"]);
}

TEST_F(Serve, HealthMetricsAssetsAndSecurityHeaders) {
  json h = GetJson(Url("/api/v1/health"));
  EXPECT_EQ(h["status"], "ok") << h.dump();
  std::set<std::string> names;
  for (const auto& c : h["components"]) names.insert(c["name"]);
  EXPECT_EQ(names, (std::set<std::string>{"lake", "bus", "dataset /user/sqoop/sales", "dataset /user/kafka/transactions",
                                          "dataset /user/flume/logs", "sales engine", "live view",
                                          "view /user/comptoir/views/sales"}));
  for (const auto& c : h["components"]) {
    if (c["name"] == "view /user/comptoir/views/sales") {
      EXPECT_EQ(c["status"], "ok");
      EXPECT_EQ(c["detail"], "none built; /user/sqoop/sales is answered from its rows");
    }
  }
  Http m = Get(Url("/metrics"));
  EXPECT_NE(m.body.find("\ncomptoir_dataset_rows 2823\n"), std::string::npos) << m.body;
  EXPECT_NE(m.body.find("comptoir_http_requests_total{path=\"/api/v1/health\"} "), std::string::npos);
  Http index = Get(Url("/"));
  EXPECT_EQ(index.status, 200);
  EXPECT_NE(index.headers.find("Content-Security-Policy: default-src 'self'"), std::string::npos);
  EXPECT_NE(index.headers.find("X-Content-Type-Options: nosniff"), std::string::npos);
  EXPECT_NE(index.headers.find("frame-ancestors 'none'"), std::string::npos);
  std::smatch js;
  ASSERT_TRUE(std::regex_search(index.body, js, std::regex(R"re(src="(/assets/[^"]+\.js)")re"))) << index.body;
  Http script = Get(Url(js[1]));
  EXPECT_EQ(script.status, 200);
  EXPECT_NE(script.headers.find("Content-Type: text/javascript"), std::string::npos);
  EXPECT_NE(script.headers.find("immutable"), std::string::npos);
  EXPECT_GT(script.body.size(), 10000u);
}

TEST_F(Serve, NewPartsAreServedWithinSecondsAndTheVersionBumps) {
  std::string sales = *dir_ + "/lake/user/sqoop/sales";
  json before = GetJson(Url("/api/v1/sales/summary"));
  fs::copy_file(sales + "/part-m-00000", sales + "/part-m-00099");  // as an --append import adds
  json after;
  for (int i = 0; i < 50; ++i) {
    after = GetJson(Url("/api/v1/sales/summary"));
    if (after["dataset"]["version"] != before["dataset"]["version"]) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(after["dataset"]["version"], before["dataset"]["version"].get<int>() + 1);
  EXPECT_GT(after["rows"].get<int>(), 2823);
  fs::remove(sales + "/part-m-00099");
  for (int i = 0; i < 50; ++i) {
    after = GetJson(Url("/api/v1/sales/summary"));
    if (after["rows"] == 2823) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(after["rows"], 2823);
  EXPECT_EQ(after["total_sales"], before["total_sales"]);
}

TEST(ServeSecurity, TokensRateLimitsAndNoOpenListenerWithoutAToken) {
  std::string dir = testing::TempDir("serve-auth");
  fs::create_directories(dir + "/lake/user");
  CliResult open = RunCli({"serve", "--listen", "0.0.0.0:0", "--lake", dir + "/lake", "--no-live"});
  EXPECT_EQ(open.exit_code, 1);
  EXPECT_NE(open.err.find("refusing to serve on 0.0.0.0:0 without --auth-token-file"), std::string::npos) << open.err;
  std::ofstream(dir + "/token") << "0123456789abcdef0123\n";
  Server s;
  ASSERT_TRUE(s.Start({"--lake", dir + "/lake", "--no-live", "--auth-token-file", dir + "/token", "--rate-limit", "5",
                       "--rate-limit-loopback"},
                      dir + "/serve.log"));
  Http anon = Get(s.url + "/api/v1/health");
  EXPECT_EQ(anon.status, 401);
  EXPECT_NE(anon.body.find("a token is required"), std::string::npos);
  EXPECT_EQ(Get(s.url + "/api/v1/health", {"Authorization: Bearer 0123456789abcdef0123"}).status, 200);
  EXPECT_EQ(Get(s.url + "/api/v1/health", {"Authorization: Bearer wrong"}).status, 401);
  EXPECT_EQ(Get(s.url + "/").status, 200);  // the page with the login form
  Http bad_login = Get(s.url + "/api/v1/login", {"Content-Type: application/json"}, R"({"token":"nope"})");
  EXPECT_EQ(bad_login.status, 401);
  Http login = Get(s.url + "/api/v1/login", {"Content-Type: application/json"}, R"({"token":"0123456789abcdef0123"})");
  EXPECT_EQ(login.status, 200);
  EXPECT_NE(login.headers.find("Set-Cookie: comptoir_token=0123456789abcdef0123; HttpOnly; SameSite=Strict; Path=/"),
            std::string::npos);
  EXPECT_EQ(Get(s.url + "/api/v1/live/summary", {"Cookie: comptoir_token=0123456789abcdef0123"}).status, 503);
  // The bucket (burst 10) empties: 429 with Retry-After.
  int limited = 0;
  for (int i = 0; i < 20; ++i) {
    Http r = Get(s.url + "/api/v1/health", {"Authorization: Bearer 0123456789abcdef0123"});
    if (r.status == 429) {
      ++limited;
      EXPECT_NE(r.headers.find("Retry-After: 1"), std::string::npos);
    }
  }
  EXPECT_GE(limited, 5);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace comptoir
