#include "comptoir/core/uri.h"

#include <gtest/gtest.h>

namespace comptoir::core {
namespace {

TEST(UriTest, MysqlWithUserPasswordPortAndQuery) {
  StatusOr<Uri> u = ParseUri("mysql://ann:s%40cret@db.example:3307/retail_db?ssl=1");
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->scheme, "mysql");
  EXPECT_FALSE(u->jdbc);
  EXPECT_EQ(u->user, "ann");
  EXPECT_EQ(u->password.value_or(""), "s@cret");
  EXPECT_EQ(u->host(), "db.example");
  EXPECT_EQ(u->port().value_or(0), 3307);
  EXPECT_EQ(u->path, "/retail_db");
  EXPECT_EQ(u->query.at("ssl"), "1");
  EXPECT_EQ(u->Redacted(), "mysql://ann:***@db.example:3307/retail_db?ssl=1");
}

TEST(UriTest, JdbcPrefixIsRemembered) {
  StatusOr<Uri> u = ParseUri("jdbc:mysql://127.0.0.1:3306/retail_db");
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_TRUE(u->jdbc);
  EXPECT_EQ(u->scheme, "mysql");
  EXPECT_EQ(u->host(), "127.0.0.1");
  EXPECT_EQ(u->user, "");
  EXPECT_FALSE(u->password.has_value());
}

TEST(UriTest, SqliteAbsolutePathHasNoHost) {
  StatusOr<Uri> u = ParseUri("sqlite:///var/lib/erp%20db.sqlite");
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_TRUE(u->hosts.empty());
  EXPECT_EQ(u->path, "/var/lib/erp db.sqlite");
}

TEST(UriTest, SeveralHostsAndIpv6) {
  StatusOr<Uri> u = ParseUri("kafka://b1:9092,[::1]:9093,b3/");
  ASSERT_TRUE(u.ok()) << u.status();
  ASSERT_EQ(u->hosts.size(), 3u);
  EXPECT_EQ(u->hosts[1].host, "::1");
  EXPECT_EQ(u->hosts[1].port.value_or(0), 9093);
  EXPECT_FALSE(u->hosts[2].port.has_value());
  EXPECT_EQ(u->Redacted(), "kafka://b1:9092,[::1]:9093,b3/");
}

TEST(UriTest, ErrorsNameTheProblem) {
  EXPECT_EQ(ParseUri("localhost:3306").status().message(),
            "invalid URI \"localhost:3306\": expected \"//\" after \"localhost:\"");
  EXPECT_EQ(ParseUri("/just/a/path").status().message(),
            "invalid URI \"/just/a/path\": expected scheme://..., e.g. mysql://user@host:3306/db");
  EXPECT_EQ(ParseUri("mysql://h:99999/db").status().message(),
            "invalid URI \"mysql://h:99999/db\": port \"99999\" is not a number from 1 to 65535");
  EXPECT_EQ(ParseUri("mysql://u:%zz@h/db").status().message(), "bad percent escape in \"%zz\"");
  EXPECT_EQ(ParseUri("mysql://u:%4@h/db").status().message(),
            "truncated percent escape in \"%4\"");
}

}  // namespace
}  // namespace comptoir::core
