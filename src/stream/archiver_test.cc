#include "comptoir/stream/archiver.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "comptoir/lake/fault_injection.h"
#include "comptoir/quality/history.h"
#include "comptoir/quality/rules.h"
#include "comptoir/stream/event.h"
#include "nlohmann/json.hpp"

namespace comptoir::stream {
namespace {

constexpr int64_t kDay = 86400000;
constexpr int64_t kBase = 1764288000000;  // 2025-11-28T00:00:00Z

TEST(ArchiveFileName, ParsesOnlyArchiveParts) {
  auto f = ParseArchiveFileName("part-2-100-199.jsonl.zst");
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->partition, 2);
  EXPECT_EQ(f->first, 100);
  EXPECT_EQ(f->last, 199);
  EXPECT_TRUE(ParseArchiveFileName("part-0-0-0.jsonl").has_value());
  for (const char* bad : {"part-0-5-4.jsonl", "part-0-1.jsonl", "part-a-1-2.jsonl",
                          "part-0-1-2.json", "x-0-1-2.jsonl", "part-0--1-2.jsonl", "_SUCCESS"}) {
    EXPECT_FALSE(ParseArchiveFileName(bad).has_value()) << bad;
  }
}

class ArchiverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    lake::RegisterBuiltinStorages();
    dir_ = (std::filesystem::temp_directory_path() /
            ("comptoir-archiver-" + std::to_string(getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name()))
               .string();
    std::filesystem::remove_all(dir_);
    bus_ = "log://" + dir_ + "/bus";
    lake_ = lake::NewLocalStorage(dir_ + "/lake");
    o_.bus_uri = bus_;
    o_.roll_interval = std::chrono::hours(1);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Values "e<i>" with timestamps base + i * step.
  void Produce(int from, int to, int64_t step = 1000) {
    auto p = bus::OpenProducer(bus_, "transactions", 3).value();
    for (int i = from; i < to; ++i) {
      ASSERT_TRUE(p->Send(StrCat("k", i % 7), StrCat(R"({"e":)", i, "}"), kBase + i * step).ok());
    }
    ASSERT_TRUE(p->Flush().ok());
  }

  void Drain(Archiver* a) {
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(a->Step(std::chrono::milliseconds(20)).ok());
  }

  // Every published file: name -> lines.
  std::map<std::string, std::vector<std::string>> Published(lake::Storage* fs = nullptr) {
    if (fs == nullptr) fs = lake_.get();
    std::map<std::string, std::vector<std::string>> out;
    auto days = fs->List(o_.target_dir);
    if (!days.ok()) return out;
    for (const auto& d : *days) {
      if (!d.name.starts_with("dt=")) continue;
      std::vector<lake::FileInfo> files = fs->List(d.path).value();
      for (const auto& f : files) {
        auto in = lake::NewDecompressingFile(fs->Open(f.path).value(), lake::CodecForName(f.name));
        std::string text;
        char buf[65536];
        while (true) {
          size_t n = *in->Read(buf, sizeof(buf));
          if (n == 0) break;
          text.append(buf, n);
        }
        for (std::string_view l : Split(text, '\n', true)) out[d.name + "/" + f.name].emplace_back(l);
      }
    }
    return out;
  }

  // Checks that the published files hold events [0, n) exactly once and that
  // each file's name matches its partition and offsets.
  void ExpectExactlyOnce(int n) {
    std::map<int, int> seen;
    std::map<int, std::vector<ArchiveFile>> ranges;
    for (const auto& [name, lines] : Published()) {
      auto f = ParseArchiveFileName(name.substr(name.find('/') + 1));
      ASSERT_TRUE(f.has_value()) << name;
      EXPECT_EQ(static_cast<int64_t>(lines.size()), f->last - f->first + 1) << name;
      ranges[f->partition].push_back(*f);
      for (const std::string& l : lines) ++seen[std::stoi(l.substr(5))];
    }
    EXPECT_EQ(static_cast<int>(seen.size()), n);
    for (const auto& [i, count] : seen) EXPECT_EQ(count, 1) << "event " << i;
    // Offset ranges are contiguous per partition: no gap, no overlap.
    for (auto& [p, rs] : ranges) {
      std::sort(rs.begin(), rs.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
      int64_t next = 0;
      for (const ArchiveFile& r : rs) {
        EXPECT_EQ(r.first, next) << "partition " << p;
        next = r.last + 1;
      }
    }
  }

  std::string dir_, bus_;
  std::unique_ptr<lake::Storage> lake_;
  ArchiverOptions o_;
};

TEST_F(ArchiverTest, RollsBySizeAndDayAndCommitsAfterPublishing) {
  // 3,000 events one minute apart: the stream crosses two midnights.
  Produce(0, 3000, 60000);
  o_.roll_bytes = 4096;
  auto a = Archiver::Open(lake_.get(), o_).value();
  Drain(a.get());
  ASSERT_TRUE(a->Close().ok());
  EXPECT_EQ(a->stats().events, 3000u);
  EXPECT_GT(a->stats().files, 10u);
  ExpectExactlyOnce(3000);
  std::set<std::string> days;
  for (const auto& [name, lines] : Published()) days.insert(name.substr(0, name.find('/')));
  EXPECT_EQ(days, (std::set<std::string>{"dt=2025-11-28", "dt=2025-11-29", "dt=2025-11-30"}));
  // No temporary survives a clean close; the group is at the end.
  EXPECT_FALSE(*lake::Exists(lake_.get(), o_.target_dir + "/_temporary"));
  auto parts = bus::OpenAdmin(bus_).value()->Describe("transactions", o_.group).value();
  for (const auto& p : parts) EXPECT_EQ(p.lag(), 0);
}

TEST_F(ArchiverTest, CrashBeforePublishingLosesNothingAndDuplicatesNothing) {
  Produce(0, 1000);
  {
    auto a = Archiver::Open(lake_.get(), o_).value();
    Drain(a.get());
    // Destroyed without Close(): the open files stay temporaries.
  }
  EXPECT_TRUE(Published().empty());
  EXPECT_TRUE(*lake::Exists(lake_.get(), o_.target_dir + "/_temporary"));
  Produce(1000, 1500);
  auto a = Archiver::Open(lake_.get(), o_).value();
  Drain(a.get());
  ASSERT_TRUE(a->Close().ok());
  ExpectExactlyOnce(1500);
}

TEST_F(ArchiverTest, CrashBetweenPublishAndCommitIsRepairedFromFileNames) {
  Produce(0, 800);
  auto a = Archiver::Open(lake_.get(), o_).value();
  Drain(a.get());
  ASSERT_TRUE(a->Close().ok());
  a.reset();
  // As if the process died after the renames but before the commits.
  bus::ConsumerOptions co;
  co.group = o_.group;
  auto rewind = bus::OpenConsumer(bus_, "transactions", co).value();
  ASSERT_TRUE(rewind->CommitOffsets({{0, 0}, {1, 0}, {2, 0}}).ok());
  Produce(800, 900);
  auto b = Archiver::Open(lake_.get(), o_).value();
  EXPECT_EQ(b->stats().recovered, 3u);
  Drain(b.get());
  ASSERT_TRUE(b->Close().ok());
  EXPECT_EQ(b->stats().events, 100u);
  ExpectExactlyOnce(900);
}

TEST_F(ArchiverTest, AFailedRenameIsAnErrorAndTheRetryIsExact) {
  Produce(0, 500);
  lake::FaultInjectionStorage faulty(lake_.get());
  faulty.FailAt(lake::FaultOp::kRename, 2, absl::UnavailableError("injected rename failure"));
  {
    auto a = Archiver::Open(&faulty, o_).value();
    Drain(a.get());
    Status s = a->Close();
    EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  }
  auto a = Archiver::Open(lake_.get(), o_).value();
  Drain(a.get());
  ASSERT_TRUE(a->Close().ok());
  ExpectExactlyOnce(500);
}

// Quality rules on events: rejected events (and values that are not events)
// go to <target>/_rejects/part-P-F-L/ with their partition:offset and to the
// DLQ topic; a crash between the rejects and their file is rolled back at
// start-up, so every event is in the dataset or in quarantine exactly once.
TEST_F(ArchiverTest, QualityRulesQuarantineEventsExactlyOnceAndFeedTheDlq) {
  std::string toml = dir_ + "/rules.toml";
  std::filesystem::create_directories(dir_);
  std::ofstream(toml) << "[[quality.rule]]\ndataset = \"/user/kafka/transactions\"\ncolumn = \"status\"\n"
                         "check = \"allowed\"\nvalues = [\"Shipped\", \"Cancelled\"]\naction = \"reject\"\n"
                         "[[quality.rule]]\ndataset = \"/user/kafka/transactions\"\ncolumn = \"amount\"\n"
                         "check = \"range\"\nmin = 0\n";
  auto rules = quality::LoadRules(toml, true);
  ASSERT_TRUE(rules.ok()) << rules.status();
  o_.rules = *rules;
  o_.dlq_topic = "transactions.dlq";
  o_.roll_bytes = 8192;
  std::set<std::string> want_rejected, want_kept;
  {
    auto p = bus::OpenProducer(bus_, "transactions", 3).value();
    for (int i = 0; i < 200; ++i) {
      Event e;
      e.event_id = StrCat("ev-", i);
      e.ts_ms = kBase + i * 1000;
      e.order_number = 10100 + i;
      e.order_line = 1;
      e.customer = "Land of Toys";
      e.country = "USA";
      e.territory = "NA";
      e.product_code = "S10_1678";
      e.product_line = "Motorcycles";
      e.quantity = 3;
      e.price_each_cents = 1000;
      e.amount_cents = i % 25 == 1 ? -3000 : 3000;
      e.status = i % 10 == 0 ? "Lost" : "Shipped";
      std::string v = ToJson(e);
      ASSERT_TRUE(p->Send(StrCat("k", i % 7), v, e.ts_ms).ok());
      (i % 10 == 0 ? want_rejected : want_kept).insert(v);
    }
    for (int i = 0; i < 3; ++i) {
      std::string v = StrCat("not an event ", i);
      ASSERT_TRUE(p->Send("x", v, kBase).ok());
      want_rejected.insert(v);
    }
    ASSERT_TRUE(p->Flush().ok());
  }
  {
    // The second rename fails: the first file's rejects are out, the file is not.
    lake::FaultInjectionStorage faulty(lake_.get());
    faulty.FailAt(lake::FaultOp::kRename, 2, absl::UnavailableError("injected rename failure"));
    auto a = Archiver::Open(&faulty, o_).value();
    Status s;
    for (int i = 0; i < 20 && s.ok(); ++i) s = a->Step(std::chrono::milliseconds(20));
    if (s.ok()) s = a->Close();
    EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  }
  auto a = Archiver::Open(lake_.get(), o_).value();
  EXPECT_EQ(a->stats().rolled_back_rejects, 1u);
  Drain(a.get());
  ASSERT_TRUE(a->Close().ok());
  std::multiset<std::string> kept;
  for (const auto& [name, lines] : Published()) kept.insert(lines.begin(), lines.end());
  EXPECT_EQ(kept, std::multiset<std::string>(want_kept.begin(), want_kept.end()));
  std::multiset<std::string> rejected, sources;
  std::vector<lake::FileInfo> runs = lake_->List("/user/kafka/transactions/_rejects").value();
  for (const auto& d : runs) {
    EXPECT_TRUE(ParseArchiveFileName(d.name + ".jsonl").has_value()) << d.name;
    std::string text = *lake::ReadFileToString(lake_.get(), d.path + "/part-00000.jsonl");
    for (std::string_view l : Split(text, '\n', true)) {
      auto j = nlohmann::json::parse(l);
      rejected.insert(j["raw"].get<std::string>());
      sources.insert(j["source"].get<std::string>());
      if (j["rule"] == "parse") {
        EXPECT_TRUE(j["raw"].get<std::string>().starts_with("not an event")) << l;
      } else {
        EXPECT_EQ(j["reason"], "status allowed {Shipped, Cancelled}: \"Lost\"") << l;
      }
    }
  }
  EXPECT_EQ(rejected, std::multiset<std::string>(want_rejected.begin(), want_rejected.end())) << "each once";
  EXPECT_EQ(std::set<std::string>(sources.begin(), sources.end()).size(), sources.size());
  EXPECT_EQ(a->stats().warned, 8u) << "negative amounts: events 1, 26, 51, ..., 176";
  // The quality history: one record of what this run published (the failed
  // run published no file whole, so it counted nothing).
  auto history = quality::ReadHistory(lake_.get(), "/user/kafka/transactions");
  ASSERT_TRUE(history.ok()) << history.status();
  ASSERT_EQ(history->size(), 1u);
  const quality::RunRecord& run = history->front();
  EXPECT_EQ(run.writer, "archive");
  EXPECT_EQ(run.rows_in, 203u);
  EXPECT_EQ(run.rejected, 23u);
  EXPECT_EQ(run.rows_out, 180u);
  EXPECT_EQ(run.warned, 8u);
  ASSERT_EQ(run.rules.size(), 2u);
  EXPECT_EQ(run.rules[0].failed, 20u) << "the Lost ones";
  EXPECT_EQ(run.rules[1].failed, 8u);
  // The DLQ: every rejected event, at least once.
  bus::ConsumerOptions co;
  auto c = bus::OpenConsumer(bus_, "transactions.dlq", co).value();
  std::set<std::string> dlq;
  for (int i = 0; i < 20; ++i) {
    StatusOr<std::span<const bus::Record>> batch = c->PollView(1000, std::chrono::milliseconds(20));
    ASSERT_TRUE(batch.ok()) << batch.status();
    for (const bus::Record& r : *batch) dlq.insert(r.value);
  }
  EXPECT_EQ(dlq, want_rejected);
}

TEST_F(ArchiverTest, ZstdFilesAndMultiLineValuesKeepOneRecordPerLine) {
  {
    auto p = bus::OpenProducer(bus_, "transactions", 3).value();
    ASSERT_TRUE(p->Send("k", "{\"e\":0}", kBase).ok());
    ASSERT_TRUE(p->Send("k", "broken\nvalue", kBase + 1).ok());
    ASSERT_TRUE(p->Flush().ok());
  }
  o_.codec = lake::Codec::kZstd;
  auto a = Archiver::Open(lake_.get(), o_).value();
  Drain(a.get());
  ASSERT_TRUE(a->Close().ok());
  auto files = Published();
  ASSERT_EQ(files.size(), 1u);
  EXPECT_TRUE(files.begin()->first.ends_with(".jsonl.zst")) << files.begin()->first;
  ASSERT_EQ(files.begin()->second.size(), 2u);
  EXPECT_EQ(files.begin()->second[0], "{\"e\":0}");
  EXPECT_EQ(files.begin()->second[1],
            StrCat(R"({"malformed":true,"offset":1,"partition":)", bus::PartitionForKey("k", 3),
                   R"(,"value":"broken\nvalue"})"));
}

// Bytes of the log damaged under the archiver: the damaged events are
// reported (and counted lost by its reader), every other event lands in
// exactly one lake file, and the events produced after the damage too.
TEST_F(ArchiverTest, DamagedLogRecordsAreReportedAndEveryOtherEventIsArchivedOnce) {
  Produce(0, 300);
  // A bad sector in partition 0, in the middle of its records.
  std::string seg = dir_ + "/bus/transactions/0/00000000000000000000.log";
  uint64_t size = std::filesystem::file_size(seg);
  ASSERT_GT(size, 2000u);
  {
    std::fstream f(seg, std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(static_cast<std::streamoff>(size / 2));
    f.write(std::string(40, 'X').data(), 40);
  }
  {
    auto a = Archiver::Open(lake_.get(), o_).value();
    Drain(a.get());
    ASSERT_TRUE(a->Close().ok());
  }
  Produce(300, 330);  // the writer recovers past the damage
  {
    auto a = Archiver::Open(lake_.get(), o_).value();
    Drain(a.get());
    ASSERT_TRUE(a->Close().ok());
  }
  std::map<std::string, int> seen;
  for (const auto& [file, lines] : Published()) {
    for (const std::string& l : lines) ++seen[l];
  }
  auto log = bus::EmbeddedLog::Open(dir_ + "/bus").value();
  auto info = log->Inspect("transactions", 0).value();
  ASSERT_GT(info.lost(), 0);
  EXPECT_EQ(static_cast<int64_t>(seen.size()) + info.lost(), 330) << "every event archived or reported lost";
  for (const auto& [line, n] : seen) EXPECT_EQ(n, 1) << line;
  for (int i = 300; i < 330; ++i) EXPECT_EQ(seen[StrCat(R"({"e":)", i, "}")], 1) << i;
}

}  // namespace
}  // namespace comptoir::stream
