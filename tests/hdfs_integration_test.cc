// The lake on a real HDFS (NameNode + DataNode from scripts/stack) through
// WebHDFS, checked with Hadoop's own shell (org.apache.hadoop.fs.FsShell).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <set>
#include <fstream>

#include "cli_runner.h"
#include "comptoir/lake/storage.h"
#include "comptoir/lake/webhdfs.h"

namespace comptoir {
namespace {

using testing::CliResult;
using testing::RunCli;

bool Has(const std::string& s, const std::string& n) { return s.find(n) != std::string::npos; }

using testing::Slurp;

class Hdfs : public ::testing::Test {
 protected:
  void SetUp() override {
    webhdfs_ = testing::ServiceEnv("COMPTOIR_TEST_WEBHDFS");
    classpath_ = testing::ServiceEnv("COMPTOIR_TEST_HADOOP_CLASSPATH");
    if (webhdfs_.empty() || classpath_.empty()) GTEST_SKIP() << "no HDFS (run `make test`)";
    dir_ = testing::TempDir("hdfs");
    root_ = "/it-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name();
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
    if (!webhdfs_.empty()) RunCli({"lake", "--lake", webhdfs_, "rm", "-r", root_});
  }
  // Hadoop's own `hdfs dfs ARGS`; returns stdout.
  std::string HdfsDfs(const std::string& args, int* exit_code = nullptr) {
    std::string out = dir_ + "/fsshell.out";
    // Hadoop logs to stdout by default; keep stdout for the data.
    std::string props = dir_ + "/log4j.properties";
    std::ofstream(props) << "log4j.rootLogger=ERROR, err\n"
                            "log4j.appender.err=org.apache.log4j.ConsoleAppender\n"
                            "log4j.appender.err.Target=System.err\n"
                            "log4j.appender.err.layout=org.apache.log4j.PatternLayout\n";
    std::string cmd = "HADOOP_USER_NAME=comptoir java -Xmx256m -Dlog4j.configuration=file:" +
                      props + " -cp " +
                      testing::ShellQuote(classpath_) + " org.apache.hadoop.fs.FsShell " + args +
                      " >" + out + " 2>" + dir_ + "/fsshell.err";
    int rc = std::system(cmd.c_str());
    if (exit_code != nullptr) *exit_code = WEXITSTATUS(rc);
    return Slurp(out);
  }
  std::string webhdfs_, classpath_, dir_, root_;
};

TEST_F(Hdfs, ImportToHdfsMatchesFileLakeByteForByteInHadoopsShell) {
  std::string db = "sqlite://" + dir_ + "/erp.db";
  ASSERT_EQ(RunCli({"seed", "--connect", db, "--rows", "20000", "--seed", "9"}).exit_code, 0);
  std::string target = root_ + "/user/sqoop/sales";
  CliResult h = RunCli({"--hdfs-user", "comptoir", "import", "--connect", db, "--table", "sales",
                        "-m", "2", "--lake", webhdfs_, "--target-dir", target, "--validate"});
  ASSERT_EQ(h.exit_code, 0) << h.err;
  EXPECT_TRUE(Has(h.out, "Imported 20,000 rows")) << h.out;
  CliResult f = RunCli({"import", "--connect", db, "--table", "sales", "-m", "2", "--lake",
                        dir_ + "/lake", "--target-dir", "/sales"});
  ASSERT_EQ(f.exit_code, 0) << f.err;

  std::string ls = HdfsDfs("-ls " + target);
  for (const char* name : {"/_SUCCESS", "/_schema.json", "/part-m-00000", "/part-m-00001"}) {
    EXPECT_TRUE(Has(ls, target + name)) << ls;
  }
  EXPECT_FALSE(Has(ls, "_temporary")) << ls;
  EXPECT_TRUE(Has(ls, " comptoir ")) << "files belong to --hdfs-user: " << ls;
  for (const char* part : {"part-m-00000", "part-m-00001"}) {
    std::string hdfs_bytes = HdfsDfs("-cat " + target + "/" + part);
    std::string local_bytes = Slurp(dir_ + "/lake/sales/" + part);
    ASSERT_GT(local_bytes.size(), 100000u);
    EXPECT_TRUE(hdfs_bytes == local_bytes) << part << ": " << hdfs_bytes.size() << " vs "
                                           << local_bytes.size() << " bytes";
  }
  // An existing target is refused on HDFS too, and the data stays.
  CliResult again = RunCli({"import", "--connect", db, "--table", "sales", "--lake", webhdfs_,
                            "--target-dir", target});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_TRUE(Has(again.err, "already exists in " + webhdfs_)) << again.err;
  // Replacing it is atomic: the new dataset, nothing left over.
  CliResult replace = RunCli({"import", "--connect", db, "--table", "sales", "-m", "3", "--lake",
                              webhdfs_, "--target-dir", target, "--delete-target-dir", "-z"});
  ASSERT_EQ(replace.exit_code, 0) << replace.err;
  std::string after = HdfsDfs("-ls " + target);
  EXPECT_TRUE(Has(after, target + "/part-m-00002.gz")) << after;
  EXPECT_FALSE(Has(after, target + "/part-m-00000\n")) << after;
  CliResult cat = RunCli({"lake", "--lake", webhdfs_, "cat", target});
  EXPECT_EQ(std::count(cat.out.begin(), cat.out.end(), '\n'), 20000);
}

TEST_F(Hdfs, LakeCommandsAndLargeFileRoundTripWithBoundedMemory) {
  // A 2 GB file (COMPTOIR_TEST_HDFS_BIG_MB to change) through put and get.
  const char* mb_env = std::getenv("COMPTOIR_TEST_HDFS_BIG_MB");
  int mb = mb_env != nullptr ? std::atoi(mb_env) : 2048;
  std::string big = dir_ + "/big.bin";
  ASSERT_EQ(std::system(("head -c " + std::to_string(mb) + "M /dev/urandom > " + big).c_str()), 0);
  std::string path = root_ + "/blobs/big.bin";
  std::string rss_put = dir_ + "/rss_put";
  CliResult put = RunCli({"lake", "--lake", webhdfs_, "put", big, path},
                         "/usr/bin/time -f %M -o " + rss_put);
  ASSERT_EQ(put.exit_code, 0) << put.err;
  std::string ls = HdfsDfs("-ls " + root_ + "/blobs");
  EXPECT_TRUE(Has(ls, std::to_string(static_cast<uint64_t>(mb) << 20))) << ls;
  EXPECT_FALSE(Has(ls, "_COPYING_")) << ls;
  std::string rss_get = dir_ + "/rss_get";
  CliResult get = RunCli({"lake", "--lake", webhdfs_, "get", path, dir_ + "/back.bin"},
                         "/usr/bin/time -f %M -o " + rss_get);
  ASSERT_EQ(get.exit_code, 0) << get.err;
  EXPECT_EQ(std::system(("cmp -s " + big + " " + dir_ + "/back.bin").c_str()), 0)
      << "the file came back different";
  for (const std::string& f : {rss_put, rss_get}) {
    long kb = std::atol(Slurp(f).c_str());
    EXPECT_GT(kb, 0);
    EXPECT_LT(kb, 100 * 1024) << f << ": peak RSS " << kb << " KB";
  }
  CliResult du = RunCli({"lake", "--lake", webhdfs_, "du", "-s", root_});
  EXPECT_TRUE(Has(du.out, std::to_string(static_cast<uint64_t>(mb) << 20) + "  " + root_)) << du.out;
  ASSERT_EQ(RunCli({"lake", "--lake", webhdfs_, "mkdir", root_ + "/empty"}).exit_code, 0);
  CliResult rm = RunCli({"lake", "--lake", webhdfs_, "rm", root_ + "/blobs"});
  EXPECT_EQ(rm.exit_code, 1);
  EXPECT_TRUE(Has(rm.err, "is non empty")) << rm.err;
  EXPECT_EQ(RunCli({"lake", "--lake", webhdfs_, "rm", "-r", root_ + "/blobs"}).exit_code, 0);
  int code = 0;
  HdfsDfs("-test -e " + path, &code);
  EXPECT_EQ(code, 1) << "deleted file still exists";
  CliResult missing = RunCli({"lake", "--lake", webhdfs_, "cat", path});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_TRUE(Has(missing.err, "File does not exist: " + path)) << missing.err;
}

TEST_F(Hdfs, CreateOptionsReachHdfs) {
  lake::RegisterWebHdfsStorage();
  auto fs = lake::OpenStorage(webhdfs_ + "?user=comptoir");
  ASSERT_TRUE(fs.ok()) << fs.status();
  lake::CreateOptions o;
  o.replication = 1;
  o.block_size = 2 << 20;
  o.permission = 0640;
  std::string path = root_ + "/opts/f.txt";
  ASSERT_TRUE(lake::WriteStringToFile(fs->get(), path, "hello", o).ok());
  EXPECT_EQ(HdfsDfs("-stat '%r %o %a %b' " + path), "1 2097152 640 5\n");
}

TEST_F(Hdfs, UnreachableNameNodeIsAClearError) {
  auto t0 = std::chrono::steady_clock::now();
  CliResult r = RunCli({"lake", "--lake", "webhdfs://127.0.0.1:1", "ls", "/"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Has(r.err, "stat / in webhdfs://127.0.0.1:1: Couldn't connect to server (is the "
                         "NameNode/DataNode running and reachable?) (gave up after"))
      << r.err;
  // Retries stop at the deadline (10 s by default).
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(30));
}

TEST_F(Hdfs, AgentRotationsReachHdfsByteIdenticalAndExactlyOnce) {
  // Rename + create, copytruncate and a partial last line, tailed into the
  // real HDFS; read back with Hadoop's own shell.
  std::string logs = dir_ + "/logs";
  std::filesystem::create_directories(logs);
  auto line = [](int i) {
    return "2026-11-28 11:00:" + std::string(i % 60 < 10 ? "0" : "") + std::to_string(i % 60) +
           ",000 INFO sale order=" + std::to_string(20000 + i) + "\n";
  };
  std::string first, second, third;
  for (int i = 0; i < 3000; ++i) first += line(i);
  for (int i = 3000; i < 4000; ++i) second += line(i);
  for (int i = 4000; i < 4500; ++i) third += line(i);
  std::vector<std::string> args = {"agent", "-q", "--source", logs + "/*.log", "--lake", webhdfs_,
                                   "--target-dir", root_ + "/logs/%Y-%m-%d", "--state-dir",
                                   dir_ + "/state", "--once"};
  std::ofstream(logs + "/app.log", std::ios::binary) << first;
  ASSERT_EQ(RunCli(args).exit_code, 0);
  std::filesystem::rename(logs + "/app.log", logs + "/app.log.1");  // rename + create
  std::ofstream(logs + "/app.log", std::ios::binary) << second << "2026-11-28 11:59:59,000 INFO half";
  ASSERT_EQ(RunCli(args).exit_code, 0);
  std::filesystem::resize_file(logs + "/app.log", 0);  // copytruncate (the copy is not tailed)
  std::ofstream(logs + "/app.log", std::ios::binary | std::ios::app) << third;
  CliResult last = RunCli(args);
  ASSERT_EQ(last.exit_code, 0) << last.err;
  CliResult cat = RunCli({"lake", "--lake", webhdfs_, "ls", "-R", root_ + "/logs"});
  ASSERT_EQ(cat.exit_code, 0) << cat.err;
  std::map<std::string, std::map<uint64_t, std::string>> by_id;
  for (std::string_view l : Split(cat.out, '\n', true)) {
    std::string path(l.substr(l.find('/')));
    std::string name = path.substr(path.rfind('/') + 1);
    if (name.find('.') == std::string::npos || name.starts_with("2026")) continue;
    ASSERT_FALSE(name.starts_with(".")) << "temporary left: " << path;
    std::vector<std::string_view> parts = Split(name, '.', false);
    if (parts.size() < 3) continue;
    std::string_view range = parts.back();
    CliResult data = RunCli({"lake", "--lake", webhdfs_, "cat", path});
    ASSERT_EQ(data.exit_code, 0) << data.err;
    by_id[std::string(parts[parts.size() - 2])][std::stoull(std::string(range.substr(0, range.find('-'))))] =
        data.out;
  }
  std::multiset<std::string> got;
  for (auto& [id, files] : by_id) {
    std::string all;
    for (auto& [start, data] : files) all += data;
    got.insert(all);
  }
  // The unterminated half line was not in the lake when the file was truncated
  // while no agent ran: it lives only in the copy copytruncate made.
  std::multiset<std::string> want = {first, second, third};
  EXPECT_TRUE(got == want) << "published " << got.size() << " files of sizes "
                           << [&] {
                                std::string sizes;
                                for (const auto& g : got) sizes += std::to_string(g.size()) + " ";
                                return sizes;
                              }()
                           << "; want " << first.size() << " " << second.size() << " " << third.size();
}

}  // namespace
}  // namespace comptoir
