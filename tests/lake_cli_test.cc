// `comptoir lake` end to end on a file:// lake, and Ctrl-C during an import.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "cli_runner.h"

namespace comptoir {
namespace {

using testing::CliResult;
using testing::RunCli;

bool Has(const std::string& s, const std::string& n) { return s.find(n) != std::string::npos; }

class LakeCli : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::TempDir("lakecli"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  CliResult Lake(std::vector<std::string> args) {
    args.insert(args.begin(), {"lake", "--lake", "file://" + dir_ + "/lake"});
    return RunCli(args);
  }
  std::string dir_;
};

TEST_F(LakeCli, PutLsCatGetDuRmMkdir) {
  std::string local = dir_ + "/in.txt";
  std::ofstream(local) << "10100,\"Mini Gifts, Ltd\",2871.00\n";
  ASSERT_EQ(Lake({"mkdir", "/user/demo"}).exit_code, 0);
  CliResult put = Lake({"put", local, "/user/demo/a.csv"});
  ASSERT_EQ(put.exit_code, 0) << put.err;
  CliResult again = Lake({"put", local, "/user/demo/a.csv"});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_TRUE(Has(again.err, "/user/demo/a.csv already exists; use -f to overwrite")) << again.err;
  EXPECT_EQ(Lake({"put", "-f", local, "/user/demo/a.csv"}).exit_code, 0);
  CliResult ls = Lake({"ls", "-R", "/user"});
  ASSERT_EQ(ls.exit_code, 0) << ls.err;
  EXPECT_TRUE(Has(ls.out, "d ")) << ls.out;
  EXPECT_TRUE(Has(ls.out, "             32 ")) << ls.out;
  EXPECT_TRUE(Has(ls.out, " /user/demo/a.csv\n")) << ls.out;
  EXPECT_FALSE(Has(ls.out, "_COPYING_")) << ls.out;
  CliResult cat = Lake({"cat", "/user/demo/a.csv"});
  EXPECT_EQ(cat.out, "10100,\"Mini Gifts, Ltd\",2871.00\n");
  CliResult du = Lake({"du", "-s", "/user"});
  EXPECT_TRUE(Has(du.out, "32  /user\n")) << du.out;
  ASSERT_EQ(Lake({"get", "/user/demo/a.csv", dir_ + "/back.txt"}).exit_code, 0);
  std::ifstream back(dir_ + "/back.txt");
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(back), {}),
            "10100,\"Mini Gifts, Ltd\",2871.00\n");
  CliResult rm_dir = Lake({"rm", "/user/demo"});
  EXPECT_EQ(rm_dir.exit_code, 1);
  EXPECT_TRUE(Has(rm_dir.err, "directory /user/demo is not empty (delete it recursively)"))
      << rm_dir.err;
  EXPECT_EQ(Lake({"rm", "-r", "/user/demo"}).exit_code, 0);
  CliResult gone = Lake({"cat", "/user/demo/a.csv"});
  EXPECT_EQ(gone.exit_code, 1);
  EXPECT_TRUE(Has(gone.err, "/user/demo/a.csv does not exist in file://" + dir_ + "/lake"))
      << gone.err;
}

TEST_F(LakeCli, SeedImportCompressedAndCatDecodes) {
  std::string db = "sqlite://" + dir_ + "/erp.db";
  ASSERT_EQ(RunCli({"seed", "--connect", db, "--rows", "3000", "--seed", "2"}).exit_code, 0);
  CliResult plain = RunCli({"import", "--connect", db, "--table", "sales", "-m", "2", "--lake",
                            dir_ + "/lake", "--target-dir", "/plain"});
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  for (const char* codec : {"gzip", "zstd"}) {
    std::string target = std::string("/") + codec;
    CliResult z = RunCli({"import", "--connect", db, "--table", "sales", "-m", "2", "--lake",
                          dir_ + "/lake", "--target-dir", target, "-z", "--compression-codec",
                          codec});
    ASSERT_EQ(z.exit_code, 0) << z.err;
    std::string ext = std::string(codec) == "gzip" ? ".gz" : ".zst";
    EXPECT_TRUE(std::filesystem::exists(dir_ + "/lake" + target + "/part-m-00001" + ext));
    EXPECT_EQ(Lake({"cat", target}).out, Lake({"cat", "/plain"}).out) << codec;
  }
  std::string all = Lake({"cat", "/plain"}).out;
  EXPECT_EQ(std::count(all.begin(), all.end(), '\n'), 3000);
}

TEST_F(LakeCli, CtrlCStopsCleanlyWithNothingPublished) {
  std::string db = "sqlite://" + dir_ + "/erp.db";
  ASSERT_EQ(RunCli({"seed", "--connect", db, "--rows", "400000"}).exit_code, 0);
  int pid = testing::StartCli({"import", "--connect", db, "--table", "sales", "-m", "2", "--lake",
                               dir_ + "/lake"},
                              dir_ + "/int.log");
  ASSERT_GT(pid, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  kill(pid, SIGINT);
  int st = 0;
  waitpid(pid, &st, 0);
  ASSERT_TRUE(WIFEXITED(st));
  if (WEXITSTATUS(st) == 0) GTEST_SKIP() << "the import finished before the signal";
  EXPECT_EQ(WEXITSTATUS(st), 130);
  std::ifstream log(dir_ + "/int.log");
  std::string text((std::istreambuf_iterator<char>(log)), {});
  EXPECT_TRUE(Has(text, "import interrupted by a signal; nothing was published")) << text;
  // Clean stop: no target, no temporary files.
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/lake/user/sqoop/sales")) << text;
}

}  // namespace
}  // namespace comptoir
