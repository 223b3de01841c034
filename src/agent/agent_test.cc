#include "comptoir/agent/agent.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "fmt/format.h"
#include "comptoir/quality/history.h"
#include "comptoir/quality/rules.h"
#include "nlohmann/json.hpp"

#include "comptoir/agent/compact.h"
#include "comptoir/core/strings.h"
#include "comptoir/core/time.h"
#include "comptoir/lake/compression.h"
#include "comptoir/lake/fault_injection.h"

namespace comptoir::agent {
namespace {

namespace fs = std::filesystem;

TEST(AgentTemplate, TheDatasetIsTheFixedPart) {
  EXPECT_EQ(TemplateDataset("/user/flume/logs/%Y-%m-%d"), "/user/flume/logs");
  EXPECT_EQ(TemplateDataset("/logs/day-%Y/%{host}"), "/logs");
  EXPECT_EQ(TemplateDataset("/user/flume/all/"), "/user/flume/all");
  EXPECT_EQ(TemplateDataset("%Y"), "/");
}

TEST(AgentTemplate, ExpandsTimeAndHost) {
  int64_t t = 1764324245123;  // 2025-11-28T10:04:05.123Z
  EXPECT_EQ(ExpandTemplate("/user/flume/logs/%Y-%m-%d/%H/%{host}", t, "pos-1"),
            "/user/flume/logs/2025-11-28/10/pos-1");
  EXPECT_EQ(ExpandTemplate("/a/%M%S%%/%{other}", t, "h"), "/a/0405%/%{other}");
}

class AgentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (fs::temp_directory_path() / ("comptoir-agent-" + std::to_string(getpid()) + "-" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name()))
               .string();
    fs::remove_all(dir_);
    fs::create_directories(dir_ + "/logs");
    lake_ = lake::NewLocalStorage(dir_ + "/lake");
    o_.state_dir = dir_ + "/state";
    o_.host = "pos-1";
    FlowOptions f;
    f.sources = {dir_ + "/logs/*.log"};
    f.idle_timeout = std::chrono::hours(1);
    o_.flows = {f};
  }
  void TearDown() override { fs::remove_all(dir_); }

  static std::string Line(int i) {
    return fmt::format("2025-11-28 10:{:02d}:{:02d},{:03d} INFO sale order={} amount={}.50\n", i / 60 % 60,
                       i % 60, i % 1000, 10000 + i, i % 997);
  }
  void Append(const std::string& name, int from, int to) {
    std::ofstream out(dir_ + "/logs/" + name, std::ios::app);
    for (int i = from; i < to; ++i) out << Line(i);
  }
  static std::string Lines(int from, int to) {
    std::string s;
    for (int i = from; i < to; ++i) s += Line(i);
    return s;
  }
  std::unique_ptr<Agent> Open(lake::Storage* lake = nullptr) {
    auto a = Agent::Open(lake ? lake : lake_.get(), o_);
    EXPECT_TRUE(a.ok()) << a.status();
    return a.ok() ? std::move(*a) : nullptr;
  }
  static void Steps(Agent* a, int n = 5) {
    for (int i = 0; i < n; ++i) {
      ASSERT_TRUE(a->Step().ok());
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
  }

  // Published content per source generation (files in offset order), and a
  // check that the ranges in the names are contiguous from 0.
  std::map<std::string, std::string> Published() {
    std::map<std::string, std::map<uint64_t, std::pair<uint64_t, std::string>>> by_id;
    for (const auto& e : fs::recursive_directory_iterator(dir_ + "/lake")) {
      if (!e.is_regular_file()) continue;
      std::string name = e.path().filename().string();
      EXPECT_FALSE(name.starts_with(".")) << "a temporary is left: " << e.path();
      std::vector<std::string_view> parts = Split(name, '.', false);
      std::string_view range = parts.back();
      std::string id(parts[parts.size() - 2]);
      uint64_t start = std::stoull(std::string(range.substr(0, range.find('-'))));
      uint64_t end = std::stoull(std::string(range.substr(range.find('-') + 1)));
      std::ifstream in(e.path(), std::ios::binary);
      std::string data((std::istreambuf_iterator<char>(in)), {});
      auto& slot = by_id[id][start];
      slot.first = end;
      slot.second += data;  // several target directories may share a range
    }
    std::map<std::string, std::string> out;
    for (auto& [id, files] : by_id) {
      uint64_t next = 0;
      for (auto& [start, f] : files) {
        EXPECT_EQ(start, next) << "gap or overlap in " << id;
        next = f.first;
        out[id] += f.second;
      }
    }
    return out;
  }
  std::multiset<std::string> Contents() {
    std::multiset<std::string> out;
    for (auto& [id, data] : Published()) out.insert(data);
    return out;
  }

  std::string dir_;
  std::unique_ptr<lake::Storage> lake_;
  AgentOptions o_;
};

TEST_F(AgentTest, RenameAndCreateDrainsTheOldFileThenReadsTheNewOne) {
  Append("app.log", 0, 500);
  auto a = Open();
  Steps(a.get());
  fs::rename(dir_ + "/logs/app.log", dir_ + "/logs/app.log.1");
  Append("app.log.1", 500, 600);  // a writer still holding the old file
  Append("app.log", 600, 700);
  Steps(a.get(), 60);  // the old file is let go after a second of quiet
  ASSERT_TRUE(a->Drain().ok());
  EXPECT_EQ(Contents(), (std::multiset<std::string>{Lines(0, 600), Lines(600, 700)}));
  EXPECT_EQ(a->stats().lines, 700u);
}

// A temporary of a published file that the lake created late (after the next
// attempt had cleaned up, as WebHDFS's DataNode can for a killed client) goes
// at the next process's first roll into its directory; other temporaries stay.
TEST_F(AgentTest, StaleTemporariesOfPublishedFilesGoAtTheNextRollIntoTheirDirectory) {
  const std::string day = dir_ + "/lake/user/flume/logs/2025-11-28";
  Append("app.log", 0, 100);
  {
    auto a = Open();
    Steps(a.get());
    ASSERT_TRUE(a->Drain().ok());
  }
  std::vector<std::string> published;
  for (const auto& e : fs::directory_iterator(day)) published.push_back(e.path().filename().string());
  ASSERT_EQ(published.size(), 1u);
  const std::string stale = "." + published[0] + ".1.tmp", live = ".app.log.0123456789abcdef.0-10.1.tmp",
                    other = "." + published[0] + ".tmp";
  for (const std::string& n : {stale, live, other}) std::ofstream(day + "/" + n) << "partial";
  Append("app.log", 100, 200);
  {
    auto a = Open();
    Steps(a.get());
    ASSERT_TRUE(a->Drain().ok());
  }
  EXPECT_FALSE(fs::exists(day + "/" + stale)) << "the stale temporary of a published file";
  EXPECT_TRUE(fs::exists(day + "/" + live)) << "a temporary of a file not published yet";
  EXPECT_TRUE(fs::exists(day + "/" + other)) << "not an attempt's temporary";
}

TEST_F(AgentTest, CopyTruncateStartsANewGenerationAtZero) {
  Append("app.log", 0, 300);
  auto a = Open();
  Steps(a.get());
  fs::copy_file(dir_ + "/logs/app.log", dir_ + "/logs/app.log.1");
  fs::resize_file(dir_ + "/logs/app.log", 0);
  Append("app.log", 300, 350);
  Steps(a.get());
  ASSERT_TRUE(a->Drain().ok());
  EXPECT_EQ(Contents(), (std::multiset<std::string>{Lines(0, 300), Lines(300, 350)}));
}

TEST_F(AgentTest, DeleteAndRecreateAndInodeReuseAreNewFiles) {
  Append("app.log", 0, 200);
  auto a = Open();
  Steps(a.get());
  fs::remove(dir_ + "/logs/app.log");
  Append("app.log", 200, 260);  // may well get the same inode number back
  Steps(a.get(), 60);
  ASSERT_TRUE(a->Drain().ok());
  EXPECT_EQ(Contents(), (std::multiset<std::string>{Lines(0, 200), Lines(200, 260)}));
}

TEST_F(AgentTest, APartialLastLineWaitsForItsNewline) {
  {
    std::ofstream out(dir_ + "/logs/app.log");
    out << Line(0) << "2025-11-28 10:00:01,000 INFO half a li";
  }
  auto a = Open();
  Steps(a.get());
  ASSERT_TRUE(a->Drain().ok());
  EXPECT_EQ(Contents(), (std::multiset<std::string>{Line(0)}));
  a.reset();
  {
    std::ofstream out(dir_ + "/logs/app.log", std::ios::app);
    out << "ne\n";
  }
  auto b = Open();
  Steps(b.get());
  ASSERT_TRUE(b->Drain().ok());
  EXPECT_EQ(Contents(), (std::multiset<std::string>{Line(0) + "2025-11-28 10:00:01,000 INFO half a line\n"}));
}

TEST_F(AgentTest, TracebacksStayWithTheirLineAcrossRolls) {
  o_.flows[0].multiline_start = R"(^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} )";
  o_.flows[0].roll_bytes = 1;  // every sealed segment rolls into its own lake file
  std::string tb = "Traceback (most recent call last):\n  File \"app.py\", line 7, in pay\n"
                   "ValueError: card declined\n";
  std::string expected;
  {
    std::ofstream out(dir_ + "/logs/app.log");
    for (int i = 0; i < 50; ++i) {
      std::string l = Line(i);
      if (i % 5 == 0) l = l.substr(0, l.size() - 1) + " ERROR\n" + tb;
      out << l;
      expected += l;
    }
  }
  auto a = Open();
  Steps(a.get(), 60);  // the last record ends after a quiet second
  ASSERT_TRUE(a->Drain().ok());
  EXPECT_EQ(Contents(), (std::multiset<std::string>{expected}));
  for (const auto& e : fs::recursive_directory_iterator(dir_ + "/lake")) {
    if (!e.is_regular_file()) continue;
    std::ifstream in(e.path());
    std::string first;
    std::getline(in, first);
    EXPECT_GE(core::ParseLogTime(first), 0) << "a file starts inside a record: " << first;
  }
}

TEST_F(AgentTest, TenFilesAtOnceAndOverLongLinesAreCut) {
  o_.flows[0].max_record_bytes = 100;
  std::multiset<std::string> expected;
  for (int f = 0; f < 10; ++f) {
    Append(fmt::format("app{}.log", f), f * 100, f * 100 + 100);
    expected.insert(Lines(f * 100, f * 100 + 100));
  }
  {
    std::ofstream out(dir_ + "/logs/long.log");
    out << std::string(250, 'x') << "\n" << Line(5);
  }
  expected.insert(std::string(100, 'x') + "\n" + Line(5));
  auto a = Open();
  Steps(a.get());
  ASSERT_TRUE(a->Drain().ok());
  EXPECT_EQ(Contents(), expected);
  EXPECT_EQ(a->stats().truncated_records, 1u);
}

TEST_F(AgentTest, LevelAndRegexFiltersKeepTracebacksWithTheirLineAndFilesCanBeZstd) {
  o_.flows[0].levels = {"ERROR", "WARNING"};
  o_.flows[0].exclude = "healthcheck";
  o_.flows[0].codec = lake::Codec::kZstd;
  std::string tb = "Traceback (most recent call last):\n  File \"app.py\", line 7\nValueError: declined\n";
  std::string all, kept;
  for (int i = 0; i < 300; ++i) {
    std::string t = fmt::format("2025-11-28 10:{:02d}:{:02d},000 ", i / 60, i % 60);
    std::string l = i % 10 == 0   ? t + "ERROR payment failed order=" + std::to_string(i) + "\n" + tb
                    : i % 10 == 5 ? t + "WARNING stock-out order=" + std::to_string(i) + "\n"
                    : i % 10 == 7 ? t + "WARNING healthcheck slow\n"
                                  : t + "INFO sale order=" + std::to_string(i) + "\n";
    all += l;
    if (i % 10 == 0 || i % 10 == 5) kept += l;
  }
  std::ofstream(dir_ + "/logs/app.log", std::ios::binary) << all;
  auto a = Open();
  Steps(a.get());
  ASSERT_TRUE(a->Drain().ok());
  std::string got;
  for (const auto& e : fs::recursive_directory_iterator(dir_ + "/lake")) {
    if (!e.is_regular_file()) continue;
    EXPECT_TRUE(e.path().string().ends_with(".zst")) << e.path();
    auto in = lake::NewDecompressingFile(lake_->Open(e.path().string().substr((dir_ + "/lake").size())).value(),
                                         lake::Codec::kZstd);
    char buf[65536];
    while (true) {
      size_t n = *in->Read(buf, sizeof(buf));
      if (n == 0) break;
      got.append(buf, n);
    }
  }
  EXPECT_EQ(got, kept);
  EXPECT_EQ(a->stats().filtered_lines, 240u);  // 210 INFO lines and 30 healthchecks
}

TEST_F(AgentTest, JsonRecordsCarryHostPathTimesAndWholeTracebacks) {
  o_.flows[0].json_records = true;
  {
    std::ofstream out(dir_ + "/logs/app.log", std::ios::binary);
    out << "2025-11-28 10:04:05,123 INFO sale order=1 customer=\"Caf\xc3\xa9 \\ Co\"\n"
        << "2025-11-28 10:04:06,000 ERROR payment failed\nTraceback (most recent call last):\n"
        << "ValueError: declined\n";
  }
  auto a = Open();
  Steps(a.get());
  ASSERT_TRUE(a->Drain().ok());
  std::string got = *Contents().begin();
  std::vector<std::string_view> lines = Split(got, '\n', true);
  ASSERT_EQ(lines.size(), 2u) << got;
  auto first = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(first["ts"], "2025-11-28T10:04:05.123Z");
  EXPECT_EQ(first["level"], "INFO");
  EXPECT_EQ(first["host"], "pos-1");
  EXPECT_EQ(first["path"], dir_ + "/logs/app.log");
  EXPECT_EQ(first["message"], "sale order=1 customer=\"Caf\xc3\xa9 \\ Co\"");
  EXPECT_TRUE(first["ingest_ts"].get<std::string>().ends_with("Z"));
  auto second = nlohmann::json::parse(lines[1]);
  EXPECT_EQ(second["level"], "ERROR");
  EXPECT_EQ(second["message"], "payment failed\nTraceback (most recent call last):\nValueError: declined");
}

// Quality rules on log records: a rejected record (with its traceback) goes
// to /user/flume/logs/_rejects/<roll>/part-00000 with its source position,
// published with the roll, exactly once across a crash between the two.
TEST_F(AgentTest, QualityRulesQuarantineRecordsWithTheirSourcePositionExactlyOnce) {
  std::string toml = dir_ + "/rules.toml";
  std::ofstream(toml) << "[[quality.rule]]\nname = \"known levels\"\ndataset = \"/user/flume/logs\"\n"
                         "column = \"level\"\ncheck = \"allowed\"\nvalues = [\"INFO\", \"WARNING\"]\naction = \"reject\"\n"
                         "[[quality.rule]]\ndataset = \"/user/flume/logs\"\ncolumn = \"ts\"\ncheck = \"not_null\"\n";
  auto rules = quality::LoadRules(toml, true);
  ASSERT_TRUE(rules.ok()) << rules.status();
  o_.flows[0].rules = *rules;
  const std::string head = "no time on this line\n" + Line(0);
  const std::string error = "2025-11-28 10:00:01,000 ERROR payment failed\nTraceback (most recent call last):\n"
                            "ValueError: declined\n";
  {
    std::ofstream out(dir_ + "/logs/app.log", std::ios::binary);
    out << head << error << Line(2);
  }
  {
    // The lake refuses the second rename (the data file, after the rejects): a crash mid-roll.
    lake::FaultInjectionStorage faulty(lake_.get());
    faulty.FailAt(lake::FaultOp::kRename, 2, absl::UnavailableError("injected"));
    auto a = Open(&faulty);
    Steps(a.get(), 3);
    EXPECT_FALSE(a->Drain().ok());
  }
  auto a = Open();
  Steps(a.get());
  ASSERT_TRUE(a->Drain().ok());
  EXPECT_EQ(a->stats().quality_rejected, 1u);
  EXPECT_EQ(a->stats().quality_warned, 1u) << "the line without a time: ts is NULL";
  // The quality history: one record of the rolls this run published (the
  // crashed run published none whole).
  auto history = quality::ReadHistory(lake_.get(), "/user/flume/logs");
  ASSERT_TRUE(history.ok()) << history.status();
  ASSERT_EQ(history->size(), 1u);
  EXPECT_EQ(history->front().writer, "agent");
  EXPECT_EQ(history->front().rows_in, 4u);
  EXPECT_EQ(history->front().rejected, 1u);
  EXPECT_EQ(history->front().warned, 1u);
  EXPECT_EQ(history->front().rows_out, 3u);
  ASSERT_EQ(history->front().rules.size(), 2u);
  EXPECT_EQ(history->front().rules[0].failed, 1u);
  EXPECT_EQ(history->front().rules[1].failed, 1u);
  std::vector<std::string> rejects, data;
  for (const auto& e : fs::recursive_directory_iterator(dir_ + "/lake")) {
    if (!e.is_regular_file()) continue;
    std::string p = e.path().string().substr((dir_ + "/lake").size());
    EXPECT_FALSE(e.path().filename().string().starts_with(".")) << "a temporary is left: " << p;
    if (p.find("/_quality/") != std::string::npos) continue;  // the history, checked above
    (p.find("/_rejects/") != std::string::npos ? rejects : data).push_back(p);
  }
  ASSERT_EQ(rejects.size(), 1u);
  ASSERT_EQ(data.size(), 2u) << "the line without a time goes to the day it was read";
  std::sort(data.begin(), data.end());
  EXPECT_TRUE(rejects[0].starts_with("/user/flume/logs/_rejects/app.log.")) << rejects[0];
  EXPECT_TRUE(rejects[0].ends_with("/part-00000")) << rejects[0];
  EXPECT_TRUE(data[0].starts_with("/user/flume/logs/2025-11-28/")) << data[0];
  EXPECT_EQ(*lake::ReadFileToString(lake_.get(), data[0]), Line(0) + Line(2));
  EXPECT_EQ(*lake::ReadFileToString(lake_.get(), data[1]), "no time on this line\n");
  std::string got = *lake::ReadFileToString(lake_.get(), rejects[0]);
  std::vector<std::string_view> lines = Split(got, '\n', true);
  ASSERT_EQ(lines.size(), 1u) << got;
  auto j = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(j["rule"], "known levels");
  EXPECT_EQ(j["reason"], "level allowed {INFO, WARNING}: \"ERROR\"");
  EXPECT_EQ(j["source"], fmt::format("{}/logs/app.log:{}", dir_, head.size()));
  EXPECT_EQ(j["raw"], error.substr(0, error.size() - 1));
}

TEST_F(AgentTest, AFailRuleStopsTheAgentAndPublishesNothingOfTheRoll) {
  std::string toml = dir_ + "/rules.toml";
  std::ofstream(toml) << "[[quality.rule]]\ndataset = \"/user/flume/logs\"\ncolumn = \"message\"\n"
                         "check = \"length\"\nmax = 20\naction = \"fail\"\n";
  auto rules = quality::LoadRules(toml, true);
  ASSERT_TRUE(rules.ok()) << rules.status();
  o_.flows[0].rules = *rules;
  Append("app.log", 0, 3);
  {
    auto a = Open();
    Status s;
    for (int i = 0; i < 5 && s.ok(); ++i) s = a->Drain();
    EXPECT_TRUE(quality::IsQualityFailed(s)) << s;
    EXPECT_NE(std::string(s.message()).find("failed rule 1 (message length <= 20, action fail)"), std::string::npos)
        << s;
  }
  EXPECT_FALSE(fs::exists(dir_ + "/lake/user")) << "nothing published";
  // The rule is relaxed: the spooled lines are published, once.
  o_.flows[0].rules.clear();
  auto a = Open();
  Steps(a.get());
  ASSERT_TRUE(a->Drain().ok());
  EXPECT_EQ(Contents(), (std::multiset<std::string>{Lines(0, 3)}));
}

TEST_F(AgentTest, CrashesAtAnyPointLeaveEveryLineExactlyOnce) {
  o_.flows[0].roll_bytes = 4096;
  Append("app.log", 0, 100);
  {
    auto a = Open();
    Steps(a.get(), 2);  // read and sealed, maybe rolled; then "kill -9"
  }
  Append("app.log", 100, 200);
  {
    // The lake refuses the second rename: a roll is half published.
    lake::FaultInjectionStorage faulty(lake_.get());
    faulty.FailAt(lake::FaultOp::kRename, 2, absl::UnavailableError("injected"));
    auto a = Open(&faulty);
    Steps(a.get(), 4);
  }
  Append("app.log", 200, 300);
  {
    auto a = Open();
    Steps(a.get(), 1);
  }
  auto a = Open();
  Steps(a.get());
  ASSERT_TRUE(a->Drain().ok());
  EXPECT_EQ(Contents(), (std::multiset<std::string>{Lines(0, 300)}));
}

TEST_F(AgentTest, LakeOutageSpoolsThenBackPressureThenDrains) {
  o_.flows[0].roll_bytes = 2048;
  o_.flows[0].max_spool_bytes = 16 * 1024;
  lake::FaultInjectionStorage faulty(lake_.get());
  faulty.FailAlways(lake::FaultOp::kCreate, absl::UnavailableError("lake down"));
  Append("app.log", 0, 2000);  // about 100 KB: more than the spool may hold
  auto a = Open(&faulty);
  Steps(a.get(), 10);
  // Reading stopped at the limit (back-pressure), minus the line cut by it.
  EXPECT_GE(a->stats().spool_bytes, 15u * 1024);
  EXPECT_LE(a->stats().spool_bytes, 16u * 1024);
  auto files = a->Files();
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0].committed, 0u);
  EXPECT_NE(files[0].last_error.find("lake down"), std::string::npos) << files[0].last_error;
  faulty.Clear();
  for (int i = 0; i < 200 && a->Files()[0].committed < a->Files()[0].size; ++i) {
    ASSERT_TRUE(a->Step().ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(a->Drain().ok());
  EXPECT_EQ(Contents(), (std::multiset<std::string>{Lines(0, 2000)}));
  EXPECT_EQ(a->stats().spool_bytes, 0u);
}

// The files of one lake directory, by name (hidden ones included).
std::map<std::string, std::string> DirFiles(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::ifstream in(e.path(), std::ios::binary);
    out[e.path().filename().string()] = std::string((std::istreambuf_iterator<char>(in)), {});
  }
  return out;
}

TEST_F(AgentTest, CompactionMergesAClosedDirectoryInOrderAndFinishesAfterACrash) {
  o_.flows[0].roll_bytes = 2048;
  {
    auto a = Open();
    for (int i = 0; i < 300; i += 30) {  // small batches: one roll each
      Append("app.log", i, i + 30);
      Steps(a.get(), 2);
    }
    ASSERT_TRUE(a->Drain().ok());
  }
  const std::string day = dir_ + "/lake/user/flume/logs/2025-11-28";
  size_t small = DirFiles(day).size();
  ASSERT_GE(small, 5u);
  CompactOptions open_day;  // the files were just published: the day is not closed
  auto none = CompactTree(lake_.get(), "/user/flume/logs", open_day);
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_TRUE(none->empty());

  CompactOptions closed;
  closed.min_age = std::chrono::milliseconds(0);
  {
    // Killed after the commit record, before the output's rename.
    lake::FaultInjectionStorage faulty(lake_.get());
    faulty.FailAt(lake::FaultOp::kRename, 1, absl::UnavailableError("injected"));
    auto r = CompactTree(&faulty, "/user/flume/logs", closed);
    EXPECT_NE(r.status().ToString().find("injected"), std::string::npos) << r.status();
  }
  auto r = CompactTree(lake_.get(), "/user/flume/logs", closed);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_TRUE((*r)[0].recovered);
  EXPECT_EQ((*r)[0].inputs.size(), small);
  auto files = DirFiles(day);
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files["compacted-00001"], Lines(0, 300));
  auto merged = Superseded(lake_.get(), "/user/flume/logs/2025-11-28");
  ASSERT_TRUE(merged.ok());
  EXPECT_EQ(merged->size(), small);

  // Late lines for a compacted day: a new small file, merged by the next run.
  // A crash before the commit record leaves the inputs alone.
  Append("app.log", 300, 400);
  {
    auto a = Open();
    Steps(a.get());
    ASSERT_TRUE(a->Drain().ok());
  }
  {
    lake::FaultInjectionStorage faulty(lake_.get());
    faulty.FailAt(lake::FaultOp::kCreate, 2, absl::UnavailableError("injected"));
    EXPECT_FALSE(CompactTree(&faulty, "/user/flume/logs", closed).ok());
  }
  files = DirFiles(day);  // the inputs are left alone; the temporary goes at the next run
  EXPECT_EQ(files.erase(".compacted-00002.tmp"), 1u);
  EXPECT_EQ(files.erase("compacted-00001"), 1u);
  EXPECT_EQ(files.erase("_compacted-00001"), 1u);
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files.begin()->second, Lines(300, 400)) << files.begin()->first;
  r = CompactTree(lake_.get(), "/user/flume/logs", closed);
  ASSERT_TRUE(r.ok()) << r.status();
  files = DirFiles(day);
  EXPECT_EQ(files.size(), 3u);  // compacted-00002 and two records
  EXPECT_EQ(files["compacted-00002"], Lines(0, 400));
  EXPECT_EQ(files.count("compacted-00001"), 0u);
}

TEST_F(AgentTest, CompactionConcatenatesCompressedFilesAsTheyAre) {
  o_.flows[0].roll_bytes = 2048;
  o_.flows[0].codec = lake::Codec::kGzip;
  auto a = Open();
  for (int i = 0; i < 200; i += 40) {
    Append("app.log", i, i + 40);
    Steps(a.get(), 2);
  }
  ASSERT_TRUE(a->Drain().ok());
  CompactOptions closed;
  closed.min_age = std::chrono::milliseconds(0);
  auto r = CompactTree(lake_.get(), "/", closed);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].output, "/user/flume/logs/2025-11-28/compacted-00001.gz");
  auto in = lake_->Open((*r)[0].output);
  ASSERT_TRUE(in.ok());
  auto plain = lake::NewDecompressingFile(std::move(*in), lake::Codec::kGzip);
  std::string text, buf(65536, '\0');
  while (true) {
    auto n = plain->Read(buf.data(), buf.size());
    ASSERT_TRUE(n.ok()) << n.status();
    if (*n == 0) break;
    text.append(buf.data(), *n);
  }
  EXPECT_EQ(text, Lines(0, 200));
}

}  // namespace
}  // namespace comptoir::agent
