// Api::Handle over an in-memory lake and an embedded bus: every endpoint's
// answer, its errors and its authentication, without a socket.
#include "comptoir/serve/api.h"
#include "comptoir/analytics/sales_view.h"
#include "comptoir/core/time.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "comptoir/bus/client.h"
#include "comptoir/core/names.h"
#include "comptoir/core/time.h"
#include "comptoir/lake/dataset.h"
#include "comptoir/quality/history.h"
#include "comptoir/quality/quarantine.h"
#include "comptoir/stream/event.h"
#include "nlohmann/json.hpp"

namespace comptoir::serve {
namespace {

using nlohmann::json;

// Four lines of three orders (the Sales Data Sample's layout), totals by hand:
// 2871.00 + 2765.90 + 3884.34 + 3746.70 = 13267.94.
constexpr char kPart[] =
    "10100,1,2003-01-06,30,95.70,2871.00,Motorcycles,USA,Shipped,Small,NA,Land of Toys,S10_1678\n"
    "10100,2,2003-01-06,34,81.35,2765.90,Classic Cars,USA,Shipped,Small,NA,Land of Toys,S10_1949\n"
    "10101,1,2003-02-24,41,94.74,3884.34,Motorcycles,France,Shipped,Medium,EMEA,Reims Collectables,S10_2016\n"
    "10102,1,2004-05-07,45,83.26,3746.70,Classic Cars,France,Cancelled,Medium,EMEA,\"La Rochelle, Gifts\",S18_1097\n";

lake::DatasetSchema SalesSchema() {
  lake::DatasetSchema s;
  const std::pair<const char*, const char*> cols[] = {
      {"ORDERNUMBER", "integer"}, {"ORDERLINENUMBER", "integer"}, {"ORDERDATE", "date"},
      {"QUANTITYORDERED", "integer"}, {"PRICEEACH", "decimal"},   {"SALES", "decimal"},
      {"PRODUCTLINE", "string"},  {"COUNTRY", "string"},          {"STATUS", "string"},
      {"DEALSIZE", "string"},     {"TERRITORY", "string"},        {"CUSTOMERNAME", "string"},
      {"PRODUCTCODE", "string"}};
  for (const auto& [name, type] : cols) {
    lake::ColumnSchema c;
    c.name = name;
    c.type = type;
    if (c.type == "decimal") c.precision = 10, c.scale = 2;
    s.columns.push_back(c);
  }
  return s;
}

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    lake::RegisterBuiltinStorages();
    name_ = "api-test-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name();
    lake_ = lake::NewMemStorage(name_);
    sales_ = std::make_unique<analytics::SalesDataset>(lake_.get(), std::string(core::kSalesDir));
    logs_ = std::make_unique<analytics::LogIndex>(lake_.get(), std::string(core::kLogsDir));
  }

  void WriteSales() {
    std::string dir(core::kSalesDir);
    ASSERT_TRUE(lake::WriteStringToFile(lake_.get(), dir + "/_schema.json", SalesSchema().ToJson()).ok());
    ASSERT_TRUE(lake::WriteStringToFile(lake_.get(), dir + "/part-m-00000", kPart).ok());
    ASSERT_TRUE(lake::WriteStringToFile(lake_.get(), dir + "/_SUCCESS", "").ok());
    ASSERT_TRUE(sales_->Refresh().ok());
  }

  std::unique_ptr<Api> MakeApi(std::string token = "") {
    ApiOptions o;
    o.lake = lake_.get();
    o.sales = sales_.get();
    o.logs = logs_.get();
    o.auth_token = std::move(token);
    o.health = [] { return std::vector<Component>{{"bus", "degraded", "topic transactions not found"}}; };
    o.quality_datasets = {"/user/sqoop/sales"};
    return std::make_unique<Api>(o);
  }

  static Response Get(Api* api, std::string path, std::vector<std::pair<std::string, std::string>> query = {},
                      std::map<std::string, std::string> headers = {}) {
    Request r;
    r.method = "GET";
    r.path = std::move(path);
    r.query = std::move(query);
    r.headers = std::move(headers);
    r.loopback = true;
    Response out;
    api->Handle(r, &out);
    return out;
  }

  static json Body(const Response& r) { return json::parse(r.body); }

  std::string name_;
  std::unique_ptr<lake::Storage> lake_;
  std::unique_ptr<analytics::SalesDataset> sales_;
  std::unique_ptr<analytics::LogIndex> logs_;
};

TEST_F(ApiTest, SalesSummaryTotalsToTheCentWithAndWithoutFilters) {
  WriteSales();
  auto api = MakeApi();
  Response r = Get(api.get(), "/api/v1/sales/summary");
  ASSERT_EQ(r.status, 200) << r.body;
  json j = Body(r);
  EXPECT_EQ(j["rows"], 4);
  EXPECT_EQ(j["orders"], 3);
  EXPECT_EQ(j["customers"], 3);
  EXPECT_EQ(j["quantity"], 150);
  EXPECT_DOUBLE_EQ(j["total_sales"].get<double>(), 13267.94);
  EXPECT_DOUBLE_EQ(j["avg_sales_per_row"].get<double>(), 3316.99);   // 3316.985 rounded half away
  EXPECT_DOUBLE_EQ(j["avg_sales_per_order"].get<double>(), 4422.65);  // 4422.6466...
  EXPECT_EQ(j["by_year"][0]["key"], "2003");
  EXPECT_DOUBLE_EQ(j["by_year"][0]["sales"].get<double>(), 9521.24);
  EXPECT_DOUBLE_EQ(j["by_year"][1]["sales"].get<double>(), 3746.70);
  EXPECT_EQ(j["dataset"]["rows"], 4);

  json m = Body(Get(api.get(), "/api/v1/sales/summary", {{"productline", "Motorcycles"}, {"to", "2003-12-31"}}));
  EXPECT_EQ(m["rows"], 2);
  EXPECT_EQ(m["orders"], 2);
  EXPECT_DOUBLE_EQ(m["total_sales"].get<double>(), 6755.34);
  json c = Body(Get(api.get(), "/api/v1/sales/summary", {{"customer", "rochelle"}}));
  EXPECT_EQ(c["rows"], 1);
  EXPECT_DOUBLE_EQ(c["total_sales"].get<double>(), 3746.70);
}

TEST_F(ApiTest, OptionsTimeseriesRowsAndExport) {
  WriteSales();
  auto api = MakeApi();
  json o = Body(Get(api.get(), "/api/v1/sales/options"));
  EXPECT_EQ(o["productline"], json({"Classic Cars", "Motorcycles"}));
  EXPECT_EQ(o["min_date"], "2003-01-06");
  EXPECT_EQ(o["max_date"], "2004-05-07");
  json t = Body(Get(api.get(), "/api/v1/sales/timeseries", {{"bucket", "month"}, {"country", "France"}}));
  ASSERT_EQ(t["points"].size(), 2u);
  EXPECT_EQ(t["points"][0]["key"], "2003-02");
  EXPECT_EQ(t["points"][0]["start"], "2003-02-01");
  EXPECT_DOUBLE_EQ(t["points"][1]["sales"].get<double>(), 3746.70);
  json rows = Body(Get(api.get(), "/api/v1/sales/rows", {{"sort", "-sales"}, {"limit", "2"}}));
  EXPECT_EQ(rows["total"], 4);
  ASSERT_EQ(rows["rows"].size(), 2u);
  EXPECT_EQ(rows["rows"][0]["ordernumber"], 10101);
  EXPECT_DOUBLE_EQ(rows["rows"][1]["sales"].get<double>(), 3746.70);
  Response csv = Get(api.get(), "/api/v1/sales/export.csv", {{"status", "Cancelled"}});
  ASSERT_EQ(csv.status, 200);
  EXPECT_EQ(csv.content_type, "text/csv; charset=utf-8");
  std::string all = csv.body;
  while (csv.produce && csv.produce(&all)) {
  }
  EXPECT_EQ(all,
            "ordernumber,orderlinenumber,orderdate,customer,productline,productcode,quantity,priceeach,sales,status,"
            "dealsize,country,territory\r\n"
            "10102,1,2004-05-07,\"La Rochelle, Gifts\",Classic Cars,S18_1097,45,83.26,3746.70,Cancelled,Medium,"
            "France,EMEA\r\n");
}

// The Live tab's days before today, from the archive's daily view.
TEST_F(ApiTest, LiveDaysComeFromTheDailyViewAndLeaveTodayToTheLiveView) {
  auto api = MakeApi();
  json none = Body(Get(api.get(), "/api/v1/live/days"));
  EXPECT_EQ(none["days"], json::array());
  EXPECT_EQ(none["note"], "no daily view at /user/comptoir/views/transactions yet: comptoir views build --view transactions");
  const int32_t today = static_cast<int32_t>(core::UnixMillis() / 86'400'000);
  std::string part;
  for (const analytics::DailyRecord& r : std::vector<analytics::DailyRecord>{
           {today - 40, "Shipped", "Ships", 5, 50, 100000},  // older than the 30 days asked
           {today - 2, "Shipped", "Motorcycles", 3, 90, 287100},
           {today - 1, "Cancelled", "Motorcycles", 1, 30, 95070},
           {today - 1, "Shipped", "Classic Cars", 2, 64, 553180},
           {today, "Shipped", "Ships", 7, 70, 70000}}) {  // today: the live view's
    part += analytics::DailyRecordText(r) + "\n";
  }
  std::string dir = "/user/comptoir/views/transactions";
  analytics::ViewManifest m;
  m.view = "transactions";
  m.engine = "spark";
  m.source = "/user/kafka/transactions";
  m.built_at_ms = core::UnixMillis();
  m.source_rows = 18;
  ASSERT_TRUE(lake::WriteStringToFile(lake_.get(), dir + "/_schema.json", analytics::TransactionsViewSchema().ToJson()).ok());
  ASSERT_TRUE(lake::WriteStringToFile(lake_.get(), dir + "/part-m-00000", part).ok());
  ASSERT_TRUE(lake::WriteStringToFile(lake_.get(), dir + "/_view.json", m.ToJson()).ok());
  ASSERT_TRUE(lake::WriteStringToFile(lake_.get(), dir + "/_SUCCESS", "").ok());
  json d = Body(Get(api.get(), "/api/v1/live/days"));
  EXPECT_EQ(d["view"]["engine"], "spark");
  ASSERT_EQ(d["days"].size(), 2u) << d.dump();
  EXPECT_EQ(d["days"][0]["day"], core::FormatDay(today - 2));
  EXPECT_EQ(d["days"][0]["revenue"], 2871.00);
  EXPECT_EQ(d["days"][1]["day"], core::FormatDay(today - 1));
  EXPECT_EQ(d["days"][1]["events"], 3);
  EXPECT_EQ(d["days"][1]["revenue"], 6482.50);
  EXPECT_EQ(d["days"][1]["by_status"],
            json::parse(R"([{"key":"Cancelled","events":1,"revenue":950.7},{"key":"Shipped","events":2,"revenue":5531.8}])"));
  json longer = Body(Get(api.get(), "/api/v1/live/days", {{"days", "60"}}));
  EXPECT_EQ(longer["days"].size(), 3u);
  EXPECT_EQ(Get(api.get(), "/api/v1/live/days", {{"days", "0"}}).status, 400);
}

TEST_F(ApiTest, BadRequestsSayWhatIsWrong) {
  WriteSales();
  auto api = MakeApi();
  auto error = [&](const std::string& path, std::vector<std::pair<std::string, std::string>> q, int status) {
    Response r = Get(api.get(), path, std::move(q));
    EXPECT_EQ(r.status, status) << path << " " << r.body;
    return Body(r)["message"].get<std::string>();
  };
  EXPECT_EQ(error("/api/v1/sales/summary", {{"colour", "red"}}, 400),
            "unknown parameter 'colour' (allowed: from, to, productline, country, status, dealsize, territory, "
            "customer)");
  EXPECT_EQ(error("/api/v1/sales/summary", {{"productline", "Boats"}}, 400),
            "parameter 'productline': unknown value 'Boats' (expected Classic Cars, Motorcycles)");
  EXPECT_EQ(error("/api/v1/sales/summary", {{"from", "2004-01-01"}, {"to", "2003-01-01"}}, 400),
            "parameter 'from' is after 'to'");
  EXPECT_EQ(error("/api/v1/sales/summary", {{"from", "2004-13-01"}}, 400),
            "parameter 'from': '2004-13-01' is not a date (expected YYYY-MM-DD)");
  EXPECT_EQ(error("/api/v1/sales/timeseries", {{"bucket", "decade"}}, 400),
            "parameter 'bucket': 'decade' is not one of day, week, month, quarter, year");
  EXPECT_EQ(error("/api/v1/sales/rows", {{"limit", "5000"}}, 400),
            "parameter 'limit': '5000' is not an integer from 1 to 1000");
  EXPECT_EQ(error("/api/v1/sales/options", {{"from", "2004-01-01"}}, 400),
            "unknown parameter 'from' (this endpoint takes none)");
  EXPECT_EQ(error("/api/v1/sales/pivot", {}, 404), "no endpoint /api/v1/sales/pivot (see docs/api.md)");
  EXPECT_EQ(error("/api/v2/anything", {}, 404), "no endpoint /api/v2/anything (see docs/api.md)");
}

TEST_F(ApiTest, ADatasetNotYetImportedIsA503WithRetryAfter) {
  auto api = MakeApi();
  Response r = Get(api.get(), "/api/v1/sales/summary");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(Body(r)["message"], "the dataset /user/sqoop/sales is not loaded yet; import it with `comptoir import` "
                                "(it is picked up within a second)");
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0], (std::pair<std::string, std::string>{"Retry-After", "1"}));
}

TEST_F(ApiTest, ATokenGuardsTheApiButNotTheDashboard) {
  WriteSales();
  auto api = MakeApi("s3cret-token-of-24-chars");
  Response denied = Get(api.get(), "/api/v1/sales/summary");
  EXPECT_EQ(denied.status, 401);
  Response bad = Get(api.get(), "/api/v1/sales/summary", {}, {{"authorization", "Bearer wrong"}});
  EXPECT_EQ(bad.status, 401);
  Response ok = Get(api.get(), "/api/v1/sales/summary", {}, {{"authorization", "Bearer s3cret-token-of-24-chars"}});
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(Get(api.get(), "/metrics").status, 401);
  EXPECT_NE(Get(api.get(), "/").status, 401);  // the page itself (its login dialog) is public
}

TEST_F(ApiTest, LakeBrowsingAndHealth) {
  WriteSales();
  auto api = MakeApi();
  json ls = Body(Get(api.get(), "/api/v1/lake/ls", {{"path", "/user/sqoop/sales"}}));
  std::vector<std::string> names;
  for (const json& e : ls["entries"]) names.push_back(e["name"]);
  EXPECT_EQ(names, (std::vector<std::string>{"_SUCCESS", "_schema.json", "part-m-00000"}));
  EXPECT_EQ(Get(api.get(), "/api/v1/lake/ls", {{"path", "/nope"}}).status, 404);
  json h = Body(Get(api.get(), "/api/v1/health"));
  EXPECT_EQ(h["status"], "down");  // no live view
  std::map<std::string, std::string> status;
  for (const json& c : h["components"]) status[c["name"]] = c["status"];
  EXPECT_EQ(status["bus"], "degraded");
  EXPECT_EQ(status["sales engine"], "ok");
  EXPECT_EQ(status["live view"], "down");
  Response live = Get(api.get(), "/api/v1/live/summary");
  EXPECT_EQ(live.status, 503);
  EXPECT_EQ(Body(live)["message"], "no live stream: the bus is not connected yet");
}

// The Quality tab's data: each dataset's runs, one run's rejects by page,
// and the counters of /metrics.
TEST_F(ApiTest, QualityRunsRejectsAndMetrics) {
  WriteSales();
  const std::string d(core::kSalesDir);
  quality::RunRecord ok;
  ok.run = "20261206T100000.000Z";
  ok.dataset = d;
  ok.rows_in = 5, ok.rows_out = 2, ok.rejected = 3;
  ok.rules = {{1, "bulk", "range", "QUANTITYORDERED", "reject", "QUANTITYORDERED range [1, 40]", 3, std::nullopt}};
  quality::RunRecord failed = ok;
  failed.run = "20261206T110000.000Z";
  failed.outcome = "failed";
  failed.rows_out = 0;
  failed.failure = "1 row(s) failed a rule with action fail";
  ASSERT_TRUE(lake::WriteStringToFile(lake_.get(), d + "/_quality/history.jsonl",
                                      ok.ToJsonLine() + "\n" + failed.ToJsonLine() + "\n")
                  .ok());
  lake::DatasetSchema rejects = *quality::RejectsSchema(SalesSchema());
  const std::string dir = d + "/_rejects/" + ok.run;
  ASSERT_TRUE(lake::WriteStringToFile(lake_.get(), dir + "/_schema.json", rejects.ToJson()).ok());
  std::string part;
  for (int i = 0; i < 3; ++i) {
    part += "1020" + std::to_string(i) +
            ",1,2003-01-06,99,95.70,9474.30,Motorcycles,USA,Shipped,Large,NA,Land of Toys,S10_1678,bulk,"
            "\"QUANTITYORDERED range [1, 40]: 99\",split 0 row " + std::to_string(i + 1) + "\n";
  }
  ASSERT_TRUE(lake::WriteStringToFile(lake_.get(), dir + "/part-m-00000", part).ok());
  auto api = MakeApi();

  json q = Body(Get(api.get(), "/api/v1/quality"));
  ASSERT_EQ(q["datasets"].size(), 1u);
  const json& runs = q["datasets"][0]["runs"];
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0]["rejected"], 3);
  EXPECT_EQ(runs[0]["rejects_dir"], dir);
  EXPECT_EQ(runs[1]["outcome"], "failed");
  EXPECT_EQ(runs[1]["rejects_dir"], "");
  EXPECT_EQ(Body(Get(api.get(), "/api/v1/quality", {{"runs", "1"}}))["datasets"][0]["runs"].size(), 1u);

  json page = Body(Get(api.get(), "/api/v1/quality/rejects",
                       {{"dataset", d}, {"run", ok.run}, {"offset", "1"}, {"limit", "1"}}));
  EXPECT_EQ(page["total"], 3);
  ASSERT_EQ(page["rows"].size(), 1u);
  EXPECT_EQ(page["rows"][0][0], "10201");
  EXPECT_EQ(page["rows"][0][14], "QUANTITYORDERED range [1, 40]: 99");
  EXPECT_EQ(page["columns"].back(), "_source");
  EXPECT_EQ(Get(api.get(), "/api/v1/quality/rejects", {{"dataset", d}, {"run", "nope"}}).status, 404);
  EXPECT_EQ(Get(api.get(), "/api/v1/quality/rejects", {{"dataset", "/other"}, {"run", ok.run}}).status, 404);
  EXPECT_EQ(Get(api.get(), "/api/v1/quality/rejects", {{"dataset", d}, {"run", "../x"}}).status, 400);

  std::string m = Get(api.get(), "/metrics").body;
  EXPECT_NE(m.find("comptoir_quality_rows_total{dataset=\"/user/sqoop/sales\",result=\"rejected\"} 6\n"),
            std::string::npos) << m;
  EXPECT_NE(m.find("comptoir_quality_runs_total{dataset=\"/user/sqoop/sales\",outcome=\"failed\"} 1\n"),
            std::string::npos);
  EXPECT_NE(m.find("comptoir_quality_rule_failures_total{dataset=\"/user/sqoop/sales\",rule=\"1\",check=\"range\","
                   "column=\"QUANTITYORDERED\",action=\"reject\"} 6\n"),
            std::string::npos);
  EXPECT_NE(m.find("comptoir_quality_last_run_failed{dataset=\"/user/sqoop/sales\"} 1\n"), std::string::npos);
}

TEST_F(ApiTest, LogSearchByTextLevelAndTime) {
  auto api = MakeApi();
  ASSERT_TRUE(lake::WriteStringToFile(lake_.get(), "/user/flume/logs/2025-11-28/app.log.1",
                                      "2025-11-28 10:00:00,001 INFO sale order 1\n"
                                      "2025-11-28 10:00:01,002 ERROR payment refused for order 2\n"
                                      "Traceback (most recent call last):\n"
                                      "  File \"pay.py\", line 3\n"
                                      "2025-11-28 11:00:00,000 WARNING disk 91% full\n")
                  .ok());
  json all = Body(Get(api.get(), "/api/v1/logs/search"));
  ASSERT_EQ(all["lines"].size(), 3u);
  EXPECT_EQ(all["lines"][0]["level"], "WARNING");  // newest first
  json errors = Body(Get(api.get(), "/api/v1/logs/search", {{"level", "error"}}));
  ASSERT_EQ(errors["lines"].size(), 1u);
  EXPECT_EQ(errors["lines"][0]["ts"], "2025-11-28T10:00:01.002Z");
  EXPECT_EQ(errors["lines"][0]["message"],
            "2025-11-28 10:00:01,002 ERROR payment refused for order 2\nTraceback (most recent call last):\n"
            "  File \"pay.py\", line 3");
  json text = Body(Get(api.get(), "/api/v1/logs/search", {{"q", "ORDER"}, {"to", "2025-11-28T10:00:00.500Z"}}));
  ASSERT_EQ(text["lines"].size(), 1u);
  EXPECT_EQ(text["lines"][0]["message"], "2025-11-28 10:00:00,001 INFO sale order 1");
  Response bad = Get(api.get(), "/api/v1/logs/search", {{"from", "yesterday"}});
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(Body(bad)["message"], "parameter 'from': 'yesterday' is not a date or an ISO 8601 time");
  EXPECT_EQ(Get(api.get(), "/api/v1/logs/search", {{"q", "("}, {"regex", "1"}}).status, 400);
}

TEST_F(ApiTest, LiveViewOfTheEmbeddedBusCountsEveryEventOnce) {
  std::string dir = ::testing::TempDir() + "/" + name_ + "-bus";
  std::filesystem::remove_all(dir);
  std::string uri = "log://" + dir;
  auto producer = bus::OpenProducer(uri, std::string(core::kTopic), 2);
  ASSERT_TRUE(producer.ok()) << producer.status();
  int64_t now = core::UnixMillis();
  int64_t cents = 0;
  for (int i = 0; i < 20; ++i) {
    stream::Event e;
    e.event_id = "e" + std::to_string(i);
    e.ts_ms = now - 1000;
    e.order_number = 20000 + i;
    e.order_line = 1;
    e.status = "Shipped";
    e.product_line = "Motorcycles";
    e.amount_cents = 1000 + i;  // 10.00 .. 10.19
    cents += e.amount_cents;
    ASSERT_TRUE((*producer)->Send(std::to_string(e.order_number), stream::ToJson(e), e.ts_ms).ok());
  }
  ASSERT_TRUE((*producer)->Flush().ok());
  analytics::LiveOptions lo;
  lo.bus_uri = uri;
  lo.lake = lake_.get();
  lo.archive_dir = "";
  auto live = analytics::LiveView::Open(lo);
  ASSERT_TRUE(live.ok()) << live.status();
  auto api = MakeApi();
  api->SetLive(live->get(), "");
  json s;
  for (int i = 0; i < 100; ++i) {
    s = Body(Get(api.get(), "/api/v1/live/summary", {{"window", "5m"}}));
    if (s.value("today_events", 0) == 20) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(s["today_events"], 20) << s.dump();
  EXPECT_EQ(s["events"], 20);
  EXPECT_DOUBLE_EQ(s["today_revenue"].get<double>(), static_cast<double>(cents) / 100);
  EXPECT_DOUBLE_EQ(s["revenue"].get<double>(), static_cast<double>(cents) / 100);
  EXPECT_EQ(Get(api.get(), "/api/v1/live/summary", {{"window", "2h"}}).status, 400);
  EXPECT_FALSE(api->TickEvent(now / 1000 - 1).empty());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace comptoir::serve
