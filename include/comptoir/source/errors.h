// Translation of database client errors to Status, once per client library.
// Each function is table-tested in errors_test.cc.
#pragma once

#include <string_view>

#include "comptoir/core/status.h"

namespace comptoir::source {

// MySQL/MariaDB client or server error number (mysql_errno()).
Status MySqlErrorToStatus(unsigned errnum, std::string_view message, std::string_view context);
// PostgreSQL SQLSTATE (PG_DIAG_SQLSTATE); empty when the client failed
// before talking to the server (then `message` is libpq's text).
Status PostgresErrorToStatus(std::string_view sqlstate, std::string_view message,
                             std::string_view context);
// SQLite extended result code.
Status SqliteErrorToStatus(int code, std::string_view message, std::string_view context);

}  // namespace comptoir::source
