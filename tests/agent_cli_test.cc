// `comptoir agent` end to end: killed with SIGKILL 20 times while a writer
// appends 1,000,000 lines with rotations, every line reaches the lake
// exactly once, byte-identical, in order per source file.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "cli_runner.h"
#include "comptoir/core/strings.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"

namespace comptoir {
namespace {

namespace fs = std::filesystem;
using testing::CliResult;
using testing::RunCli;

using testing::Slurp;

// Published files of a lake, read through `comptoir lake` (file:// and HDFS alike):
// source id -> first byte -> (end byte, content).
// Files under <root>/_rejects/ (quality quarantine) go to `rejects` instead.
std::map<std::string, std::map<uint64_t, std::pair<uint64_t, std::string>>> Published(
    const std::string& lake, const std::string& root, std::vector<std::string>* rejects = nullptr) {
  std::map<std::string, std::map<uint64_t, std::pair<uint64_t, std::string>>> by_id;
  CliResult ls = RunCli({"lake", "--lake", lake, "ls", "-R", root});
  EXPECT_EQ(ls.exit_code, 0) << ls.err;
  for (std::string_view l : Split(ls.out, '\n', true)) {
    if (!l.starts_with("-")) continue;  // files only
    std::string path(l.substr(l.find('/')));
    std::string name = path.substr(path.rfind('/') + 1);
    EXPECT_FALSE(name.starts_with(".")) << "temporary left: " << path;
    if (path.find("/_quality/") != std::string::npos) continue;  // the quality history
    if (path.find("/_rejects/") != std::string::npos) {
      EXPECT_NE(rejects, nullptr) << "rejects without rules: " << path;
      if (rejects != nullptr) rejects->push_back(RunCli({"lake", "--lake", lake, "cat", path}).out);
      continue;
    }
    std::vector<std::string_view> parts = Split(name, '.', false);
    std::string_view range = parts.back();
    uint64_t start = std::stoull(std::string(range.substr(0, range.find('-'))));
    uint64_t end = std::stoull(std::string(range.substr(range.find('-') + 1)));
    auto& files = by_id[std::string(parts[parts.size() - 2])];
    EXPECT_EQ(files.count(start), 0u) << "duplicate range " << name;
    CliResult data = RunCli({"lake", "--lake", lake, "cat", path});
    EXPECT_EQ(data.exit_code, 0) << data.err;
    files[start] = {end, data.out};
  }
  return by_id;
}

class AgentKill : public ::testing::TestWithParam<std::string> {
 protected:
  void Run(bool rules);
};

TEST_P(AgentKill, TwentyKillNinesWhileAWriterRotatesLeaveEveryLineExactlyOnce) { Run(false); }

// The same with a quality rule rejecting a tenth of the lines: every line is
// in the dataset or in quarantine, exactly once.
TEST_P(AgentKill, WithQualityRulesEveryLineIsInTheDatasetOrInQuarantineExactlyOnce) {
  if (GetParam() != "file") GTEST_SKIP() << "the rules' path is the same on every lake; file:// covers it";
  Run(true);
}

void AgentKill::Run(bool rules) {
  std::string dir = testing::TempDir("agent-kill");
  fs::create_directories(dir + "/logs");
  std::string lake = dir + "/lake";
  std::string root = "/user/flume/logs";
  // file://: 1,000,000 lines; the real HDFS: 200,000 (each roll is a few round trips).
  int kLines = 1000000;
  if (GetParam() == "hdfs") {
    lake = testing::ServiceEnv("COMPTOIR_TEST_WEBHDFS");
    if (lake.empty()) GTEST_SKIP() << "no HDFS (run `make test`)";
    root = fmt::format("/it-agent-kill-{}", getpid());
    kLines = 200000;
  } else if (GetParam() == "s3") {  // an object store: rolls published by copy, no rename
    lake = testing::ServiceEnv("COMPTOIR_TEST_S3");
    if (lake.empty()) GTEST_SKIP() << "no S3 server (run `make test`)";
    lake += fmt::format("/it-agent-kill-{}", getpid());
    kLines = 200000;
  }
  const int kRotateEvery = kLines / 8;
  std::atomic<bool> done{false};
  // Per line: 1M lines in about 20 s (file://), 200k in about 20 s (HDFS):
  // a generation lives about 2.5 s.
  auto pace = std::chrono::microseconds(GetParam() == "file" ? 20 : 100);
  // The writer: the reference app's Python logging layout, rename + create
  // rotation (app.log -> app.log.N), about 50k lines per second.
  std::thread writer([&] {
    std::ofstream out(dir + "/logs/app.log", std::ios::app | std::ios::binary);
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < kLines; ++i) {
      if (i > 0 && i % kRotateEvery == 0) {
        out.close();
        fs::rename(dir + "/logs/app.log", fmt::format("{}/logs/app.log.{}", dir, i / kRotateEvery));
        out.open(dir + "/logs/app.log", std::ios::app | std::ios::binary);
      }
      out << fmt::format("2026-11-28 10:{:02d}:{:02d},{:03d} INFO sale order={} amount={}.{:02d}\n",
                         i / 60000 % 60, i / 1000 % 60, i % 1000, 100000 + i, i % 9973, i % 100);
      if (i % 1000 == 999) {
        out.flush();
        std::this_thread::sleep_until(t0 + pace * i);
      }
    }
    out.close();
    done = true;
  });
  std::vector<std::string> args = {"agent", "-q", "--source", dir + "/logs/*.log", "--lake",
                                   lake, "--target-dir", root + "/%Y-%m-%d", "--state-dir",
                                   dir + "/state", "--roll-size", "512KiB", "--roll-interval", "300ms"};
  if (rules) {  // amounts whose whole part ends in 9 are rejected
    std::ofstream(dir + "/comptoir.toml") << "[[quality.rule]]\ndataset = \"" << root << "\"\ncolumn = \"message\"\n"
                                          << "check = \"regex\"\npattern = 'sale order=\\d+ amount=\\d*[0-8]\\.\\d\\d'\n"
                                          << "action = \"reject\"\n";
    args.insert(args.begin(), {"--config", dir + "/comptoir.toml"});
  }
  std::mt19937 rng(20);
  // At least 20 kills, and an agent running (between kills) for as long as the
  // writer writes: a file rotated away while no agent runs is never seen.
  std::uniform_int_distribution<int> ms(300, 700);
  for (int k = 0; k < 20 || !done; ++k) {
    const auto started = fs::file_time_type::clock::now();
    int pid = testing::StartCli(args, dir + "/agent.log");
    ASSERT_GT(pid, 0);
    // Killed at a random moment of its work, once it has begun (its first step
    // writes status.json): on a loaded machine, agents killed while still
    // starting could let a whole generation rotate away unseen.
    for (int w = 0; w < 400; ++w) {
      std::error_code ec;
      auto t = fs::last_write_time(dir + "/state/status.json", ec);
      if (!ec && t >= started) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(ms(rng)));
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    int st = 0;
    waitpid(pid, &st, 0);
    ASSERT_TRUE(WIFSIGNALED(st)) << "agent run " << k << " ended by itself: " << Slurp(dir + "/agent.log");
  }
  writer.join();
  ASSERT_TRUE(done);
  std::vector<std::string> last = args;
  last.push_back("--once");
  CliResult fin = RunCli(last);
  ASSERT_EQ(fin.exit_code, 0) << fin.err << fin.out;

  // Source files: app.log.1 .. app.log.7 and app.log.
  std::multiset<std::string> sources;
  for (const auto& e : fs::directory_iterator(dir + "/logs")) sources.insert(Slurp(e.path()));
  ASSERT_EQ(sources.size(), 8u);
  // Lake: per source generation, the files in offset order, contiguous.
  std::multiset<std::string> published;
  std::vector<std::string> rejects;
  for (const auto& [id, files] : Published(lake, root, rules ? &rejects : nullptr)) {
    std::string data;
    uint64_t next = 0;
    for (const auto& [start, f] : files) {
      EXPECT_EQ(start, next) << "gap or overlap in " << id;
      next = f.first;
      data += f.second;
    }
    published.insert(data);
  }
  auto sizes = [](const std::multiset<std::string>& m) {
    std::string out;
    for (const auto& x : m) out += std::to_string(x.size()) + " ";
    return out;
  };
  if (rules) {
    // Every source line once: in a published file or, as a reject's raw record, in quarantine.
    std::multiset<std::string> want, got;
    for (const std::string& f : sources) {
      for (std::string_view l : Split(f, '\n', true)) want.emplace(l);
    }
    for (const std::string& f : published) {
      for (std::string_view l : Split(f, '\n', true)) got.emplace(l);
    }
    size_t quarantined = 0;
    for (const std::string& f : rejects) {
      for (std::string_view l : Split(f, '\n', true)) {
        auto j = nlohmann::json::parse(l);
        got.insert(j["raw"].get<std::string>());
        ++quarantined;
      }
    }
    EXPECT_GT(quarantined, static_cast<size_t>(kLines / 20)) << "about a tenth of the lines";
    EXPECT_EQ(got.size(), want.size());
    EXPECT_TRUE(got == want) << "lines lost or duplicated between the dataset and quarantine";
  } else {
    EXPECT_EQ(published.size(), sources.size());
    EXPECT_TRUE(published == sources) << "the lake differs from the files: sources "
                                      << sizes(sources) << "; published " << sizes(published);
  }
  CliResult status = RunCli({"agent", "status", "--state-dir", dir + "/state", "--json"});
  EXPECT_EQ(status.exit_code, 0) << status.err;
  if (GetParam() != "file") RunCli({"lake", "--lake", lake, "rm", "-r", root});
  if (!::testing::Test::HasFailure()) fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Lakes, AgentKill, ::testing::Values("file", "hdfs", "s3"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

TEST(AgentCli, TheReferenceFlumeConfRunsAsIs) {
  std::string dir = testing::TempDir("agent-flume");
  fs::create_directories(dir + "/app/logs");
  std::string lines;
  for (int i = 0; i < 5000; ++i) {
    lines += fmt::format("2026-11-28 10:00:{:02d},{:03d} INFO sale order={} amount=12.50\n", i % 60, i % 1000, i);
  }
  lines += "2026-11-28 10:01:00,000 ERROR payment gateway timeout\nTraceback (most recent call last):\n";
  {
    std::ofstream out(dir + "/app/logs/app.log", std::ios::binary);
    out << lines;
  }
  {
    std::ofstream conf(dir + "/flume.conf");
    conf << "agent.sources = r1\nagent.sinks = k1\nagent.channels = c1\n"
         << "agent.sources.r1.type = exec\nagent.sources.r1.command = tail -F " << dir << "/app/logs/app.log\n"
         << "agent.sources.r1.channels = c1\nagent.channels.c1.type = memory\n"
         << "agent.channels.c1.capacity = 1000\nagent.sinks.k1.type = hdfs\nagent.sinks.k1.channel = c1\n"
         << "agent.sinks.k1.hdfs.path = hdfs://namenode:9000/user/flume/logs/%Y-%m-%d\n"
         << "agent.sinks.k1.hdfs.fileType = DataStream\nagent.sinks.k1.hdfs.rollInterval = 30\n"
         << "agent.sinks.k1.hdfs.rollSize = 0\nagent.sinks.k1.hdfs.rollCount = 0\n"
         << "agent.sinks.k1.hdfs.useLocalTimeStamp = true\n";
  }
  CliResult printed = RunCli({"agent", "--flume-conf", dir + "/flume.conf", "--name", "agent", "--print-config"});
  ASSERT_EQ(printed.exit_code, 0) << printed.err;
  EXPECT_NE(printed.out.find("target_dir = \"/user/flume/logs/%Y-%m-%d\""), std::string::npos) << printed.out;
  EXPECT_NE(printed.out.find("roll_interval = \"30s\""), std::string::npos) << printed.out;
  EXPECT_NE(printed.err.find("not honoured: agent.channels.c1.capacity = 1000"), std::string::npos) << printed.err;

  CliResult run = RunCli({"agent", "-q", "--flume-conf", dir + "/flume.conf", "--name", "agent", "--lake",
                          dir + "/lake", "--state-dir", dir + "/state", "--once"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  std::time_t now = std::time(nullptr);
  char day[16];
  std::strftime(day, sizeof(day), "%Y-%m-%d", std::gmtime(&now));
  std::string published;
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir + "/lake/user/flume/logs/" + day)) {
    EXPECT_TRUE(e.path().filename().string().starts_with("FlumeData.")) << e.path();
    published += Slurp(e.path());
    ++files;
  }
  EXPECT_EQ(files, 1);
  EXPECT_EQ(published, lines);
  fs::remove_all(dir);
}

TEST(AgentCli, CompactMergesAClosedDayAndSaysWhatItDid) {
  std::string dir = testing::TempDir("agent-compact");
  fs::create_directories(dir + "/logs");
  std::string all;
  for (int round = 0; round < 3; ++round) {  // three runs: three small files
    std::string lines;
    for (int i = 0; i < 100; ++i) {
      lines += fmt::format("2026-11-27 10:{:02d}:{:02d},000 INFO sale order={}\n", round, i % 60, round * 100 + i);
    }
    std::ofstream(dir + "/logs/app.log", std::ios::app | std::ios::binary) << lines;
    all += lines;
    CliResult run = RunCli({"agent", "-q", "--source", dir + "/logs/*.log", "--lake", dir + "/lake",
                            "--state-dir", dir + "/state", "--once"});
    ASSERT_EQ(run.exit_code, 0) << run.err;
  }
  const std::string day = dir + "/lake/user/flume/logs/2026-11-27";
  ASSERT_EQ(std::distance(fs::directory_iterator(day), {}), 3);
  CliResult open_day = RunCli({"agent", "compact", "--lake", dir + "/lake", "/user/flume/logs"});
  ASSERT_EQ(open_day.exit_code, 0) << open_day.err;
  EXPECT_NE(open_day.out.find("compact: 0 files (0 bytes) merged into 0 files"), std::string::npos) << open_day.out;
  CliResult dry = RunCli({"agent", "compact", "--lake", dir + "/lake", "--min-age", "0s", "--dry-run", "/user/flume/logs"});
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_NE(dry.out.find("would merge 3 files"), std::string::npos) << dry.out;
  ASSERT_EQ(std::distance(fs::directory_iterator(day), {}), 3);
  CliResult done = RunCli({"agent", "compact", "--lake", dir + "/lake", "--min-age", "0s", "/user/flume/logs"});
  ASSERT_EQ(done.exit_code, 0) << done.err;
  EXPECT_NE(done.out.find("merged 3 files (13,090 bytes) -> /user/flume/logs/2026-11-27/compacted-00001"),
            std::string::npos) << done.out;
  ASSERT_EQ(all.size(), 13090u);
  EXPECT_EQ(Slurp(day + "/compacted-00001"), all);
  CliResult bad = RunCli({"agent", "compact", "--lake", dir + "/lake", "--min-age", "soon", "/user/flume/logs"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("soon"), std::string::npos) << bad.err;
  fs::remove_all(dir);
}

}  // namespace
}  // namespace comptoir
