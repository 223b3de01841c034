// The coordination contract, on local:// and on the test stack's ZooKeeper.
#include "comptoir/coord/coordinator.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "../cli_runner.h"
#include "fmt/format.h"

namespace comptoir::coord {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

class CoordContract : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "local") {
      dir_ = testing::TempDir("coord");
      uri_ = "local://" + dir_;
    } else {
      std::string zk = testing::ServiceEnv("COMPTOIR_TEST_ZK");
      if (zk.empty()) GTEST_SKIP() << "COMPTOIR_TEST_ZK is not set (scripts/stack start zookeeper)";
      uri_ = fmt::format("{}/comptoir-test-{}-{}", zk, getpid(),
                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    }
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  std::unique_ptr<Coordinator> Open() {
    auto c = OpenCoordinator(uri_, std::chrono::seconds(6));
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? std::move(*c) : nullptr;
  }
  std::string dir_, uri_;
};

TEST_P(CoordContract, ALockIsExclusiveAndPassesOnWhenReleased) {
  auto a = Open(), b = Open();
  ASSERT_TRUE(a && b);
  auto held = a->Acquire("job/nightly", "host-a pid 1", milliseconds(0));
  ASSERT_TRUE(held.ok()) << held.status();
  auto refused = b->Acquire("job/nightly", "host-b pid 2", milliseconds(0));
  EXPECT_EQ(refused.status().message(), "lock job/nightly is held by host-a pid 1");
  std::thread release([&] {
    std::this_thread::sleep_for(milliseconds(300));
    held->reset();
  });
  auto waited = b->Acquire("job/nightly", "host-b pid 2", milliseconds(5000));
  release.join();
  ASSERT_TRUE(waited.ok()) << waited.status();
  EXPECT_FALSE((*waited)->lost());
  EXPECT_TRUE(a->Acquire("other", "a", milliseconds(0)).ok());  // names are independent
}

TEST_P(CoordContract, ALockIsFreedWhenItsHolderIsKilled) {
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  pid_t child = fork();
  if (child == 0) {  // the holder: takes the lock, says so, then waits to be killed
    auto c = OpenCoordinator(uri_, std::chrono::seconds(4));
    if (!c.ok()) _exit(2);
    auto l = (*c)->Acquire("archiver/transactions", "doomed", milliseconds(0));
    char ok = l.ok() ? 'y' : 'n';
    (void)!write(ready[1], &ok, 1);
    pause();
    _exit(0);
  }
  char ok = 0;
  ASSERT_EQ(read(ready[0], &ok, 1), 1);
  ASSERT_EQ(ok, 'y');
  auto c = Open();
  EXPECT_FALSE(c->Acquire("archiver/transactions", "me", milliseconds(0)).ok());
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  // local: at once; ZooKeeper: when the dead session expires (4 s).
  auto mine = c->Acquire("archiver/transactions", "me", milliseconds(15000));
  EXPECT_TRUE(mine.ok()) << mine.status();
  close(ready[0]);
  close(ready[1]);
}

TEST_P(CoordContract, CompareAndSetNeverLosesAnUpdate) {
  auto c = Open();
  ASSERT_TRUE(c);
  EXPECT_TRUE(absl::IsNotFound(c->Get("jobs/nightly/last-value").status()));
  auto v0 = c->CompareAndSet("jobs/nightly/last-value", "2026-11-27 00:00:00", kNoVersion);
  ASSERT_TRUE(v0.ok()) << v0.status();
  EXPECT_TRUE(absl::IsFailedPrecondition(c->CompareAndSet("jobs/nightly/last-value", "x", kNoVersion).status()));
  auto got = c->Get("jobs/nightly/last-value");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->value, "2026-11-27 00:00:00");
  EXPECT_EQ(got->version, *v0);
  auto v1 = c->CompareAndSet("jobs/nightly/last-value", "2026-11-28 00:00:00", *v0);
  ASSERT_TRUE(v1.ok()) << v1.status();
  EXPECT_GT(*v1, *v0);
  auto stale = c->CompareAndSet("jobs/nightly/last-value", "lost update", *v0);
  EXPECT_TRUE(absl::IsFailedPrecondition(stale.status())) << stale.status();
  // Many writers, each retrying on conflict: every increment counts once.
  ASSERT_TRUE(c->CompareAndSet("counter", "0", kNoVersion).ok());
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back([&] {
      auto mine = Open();
      for (int i = 0; i < 10; ++i) {
        while (true) {
          auto cur = mine->Get("counter");
          if (!cur.ok()) continue;
          if (mine->CompareAndSet("counter", std::to_string(std::stoi(cur->value) + 1), cur->version).ok()) break;
        }
      }
    });
  }
  for (auto& t : writers) t.join();
  EXPECT_EQ(c->Get("counter")->value, "40");
}

TEST_P(CoordContract, MembersComeAndGoAndWatchesFire) {
  auto c = Open(), other = Open();
  ASSERT_TRUE(c && other);
  std::atomic<int> group_changes{0}, key_changes{0};
  ASSERT_TRUE(c->Watch("agents", true, [&] { ++group_changes; }).ok());
  ASSERT_TRUE(c->Watch("jobs/nightly/last-value", false, [&] { ++key_changes; }).ok());
  auto a = other->Register("agents", "pos-1", R"({"lag":0})");
  ASSERT_TRUE(a.ok()) << a.status();
  auto b = other->Register("agents", "pos-2", R"({"lag":12})");
  ASSERT_TRUE(b.ok());
  EXPECT_TRUE(absl::IsAlreadyExists(c->Register("agents", "pos-1", "{}").status()));
  ASSERT_TRUE((*a)->Update(R"({"lag":5})").ok());
  auto members = c->Members("agents");
  ASSERT_TRUE(members.ok());
  ASSERT_EQ(members->size(), 2u);
  EXPECT_EQ((*members)[0].id, "pos-1");
  EXPECT_EQ((*members)[0].payload, R"({"lag":5})");
  EXPECT_EQ((*members)[1].payload, R"({"lag":12})");
  b->reset();
  members = c->Members("agents");
  ASSERT_EQ(members->size(), 1u);
  ASSERT_TRUE(other->CompareAndSet("jobs/nightly/last-value", "v", kNoVersion).ok());
  for (int i = 0; i < 50 && (group_changes == 0 || key_changes == 0); ++i) std::this_thread::sleep_for(milliseconds(100));
  EXPECT_GT(group_changes.load(), 0);
  EXPECT_GT(key_changes.load(), 0);
}

TEST(Coord, BadUrisAndNamesAreClearErrors) {
  EXPECT_EQ(OpenCoordinator("etcd://x").status().message(),
            "'etcd://x' is not a coordination URI: use local:///dir or zk://host:port[,host:port]/chroot");
  auto c = OpenCoordinator("zk://127.0.0.1:1/x", std::chrono::milliseconds(500));
  EXPECT_TRUE(absl::IsUnavailable(c.status())) << c.status();
  std::string dir = testing::TempDir("coord-names");
  auto local = OpenCoordinator("local://" + dir);
  ASSERT_TRUE(local.ok());
  EXPECT_EQ((*local)->Acquire("a b", "x", milliseconds(0)).status().message(),
            "'a b' is not a coordination name: use letters, digits, '-', '_', '.', '/'");
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Backends, CoordContract, ::testing::Values("local", "zk"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

}  // namespace
}  // namespace comptoir::coord
