#include "comptoir/lake/publish.h"

#include <gtest/gtest.h>

#include <map>

#include "comptoir/lake/fault_injection.h"

namespace comptoir::lake {
namespace {

// path -> content of every file under `dir` (recursively), for comparing
// whole trees before and after.
std::map<std::string, std::string> Snapshot(Storage* fs, const std::string& dir) {
  std::map<std::string, std::string> out;
  StatusOr<std::vector<FileInfo>> l = fs->List(dir);
  if (!l.ok()) return out;
  for (const FileInfo& f : *l) {
    if (f.is_dir) {
      for (auto& [k, v] : Snapshot(fs, f.path)) out[k] = v;
    } else {
      out[f.path] = *ReadFileToString(fs, f.path);
    }
  }
  return out;
}

Status Publish(Storage* fs, const std::string& target, PublishMode mode,
               const std::vector<std::pair<std::string, std::string>>& files) {
  ASSIGN_OR_RETURN(auto pub, Publication::Begin(fs, target, mode));
  for (const auto& [name, data] : files) {
    ASSIGN_OR_RETURN(auto f, pub->Create(name));
    RETURN_IF_ERROR(f->Append(data));
    RETURN_IF_ERROR(f->Close());
  }
  return pub->Commit();
}

TEST(PublishTest, CreateWritesPartsThenSuccessAndNoTemporary) {
  auto fs = NewMemStorage("publish-create");
  ASSERT_TRUE(Publish(fs.get(), "/user/sqoop/sales", PublishMode::kCreate,
                      {{"part-m-00000", "a\n"}, {"part-m-00001", "b\n"}, {"_schema.json", "{}"}})
                  .ok());
  std::map<std::string, std::string> want = {{"/user/sqoop/sales/_SUCCESS", ""},
                                             {"/user/sqoop/sales/_schema.json", "{}"},
                                             {"/user/sqoop/sales/part-m-00000", "a\n"},
                                             {"/user/sqoop/sales/part-m-00001", "b\n"}};
  EXPECT_EQ(Snapshot(fs.get(), "/user"), want);
  EXPECT_EQ(fs->Stat("/user/sqoop/sales/_temporary").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(PublishTest, CreateOnExistingDatasetIsAlreadyExists) {
  auto fs = NewMemStorage("publish-exists");
  ASSERT_TRUE(Publish(fs.get(), "/t", PublishMode::kCreate, {{"part-m-00000", "a\n"}}).ok());
  Status s = Publish(fs.get(), "/t", PublishMode::kCreate, {{"part-m-00000", "b\n"}});
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(s.message(),
            "target directory /t already exists in mem://publish-exists; use --delete-target-dir "
            "to replace it or --append to add to it");
  EXPECT_EQ(*ReadFileToString(fs.get(), "/t/part-m-00000"), "a\n");
}

TEST(PublishTest, ReplaceSwapsWholeDatasetAppendAddsFiles) {
  auto fs = NewMemStorage("publish-replace");
  ASSERT_TRUE(Publish(fs.get(), "/t", PublishMode::kCreate,
                      {{"part-m-00000", "a\n"}, {"part-m-00001", "b\n"}})
                  .ok());
  ASSERT_TRUE(Publish(fs.get(), "/t", PublishMode::kReplace, {{"part-m-00000", "c\n"}}).ok());
  EXPECT_EQ(Snapshot(fs.get(), "/t"),
            (std::map<std::string, std::string>{{"/t/_SUCCESS", ""}, {"/t/part-m-00000", "c\n"}}));
  ASSERT_TRUE(Publish(fs.get(), "/t", PublishMode::kAppend, {{"part-m-00001", "d\n"}}).ok());
  EXPECT_EQ(Snapshot(fs.get(), "/t"),
            (std::map<std::string, std::string>{
                {"/t/_SUCCESS", ""}, {"/t/part-m-00000", "c\n"}, {"/t/part-m-00001", "d\n"}}));
}

TEST(PublishTest, MetadataDirectoriesArePublishedFileByFileAndSurviveAReplace) {
  auto fs = NewMemStorage("publish-metadata");
  ASSERT_TRUE(Publish(fs.get(), "/t", PublishMode::kCreate,
                      {{"part-m-00000", "a\n"}, {"_quality/history.jsonl", "1\n"}, {"_rejects/r1/part-m-00000", "x\n"}})
                  .ok());
  ASSERT_TRUE(Publish(fs.get(), "/t", PublishMode::kReplace,
                      {{"part-m-00000", "b\n"}, {"_quality/history.jsonl", "1\n2\n"}, {"_rejects/r2/part-m-00000", "y\n"}})
                  .ok());
  EXPECT_EQ(Snapshot(fs.get(), "/t"), (std::map<std::string, std::string>{{"/t/_SUCCESS", ""},
                                                                          {"/t/_quality/history.jsonl", "1\n2\n"},
                                                                          {"/t/_rejects/r1/part-m-00000", "x\n"},
                                                                          {"/t/_rejects/r2/part-m-00000", "y\n"},
                                                                          {"/t/part-m-00000", "b\n"}}));
  // A target holding only its quality record (a first run that failed) takes a create.
  auto fs2 = NewMemStorage("publish-metadata-only");
  ASSERT_TRUE(WriteStringToFile(fs2.get(), "/t/_quality/history.jsonl", "1\n").ok());
  EXPECT_TRUE(Publish(fs2.get(), "/t", PublishMode::kCreate, {{"part-m-00000", "a\n"}}).ok());
  // Nested names only under a hidden directory, never escaping it.
  auto pub = Publication::Begin(fs.get(), "/t", PublishMode::kAppend);
  ASSERT_TRUE(pub.ok()) << pub.status();
  for (const char* bad : {"data/part-m-00000", "_rejects/../part-m-00000", "_rejects//x", "old/x", "_temporary/x"}) {
    EXPECT_EQ((*pub)->Create(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(PublishTest, RemoveAtCommitTakesFilesAwayAtTheCommitPointOnly) {
  for (int nth = 0; nth <= 8; ++nth) {
    auto base = NewMemStorage("publish-remove-" + std::to_string(nth));
    ASSERT_TRUE(Publish(base.get(), "/t", PublishMode::kCreate,
                        {{"part-m-00000", "a\n"}, {"_rejects/r1/part-m-00000", "x\n"}, {"_rejects/r1/_schema.json", "{}"}})
                    .ok());
    auto before = Snapshot(base.get(), "/");
    FaultInjectionStorage fs(base.get());
    if (nth > 0) fs.FailAt(FaultOp::kRename, nth, absl::UnavailableError("injected"));
    auto pub = Publication::Begin(&fs, "/t", PublishMode::kAppend);
    ASSERT_TRUE(pub.ok()) << pub.status();
    ASSERT_TRUE(WriteStringToFile(&fs, (*pub)->staging_dir() + "/part-m-00001", "x\n").ok());
    (*pub)->RemoveAtCommit("_rejects/r1");
    Status s = (*pub)->Commit();
    fs.Clear();
    ASSERT_TRUE(RecoverTarget(base.get(), "/t").ok());
    if (s.ok()) {
      EXPECT_EQ(Snapshot(base.get(), "/t"), (std::map<std::string, std::string>{
                                                {"/t/_SUCCESS", ""}, {"/t/part-m-00000", "a\n"}, {"/t/part-m-00001", "x\n"}}))
          << nth;
      EXPECT_FALSE(*Exists(base.get(), "/t/_rejects")) << "empty directories go too";
    } else {
      EXPECT_EQ(Snapshot(base.get(), "/"), before) << nth << ": " << s;
    }
  }
}

TEST(PublishTest, PartNumber) {
  EXPECT_EQ(PartNumber("part-m-00000"), 0);
  EXPECT_EQ(PartNumber("part-m-00012.gz"), 12);
  EXPECT_EQ(PartNumber("part-m-00003.avro"), 3);
  EXPECT_EQ(PartNumber("_SUCCESS"), -1);
  EXPECT_EQ(PartNumber("part-x"), -1);
}

// Injects a fault at every call of every operation during a publish and checks
// that a failed publish leaves the target exactly as it was, once recovery ran.
struct FaultCase {
  PublishMode mode;
  const char* name;
};

class PublishFaultTest : public ::testing::TestWithParam<FaultCase> {};

TEST_P(PublishFaultTest, EveryInjectedFaultLeavesTargetUnchanged) {
  const FaultCase fc = GetParam();
  const FaultOp ops[] = {FaultOp::kStat,  FaultOp::kList,   FaultOp::kMakeDirs,
                         FaultOp::kCreate, FaultOp::kAppend, FaultOp::kClose,
                         FaultOp::kOpen,  FaultOp::kRename, FaultOp::kDelete};
  int failures_seen = 0;
  int successes_seen = 0;
  for (FaultOp op : ops) {
    for (int nth = 1; nth <= 20; ++nth) {
      auto base = NewMemStorage(std::string("fault-") + fc.name + "-" +
                                std::to_string(static_cast<int>(op)) + "-" + std::to_string(nth));
      if (fc.mode != PublishMode::kCreate) {
        ASSERT_TRUE(Publish(base.get(), "/t", PublishMode::kCreate,
                            {{"part-m-00000", "old0\n"}, {"_schema.json", "old"}, {"_quality/history.jsonl", "1\n"}})
                        .ok());
      }
      auto before = Snapshot(base.get(), "/");
      FaultInjectionStorage fs(base.get());
      fs.FailAt(op, nth, absl::UnavailableError("injected"));
      Status s = Publish(&fs, "/t", fc.mode,
                         {{fc.mode == PublishMode::kAppend ? "part-m-00001" : "part-m-00000", "new\n"},
                          {"_schema.json", "new"},
                          {"_quality/history.jsonl", "1\n2\n"},
                          {"_rejects/r2/part-m-00000", "bad\n"}});
      fs.Clear();
      if (s.ok()) {
        ++successes_seen;
        EXPECT_TRUE(*Exists(base.get(), "/t/_SUCCESS"));
        continue;
      }
      ++failures_seen;
      ASSERT_TRUE(RecoverTarget(base.get(), "/t").ok());
      EXPECT_EQ(Snapshot(base.get(), "/"), before)
          << "op " << static_cast<int>(op) << " call " << nth << ": " << s;
      StatusOr<FileInfo> tmp = base->Stat("/t/_temporary");
      EXPECT_EQ(tmp.status().code(), absl::StatusCode::kNotFound)
          << "op " << static_cast<int>(op) << " call " << nth;
      EXPECT_EQ(base->Stat("/t/_rejects/r2").status().code(), absl::StatusCode::kNotFound)
          << "op " << static_cast<int>(op) << " call " << nth;
      // A rerun without faults produces the complete result.
      ASSERT_TRUE(Publish(base.get(), "/t", fc.mode,
                          {{fc.mode == PublishMode::kAppend ? "part-m-00001" : "part-m-00000", "new\n"},
                           {"_schema.json", "new"},
                           {"_quality/history.jsonl", "1\n2\n"},
                           {"_rejects/r2/part-m-00000", "bad\n"}})
                      .ok());
      EXPECT_EQ(*ReadFileToString(base.get(), "/t/_schema.json"), "new");
      EXPECT_EQ(*ReadFileToString(base.get(), "/t/_rejects/r2/part-m-00000"), "bad\n");
      EXPECT_EQ(*ReadFileToString(base.get(), "/t/_quality/history.jsonl"), "1\n2\n");
    }
  }
  EXPECT_GT(failures_seen, 10);
  EXPECT_GT(successes_seen, 0);
}

INSTANTIATE_TEST_SUITE_P(Modes, PublishFaultTest,
                         ::testing::Values(FaultCase{PublishMode::kCreate, "create"},
                                           FaultCase{PublishMode::kReplace, "replace"},
                                           FaultCase{PublishMode::kAppend, "append"}),
                         [](const auto& p) { return std::string(p.param.name); });

}  // namespace
}  // namespace comptoir::lake
