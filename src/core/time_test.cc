#include "comptoir/core/time.h"

#include <gtest/gtest.h>

namespace comptoir::core {
namespace {

constexpr int64_t kT = 1764324245123;  // 2025-11-28T10:04:05.123Z

TEST(Time, FormatsEachForm) {
  EXPECT_EQ(FormatIsoMillis(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatIsoMillis(kT), "2025-11-28T10:04:05.123Z");
  EXPECT_EQ(FormatIsoMillis(-1), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(FormatIsoSeconds(kT), "2025-11-28T10:04:05Z");
  EXPECT_EQ(FormatLogTime(1764280094123), "2025-11-27 21:48:14,123");
  std::string out = "ts=";
  AppendIsoMillis(kT, &out);
  AppendIsoMillis(kT + 1, &out);  // the cached second
  EXPECT_EQ(out, "ts=2025-11-28T10:04:05.123Z2025-11-28T10:04:05.124Z");
}

TEST(Time, ParsesLogLines) {
  EXPECT_EQ(ParseLogTime("2025-11-28 10:04:05,123 INFO sale"), kT);
  EXPECT_EQ(ParseLogTime("2025-11-28 10:04:05.123 INFO sale"), kT);
  EXPECT_EQ(ParseLogTime("  File \"app.py\", line 3"), -1);
  EXPECT_EQ(ParseLogTime("2025-13-28 10:04:05,123 INFO"), -1);
  EXPECT_EQ(ParseLogTime("2025-02-30 10:04:05,123 INFO"), -1);
  EXPECT_EQ(ParseLogTime("2025-11-28 10:04:05"), -1);
  EXPECT_EQ(LogLineLevel("2025-11-28 10:04:05,123 WARNING disk almost full"), "WARNING");
  EXPECT_EQ(LogLineLevel("2025-11-28 10:04:05,123"), "");
  EXPECT_EQ(LogLineLevel("WARNING no time"), "");
}

TEST(Time, ParsesIso8601) {
  EXPECT_EQ(ParseIsoTime("2025-11-28T10:04:05.123Z", true), kT);
  EXPECT_EQ(ParseIsoTime("2025-11-28T10:04:05.123456Z", true), kT);
  EXPECT_EQ(ParseIsoTime("2025-11-28T10:04:05.1Z"), kT - 23);
  EXPECT_EQ(ParseIsoTime("2025-11-28T10:04:05Z", true), kT - 123);
  EXPECT_EQ(ParseIsoTime("2025-11-28 10:04:05"), kT - 123);
  EXPECT_EQ(ParseIsoTime("2025-11-28 10:04:05Z", true), -1);  // RFC 3339 with a T
  EXPECT_EQ(ParseIsoTime("2025-11-28T10:04:05", true), -1);   // no zone
  EXPECT_EQ(ParseIsoTime("2025-11-28T10:04:05+01:00"), -1);   // only UTC
  EXPECT_EQ(ParseIsoTime("2025-11-28T10:04:05."), -1);
  EXPECT_EQ(ParseIsoTime("2025-11-28"), -1);
}

TEST(Time, Days) {
  EXPECT_EQ(FormatDay(0), "1970-01-01");
  EXPECT_EQ(FormatDay(-1), "1969-12-31");
  EXPECT_EQ(*ParseDay("2004-02-29"), DayOf(2004, 2, 29));
  EXPECT_EQ(FormatDay(*ParseDay("2004-02-29")), "2004-02-29");
  EXPECT_EQ(ParseDay("2003-02-29").status().message(), "'2003-02-29' is not a date (expected YYYY-MM-DD)");
  EXPECT_FALSE(ParseDay("2004-01-01 00:00").ok());
  int32_t d = 0;
  ASSERT_TRUE(ParseDateText("2/24/2003 0:00", &d));
  EXPECT_EQ(FormatDay(d), "2003-02-24");
  ASSERT_TRUE(ParseDateText("2003-02-24 00:00:00", &d));
  EXPECT_EQ(FormatDay(d), "2003-02-24");
  EXPECT_FALSE(ParseDateText("24.2.2003", &d));
  EXPECT_FALSE(ParseDateText("2/30/2003", &d));
}

}  // namespace
}  // namespace comptoir::core
