// The Storage contract, on every backend: mem://, file://, webhdfs://
// against the test stack's HDFS and s3:// against its S3 server (versitygw).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "comptoir/lake/storage.h"
#include "../cli_runner.h"
#include "comptoir/lake/publish.h"
#include "comptoir/lake/webhdfs.h"

namespace comptoir::lake {
namespace {

struct Backend {
  std::string name;
  std::function<std::unique_ptr<Storage>()> make;
};

// Confines a storage to `prefix`, so each test gets a fresh tree on a shared
// server (the real HDFS).
class PrefixedStorage final : public StorageWrapper {
 public:
  PrefixedStorage(std::unique_ptr<Storage> base, std::string prefix)
      : StorageWrapper(base.get()), base_(std::move(base)), prefix_(std::move(prefix)) {}
  StatusOr<FileInfo> Stat(const std::string& p) override {
    ASSIGN_OR_RETURN(FileInfo f, target()->Stat(In(p)));
    return Out(f);
  }
  StatusOr<std::vector<FileInfo>> List(const std::string& d) override {
    ASSIGN_OR_RETURN(std::vector<FileInfo> l, target()->List(In(d)));
    for (FileInfo& f : l) f = Out(f);
    return l;
  }
  Status MakeDirs(const std::string& d) override { return target()->MakeDirs(In(d)); }
  StatusOr<std::unique_ptr<WritableFile>> Create(const std::string& p,
                                                 const CreateOptions& o) override {
    return target()->Create(In(p), o);
  }
  StatusOr<std::unique_ptr<WritableFile>> OpenForAppend(const std::string& p) override {
    return target()->OpenForAppend(In(p));
  }
  StatusOr<std::unique_ptr<ReadableFile>> Open(const std::string& p, uint64_t off,
                                               uint64_t len) override {
    return target()->Open(In(p), off, len);
  }
  Status Rename(const std::string& s, const std::string& d) override {
    return target()->Rename(In(s), In(d));
  }
  Status Delete(const std::string& p, bool r) override {
    StatusOr<std::string> n = NormalizePath(p);
    if (n.ok() && *n == "/") return absl::InvalidArgumentError("refusing to delete the lake's root");
    return target()->Delete(In(p), r);
  }

 private:
  std::string In(const std::string& p) const {
    StatusOr<std::string> n = NormalizePath(p);
    if (!n.ok()) return p;  // let the backend report the bad path
    return *n == "/" ? prefix_ : prefix_ + *n;
  }
  FileInfo Out(FileInfo f) const {
    f.path = f.path.size() > prefix_.size() ? f.path.substr(prefix_.size()) : "/";
    return f;
  }
  std::unique_ptr<Storage> base_;
  std::string prefix_;
};

class StorageContractTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    std::string unique = std::to_string(::getpid()) + "-" +
                         ::testing::UnitTest::GetInstance()->current_test_info()->name();
    for (char& c : unique) {
      if (c == '/') c = '_';
    }
    if (GetParam() == "s3") {
      std::string uri = testing::ServiceEnv("COMPTOIR_TEST_S3");
      if (uri.empty()) GTEST_SKIP() << "no S3 server (run `make test`)";
      RegisterBuiltinStorages();
      prefix_ = "/contract/" + unique;
      auto base = OpenStorage(uri);
      ASSERT_TRUE(base.ok()) << base.status();
      hdfs_ = std::move(*base);  // the bucket's root, to clean up
      auto fs = OpenStorage(uri + prefix_);  // the lake is a prefix of the bucket
      ASSERT_TRUE(fs.ok()) << fs.status();
      fs_ = std::move(*fs);
    } else if (GetParam() == "webhdfs") {
      std::string uri = testing::ServiceEnv("COMPTOIR_TEST_WEBHDFS");
      if (uri.empty()) GTEST_SKIP() << "no HDFS (run `make test`)";
      RegisterWebHdfsStorage();
      auto base = OpenStorage(uri);
      ASSERT_TRUE(base.ok()) << base.status();
      prefix_ = "/contract/" + unique;
      hdfs_ = std::move(*base);
      ASSERT_TRUE(hdfs_->MakeDirs(prefix_).ok());
      fs_ = std::make_unique<PrefixedStorage>(OpenStorage(uri).value(), prefix_);
    } else if (GetParam() == "mem") {
      fs_ = NewMemStorage("contract-" + unique);
    } else {
      dir_ = std::filesystem::temp_directory_path() / ("comptoir-contract-" + unique);
      std::filesystem::create_directories(dir_);
      fs_ = NewLocalStorage(dir_.string());
    }
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
    if (hdfs_) (void)hdfs_->Delete(prefix_, true);
  }
  std::unique_ptr<Storage> fs_;
  std::filesystem::path dir_;
  std::unique_ptr<Storage> hdfs_;
  std::string prefix_;
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

// Two creates of one name without overwrite: the second writer fails with
// AlreadyExists (at Create or at Close) and the first one's bytes stay. (A
// DataNode may cut the loser's transfer before curl reads its answer: then
// only the failure is certain.)
TEST_P(StorageContractTest, CreateWithoutOverwriteLosesARaceCleanly) {
  auto a = fs_->Create("/race", {});
  ASSERT_TRUE(a.ok()) << a.status();
  auto b = fs_->Create("/race", {});
  ASSERT_TRUE((*a)->Append("first").ok());
  Status second = b.status();
  if (b.ok()) {
    (void)(*b)->Append("second");
    ASSERT_TRUE((*a)->Close().ok());
    second = (*b)->Close();
  } else {
    ASSERT_TRUE((*a)->Close().ok());
  }
  if (GetParam() == "webhdfs") {
    EXPECT_FALSE(second.ok());
  } else {
    EXPECT_EQ(second.code(), absl::StatusCode::kAlreadyExists) << second;
  }
  EXPECT_EQ(*ReadFileToString(fs_.get(), "/race"), "first");
}

TEST_P(StorageContractTest, AppendAndRangedRead) {
  if (fs_->capabilities().supports_append) {
    ASSERT_TRUE(WriteStringToFile(fs_.get(), "/log", "hello ").ok());
    auto a = fs_->OpenForAppend("/log");
    ASSERT_TRUE(a.ok());
    ASSERT_TRUE((*a)->Append("world").ok());
    ASSERT_TRUE((*a)->Close().ok());
  } else {  // an object store: no append, and it says so
    ASSERT_TRUE(WriteStringToFile(fs_.get(), "/log", "hello world").ok());
    EXPECT_EQ(fs_->OpenForAppend("/log").status().code(), absl::StatusCode::kUnimplemented);
  }
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

TEST_P(StorageContractTest, EmptyFilesEmptyDirectoriesAndOddNames) {
  ASSERT_TRUE(WriteStringToFile(fs_.get(), "/e/empty", "").ok());
  EXPECT_EQ(fs_->Stat("/e/empty")->size, 0u);
  EXPECT_EQ(*ReadFileToString(fs_.get(), "/e/empty"), "");
  ASSERT_TRUE(fs_->MakeDirs("/e/sub").ok());
  StatusOr<std::vector<FileInfo>> l = fs_->List("/e/sub");
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_TRUE(l->empty());
  EXPECT_TRUE(fs_->Stat("/e/sub")->is_dir);
  const std::string odd = "/e/day=2026-12-06/a b+c%d&e.txt";
  ASSERT_TRUE(WriteStringToFile(fs_.get(), odd, "odd").ok());
  EXPECT_EQ(*ReadFileToString(fs_.get(), odd), "odd");
  l = fs_->List("/e/day=2026-12-06");
  ASSERT_TRUE(l.ok()) << l.status();
  ASSERT_EQ(l->size(), 1u);
  EXPECT_EQ((*l)[0].name, "a b+c%d&e.txt");
  EXPECT_EQ(*ReadFileToString(fs_.get(), "/e/empty"), "");
  ASSERT_TRUE(fs_->Delete("/e/sub", false).ok());
  EXPECT_EQ(fs_->Stat("/e/sub").status().code(), absl::StatusCode::kNotFound);
}

TEST_P(StorageContractTest, RenameOfAFileLargerThanOneCopyRequest) {
  std::unique_ptr<Storage> fs = std::move(fs_);
  if (GetParam() == "s3") {  // over the copy limit: streamed through the client
    fs = OpenStorage(testing::ServiceEnv("COMPTOIR_TEST_S3") + prefix_ + "?part_size_mb=5&copy_limit_mb=5").value();
  }
  std::string big(12 * 1024 * 1024 + 3, 'r');
  for (size_t i = 0; i < big.size(); i += 1000) big[i] = static_cast<char>('a' + (i / 1000) % 26);
  ASSERT_TRUE(WriteStringToFile(fs.get(), "/dir/.roll.tmp", big).ok());
  Status published = PublishStagedFile(fs.get(), "/dir/.roll.tmp", "/dir/roll");
  ASSERT_TRUE(published.ok()) << published;
  EXPECT_EQ(*ReadFileToString(fs.get(), "/dir/roll"), big);
  EXPECT_EQ(fs->Stat("/dir/.roll.tmp").status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(fs->ListDeferred("/dir")->empty());
  fs_ = std::move(fs);
}

// Deferred uploads: the object store's commit without rename (publish.h).
TEST_P(StorageContractTest, DeferredUploadsAreInvisibleUntilCompleted) {
  if (!fs_->capabilities().object_store) {
    EXPECT_EQ(fs_->CompleteDeferred("{}").code(), absl::StatusCode::kUnimplemented);
    return;
  }
  std::string big(6 * 1024 * 1024 + 5, 'q');  // two parts of the multipart upload
  auto f = fs_->Create("/ds/part-m-00000", {.deferred = true});
  ASSERT_TRUE(f.ok()) << f.status();
  ASSERT_TRUE((*f)->Append(big).ok());
  ASSERT_TRUE((*f)->Close().ok());
  std::string token = (*f)->DeferredToken();
  ASSERT_FALSE(token.empty());
  EXPECT_EQ(fs_->Stat("/ds/part-m-00000").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(fs_->Stat("/ds").status().code(), absl::StatusCode::kNotFound);
  StatusOr<std::vector<std::string>> pending = fs_->ListDeferred("/ds");
  ASSERT_TRUE(pending.ok()) << pending.status();
  EXPECT_EQ(pending->size(), 1u);
  ASSERT_TRUE(fs_->CompleteDeferred(token).ok());
  EXPECT_EQ(*ReadFileToString(fs_.get(), "/ds/part-m-00000"), big);
  EXPECT_TRUE(fs_->CompleteDeferred(token).ok()) << "completing twice is a no-op";
  EXPECT_TRUE(fs_->ListDeferred("/ds")->empty());

  auto g = fs_->Create("/ds/part-m-00001", {.deferred = true});
  ASSERT_TRUE(g.ok());
  ASSERT_TRUE((*g)->Append("abandoned").ok());
  ASSERT_TRUE((*g)->Close().ok());
  ASSERT_TRUE(fs_->AbortDeferred((*g)->DeferredToken()).ok());
  EXPECT_EQ(fs_->CompleteDeferred((*g)->DeferredToken()).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(fs_->Stat("/ds/part-m-00001").status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(fs_->ListDeferred("/ds")->empty());
}

// The publish protocol on every backend (rename form or object-store form).
TEST_P(StorageContractTest, PublicationReplacesAppendsAndAbortsAtomically) {
  auto publish = [&](PublishMode mode, std::vector<std::pair<std::string, std::string>> files) {
    auto p = Publication::Begin(fs_.get(), "/user/sqoop/sales", mode);
    EXPECT_TRUE(p.ok()) << p.status();
    for (const auto& [name, data] : files) {
      auto f = (*p)->Create(name);
      EXPECT_TRUE(f.ok()) << f.status();
      EXPECT_TRUE((*f)->Append(data).ok());
      EXPECT_TRUE((*f)->Close().ok());
    }
    return std::move(*p);
  };
  auto names = [&]() {
    std::vector<std::string> out;
    StatusOr<std::vector<FileInfo>> l = fs_->List("/user/sqoop/sales");
    EXPECT_TRUE(l.ok()) << l.status();
    for (const FileInfo& f : l.value_or(std::vector<FileInfo>())) out.push_back(f.name);
    return out;
  };
  ASSERT_TRUE(publish(PublishMode::kCreate, {{"part-m-00000", "a\n"}, {"part-m-00001", "b\n"}, {"_schema.json", "{}"}})
                  ->Commit().ok());
  EXPECT_EQ(names(), (std::vector<std::string>{"_SUCCESS", "_schema.json", "part-m-00000", "part-m-00001"}));
  EXPECT_EQ(Publication::Begin(fs_.get(), "/user/sqoop/sales", PublishMode::kCreate).status().code(),
            absl::StatusCode::kAlreadyExists);
  ASSERT_TRUE(publish(PublishMode::kReplace, {{"part-m-00000", "c\n"}, {"_schema.json", R"({"v":2})"}})->Commit().ok());
  EXPECT_EQ(names(), (std::vector<std::string>{"_SUCCESS", "_schema.json", "part-m-00000"}));
  EXPECT_EQ(*ReadFileToString(fs_.get(), "/user/sqoop/sales/part-m-00000"), "c\n");
  ASSERT_TRUE(publish(PublishMode::kAppend, {{"part-m-00001", "d\n"}})->Commit().ok());
  EXPECT_EQ(*ReadFileToString(fs_.get(), "/user/sqoop/sales/part-m-00001"), "d\n");
  {  // abandoned: nothing of it stays, anywhere
    auto p = publish(PublishMode::kReplace, {{"part-m-00000", "never\n"}, {"part-m-00009", "never\n"}});
  }
  EXPECT_EQ(names(), (std::vector<std::string>{"_SUCCESS", "_schema.json", "part-m-00000", "part-m-00001"}));
  EXPECT_EQ(*ReadFileToString(fs_.get(), "/user/sqoop/sales/part-m-00000"), "c\n");
  EXPECT_TRUE(fs_->ListDeferred("/user/sqoop/sales")->empty());
}

// A crash after the object-store commit point (the manifest written, some
// uploads completed, no _SUCCESS): the next writer finishes the commit.
TEST_P(StorageContractTest, AnObjectStoreCommitCutAfterItsCommitPointIsRolledForward) {
  if (!fs_->capabilities().object_store) GTEST_SKIP() << "the rename form rolls back (publish_test.cc)";
  class CutAfterOneCompletion final : public StorageWrapper {
   public:
    using StorageWrapper::StorageWrapper;
    Status CompleteDeferred(std::string_view token) override {
      if (++completed_ > 1) return absl::UnavailableError("the process died here");
      return target()->CompleteDeferred(token);
    }
    int completed_ = 0;
  };
  auto write = [](Publication* p, const std::string& name, const std::string& data) {
    auto f = p->Create(name);
    ASSERT_TRUE(f.ok()) << f.status();
    ASSERT_TRUE((*f)->Append(data).ok());
    ASSERT_TRUE((*f)->Close().ok());
  };
  {
    auto p = Publication::Begin(fs_.get(), "/t", PublishMode::kCreate);
    ASSERT_TRUE(p.ok());
    write(p->get(), "part-m-00000", "old0\n");
    write(p->get(), "part-m-00001", "old1\n");
    write(p->get(), "part-m-00002", "old2\n");
    ASSERT_TRUE((*p)->Commit().ok());
  }
  CutAfterOneCompletion cut(fs_.get());
  {
    auto p = Publication::Begin(&cut, "/t", PublishMode::kReplace);
    ASSERT_TRUE(p.ok());
    write(p->get(), "part-m-00000", "new0\n");
    write(p->get(), "part-m-00001", "new1\n");
    Status s = (*p)->Commit();
    EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
    EXPECT_TRUE(std::string(s.message()).find("the next writer to it completes the commit") != std::string::npos) << s;
  }
  EXPECT_EQ(fs_->Stat("/t/_SUCCESS").status().code(), absl::StatusCode::kNotFound) << "no _SUCCESS mid-commit";
  // The next writer (any Begin, here an append) completes it first.
  auto next = Publication::Begin(fs_.get(), "/t", PublishMode::kAppend);
  ASSERT_TRUE(next.ok()) << next.status();
  (*next)->Abort();
  std::vector<std::string> names;
  for (const FileInfo& f : fs_->List("/t").value_or(std::vector<FileInfo>())) names.push_back(f.name);
  EXPECT_EQ(names, (std::vector<std::string>{"_SUCCESS", "part-m-00000", "part-m-00001"}));
  EXPECT_EQ(*ReadFileToString(fs_.get(), "/t/part-m-00000"), "new0\n");
  EXPECT_EQ(*ReadFileToString(fs_.get(), "/t/part-m-00001"), "new1\n");
  EXPECT_TRUE(fs_->ListDeferred("/t")->empty());
}

INSTANTIATE_TEST_SUITE_P(Backends, StorageContractTest,
                         ::testing::Values("mem", "file", "webhdfs", "s3"));

}  // namespace
}  // namespace comptoir::lake
