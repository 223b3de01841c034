// Saved jobs: the typed job file, its damages, and ExecJob's lease, last value
// and run record, on the local coordination backend.
#include "comptoir/importer/jobs.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "comptoir/core/files.h"

namespace comptoir::importer {
namespace {

namespace fs = std::filesystem;

class JobsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/jobs-" + std::to_string(getpid()) + "-" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(dir_);
    auto c = coord::OpenCoordinator("local://" + dir_ + "/coord");
    ASSERT_TRUE(c.ok());
    coord_ = *std::move(c);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string dir_;
  std::unique_ptr<coord::Coordinator> coord_;
};

TEST_F(JobsTest, ExecPassesTheLastValueAdvancesItAndRecordsEachRun) {
  JobStore store(dir_ + "/jobs");
  ASSERT_TRUE(store.Create("nightly", {"import", "--table", "sales", "--incremental", "append"}).ok());
  EXPECT_EQ(store.Create("nightly", {"import"}).status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(store.Create("bad name", {"import"}).status().message(),
            "job name \"bad name\" may use letters, digits, '_', '-' and '.' only");
  std::vector<std::vector<std::string>> seen;
  auto run = [&](std::optional<std::string> next) {
    return ExecJob(store, "nightly", coord_.get(), std::chrono::milliseconds(0),
                   [&](const std::vector<std::string>& args) -> StatusOr<ImportRun> {
                     seen.push_back(args);
                     if (!next) return absl::UnavailableError("database down");
                     return ImportRun{100, 0.5, next};
                   });
  };
  ASSERT_TRUE(run("10").ok());
  ASSERT_FALSE(run(std::nullopt).ok());
  ASSERT_TRUE(run("25").ok());
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0], (std::vector<std::string>{"--table", "sales", "--incremental", "append"}));
  EXPECT_EQ(seen[1].back(), "10");  // --last-value 10
  EXPECT_EQ(seen[2].back(), "10");  // the failed run did not advance it
  auto job = store.Load("nightly");
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->last_value, "25");
  ASSERT_TRUE(job->last_run && job->last_run->ok);
  EXPECT_EQ(job->last_run->rows, 100);
  EXPECT_GT(job->last_run->finished_at, 1'000'000'000);
  // The failure is recorded with its error, the last success kept.
  ASSERT_FALSE(run(std::nullopt).ok());
  job = store.Load("nightly");
  ASSERT_TRUE(job->last_run && !job->last_run->ok);
  EXPECT_EQ(job->last_run->error, "database down");
  ASSERT_TRUE(job->last_success && job->last_success->ok);
  EXPECT_EQ(job->last_value, "25");
}

TEST_F(JobsTest, ASecondRunnerWaitsForTheLeaseOrFailsNamingTheHolder) {
  JobStore store(dir_ + "/jobs");
  ASSERT_TRUE(store.Create("j", {"import"}).ok());
  Status inner;
  auto outer = ExecJob(store, "j", coord_.get(), std::chrono::milliseconds(0), [&](const auto&) -> StatusOr<ImportRun> {
    inner = ExecJob(store, "j", coord_.get(), std::chrono::milliseconds(0),
                    [](const auto&) -> StatusOr<ImportRun> { return ImportRun{}; })
                .status();
    return ImportRun{};
  });
  ASSERT_TRUE(outer.ok());
  EXPECT_EQ(inner.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(std::string(inner.message()).starts_with("job j is already running: ")) << inner.message();
}

// The six ways a person or a crash damages a file; every one is a clear
// error naming the file, and nothing overwrites it.
TEST_F(JobsTest, EveryDamagedJobFileIsAClearErrorAndIsLeftAsItIs) {
  JobStore store(dir_ + "/jobs");
  ASSERT_TRUE(store.Create("j", {"import", "--table", "t"}).ok());
  std::string path = store.PathOf("j");
  auto good = core::ReadFile(path);
  ASSERT_TRUE(good.ok());
  struct Case {
    std::string text, what;
  } cases[] = {
      {"", "it is empty"},
      {good->substr(0, good->size() / 2), "it is not valid JSON"},
      {std::string("\x89\x01\xff\xfe garbage", 12), "it is not valid JSON"},
      {R"({"name": "j", "args": 5})", "\"args\" must be an array of strings (the saved command), not number"},
      {"[\"import\"]", "it holds array instead of an object"},
      {std::string("\0\0\0\0", 4), "it is not valid JSON"},
      {R"({"args": ["import"], "last_run": {"result": "ok", "rows": "many"}})",
       "\"last_run.rows\" must be a number, not string"},
  };
  for (const Case& c : cases) {
    { std::ofstream(path, std::ios::binary | std::ios::trunc) << c.text; }
    auto job = store.Load("j");
    ASSERT_FALSE(job.ok()) << c.what;
    EXPECT_EQ(job.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_EQ(job.status().message(), "job file " + path + " is damaged: " + c.what +
                                          "; fix it, or delete it (comptoir job --delete j) and create the job again");
    auto exec = ExecJob(store, "j", coord_.get(), std::chrono::milliseconds(0),
                        [](const auto&) -> StatusOr<ImportRun> { return ImportRun{}; });
    EXPECT_EQ(exec.status().message(), job.status().message());
    EXPECT_EQ(*core::ReadFile(path), c.text);  // never rewritten with a guess
  }
  EXPECT_EQ(store.List(), std::vector<std::string>{"j"});
}

}  // namespace
}  // namespace comptoir::importer
