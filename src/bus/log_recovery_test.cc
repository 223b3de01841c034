// The embedded log under damage: every byte position of a small segment,
// overwritten, bit-flipped, zeroed or cut; a damaged or deleted index; a
// deleted segment; a damaged high-water mark; and power cuts under both fsync
// policies. The invariant each time: every acknowledged record that is not
// itself damaged reaches a group that resumes exactly once, offsets only
// grow, and every record that does not reach it is in a reported range.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "comptoir/bus/client.h"
#include "comptoir/bus/embedded_log.h"
#include "comptoir/core/files.h"

namespace comptoir::bus {
namespace {

namespace fs = std::filesystem;

// Where records sit in a pristine segment.
struct Written {
  int64_t offset;
  uint64_t begin, end;  // bytes of the segment
  std::string value;
};

std::string Scratch(const std::string& name) {
  // tmpfs when there is one: thousands of small logs, each with fsyncs.
  fs::path base = fs::exists("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
  return (base / ("comptoir-recovery-" + std::to_string(getpid()) + "-" + name)).string();
}

class LogRecoveryTest : public ::testing::Test {
 protected:
  static constexpr int kRecords = 12;
  static constexpr int64_t kConsumedBefore = 3;  // the group committed these before the damage

  void SetUp() override {
    pristine_ = Scratch("pristine");
    fs::remove_all(pristine_);
    auto log = EmbeddedLog::Open(pristine_).value();
    ASSERT_TRUE(log->CreateTopic("t", {}).ok());
    auto w = log->OpenWriter("t", 0).value();
    uint64_t pos = 0;
    for (int i = 0; i < kRecords; ++i) {
      std::string value = "value-" + std::to_string(i) + std::string(static_cast<size_t>(13 * i % 50), 'v');
      int64_t offset = w->Append("k" + std::to_string(i), value, 1700000000000 + i).value();
      uint64_t size = 28 + 1 + std::to_string(i).size() + value.size();
      written_.push_back({offset, pos, pos + size, value});
      pos += size;
      if (i % 3 == 2) {
        ASSERT_TRUE(w->Flush().ok());  // acknowledged in batches
      }
    }
    ASSERT_TRUE(w->Flush().ok());
    w.reset();
    ASSERT_TRUE(log->CommitOffset("t", "g", 0, kConsumedBefore).ok());
    segment_size_ = fs::file_size(pristine_ + "/t/0/00000000000000000000.log");
    ASSERT_EQ(segment_size_, pos);
  }
  void TearDown() override {
    fs::remove_all(pristine_);
    fs::remove_all(Scratch("case"));
  }

  // A fresh copy of the pristine log to damage.
  std::string Copy() {
    std::string dir = Scratch("case");
    fs::remove_all(dir);
    fs::copy(pristine_, dir, fs::copy_options::recursive);
    return dir;
  }

  // Everything group g reads from where it left off, committed after.
  static std::vector<Record> Drain(const std::string& dir) {
    BusOptions o;
    ConsumerOptions co;
    co.group = "g";
    auto consumer = OpenConsumer("log://" + dir, "t", co, o);
    EXPECT_TRUE(consumer.ok()) << consumer.status();
    std::vector<Record> out;
    if (!consumer.ok()) return out;
    while (true) {
      auto batch = (*consumer)->Poll(1000, std::chrono::milliseconds(1));
      EXPECT_TRUE(batch.ok()) << batch.status();
      if (!batch.ok() || batch->empty()) break;
      out.insert(out.end(), batch->begin(), batch->end());
    }
    EXPECT_TRUE((*consumer)->Commit().ok());
    return out;
  }

  // Reads, recovers a writer that appends three records, reads again; checks
  // the invariant. `damaged` holds the offsets whose bytes were damaged.
  void CheckInvariant(const std::string& dir, const std::set<int64_t>& damaged, const std::string& what) {
    std::vector<Record> got = Drain(dir);
    std::vector<int64_t> fresh;
    {
      auto w = EmbeddedLog::Open(dir).value()->OpenWriter("t", 0);
      ASSERT_TRUE(w.ok()) << what << ": " << w.status();
      for (int i = 0; i < 3; ++i) fresh.push_back((*w)->Append("new", "fresh-" + std::to_string(i), 0).value());
      ASSERT_TRUE((*w)->Flush().ok()) << what;
    }
    std::vector<Record> after = Drain(dir);
    got.insert(got.end(), after.begin(), after.end());
    for (int64_t f : fresh) ASSERT_GE(f, kRecords) << what << ": a new record reused offset " << f;
    std::map<int64_t, int> seen;
    for (const Record& r : got) {
      ++seen[r.offset];
      if (r.offset < kRecords) {
        ASSERT_EQ(r.value, written_[static_cast<size_t>(r.offset)].value) << what << " offset " << r.offset;
      }
    }
    auto info = EmbeddedLog::Open(dir).value()->Inspect("t", 0).value();
    auto reported = [&](int64_t offset) {
      for (const DamagedRange& d : info.damage) {
        if (d.records() > 0 && offset >= d.first && offset <= d.last) return true;
      }
      return false;
    };
    for (const Written& w : written_) {
      if (w.offset < kConsumedBefore) continue;
      int n = seen.contains(w.offset) ? seen[w.offset] : 0;
      ASSERT_LE(n, 1) << what << ": offset " << w.offset << " delivered twice";
      if (damaged.contains(w.offset)) {
        if (n == 0) {
          ASSERT_TRUE(reported(w.offset)) << what << ": damaged offset " << w.offset << " not reported";
        }
      } else {
        ASSERT_EQ(n, 1) << what << ": intact offset " << w.offset << " not delivered";
      }
    }
    for (int64_t f : fresh) ASSERT_EQ(seen[f], 1) << what << ": new offset " << f;
  }

  std::set<int64_t> Overlapping(uint64_t begin, uint64_t end) const {
    std::set<int64_t> out;
    for (const Written& w : written_) {
      if (w.begin < end && begin < w.end) out.insert(w.offset);
    }
    return out;
  }

  std::string pristine_;
  std::vector<Written> written_;
  uint64_t segment_size_ = 0;
};

void Damage(const std::string& path, uint64_t at, const std::string& bytes) {
  std::fstream f(path, std::ios::binary | std::ios::in | std::ios::out);
  f.seekp(static_cast<std::streamoff>(at));
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

TEST_F(LogRecoveryTest, EveryBytePositionOverwrittenFlippedZeroedOrCut) {
  for (uint64_t at = 0; at < segment_size_; ++at) {
    for (int kind = 0; kind < 4; ++kind) {
      std::string dir = Copy();
      std::string seg = dir + "/t/0/00000000000000000000.log";
      std::set<int64_t> damaged;
      std::string what;
      if (kind == 0) {  // a bad sector: 50 bytes of junk
        uint64_t n = std::min<uint64_t>(50, segment_size_ - at);
        Damage(seg, at, std::string(n, 'X'));
        damaged = Overlapping(at, at + n);
        what = "50 X at " + std::to_string(at);
      } else if (kind == 1) {  // one flipped bit
        std::string data = *core::ReadFile(seg);
        Damage(seg, at, std::string(1, static_cast<char>(data[at] ^ 0x10)));
        damaged = Overlapping(at, at + 1);
        what = "bit flip at " + std::to_string(at);
      } else if (kind == 2) {  // zeroes (a NUL-filled block)
        uint64_t n = std::min<uint64_t>(16, segment_size_ - at);
        Damage(seg, at, std::string(n, '\0'));
        damaged = Overlapping(at, at + n);
        what = "16 NUL at " + std::to_string(at);
      } else {  // cut in the middle (a file truncated by a person or a full disk)
        fs::resize_file(seg, at);
        damaged = Overlapping(at, segment_size_);
        what = "cut at " + std::to_string(at);
      }
      ASSERT_NO_FATAL_FAILURE(CheckInvariant(dir, damaged, what));
    }
  }
}

TEST_F(LogRecoveryTest, ADamagedOrDeletedIndexCostsNothing) {
  for (int kind = 0; kind < 3; ++kind) {
    std::string dir = Copy();
    std::string index = dir + "/t/0/00000000000000000000.index";
    if (kind == 0) fs::remove(index);
    if (kind == 1) std::ofstream(index, std::ios::binary | std::ios::trunc) << std::string(64, '\x07');
    if (kind == 2) std::ofstream(index, std::ios::binary | std::ios::trunc) << "";
    ASSERT_NO_FATAL_FAILURE(CheckInvariant(dir, {}, "index " + std::to_string(kind)));
    EXPECT_EQ(EmbeddedLog::Open(dir).value()->Inspect("t", 0).value().lost(), 0);
  }
}

TEST_F(LogRecoveryTest, ADeletedSegmentIsReportedAndItsOffsetsAreNeverReused) {
  std::string dir = Scratch("segments");
  fs::remove_all(dir);
  auto log = EmbeddedLog::Open(dir).value();
  TopicConfig c;
  c.segment_bytes = 1024;  // about 20 records a segment
  ASSERT_TRUE(log->CreateTopic("t", c).ok());
  {
    auto w = log->OpenWriter("t", 0).value();
    for (int i = 0; i < 100; ++i) ASSERT_TRUE(w->Append("k", std::string(30, 'a' + i % 26), 0).ok());
    ASSERT_TRUE(w->Flush().ok());
  }
  std::vector<std::string> segments;
  for (const auto& e : fs::directory_iterator(dir + "/t/0")) {
    if (e.path().extension() == ".log") segments.push_back(e.path().string());
  }
  std::sort(segments.begin(), segments.end());
  ASSERT_GE(segments.size(), 4u);
  fs::remove(segments[1]);     // a middle segment
  fs::remove(segments.back());  // and the active one
  auto reader = log->OpenReader("t", 0).value();
  std::vector<int64_t> offsets;
  while (true) {
    auto batch = reader->Read(1000, std::chrono::milliseconds(5)).value();
    if (batch.empty()) break;
    for (const Record& r : batch) offsets.push_back(r.offset);
  }
  EXPECT_GT(reader->Lost(), 0);
  for (size_t i = 1; i < offsets.size(); ++i) ASSERT_GT(offsets[i], offsets[i - 1]);
  auto w = log->OpenWriter("t", 0).value();
  EXPECT_EQ(w->Append("k", "after", 0).value(), 100);  // above everything ever acknowledged
  ASSERT_TRUE(w->Flush().ok());
  auto info = log->Inspect("t", 0).value();
  int64_t delivered = static_cast<int64_t>(offsets.size());
  EXPECT_EQ(delivered + info.lost(), 100) << "every record is delivered or in a reported range";
  fs::remove_all(dir);
}

TEST_F(LogRecoveryTest, ADamagedHighWaterMarkIsRebuiltAboveWhatGroupsCommitted) {
  std::string dir = Copy();
  std::ofstream(dir + "/t/0/hwm", std::ios::trunc) << "garbage";
  // The tail cut too: only the groups' committed offsets still say how far the log went.
  ASSERT_TRUE(EmbeddedLog::Open(dir).value()->CommitOffset("t", "other", 0, kRecords).ok());
  fs::resize_file(dir + "/t/0/00000000000000000000.log", written_[6].begin);
  auto w = EmbeddedLog::Open(dir).value()->OpenWriter("t", 0).value();
  EXPECT_EQ(w->Append("k", "v", 0).value(), kRecords);
}

// A power cut keeps what was synced and nothing else. Simulated: the log's
// syncs are recorded, then every file is put back to its last synced state.
class PowerCut {
 public:
  std::function<int(int)> Hook() {
    return [this](int fd) {
      char path[4096];
      ssize_t n = readlink(("/proc/self/fd/" + std::to_string(fd)).c_str(), path, sizeof(path) - 1);
      if (n > 0) {
        std::string p(path, static_cast<size_t>(n));
        synced_[p] = *core::ReadFile(p);
      }
      return 0;
    };
  }
  // Every segment and high-water mark back to what was last synced.
  void Cut(const std::string& partition_dir) {
    for (const auto& e : fs::directory_iterator(partition_dir)) {
      std::string p = e.path().string();
      if (!p.ends_with(".log") && !p.ends_with("/hwm")) continue;
      auto it = synced_.find(p);
      if (it == synced_.end()) {
        fs::remove(p);
      } else {
        std::ofstream(p, std::ios::binary | std::ios::trunc) << it->second;
      }
    }
  }

 private:
  std::map<std::string, std::string> synced_;
};

TEST_F(LogRecoveryTest, WhatAnAcknowledgementSurvivesUnderEachFsyncPolicy) {
  for (FsyncPolicy policy : {FsyncPolicy::kEveryBatch, FsyncPolicy::kInterval}) {
    std::string dir = Scratch("power");
    fs::remove_all(dir);
    PowerCut power;
    LogOptions o;
    o.fsync = policy;
    o.fsync_interval = std::chrono::hours(1);  // kInterval: no sync within the test
    o.sync_for_tests = power.Hook();
    auto log = EmbeddedLog::Open(dir, o).value();
    ASSERT_TRUE(log->CreateTopic("t", {}).ok());
    int64_t acked = 0;
    {
      auto w = log->OpenWriter("t", 0).value();
      for (int i = 0; i < 40; ++i) {
        ASSERT_TRUE(w->Append("k", "v" + std::to_string(i), 0).ok());
        if (i % 10 == 9) {
          ASSERT_TRUE(w->Flush().ok());
          acked = i + 1;
        }
      }
      // A consumer read and committed the first 20 (group offsets are synced).
      ASSERT_TRUE(log->CommitOffset("t", "g", 0, 20).ok());
      power.Cut(dir + "/t/0");  // while the writer still runs: no clean close
    }
    auto reopened = EmbeddedLog::Open(dir).value();
    auto reader = reopened->OpenReader("t", 0).value();
    int64_t readable = 0;
    while (true) {
      auto batch = reader->Read(1000, std::chrono::milliseconds(5)).value();
      if (batch.empty()) break;
      readable += static_cast<int64_t>(batch.size());
    }
    auto w = reopened->OpenWriter("t", 0).value();
    int64_t next = w->Append("k", "after the cut", 0).value();
    if (policy == FsyncPolicy::kEveryBatch) {
      EXPECT_EQ(readable, acked) << "every acknowledged record survives a power cut";
      EXPECT_EQ(next, acked);
    } else {
      // The unsynced tail is lost, but never silently and never renumbered:
      // the offsets the group committed are above the next one written.
      EXPECT_LT(readable, acked);
      EXPECT_GE(next, 20);
      auto after = reopened->Inspect("t", 0).value();
      EXPECT_GE(after.lost() + readable, 20) << "what the group saw is delivered or reported lost";
    }
    fs::remove_all(dir);
  }
}

}  // namespace
}  // namespace comptoir::bus
