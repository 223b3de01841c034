// The bus contract (client.h), run on both backends: the embedded log and a
// real Kafka 3.9 broker started by scripts/stack (COMPTOIR_TEST_KAFKA).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include "../cli_runner.h"
#include "comptoir/bus/client.h"

namespace comptoir::bus {
namespace {

class BusContract : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "log") {
      dir_ = testing::TempDir("bus-contract");
      uri_ = "log://" + dir_;
    } else {
      uri_ = testing::ServiceEnv("COMPTOIR_TEST_KAFKA");
      if (uri_.empty()) GTEST_SKIP() << "COMPTOIR_TEST_KAFKA is not set";
    }
    // Kafka topics outlive the test: make each name unique.
    topic_ = StrCat(::testing::UnitTest::GetInstance()->current_test_info()->name(), "-", getpid(),
                    "-", std::chrono::steady_clock::now().time_since_epoch().count() % 1000000);
    for (char& c : topic_) {
      if (c == '/') c = '-';
    }
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  std::unique_ptr<Admin> NewAdmin() {
    auto a = OpenAdmin(uri_);
    EXPECT_TRUE(a.ok()) << a.status();
    return a.ok() ? std::move(*a) : nullptr;
  }

  // Sends `n` records keyed "order-<i % 50>" with value "v<i>" and timestamp base+i.
  void Produce(int n, int first = 0, int64_t ts_base = 1764288000000) {
    auto p = OpenProducer(uri_, topic_, 3);
    ASSERT_TRUE(p.ok()) << p.status();
    for (int i = first; i < first + n; ++i) {
      ASSERT_TRUE((*p)->Send(StrCat("order-", i % 50), StrCat("v", i), ts_base + i).ok());
      ASSERT_TRUE((*p)->Poll().ok());
    }
    Status s = (*p)->Flush();
    ASSERT_TRUE(s.ok()) << s;
  }

  // Reads until `n` records arrived (or 20 s passed).
  std::vector<Record> ReadN(Consumer* c, size_t n) {
    std::vector<Record> all;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (all.size() < n && std::chrono::steady_clock::now() < deadline) {
      auto batch = c->Poll(n - all.size(), std::chrono::milliseconds(200));
      EXPECT_TRUE(batch.ok()) << batch.status();
      if (!batch.ok()) break;
      for (Record& r : *batch) all.push_back(std::move(r));
    }
    return all;
  }

  // Nothing more arrives within `wait`.
  void ExpectNothingMore(Consumer* c, std::chrono::milliseconds wait = std::chrono::milliseconds(700)) {
    auto extra = c->Poll(100, wait);
    ASSERT_TRUE(extra.ok());
    EXPECT_TRUE(extra->empty()) << extra->size() << " unexpected records, first " << (*extra)[0].value;
  }

  std::string dir_, uri_, topic_;
};

TEST_P(BusContract, TopicsAreCreatedListedAndDescribed) {
  auto admin = NewAdmin();
  ASSERT_NE(admin, nullptr);
  EXPECT_EQ(admin->Partitions(topic_).status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(admin->CreateTopic(topic_, 4, 1).ok());
  EXPECT_EQ(admin->CreateTopic(topic_, 4, 1).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(*admin->Partitions(topic_), 4);
  auto topics = admin->ListTopics();
  ASSERT_TRUE(topics.ok());
  EXPECT_EQ(std::count(topics->begin(), topics->end(), topic_), 1);
  auto parts = admin->Describe(topic_, "");
  ASSERT_TRUE(parts.ok());
  ASSERT_EQ(parts->size(), 4u);
  for (const PartitionState& p : *parts) {
    EXPECT_EQ(p.start, 0);
    EXPECT_EQ(p.end, 0);
    EXPECT_FALSE(p.committed.has_value());
  }
  ConsumerOptions o;
  EXPECT_EQ(OpenConsumer(uri_, topic_ + "-missing", o).status().code(), absl::StatusCode::kNotFound);
}

TEST_P(BusContract, EveryRecordOnceInKeyPartitionOrderWithTimestamps) {
  Produce(3000);
  ConsumerOptions o;
  auto c = OpenConsumer(uri_, topic_, o);
  ASSERT_TRUE(c.ok()) << c.status();
  std::vector<Record> got = ReadN(c->get(), 3000);
  ASSERT_EQ(got.size(), 3000u);
  ExpectNothingMore(c->get());
  std::set<std::string> values;
  std::map<int, int64_t> last_offset;
  std::map<std::string, int> last_i_per_key;
  for (const Record& r : got) {
    values.insert(r.value);
    int i = std::stoi(r.value.substr(1));
    EXPECT_EQ(r.key, StrCat("order-", i % 50));
    // Java-compatible partitioning on both backends.
    EXPECT_EQ(r.partition, PartitionForKey(r.key, 3)) << r.key;
    EXPECT_EQ(r.timestamp_ms, 1764288000000 + i);
    // Offsets grow within a partition; a key's records keep their order.
    if (last_offset.count(r.partition)) {
      EXPECT_EQ(r.offset, last_offset[r.partition] + 1);
    }
    last_offset[r.partition] = r.offset;
    if (last_i_per_key.count(r.key)) {
      EXPECT_GT(i, last_i_per_key[r.key]);
    }
    last_i_per_key[r.key] = i;
  }
  EXPECT_EQ(values.size(), 3000u);
}

TEST_P(BusContract, GroupsCommitAfterProcessingAndResumeExactly) {
  Produce(1000);
  ConsumerOptions o;
  o.group = "g-" + topic_;
  size_t first_half = 0;
  {
    auto c = OpenConsumer(uri_, topic_, o);
    ASSERT_TRUE(c.ok()) << c.status();
    std::vector<Record> got = ReadN(c->get(), 400);
    ASSERT_EQ(got.size(), 400u);
    first_half = got.size();
    ASSERT_TRUE((*c)->Commit().ok());
    // Lag: what the group still has to read.
    auto lag = (*c)->Lag();
    ASSERT_TRUE(lag.ok()) << lag.status();
    EXPECT_EQ(*lag, 600);
  }
  auto admin = NewAdmin();
  auto parts = admin->Describe(topic_, o.group);
  ASSERT_TRUE(parts.ok()) << parts.status();
  int64_t lag = 0, end = 0;
  for (const PartitionState& p : *parts) {
    lag += p.lag();
    end += p.end;
  }
  EXPECT_EQ(end, 1000);
  EXPECT_EQ(lag, 600);
  auto c2 = OpenConsumer(uri_, topic_, o);
  ASSERT_TRUE(c2.ok());
  std::vector<Record> rest = ReadN(c2->get(), 600);
  EXPECT_EQ(rest.size() + first_half, 1000u);
  ExpectNothingMore(c2->get());
  ASSERT_TRUE((*c2)->Commit().ok());
  parts = admin->Describe(topic_, o.group);
  ASSERT_TRUE(parts.ok());
  for (const PartitionState& p : *parts) EXPECT_EQ(p.lag(), 0) << "partition " << p.partition;
}

TEST_P(BusContract, StartAtEndTimeAndExplicitOffsets) {
  Produce(300);
  // A new group starting at the end sees only what comes after it.
  ConsumerOptions end;
  end.group = "end-" + topic_;
  end.start = StartAt::kEnd;
  auto c = OpenConsumer(uri_, topic_, end);
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE((*c)->Poll(10, std::chrono::milliseconds(1500)).ok());  // joins and settles
  Produce(20, 300);
  std::vector<Record> got = ReadN(c->get(), 20);
  ASSERT_EQ(got.size(), 20u);
  for (const Record& r : got) EXPECT_GE(std::stoi(r.value.substr(1)), 300);

  // By time: records with timestamp >= base + 250.
  ConsumerOptions at;
  at.start = StartAt::kTime;
  at.start_time_ms = 1764288000000 + 250;
  auto t = OpenConsumer(uri_, topic_, at);
  ASSERT_TRUE(t.ok()) << t.status();
  got = ReadN(t->get(), 70);
  ASSERT_EQ(got.size(), 70u);
  for (const Record& r : got) EXPECT_GE(std::stoi(r.value.substr(1)), 250);

  // Explicit start offsets win over the committed ones; CommitOffsets stores exactly what it is given.
  ConsumerOptions ex;
  ex.group = "ex-" + topic_;
  ex.balanced = false;
  auto parts = NewAdmin()->Describe(topic_, "");
  ASSERT_TRUE(parts.ok());
  for (const PartitionState& p : *parts) ex.start_offsets[p.partition] = p.end - 2;
  auto e = OpenConsumer(uri_, topic_, ex);
  ASSERT_TRUE(e.ok());
  got = ReadN(e->get(), 6);
  ASSERT_EQ(got.size(), 6u);
  ExpectNothingMore(e->get());
  ASSERT_TRUE((*e)->CommitOffsets({{0, 1}}).ok());
  auto after = NewAdmin()->Describe(topic_, ex.group);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ((*after)[0].committed.value_or(-1), 1);
}

INSTANTIATE_TEST_SUITE_P(Backends, BusContract, ::testing::Values("log", "kafka"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

}  // namespace
}  // namespace comptoir::bus
