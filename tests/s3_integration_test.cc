// The lake on a real S3 server (versitygw from scripts/stack), checked with
// independent clients: the AWS CLI and boto3 (PyPI, in the stack's venv).
#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <fstream>
#include <algorithm>
#include <thread>

#include "cli_runner.h"
#include "comptoir/lake/publish.h"
#include "comptoir/lake/storage.h"

namespace comptoir {
namespace {

using testing::CliResult;
using testing::RunCli;
using testing::Shell;
using testing::ShellQuote;
using testing::Slurp;

bool Has(const std::string& s, const std::string& n) { return s.find(n) != std::string::npos; }

int Lines(const std::string& s) { return static_cast<int>(std::count(s.begin(), s.end(), '\n')); }

class S3 : public ::testing::Test {
 protected:
  void SetUp() override {
    bucket_uri_ = testing::ServiceEnv("COMPTOIR_TEST_S3");
    python_ = testing::ServiceEnv("COMPTOIR_TEST_S3_PYTHON");
    aws_ = testing::ServiceEnv("COMPTOIR_TEST_AWS_CLI");
    if (bucket_uri_.empty() || python_.empty() || aws_.empty()) GTEST_SKIP() << "no S3 server (run `make test`)";
    lake::RegisterBuiltinStorages();
    dir_ = testing::TempDir("s3");
    prefix_ = "it-" + std::to_string(getpid()) + "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    lake_ = bucket_uri_ + "/" + prefix_;
  }
  void TearDown() override {
    if (!lake_.empty()) Shell(aws_ + " s3 rm --quiet --recursive " + ShellQuote(lake_ + "/") + " 2>&1");
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  // Unfinished multipart uploads under the test's prefix, as boto3 lists them.
  int Uploads(const std::string& env = "") {
    std::string script = dir_ + "/uploads.py";
    std::ofstream(script) << "import boto3, sys\n"
                             "s3 = boto3.client('s3')\n"
                             "b, p = sys.argv[1], sys.argv[2]\n"
                             "print(len(s3.list_multipart_uploads(Bucket=b, Prefix=p).get('Uploads', [])))\n";
    std::string bucket = bucket_uri_.substr(5);
    std::string out = Shell(env + " " + python_ + " " + script + " " + ShellQuote(bucket) + " " + ShellQuote(prefix_ + "/"));
    return out.empty() ? -1 : std::stoi(out);
  }
  // The visible names of a dataset directory of the lake, as `lake ls` shows them.
  std::string Ls(const std::string& path, const std::string& env = "") {
    return RunCli({"lake", "--lake", lake_, "ls", path}, env).out;
  }
  std::string Seed(int rows) {
    std::string db = "sqlite://" + dir_ + "/erp.db";
    CliResult s = RunCli({"seed", "--connect", db, "--rows", std::to_string(rows), "--seed", "3"});
    EXPECT_EQ(s.exit_code, 0) << s.err;
    return db;
  }
  std::string bucket_uri_, python_, aws_, dir_, prefix_, lake_;
};

TEST_F(S3, ImportOfTheRealSampleIsByteIdenticalToAFileImportReadBackByTheAwsCli) {
  std::string db = "sqlite://" + dir_ + "/erp.db";
  CliResult seed = RunCli({"seed", "--connect", db, "--table", "sales", "--drop", "--from-csv",
                           testing::SharedData() + "/sales_data_sample.csv", "--encoding", "latin1"});
  ASSERT_EQ(seed.exit_code, 0) << seed.err;
  CliResult s3 = RunCli({"import", "--connect", db, "--table", "sales", "-m", "4", "--lake", lake_, "--target-dir",
                         "/user/sqoop/sales", "--validate"});
  ASSERT_EQ(s3.exit_code, 0) << s3.err;
  EXPECT_TRUE(Has(s3.out, "Imported 2,823 rows")) << s3.out;
  CliResult file = RunCli({"import", "--connect", db, "--table", "sales", "-m", "4", "--lake", dir_ + "/lake",
                           "--target-dir", "/user/sqoop/sales"});
  ASSERT_EQ(file.exit_code, 0) << file.err;

  std::string back = dir_ + "/back";
  std::string cp = Shell(aws_ + " s3 cp --recursive --only-show-errors " + ShellQuote(lake_ + "/user/sqoop/sales/") +
                         " " + back + " 2>&1");
  EXPECT_EQ(cp, "");
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(back)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"_SUCCESS", "_schema.json", "part-m-00000", "part-m-00001",
                                             "part-m-00002", "part-m-00003"}));
  for (const std::string& n : names) {
    std::string want = Slurp(dir_ + "/lake/user/sqoop/sales/" + n);
    EXPECT_EQ(Slurp(back + "/" + n), want) << n << " differs between s3:// and file://";
    if (n.starts_with("part-")) {
      EXPECT_GT(want.size(), 100000u);
    }
  }
  EXPECT_EQ(Uploads(), 0);

  // The lake commands on s3://.
  CliResult cat = RunCli({"lake", "--lake", lake_, "cat", "/user/sqoop/sales"});
  ASSERT_EQ(cat.exit_code, 0) << cat.err;
  EXPECT_EQ(Lines(cat.out), 2823);
  CliResult du = RunCli({"lake", "--lake", lake_, "du", "/user/sqoop"});
  ASSERT_EQ(du.exit_code, 0) << du.err;
  EXPECT_TRUE(Has(du.out, "/user/sqoop/sales")) << du.out;
  std::string ls = Ls("/user/sqoop/sales");
  EXPECT_TRUE(Has(ls, "/user/sqoop/sales/part-m-00003")) << ls;
  EXPECT_FALSE(Has(ls, "_temporary")) << ls;
  ASSERT_EQ(RunCli({"lake", "--lake", lake_, "get", "/user/sqoop/sales/part-m-00002", dir_ + "/p2"}).exit_code, 0);
  EXPECT_EQ(Slurp(dir_ + "/p2"), Slurp(dir_ + "/lake/user/sqoop/sales/part-m-00002"));

  // A view built into the bucket, then serve and health on the s3:// lake.
  CliResult view = RunCli({"views", "build", "--lake", lake_});
  ASSERT_EQ(view.exit_code, 0) << view.err;
  EXPECT_TRUE(Has(view.out, "1,521 records for 2,823 rows")) << view.out;
  CliResult spark = RunCli({"views", "build", "--lake", lake_, "--engine", "spark", "--force"});
  EXPECT_EQ(spark.exit_code, 1);
  EXPECT_TRUE(Has(spark.err, "Spark cannot read the lake " + lake_ + " yet (it needs Hadoop's S3A connector")) << spark.err;
  CliResult health = RunCli({"health", "--lake", lake_, "--bus", "log://" + dir_ + "/bus", "--jobs-dir", "none"});
  EXPECT_TRUE(Has(health.out, "ok        lake")) << health.out;
  EXPECT_TRUE(Has(health.out, "the bucket answers and lists with these credentials")) << health.out;
  EXPECT_TRUE(Has(health.out, "ok        view /user/comptoir/views/sales")) << health.out;
  testing::ChildReaper serve{testing::StartCli({"serve", "--listen", "127.0.0.1:0", "--jobs-dir", "none", "--lake",
                                                lake_, "--bus", "log://" + dir_ + "/bus"},
                                               dir_ + "/serve.log")};
  std::string url = testing::WaitForLine(dir_ + "/serve.log", "dashboard on (http://127\\.0\\.0\\.1:[0-9]+)/", 10000);
  ASSERT_FALSE(url.empty()) << Slurp(dir_ + "/serve.log");
  testing::HttpResult summary = testing::HttpGet(url + "/api/v1/sales/summary");
  ASSERT_EQ(summary.status, 200) << summary.body;
  EXPECT_TRUE(Has(summary.body, "\"total_sales\":10032628.85")) << summary.body.substr(0, 400);
  EXPECT_TRUE(Has(summary.body, "\"from\":\"views\"")) << summary.body.substr(0, 400);

  ASSERT_EQ(RunCli({"lake", "--lake", lake_, "rm", "-r", "/user"}).exit_code, 0);
  EXPECT_EQ(Shell(aws_ + " s3 ls --recursive " + ShellQuote(lake_ + "/") + " 2>&1"), "");
}

TEST_F(S3, KilledImportsLeaveNothingPartialAndTheRerunIsExactWithNoOrphanUpload) {
  std::string db = Seed(300000);
  // 5 MiB parts, so every part file is a multipart upload in flight when killed.
  std::string lake = lake_ + "?part_size_mb=5";
  std::vector<std::string> import = {"import", "--connect", db, "--table", "sales", "-m", "2",
                                     "--lake", lake, "--target-dir", "/user/sqoop/sales"};
  int finished_before_kill = 0;
  for (int delay_ms : {150, 400, 700, 1000, 1500}) {
    std::string log = dir_ + "/import-" + std::to_string(delay_ms) + ".log";
    testing::ChildReaper child{testing::StartCli(import, log)};
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    ::kill(child.pid, SIGKILL);
    int status = 0;
    ::waitpid(child.pid, &status, 0);
    bool killed = WIFSIGNALED(status);
    child.pid = -1;
    std::string ls = Ls("/user/sqoop/sales");
    if (!killed || Has(ls, "_SUCCESS")) {  // it finished first: whole, then start over
      ++finished_before_kill;
      EXPECT_TRUE(Has(ls, "part-m-00001")) << "killed=" << killed << " status=" << status << "\n" << ls << Slurp(log);
      ASSERT_EQ(RunCli({"lake", "--lake", lake_, "rm", "-r", "/user/sqoop/sales"}).exit_code, 0);
      continue;
    }
    if (Has(ls, "part-m-")) {  // killed past the commit point: readers see the commit is not over
      auto fs = lake::OpenStorage(lake_);
      ASSERT_TRUE(fs.ok()) << fs.status();
      StatusOr<bool> committing = lake::CommitInProgress(fs->get(), "/user/sqoop/sales");
      EXPECT_TRUE(committing.ok() && *committing)
          << "killed at " << delay_ms << " ms, a part is visible without _SUCCESS and no commit is under way:\n" << ls;
    }
  }
  EXPECT_LT(finished_before_kill, 5) << "the import was never interrupted; make it bigger";
  CliResult rerun = RunCli(import);
  ASSERT_EQ(rerun.exit_code, 0) << rerun.err;
  EXPECT_TRUE(Has(rerun.out, "Imported 300,000 rows")) << rerun.out;
  CliResult cat = RunCli({"lake", "--lake", lake_, "cat", "/user/sqoop/sales"});
  EXPECT_EQ(Lines(cat.out), 300000);
  EXPECT_EQ(Uploads(), 0) << "a killed run's multipart upload was left behind";
  std::string ls = Ls("/user/sqoop/sales");
  EXPECT_FALSE(Has(ls, "_temporary")) << ls;
}

// Listings past one page (1,000 keys) and deletes past one DeleteObjects batch.
TEST_F(S3, ListingsPageAndDeletesBatchPastAThousandKeys) {
  lake::RegisterBuiltinStorages();
  auto fs = lake::OpenStorage(lake_);
  ASSERT_TRUE(fs.ok()) << fs.status();
  constexpr int kFiles = 1234;
  std::vector<std::thread> writers;
  std::atomic<int> failed{0};
  for (int t = 0; t < 8; ++t) {
    writers.emplace_back([&, t] {
      for (int i = t; i < kFiles; i += 8) {
        if (!lake::WriteStringToFile(fs->get(), "/many/f" + std::to_string(10000 + i), std::to_string(i)).ok()) ++failed;
      }
    });
  }
  for (std::thread& w : writers) w.join();
  ASSERT_EQ(failed.load(), 0);
  ASSERT_TRUE((*fs)->MakeDirs("/many/sub").ok());
  StatusOr<std::vector<lake::FileInfo>> l = (*fs)->List("/many");
  ASSERT_TRUE(l.ok()) << l.status();
  ASSERT_EQ(l->size(), kFiles + 1u);
  EXPECT_EQ(l->front().name, "f10000");
  EXPECT_EQ((*l)[kFiles - 1].name, "f" + std::to_string(10000 + kFiles - 1));
  EXPECT_TRUE(l->back().is_dir);
  EXPECT_EQ(*lake::ReadFileToString(fs->get(), "/many/f10777"), "777");
  ASSERT_TRUE((*fs)->Delete("/many", true).ok());
  EXPECT_EQ((*fs)->Stat("/many").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Shell(aws_ + " s3 ls --recursive " + ShellQuote(lake_ + "/") + " 2>&1"), "");
}

TEST_F(S3, AKilledPutLeavesNothingAfterTheRerun) {
  std::string local = dir_ + "/big.bin";
  {
    std::ofstream out(local, std::ios::binary);
    std::string block(1 << 20, '\0');
    for (int i = 0; i < 200; ++i) {
      for (size_t j = 0; j < block.size(); j += 4096) block[j] = static_cast<char>(i + j / 4096);
      out << block;
    }
  }
  testing::ChildReaper put{testing::StartCli({"lake", "--lake", lake_, "put", local, "/in/big.bin"}, dir_ + "/put.log")};
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ::kill(put.pid, SIGKILL);
  int status = 0;
  ::waitpid(put.pid, &status, 0);
  put.pid = -1;
  ASSERT_TRUE(WIFSIGNALED(status)) << "the put ended before the kill: " << Slurp(dir_ + "/put.log");
  EXPECT_EQ(RunCli({"lake", "--lake", lake_, "ls", "/in/big.bin"}).exit_code, 1) << "half a file is visible";
  EXPECT_GE(Uploads(), 1) << "the killed put had an upload in flight";
  CliResult again = RunCli({"lake", "--lake", lake_, "put", "-f", local, "/in/big.bin"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(Uploads(), 0) << "the killed put's upload was left behind";
  ASSERT_EQ(RunCli({"lake", "--lake", lake_, "get", "/in/big.bin", dir_ + "/back.bin"}).exit_code, 0);
  EXPECT_TRUE(Slurp(dir_ + "/back.bin") == Slurp(local));
}

TEST_F(S3, ServerStoppedForThirtySecondsDuringAnImportIsRetriedThenSucceeds) {
  std::filesystem::create_directories(dir_ + "/stack");
  testing::PrivateStack stack(dir_ + "/stack");
  ASSERT_TRUE(stack.Start("s3")) << Slurp(dir_ + "/stack/stack.log");
  std::string env = "AWS_ENDPOINT_URL=" + stack.Env("AWS_ENDPOINT_URL") +
                    " AWS_ACCESS_KEY_ID=" + stack.Env("AWS_ACCESS_KEY_ID") +
                    " AWS_SECRET_ACCESS_KEY=" + stack.Env("AWS_SECRET_ACCESS_KEY");
  std::string db = Seed(600000);
  std::string lake = stack.Env("COMPTOIR_TEST_S3") + "/" + prefix_;
  std::vector<std::string> import = {"import", "--connect", db, "--table", "sales", "-m", "2",
                                     "--lake", lake + "?part_size_mb=5", "--target-dir", "/user/sqoop/sales"};
  std::map<std::string, std::string> shared;  // the shared stack's, back after the start
  for (const char* k : {"AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}) {
    shared[k] = testing::ServiceEnv(k);
    ::setenv(k, stack.Env(k).c_str(), 1);  // for the background import
  }
  testing::ChildReaper child{testing::StartCli(import, dir_ + "/import.log")};
  for (const auto& [k, v] : shared) ::setenv(k.c_str(), v.c_str(), 1);
  // Stopped once the import is under way (an upload in flight), not at a fixed
  // moment: an endpoint never reached is an error at once, not retried.
  int in_flight = 0;
  for (auto end = std::chrono::steady_clock::now() + std::chrono::seconds(60);
       in_flight < 1 && std::chrono::steady_clock::now() < end;) {
    in_flight = Uploads(env);
  }
  ASSERT_GE(in_flight, 1) << "the import never started an upload: " << Slurp(dir_ + "/import.log");
  ASSERT_EQ(stack.Run("kill s3"), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(child.pid, &status, WNOHANG), 0) << "the import ended before the server stopped";
  std::this_thread::sleep_for(std::chrono::seconds(30));
  ASSERT_EQ(stack.Run("restart s3"), 0);
  ASSERT_EQ(::waitpid(child.pid, &status, 0), child.pid);
  child.pid = -1;
  ASSERT_TRUE(WIFEXITED(status));
  std::string log = Slurp(dir_ + "/import.log");
  ASSERT_EQ(WEXITSTATUS(status), 0) << log;
  EXPECT_TRUE(Has(log, "Imported 600,000 rows")) << log;
  CliResult cat = RunCli({"lake", "--lake", lake, "cat", "/user/sqoop/sales"}, env);
  EXPECT_EQ(Lines(cat.out), 600000) << cat.err;
  std::string ls = RunCli({"lake", "--lake", lake, "ls", "/user/sqoop/sales"}, env).out;
  EXPECT_TRUE(Has(ls, "_SUCCESS")) << ls;
  EXPECT_FALSE(Has(ls, "_temporary")) << ls;
  EXPECT_EQ(Uploads(env), 0);
  stack.Stop();
}

// `up` on an s3:// lake: it waits for the bucket, then serve answers from it.
TEST_F(S3, UpServesTheDashboardFromTheBucket) {
  std::string db = "sqlite://" + dir_ + "/erp.db";
  ASSERT_EQ(RunCli({"seed", "--connect", db, "--table", "sales", "--drop", "--from-csv",
                    testing::SharedData() + "/sales_data_sample.csv", "--encoding", "latin1"})
                .exit_code,
            0);
  ASSERT_EQ(RunCli({"import", "--connect", db, "--table", "sales", "--lake", lake_, "--target-dir", "/user/sqoop/sales"})
                .exit_code,
            0);
  int port = 0;
  {  // a free port for serve
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
    port = ntohs(a.sin_port);
    ::close(fd);
  }
  std::ofstream(dir_ + "/comptoir.toml") << "[lake]\nuri = \"" << lake_ << "\"\n[bus]\nuri = \"log://" << dir_
                                         << "/bus\"\n[components.serve]\nrun = \"serve --listen 127.0.0.1:" << port
                                         << " --jobs-dir none\"\n";
  testing::ChildReaper up{testing::StartCli({"up", "-c", dir_ + "/comptoir.toml"}, dir_ + "/up.out")};
  ASSERT_FALSE(testing::WaitForLine(dir_ + "/up.out", "(everything is up)", 30000).empty()) << Slurp(dir_ + "/up.out");
  testing::HttpResult summary = testing::HttpGet("http://127.0.0.1:" + std::to_string(port) + "/api/v1/sales/summary");
  EXPECT_EQ(summary.status, 200) << summary.body;
  EXPECT_TRUE(Has(summary.body, "\"total_sales\":10032628.85")) << summary.body.substr(0, 300);
  testing::HttpResult health = testing::HttpGet("http://127.0.0.1:" + std::to_string(port) + "/api/v1/health");
  EXPECT_TRUE(Has(health.body, lake_ + ": the bucket answers and lists with these credentials")) << health.body;
  ::kill(up.pid, SIGINT);
  int status = 0;
  ASSERT_EQ(::waitpid(up.pid, &status, 0), up.pid);
  up.pid = -1;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << Slurp(dir_ + "/up.out");
}

TEST_F(S3, BadSettingsAreOneClearLineEach) {
  auto error = [&](const std::string& env, const std::string& uri) {
    CliResult r = RunCli({"lake", "--lake", uri, "ls", "/"}, env);
    EXPECT_EQ(r.exit_code, 1) << r.out;
    EXPECT_EQ(Lines(r.err), 1) << r.err;
    EXPECT_FALSE(Has(r.err, testing::ServiceEnv("AWS_SECRET_ACCESS_KEY"))) << "a secret in a message";
    return r.err;
  };
  EXPECT_TRUE(Has(error("AWS_SECRET_ACCESS_KEY=wrong", lake_), "the secret key does not match the access key"));
  EXPECT_TRUE(Has(error("AWS_ACCESS_KEY_ID=AKIANOBODY", lake_), "the S3 server does not know this access key"));
  EXPECT_TRUE(Has(error("", "s3://no-such-bucket-" + std::to_string(getpid())),
                  "does not exist at " + testing::ServiceEnv("AWS_ENDPOINT_URL") + "; create it (aws s3 mb"));
  EXPECT_TRUE(Has(error("AWS_REGION=eu-west-3", lake_),
                  "the bucket is not in region eu-west-3 but in us-east-1; set AWS_REGION"));
  EXPECT_TRUE(Has(error("AWS_ENDPOINT_URL=http://127.0.0.1:1", lake_),
                  "(is the S3 server at http://127.0.0.1:1 running and reachable?)"));
  EXPECT_TRUE(Has(error("env -u AWS_ACCESS_KEY_ID HOME=" + dir_, lake_), "no S3 credentials for"));
  EXPECT_TRUE(Has(error("", lake_ + "?secret_access_key=x"), "credentials never go in the lake URI"));
}

TEST_F(S3, CredentialsFromTheSharedFileAndTheConfiguration) {
  std::filesystem::create_directories(dir_ + "/.aws");
  std::ofstream(dir_ + "/.aws/credentials") << "[other]\naws_access_key_id = "
                                            << testing::ServiceEnv("AWS_ACCESS_KEY_ID")
                                            << "\naws_secret_access_key = "
                                            << testing::ServiceEnv("AWS_SECRET_ACCESS_KEY") << "\n";
  ASSERT_EQ(RunCli({"lake", "--lake", lake_, "mkdir", "/probe"}).exit_code, 0);
  CliResult p = RunCli({"lake", "--lake", lake_, "ls", "/"},
                       "env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY HOME=" + dir_ + " AWS_PROFILE=other");
  EXPECT_EQ(p.exit_code, 0) << p.err;
  EXPECT_TRUE(Has(p.out, "/probe")) << p.out;
  std::ofstream(dir_ + "/comptoir.toml") << "[lake]\nuri = \"" << lake_ << "\"\n[lake.s3]\naccess_key_id = \""
                                         << testing::ServiceEnv("AWS_ACCESS_KEY_ID")
                                         << "\"\nsecret_access_key = \"" << testing::ServiceEnv("AWS_SECRET_ACCESS_KEY")
                                         << "\"\n";
  CliResult c = RunCli({"--config", dir_ + "/comptoir.toml", "lake", "ls", "/"},
                       "env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY HOME=/nonexistent");
  EXPECT_EQ(c.exit_code, 0) << c.err;
  EXPECT_TRUE(Has(c.out, "/probe")) << c.out;
}

}  // namespace
}  // namespace comptoir
