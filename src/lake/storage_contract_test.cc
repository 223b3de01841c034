// One contract suite for every Storage backend (mem:// and file:// here; the
// integration suite adds webhdfs:// against a real HDFS).
#include <gtest/gtest.h>

#include <filesystem>

#include "comptoir/lake/storage.h"

namespace comptoir::lake {
namespace {

struct Backend {
  std::string name;
  std::function<std::unique_ptr<Storage>()> make;
};

class StorageContractTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    std::string unique = std::to_string(::getpid()) + "-" +
                         ::testing::UnitTest::GetInstance()->current_test_info()->name();
    for (char& c : unique) {
      if (c == '/') c = '_';
    }
    if (GetParam() == "mem") {
      fs_ = NewMemStorage("contract-" + unique);
    } else {
      dir_ = std::filesystem::temp_directory_path() / ("comptoir-contract-" + unique);
      std::filesystem::create_directories(dir_);
      fs_ = NewLocalStorage(dir_.string());
    }
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  std::unique_ptr<Storage> fs_;
  std::filesystem::path dir_;
};

TEST_P(StorageContractTest, CreateReadStatList) {
  ASSERT_TRUE(WriteStringToFile(fs_.get(), "/user/sqoop/sales/part-m-00000", "a,b\n").ok());
  StatusOr<std::string> back = ReadFileToString(fs_.get(), "/user/sqoop/sales/part-m-00000");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, "a,b\n");
  StatusOr<FileInfo> st = fs_->Stat("/user/sqoop/sales/part-m-00000");
  ASSERT_TRUE(st.ok());
  EXPECT_FALSE(st->is_dir);
  EXPECT_EQ(st->size, 4u);
  EXPECT_EQ(st->name, "part-m-00000");
  StatusOr<std::vector<FileInfo>> l = fs_->List("/user/sqoop");
  ASSERT_TRUE(l.ok());
  ASSERT_EQ(l->size(), 1u);
  EXPECT_EQ((*l)[0].name, "sales");
  EXPECT_TRUE((*l)[0].is_dir);
  EXPECT_EQ((*l)[0].path, "/user/sqoop/sales");
}

TEST_P(StorageContractTest, ListIsSortedAndMissingIsNotFound) {
  for (const char* n : {"c", "a", "b"}) {
    ASSERT_TRUE(WriteStringToFile(fs_.get(), std::string("/d/") + n, n).ok());
  }
  StatusOr<std::vector<FileInfo>> l = fs_->List("/d");
  ASSERT_TRUE(l.ok());
  ASSERT_EQ(l->size(), 3u);
  EXPECT_EQ((*l)[0].name, "a");
  EXPECT_EQ((*l)[2].name, "c");
  EXPECT_EQ(fs_->List("/nope").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(fs_->Stat("/nope").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(fs_->Open("/nope").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(fs_->List("/d/a").status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_P(StorageContractTest, CreateWithoutOverwriteRefusesExisting) {
  ASSERT_TRUE(WriteStringToFile(fs_.get(), "/f", "one").ok());
  EXPECT_EQ(fs_->Create("/f", {}).status().code(), absl::StatusCode::kAlreadyExists);
  CreateOptions o;
  o.overwrite = true;
  ASSERT_TRUE(WriteStringToFile(fs_.get(), "/f", "two", o).ok());
  EXPECT_EQ(*ReadFileToString(fs_.get(), "/f"), "two");
}

TEST_P(StorageContractTest, AppendAndRangedRead) {
  ASSERT_TRUE(WriteStringToFile(fs_.get(), "/log", "hello ").ok());
  auto a = fs_->OpenForAppend("/log");
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE((*a)->Append("world").ok());
  ASSERT_TRUE((*a)->Close().ok());
  auto r = fs_->Open("/log", 3, 5);
  ASSERT_TRUE(r.ok());
  char buf[16];
  std::string got;
  while (true) {
    StatusOr<size_t> n = (*r)->Read(buf, 2);
    ASSERT_TRUE(n.ok());
    if (*n == 0) break;
    got.append(buf, *n);
  }
  EXPECT_EQ(got, "lo wo");
}

TEST_P(StorageContractTest, RenameRefusesExistingTargetAndMovesDirectories) {
  ASSERT_TRUE(WriteStringToFile(fs_.get(), "/t/_temporary/x/part-m-00000", "p0").ok());
  ASSERT_TRUE(WriteStringToFile(fs_.get(), "/t/existing", "e").ok());
  EXPECT_EQ(fs_->Rename("/t/_temporary/x/part-m-00000", "/t/existing").code(),
            absl::StatusCode::kAlreadyExists);
  ASSERT_TRUE(fs_->Rename("/t/_temporary/x", "/u/y").ok());
  EXPECT_EQ(*ReadFileToString(fs_.get(), "/u/y/part-m-00000"), "p0");
  EXPECT_EQ(fs_->Stat("/t/_temporary/x").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(fs_->Rename("/missing", "/elsewhere").code(), absl::StatusCode::kNotFound);
}

TEST_P(StorageContractTest, DeleteNeedsRecursiveForNonEmptyDirectories) {
  ASSERT_TRUE(WriteStringToFile(fs_.get(), "/d/e/f", "x").ok());
  EXPECT_EQ(fs_->Delete("/d", false).code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(fs_->Delete("/d", true).ok());
  EXPECT_EQ(fs_->Stat("/d/e/f").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(fs_->Delete("/d", true).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(fs_->Delete("/", true).code(), absl::StatusCode::kInvalidArgument);
}

TEST_P(StorageContractTest, PathsMustBeAbsoluteAndClean) {
  EXPECT_EQ(fs_->Stat("relative").status().message(),
            "lake path \"relative\" must be absolute, e.g. /user/sqoop/sales");
  EXPECT_EQ(fs_->Create("/a/../b", {}).status().code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(WriteStringToFile(fs_.get(), "//a///b/", "x").ok());
  EXPECT_EQ(*ReadFileToString(fs_.get(), "/a/b"), "x");
}

TEST_P(StorageContractTest, LargeWritesCrossBufferBoundaries) {
  std::string big(3 * 1024 * 1024 + 17, 'x');
  for (size_t i = 0; i < big.size(); i += 4096) big[i] = static_cast<char>('a' + (i / 4096) % 26);
  auto f = fs_->Create("/big", {});
  ASSERT_TRUE(f.ok());
  for (size_t off = 0; off < big.size(); off += 100000) {
    ASSERT_TRUE((*f)->Append(std::string_view(big).substr(off, 100000)).ok());
  }
  ASSERT_TRUE((*f)->Close().ok());
  EXPECT_EQ((*fs_->Stat("/big")).size, big.size());
  EXPECT_EQ(*ReadFileToString(fs_.get(), "/big"), big);
}

INSTANTIATE_TEST_SUITE_P(Backends, StorageContractTest, ::testing::Values("mem", "file"));

TEST(PathTest, Helpers) {
  EXPECT_EQ(JoinPath("/", "a"), "/a");
  EXPECT_EQ(JoinPath("/a", "b"), "/a/b");
  EXPECT_EQ(ParentPath("/a/b/c"), "/a/b");
  EXPECT_EQ(ParentPath("/a"), "/");
  EXPECT_EQ(BaseName("/a/b/c"), "c");
  EXPECT_TRUE(IsHiddenName("_SUCCESS"));
  EXPECT_TRUE(IsHiddenName(".part-m-00000.crc"));
  EXPECT_FALSE(IsHiddenName("part-m-00000"));
}

TEST(OpenStorageTest, SchemesAndBareDirectories) {
  RegisterBuiltinStorages();
  auto m = OpenStorage("mem://reg-test");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ((*m)->Uri(), "mem://reg-test");
  auto f = OpenStorage("/tmp/x/../lake");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ((*f)->Uri(), "file:///tmp/lake");
  EXPECT_EQ(OpenStorage("s3://bucket").status().message(),
            "unknown lake scheme \"s3\" in \"s3://bucket\"; known: file, mem");
  EXPECT_EQ(OpenStorage("file://otherhost/x").status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace comptoir::lake
