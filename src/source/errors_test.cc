#include "comptoir/source/errors.h"

#include <gtest/gtest.h>

namespace comptoir::source {
namespace {

using Code = absl::StatusCode;

TEST(MySqlErrorTest, Table) {
  struct Case {
    unsigned err;
    Code code;
  } cases[] = {
      {2002, Code::kUnavailable},  {2003, Code::kUnavailable},
      {2013, Code::kUnavailable},  {1213, Code::kUnavailable},
      {1045, Code::kPermissionDenied}, {1142, Code::kPermissionDenied},
      {1049, Code::kNotFound},     {1146, Code::kNotFound},
      {1054, Code::kNotFound},     {1062, Code::kAlreadyExists},
      {1064, Code::kInvalidArgument}, {1021, Code::kResourceExhausted},
      {1148, Code::kFailedPrecondition}, {1317, Code::kAborted},
      {2055, Code::kUnavailable},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(MySqlErrorToStatus(c.err, "m", "ctx").code(), c.code) << c.err;
  }
  EXPECT_EQ(MySqlErrorToStatus(1045, "Access denied for user 'x'@'localhost'\n", "connect").message(),
            "connect: Access denied for user 'x'@'localhost' (check --username and "
            "--password-file)");
}

TEST(PostgresErrorTest, Table) {
  struct Case {
    const char* state;
    Code code;
  } cases[] = {
      {"08006", Code::kUnavailable},  {"40P01", Code::kUnavailable},
      {"28P01", Code::kPermissionDenied}, {"42501", Code::kPermissionDenied},
      {"42P01", Code::kNotFound},     {"42703", Code::kNotFound},
      {"3D000", Code::kNotFound},     {"23505", Code::kAlreadyExists},
      {"57014", Code::kAborted},      {"53100", Code::kResourceExhausted},
      {"42601", Code::kInvalidArgument}, {"22P02", Code::kInvalidArgument},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(PostgresErrorToStatus(c.state, "m", "ctx").code(), c.code) << c.state;
  }
  EXPECT_EQ(PostgresErrorToStatus("", "FATAL:  password authentication failed for user \"u\"",
                                  "connect")
                .code(),
            Code::kPermissionDenied);
  EXPECT_EQ(PostgresErrorToStatus("", "FATAL:  database \"nope\" does not exist", "c").code(),
            Code::kNotFound);
  EXPECT_EQ(PostgresErrorToStatus("", "connection to server at \"127.0.0.1\", port 1 failed: "
                                      "Connection refused",
                                  "c")
                .code(),
            Code::kUnavailable);
}

TEST(SqliteErrorTest, Table) {
  EXPECT_EQ(SqliteErrorToStatus(5, "database is locked", "c").code(), Code::kUnavailable);
  EXPECT_EQ(SqliteErrorToStatus(13, "database or disk is full", "c").code(),
            Code::kResourceExhausted);
  EXPECT_EQ(SqliteErrorToStatus(14, "unable to open", "c").code(), Code::kNotFound);
  EXPECT_EQ(SqliteErrorToStatus(26, "file is not a database", "c").code(), Code::kDataLoss);
  EXPECT_EQ(SqliteErrorToStatus(1, "no such table: x", "c").code(), Code::kNotFound);
  EXPECT_EQ(SqliteErrorToStatus(1, "near \"SELEC\": syntax error", "c").code(),
            Code::kInvalidArgument);
  EXPECT_EQ(SqliteErrorToStatus(2067, "UNIQUE constraint failed", "c").code(),
            Code::kAlreadyExists);
}

}  // namespace
}  // namespace comptoir::source
