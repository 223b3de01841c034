#include "comptoir/lake/storage.h"

#include <gtest/gtest.h>

namespace comptoir::lake {
namespace {

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
  EXPECT_EQ(OpenStorage("gs://bucket").status().message(),
            "unknown lake scheme \"gs\" in \"gs://bucket\"; known: file, mem, s3");
  EXPECT_EQ(OpenStorage("file://otherhost/x").status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace comptoir::lake
