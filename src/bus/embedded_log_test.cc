#include "comptoir/bus/embedded_log.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

namespace comptoir::bus {
namespace {

class EmbeddedLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (std::filesystem::temp_directory_path() /
            ("comptoir-log-" + std::to_string(getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name()))
               .string();
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::unique_ptr<EmbeddedLog> Log(LogOptions o = {}) { return EmbeddedLog::Open(dir_, o).value(); }
  std::string dir_;
};

std::string Value(int64_t i) { return "{\"order_number\":" + std::to_string(10100 + i) + "}"; }

TEST_F(EmbeddedLogTest, AppendFlushReadBackInOrder) {
  auto log = Log();
  TopicConfig c;
  c.partitions = 3;
  ASSERT_TRUE(log->CreateTopic("transactions", c).ok());
  EXPECT_EQ(log->CreateTopic("transactions", c).code(), absl::StatusCode::kAlreadyExists);
  auto w = log->OpenWriter("transactions", 1).value();
  for (int64_t i = 0; i < 10000; ++i) {
    ASSERT_EQ(*w->Append("k" + std::to_string(i), Value(i), 1700000000000 + i), i);
  }
  ASSERT_TRUE(w->Flush().ok());
  auto r = log->OpenReader("transactions", 1).value();
  int64_t n = 0;
  while (n < 10000) {
    auto batch = r->Read(1000, std::chrono::milliseconds(100)).value();
    ASSERT_FALSE(batch.empty());
    for (const Record& rec : batch) {
      EXPECT_EQ(rec.offset, n);
      EXPECT_EQ(rec.key, "k" + std::to_string(n));
      EXPECT_EQ(rec.value, Value(n));
      EXPECT_EQ(rec.timestamp_ms, 1700000000000 + n);
      EXPECT_EQ(rec.partition, 1);
      ++n;
    }
  }
  EXPECT_TRUE(r->Read(10, std::chrono::milliseconds(5)).value().empty());
  using Range = std::pair<int64_t, int64_t>;
  EXPECT_EQ(log->OffsetRange("transactions", 1).value(), (Range{0, 10000}));
  EXPECT_EQ(log->OffsetRange("transactions", 0).value(), (Range{0, 0}));
  EXPECT_EQ(log->OpenReader("nope", 0).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(log->OpenWriter("transactions", 3).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(log->ListTopics().value(), std::vector<std::string>{"transactions"});
}

TEST_F(EmbeddedLogTest, SegmentsRollIndexSeeksAndTimeSeeks) {
  auto log = Log();
  TopicConfig c;
  c.segment_bytes = 16 << 10;
  ASSERT_TRUE(log->CreateTopic("t", c).ok());
  auto w = log->OpenWriter("t", 0).value();
  for (int64_t i = 0; i < 5000; ++i) {
    ASSERT_TRUE(w->Append("", std::string(100, 'a' + i % 26), 1000 + i).ok());
    if (i % 100 == 99) {
      ASSERT_TRUE(w->Flush().ok());
    }
  }
  ASSERT_TRUE(w->Flush().ok());
  size_t segments = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir_ + "/t/0")) {
    if (e.path().extension() == ".log") ++segments;
  }
  EXPECT_GT(segments, 20u);
  auto r = log->OpenReader("t", 0).value();
  ASSERT_TRUE(r->Seek(3210).ok());
  auto batch = r->Read(5, std::chrono::milliseconds(10)).value();
  ASSERT_EQ(batch.size(), 5u);
  EXPECT_EQ(batch[0].offset, 3210);
  EXPECT_EQ(batch[0].value, std::string(100, 'a' + 3210 % 26));
  ASSERT_TRUE(r->SeekToTime(1000 + 4321).ok());
  EXPECT_EQ(r->Position(), 4321);
  int64_t read = 0;
  ASSERT_TRUE(r->Seek(0).ok());
  while (true) {
    auto b = r->Read(700, std::chrono::milliseconds(5)).value();
    if (b.empty()) break;
    for (const Record& rec : b) EXPECT_EQ(rec.offset, read++);
  }
  EXPECT_EQ(read, 5000);
}

TEST_F(EmbeddedLogTest, TornTailIsTruncatedNeverReturned) {
  auto log = Log();
  ASSERT_TRUE(log->CreateTopic("t", {}).ok());
  {
    auto w = log->OpenWriter("t", 0).value();
    for (int i = 0; i < 100; ++i) ASSERT_TRUE(w->Append("k", Value(i), 0).ok());
    ASSERT_TRUE(w->Flush().ok());
  }
  // A crash in the middle of a write leaves half a record behind.
  std::string seg = dir_ + "/t/0/00000000000000000000.log";
  uint64_t good = std::filesystem::file_size(seg);
  {
    std::ofstream out(seg, std::ios::binary | std::ios::app);
    std::string half = std::string("\x50\x00\x00\x00\x12\x34\x56\x78", 8) + std::string(20, 'x');
    out.write(half.data(), static_cast<std::streamsize>(half.size()));
  }
  auto r = log->OpenReader("t", 0).value();
  auto all = r->Read(1000, std::chrono::milliseconds(20)).value();
  EXPECT_EQ(all.size(), 100u);  // the torn record is not handed out
  {
    // Plain garbage at the tail is treated the same way.
    std::ofstream out(seg, std::ios::binary | std::ios::app);
    out << "garbage";
  }
  EXPECT_TRUE(r->Read(10, std::chrono::milliseconds(5)).value().empty());
  auto w = log->OpenWriter("t", 0).value();
  EXPECT_EQ(std::filesystem::file_size(seg), good);
  EXPECT_EQ(w->EndOffset(), 100);
  ASSERT_EQ(*w->Append("k", "after", 0), 100);
  ASSERT_TRUE(w->Flush().ok());
  auto more = r->Read(10, std::chrono::milliseconds(100)).value();
  ASSERT_EQ(more.size(), 1u);
  EXPECT_EQ(more[0].value, "after");
}

// A bad byte inside a rolled segment: with on_damage = fail the reader stops
// naming the offsets, the file and the byte; with skip (the default) it
// reports the range, counts the record lost and delivers every other one.
TEST_F(EmbeddedLogTest, CorruptionInsideARolledSegmentIsReportedThenSkippedOrAnError) {
  TopicConfig c;
  c.segment_bytes = 4 << 10;
  {
    auto log = Log();
    ASSERT_TRUE(log->CreateTopic("t", c).ok());
    auto w = log->OpenWriter("t", 0).value();
    for (int i = 0; i < 200; ++i) ASSERT_TRUE(w->Append("", std::string(50, 'z'), 0).ok());
    ASSERT_TRUE(w->Flush().ok());
  }
  std::string first = dir_ + "/t/0/00000000000000000000.log";
  {
    std::fstream f(first, std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(200);  // inside the third record (78 bytes each)
    f.put('!');
  }
  LogOptions fail;
  fail.on_damage = DamagePolicy::kFail;
  auto r = Log(fail)->OpenReader("t", 0).value();
  StatusOr<std::vector<Record>> b = r->Read(100, std::chrono::milliseconds(5));
  while (b.ok() && !b->empty()) b = r->Read(100, std::chrono::milliseconds(5));
  EXPECT_EQ(b.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(b.status().message(),
            "partition 0 of t: offsets 2-2 (1 records) damaged: 78 bad bytes at byte 156 of "
            "00000000000000000000.log; they cannot be read back (bus.on_damage = \"fail\"; set it to \"skip\" to "
            "read past them)");
  auto skip = Log()->OpenReader("t", 0).value();
  std::vector<int64_t> offsets;
  while (true) {
    auto batch = skip->Read(1000, std::chrono::milliseconds(5)).value();
    if (batch.empty()) break;
    for (const Record& rec : batch) offsets.push_back(rec.offset);
  }
  ASSERT_EQ(offsets.size(), 199u);
  EXPECT_EQ(offsets[1], 1);
  EXPECT_EQ(offsets[2], 3);
  EXPECT_EQ(skip->Lost(), 1);
  auto info = Log()->Inspect("t", 0).value();
  ASSERT_EQ(info.damage.size(), 1u);  // found twice, reported once
  EXPECT_EQ(info.lost(), 1);
}

TEST_F(EmbeddedLogTest, KillNineOfAWriterMidBatchKeepsEveryAcknowledgedRecord) {
  auto log = Log();
  ASSERT_TRUE(log->CreateTopic("t", {}).ok());
  int acks[2];
  ASSERT_EQ(pipe(acks), 0);
  pid_t child = fork();
  if (child == 0) {
    close(acks[0]);
    auto clog = EmbeddedLog::Open(dir_).value();
    auto w = clog->OpenWriter("t", 0).value();
    for (int64_t i = 0;; ++i) {
      (void)w->Append("key", Value(i) + std::string(static_cast<size_t>(i % 200), 'p'), 0);
      if (i % 50 == 49) {
        if (!w->Flush().ok()) _exit(3);
        int64_t acked = i + 1;
        if (write(acks[1], &acked, sizeof(acked)) != sizeof(acked)) _exit(4);
      }
    }
  }
  close(acks[1]);
  int64_t acked = 0;
  for (int i = 0; i < 200; ++i) ASSERT_EQ(read(acks[0], &acked, sizeof(acked)), 8);
  kill(child, SIGKILL);
  int st = 0;
  waitpid(child, &st, 0);
  int64_t last = acked;
  while (read(acks[0], &acked, sizeof(acked)) == 8) last = acked;
  close(acks[0]);
  // Reopen: every acknowledged record is there, intact and in order.
  auto w = log->OpenWriter("t", 0).value();
  EXPECT_GE(w->EndOffset(), last);
  auto r = log->OpenReader("t", 0).value();
  int64_t n = 0;
  while (true) {
    auto b = r->Read(5000, std::chrono::milliseconds(5));
    ASSERT_TRUE(b.ok()) << b.status();
    if (b->empty()) break;
    for (const Record& rec : *b) {
      ASSERT_EQ(rec.offset, n);
      ASSERT_EQ(rec.value, Value(n) + std::string(static_cast<size_t>(n % 200), 'p'));
      ++n;
    }
  }
  EXPECT_GE(n, last);
  EXPECT_EQ(n, w->EndOffset());
}

TEST_F(EmbeddedLogTest, OneWriterPerPartitionAcrossProcesses) {
  LogOptions o;
  o.writer_lock_timeout = std::chrono::milliseconds(200);
  auto log = Log(o);
  ASSERT_TRUE(log->CreateTopic("t", {}).ok());
  auto w = log->OpenWriter("t", 0).value();
  pid_t child = fork();
  if (child == 0) {
    auto clog = EmbeddedLog::Open(dir_, o).value();
    auto second = clog->OpenWriter("t", 0);
    _exit(absl::IsUnavailable(second.status()) ? 0 : 1);
  }
  int st = 0;
  waitpid(child, &st, 0);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "a second writer must be refused";
}

TEST_F(EmbeddedLogTest, ReadersFollowNewDataWithinMilliseconds) {
  auto log = Log();
  ASSERT_TRUE(log->CreateTopic("t", {}).ok());
  auto r = log->OpenReader("t", 0).value();
  std::thread writer([&] {
    auto w = log->OpenWriter("t", 0).value();
    for (int i = 0; i < 50; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      (void)w->Append("", std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()), 0);
      (void)w->Flush();
    }
  });
  int got = 0;
  std::vector<double> lat_ms;
  while (got < 50) {
    auto b = r->Read(100, std::chrono::milliseconds(1000)).value();
    ASSERT_FALSE(b.empty());
    for (const Record& rec : b) {
      auto sent = std::chrono::steady_clock::time_point(
          std::chrono::steady_clock::duration(std::stoll(rec.value)));
      lat_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - sent).count());
      ++got;
    }
  }
  writer.join();
  std::sort(lat_ms.begin(), lat_ms.end());
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
  constexpr double kTargetMs = 100.0;  // the sanitizers slow every step 5-15x
#else
  constexpr double kTargetMs = 10.0;
#endif
  EXPECT_LT(lat_ms[lat_ms.size() / 2], kTargetMs) << "median follow latency";
}

TEST_F(EmbeddedLogTest, RetentionDropsOldSegmentsAndReadersSkipAhead) {
  auto log = Log();
  TopicConfig c;
  c.segment_bytes = 8 << 10;
  c.retention_bytes = 32 << 10;
  ASSERT_TRUE(log->CreateTopic("t", c).ok());
  auto w = log->OpenWriter("t", 0).value();
  for (int i = 0; i < 3000; ++i) {
    ASSERT_TRUE(w->Append("", std::string(60, 'r'), 0).ok());
    if (i % 20 == 19) {
      ASSERT_TRUE(w->Flush().ok());
    }
  }
  ASSERT_TRUE(w->Flush().ok());
  auto range = log->OffsetRange("t", 0).value();
  EXPECT_GT(range.first, 1000);
  EXPECT_EQ(range.second, 3000);
  uint64_t bytes = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir_ + "/t/0")) {
    if (e.path().extension() == ".log") {
      bytes += e.file_size();
    }
  }
  EXPECT_LE(bytes, (32u << 10) + (8u << 10));
  auto r = log->OpenReader("t", 0).value();
  ASSERT_TRUE(r->Seek(0).ok());
  auto b = r->Read(1, std::chrono::milliseconds(5)).value();
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].offset, range.first);
}

TEST_F(EmbeddedLogTest, ConsumerGroupOffsetsPersist) {
  auto log = Log();
  ASSERT_TRUE(log->CreateTopic("t", {}).ok());
  EXPECT_EQ(log->CommittedOffset("t", "dashboard", 0).value(), std::nullopt);
  ASSERT_TRUE(log->CommitOffset("t", "dashboard", 0, 42).ok());
  ASSERT_TRUE(log->CommitOffset("t", "dashboard", 0, 43).ok());
  auto again = EmbeddedLog::Open(dir_).value();
  EXPECT_EQ(again->CommittedOffset("t", "dashboard", 0).value(), std::optional<int64_t>(43));
  EXPECT_EQ(log->CommitOffset("t", "../x", 0, 1).code(), absl::StatusCode::kInvalidArgument);
}

TEST(PartitionerTest, KafkaMurmur2Vectors) {
  // Expected values from Kafka's UtilsTest.testMurmur2.
  EXPECT_EQ(Murmur2("21"), -973932308);
  EXPECT_EQ(Murmur2("foobar"), -790332482);
  EXPECT_EQ(Murmur2("a-little-bit-long-string"), -985981536);
  EXPECT_EQ(Murmur2("a-little-bit-longer-string"), -1486304829);
  EXPECT_EQ(Murmur2("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"), -58897971);
  EXPECT_EQ(Murmur2("abc"), 479470107);
  EXPECT_EQ(PartitionForKey("foobar", 3), (-790332482 & 0x7fffffff) % 3);
}

}  // namespace
}  // namespace comptoir::bus
