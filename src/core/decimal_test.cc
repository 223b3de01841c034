#include "comptoir/core/decimal.h"

#include <gtest/gtest.h>

namespace comptoir::core {
namespace {

TEST(DecimalTest, NormalizesToScaleExactly) {
  EXPECT_EQ(*NormalizeDecimal("2765.9", 2), "2765.90");
  EXPECT_EQ(*NormalizeDecimal("2871", 2), "2871.00");
  EXPECT_EQ(*NormalizeDecimal("0.1", 2), "0.10");
  EXPECT_EQ(*NormalizeDecimal(".5", 2), "0.50");
  EXPECT_EQ(*NormalizeDecimal("-7.250", 2), "-7.25");
  EXPECT_EQ(*NormalizeDecimal("-0.00", 2), "0.00");
  EXPECT_EQ(*NormalizeDecimal("007", 0), "7");
  EXPECT_EQ(*NormalizeDecimal("99999999999999999999.99", 2), "99999999999999999999.99");
}

TEST(DecimalTest, RefusesRoundingAndNonDecimals) {
  EXPECT_EQ(NormalizeDecimal("1.005", 2).status().message(),
            "\"1.005\" has more than 2 digits after the point");
  EXPECT_EQ(NormalizeDecimal("1e3", 2).status().message(), "\"1e3\" is not a decimal number");
  EXPECT_FALSE(NormalizeDecimal("", 2).ok());
  EXPECT_FALSE(NormalizeDecimal("-", 2).ok());
}

TEST(DecimalTest, AppendFixed) {
  std::string s;
  AppendFixed(&s, 123456, 2);
  s += ' ';
  AppendFixed(&s, -5, 2);
  s += ' ';
  AppendFixed(&s, 7, 0);
  EXPECT_EQ(s, "1234.56 -0.05 7");
  EXPECT_TRUE(HasScale("1.00", 2));
  EXPECT_FALSE(HasScale("1.0", 2));
  EXPECT_FALSE(HasScale("1", 2));
}

TEST(Money, CentsAreExact) {
  EXPECT_EQ(*ParseCents("2871"), 287100);
  EXPECT_EQ(*ParseCents("0.1"), 10);
  EXPECT_EQ(*ParseCents("-3.05"), -305);
  EXPECT_EQ(ParseCents("1.005").status().message(),
            NormalizeDecimal("1.005", 2).status().message());
}

TEST(Money, ParseCentsFastAndSlowPathsAgree) {
  for (const char* t : {"0", "7", "12.5", "12.50", "-0.01", "999999999.99", "00012.30"}) {
    auto fast = ParseCents(t);
    ASSERT_TRUE(fast.ok()) << t;
    auto slow = NormalizeDecimal(t, 2);
    ASSERT_TRUE(slow.ok()) << t;
    std::string back;
    AppendFixed(&back, *fast, 2);
    EXPECT_EQ(back, *slow) << t;
  }
  for (const char* bad : {"", "-", ".", "abc", "1.234", "1..2", "1e2"}) {
    EXPECT_FALSE(ParseCents(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace comptoir::core
