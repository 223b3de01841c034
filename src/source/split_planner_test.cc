#include "comptoir/source/split_planner.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

namespace comptoir::source {
namespace {

// Counts how many of `keys` (sorted) each split selects, by evaluating the
// split's bounds the way SQL would.
std::vector<uint64_t> RowsPerSplit(const std::vector<int64_t>& keys,
                                   const std::vector<Split>& splits) {
  std::vector<uint64_t> counts(splits.size());
  for (int64_t k : keys) {
    int hits = 0;
    for (size_t i = 0; i < splits.size(); ++i) {
      bool ok = (!splits[i].lower || k >= std::stoll(*splits[i].lower)) &&
                (!splits[i].upper || k < std::stoll(*splits[i].upper));
      if (ok) {
        ++counts[i];
        ++hits;
      }
    }
    EXPECT_EQ(hits, 1) << "key " << k << " must fall in exactly one split";
  }
  return counts;
}

TEST(SplitPlannerTest, SkewedKeyGivesBalancedSplits) {
  // 90 % of the rows sit in 1 % of the key range.
  std::mt19937_64 rng(42);
  std::vector<int64_t> keys;
  for (int i = 0; i < 90000; ++i) keys.push_back(1000000 + static_cast<int64_t>(rng() % 10000));
  for (int i = 0; i < 10000; ++i) keys.push_back(static_cast<int64_t>(rng() % 1000000));
  std::sort(keys.begin(), keys.end());
  for (int m : {2, 4, 8}) {
    auto splits = PlanSplits(keys.size(), 0, m, [&](uint64_t off) -> StatusOr<std::string> {
      return std::to_string(keys.at(off));
    });
    ASSERT_TRUE(splits.ok());
    ASSERT_EQ(splits->size(), static_cast<size_t>(m));
    std::vector<uint64_t> counts = RowsPerSplit(keys, *splits);
    double mean = static_cast<double>(keys.size()) / m;
    for (uint64_t c : counts) {
      EXPECT_GE(c, mean * 0.75) << "m=" << m;
      EXPECT_LE(c, mean * 1.25) << "m=" << m;
    }
  }
}

TEST(SplitPlannerTest, EqualWidthWouldHaveFailedOnTheSameData) {
  // The same skew with Sqoop's equal-width ranges leaves one split with ~90 %.
  std::vector<int64_t> keys;
  for (int i = 0; i < 9000; ++i) keys.push_back(990000 + i);
  for (int i = 0; i < 1000; ++i) keys.push_back(i * 990);
  std::sort(keys.begin(), keys.end());
  int64_t lo = keys.front();
  int64_t hi = keys.back();
  std::vector<uint64_t> widths(4);
  for (int64_t k : keys) {
    ++widths[std::min<int64_t>(3, (k - lo) * 4 / (hi - lo + 1))];
  }
  EXPECT_GT(widths[3], 8000u);
  auto splits = PlanSplits(keys.size(), 0, 4, [&](uint64_t off) -> StatusOr<std::string> {
    return std::to_string(keys.at(off));
  });
  ASSERT_TRUE(splits.ok());
  for (uint64_t c : RowsPerSplit(keys, *splits)) EXPECT_EQ(c, 2500u);
}

TEST(SplitPlannerTest, RepeatedBoundariesMergeAndNullsGoFirst) {
  std::vector<int64_t> keys(100, 7);
  keys.push_back(8);
  auto splits = PlanSplits(keys.size(), 5, 4, [&](uint64_t off) -> StatusOr<std::string> {
    return std::to_string(keys.at(off));
  });
  ASSERT_TRUE(splits.ok());
  ASSERT_EQ(splits->size(), 2u);
  EXPECT_TRUE((*splits)[0].include_nulls);
  EXPECT_FALSE((*splits)[1].include_nulls);
  auto lit = [](const std::string& v) { return v; };
  EXPECT_EQ(SplitCondition((*splits)[0], "`k`", lit), "(`k` IS NULL OR (`k` < 7))");
  EXPECT_EQ(SplitCondition((*splits)[1], "`k`", lit), "`k` >= 7");
}

TEST(SplitPlannerTest, TinyAndEmptyTables) {
  auto none = PlanSplits(0, 0, 4, [](uint64_t) -> StatusOr<std::string> {
    return absl::InternalError("must not be called");
  });
  ASSERT_TRUE(none.ok());
  ASSERT_EQ(none->size(), 1u);
  EXPECT_EQ(SplitCondition((*none)[0], "k", [](const std::string& v) { return v; }), "1=1");
  std::vector<std::string> keys = {"AB", "CD", "EF"};
  auto strs = PlanSplits(3, 0, 8, [&](uint64_t off) -> StatusOr<std::string> {
    return keys.at(off);
  });
  ASSERT_TRUE(strs.ok());
  EXPECT_EQ(strs->size(), 3u);
  EXPECT_EQ(SplitCondition((*strs)[1], "k", [](const std::string& v) { return "'" + v + "'"; }),
            "k >= 'CD' AND k < 'EF'");
  EXPECT_EQ(PlanSplits(10, 0, 0, nullptr).status().message(),
            "the number of mappers must be at least 1, not 0");
}

TEST(SplitPlannerTest, BoundaryErrorsPropagate) {
  auto s = PlanSplits(100, 0, 4, [](uint64_t) -> StatusOr<std::string> {
    return absl::UnavailableError("server gone");
  });
  EXPECT_EQ(s.status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace comptoir::source
