#include <gtest/gtest.h>

#include "comptoir/source/database.h"

namespace comptoir::source {
namespace {

Column C(Dialect d, std::string_view t) {
  Column c;
  ClassifyType(d, t, &c);
  return c;
}

TEST(ClassifyTypeTest, MySql) {
  EXPECT_EQ(C(Dialect::kMySql, "decimal(10,2)").kind, ColumnKind::kDecimal);
  EXPECT_EQ(C(Dialect::kMySql, "decimal(10,2)").precision, 10);
  EXPECT_EQ(C(Dialect::kMySql, "decimal(12,2)").scale, 2);
  EXPECT_EQ(C(Dialect::kMySql, "tinyint(1)").kind, ColumnKind::kInt);
  EXPECT_TRUE(C(Dialect::kMySql, "tinyint(1)").tiny_int1);
  EXPECT_TRUE(C(Dialect::kMySql, "bigint(20) unsigned").is_unsigned);
  EXPECT_EQ(C(Dialect::kMySql, "datetime").kind, ColumnKind::kDateTime);
  EXPECT_EQ(C(Dialect::kMySql, "timestamp").kind, ColumnKind::kDateTime);
  EXPECT_EQ(C(Dialect::kMySql, "mediumblob").kind, ColumnKind::kBinary);
  EXPECT_EQ(C(Dialect::kMySql, "mediumtext").kind, ColumnKind::kString);
  EXPECT_EQ(C(Dialect::kMySql, "varchar(50)").kind, ColumnKind::kString);
  EXPECT_EQ(C(Dialect::kMySql, "double").kind, ColumnKind::kFloat);
  EXPECT_EQ(C(Dialect::kMySql, "date").kind, ColumnKind::kDate);
  EXPECT_EQ(C(Dialect::kMySql, "json").kind, ColumnKind::kJson);
}

TEST(ClassifyTypeTest, Postgres) {
  EXPECT_EQ(C(Dialect::kPostgres, "numeric(12,2)").kind, ColumnKind::kDecimal);
  EXPECT_EQ(C(Dialect::kPostgres, "timestamp without time zone").kind, ColumnKind::kDateTime);
  EXPECT_EQ(C(Dialect::kPostgres, "timestamp(3) with time zone").kind, ColumnKind::kTimestampTz);
  EXPECT_EQ(C(Dialect::kPostgres, "character varying(64)").kind, ColumnKind::kString);
  EXPECT_EQ(C(Dialect::kPostgres, "bytea").kind, ColumnKind::kBinary);
  EXPECT_EQ(C(Dialect::kPostgres, "boolean").kind, ColumnKind::kBool);
  EXPECT_EQ(C(Dialect::kPostgres, "double precision").kind, ColumnKind::kFloat);
  EXPECT_EQ(C(Dialect::kPostgres, "integer").kind, ColumnKind::kInt);
}

TEST(ClassifyTypeTest, Sqlite) {
  EXPECT_EQ(C(Dialect::kSqlite, "DECIMAL(10,2)").kind, ColumnKind::kDecimal);
  EXPECT_EQ(C(Dialect::kSqlite, "DECIMAL(10,2)").scale, 2);
  EXPECT_EQ(C(Dialect::kSqlite, "DATETIME").kind, ColumnKind::kDateTime);
  EXPECT_EQ(C(Dialect::kSqlite, "INTEGER").kind, ColumnKind::kInt);
  EXPECT_EQ(C(Dialect::kSqlite, "VARCHAR(16)").kind, ColumnKind::kString);
  EXPECT_EQ(C(Dialect::kSqlite, "BLOB").kind, ColumnKind::kBinary);
  EXPECT_EQ(C(Dialect::kSqlite, "").kind, ColumnKind::kString);
}

TEST(CopyTextTest, EscapesControlCharactersAndNull) {
  std::string out;
  AppendCopyText(&out, std::string("a\tb\nc\\d\re"));
  out.push_back('|');
  AppendCopyText(&out, std::nullopt);
  EXPECT_EQ(out, "a\\tb\\nc\\\\d\\re|\\N");
}

}  // namespace
}  // namespace comptoir::source
