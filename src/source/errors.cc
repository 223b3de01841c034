#include "comptoir/source/errors.h"

namespace comptoir::source {
namespace {

std::string Msg(std::string_view context, std::string_view message, std::string_view hint) {
  std::string m = StrCat(context, ": ", StripAsciiWhitespace(message));
  if (!hint.empty()) StrAppend(&m, " (", hint, ")");
  return m;
}

}  // namespace

Status MySqlErrorToStatus(unsigned errnum, std::string_view message, std::string_view context) {
  switch (errnum) {
    case 2002:  // CR_CONNECTION_ERROR (socket)
    case 2003:  // CR_CONN_HOST_ERROR
    case 2005:  // CR_UNKNOWN_HOST
      return absl::UnavailableError(
          Msg(context, message, "is the server running and the host and port right?"));
    case 2006:  // CR_SERVER_GONE_ERROR
    case 2013:  // CR_SERVER_LOST
    case 2026:  // CR_SSL_CONNECTION_ERROR
    case 1040:  // ER_CON_COUNT_ERROR
    case 1053:  // ER_SERVER_SHUTDOWN
    case 1205:  // ER_LOCK_WAIT_TIMEOUT
    case 1213:  // ER_LOCK_DEADLOCK
      return absl::UnavailableError(Msg(context, message, ""));
    case 1045:  // ER_ACCESS_DENIED_ERROR
    case 1698:  // ER_ACCESS_DENIED_NO_PASSWORD_ERROR
      return absl::PermissionDeniedError(
          Msg(context, message, "check --username and --password-file"));
    case 1044:  // ER_DBACCESS_DENIED_ERROR
    case 1142:  // ER_TABLEACCESS_DENIED_ERROR
    case 1143:  // ER_COLUMNACCESS_DENIED_ERROR
    case 1227:  // ER_SPECIFIC_ACCESS_DENIED_ERROR
      return absl::PermissionDeniedError(Msg(context, message, "ask for the needed grant"));
    case 1049:  // ER_BAD_DB_ERROR
    case 1146:  // ER_NO_SUCH_TABLE
    case 1054:  // ER_BAD_FIELD_ERROR
      return absl::NotFoundError(Msg(context, message, ""));
    case 1050:  // ER_TABLE_EXISTS_ERROR
    case 1062:  // ER_DUP_ENTRY
      return absl::AlreadyExistsError(Msg(context, message, ""));
    case 1064:  // ER_PARSE_ERROR
      return absl::InvalidArgumentError(Msg(context, message, ""));
    case 1148:  // ER_NOT_ALLOWED_COMMAND (local_infile off)
      return absl::FailedPreconditionError(
          Msg(context, message, "enable local_infile on the server"));
    case 1114:  // ER_RECORD_FILE_FULL
    case 1021:  // ER_DISK_FULL
      return absl::ResourceExhaustedError(Msg(context, message, "the server's disk is full"));
    case 1317:  // ER_QUERY_INTERRUPTED
      return absl::AbortedError(Msg(context, message, ""));
    default:
      if (errnum >= 2000 && errnum < 3000) return absl::UnavailableError(Msg(context, message, ""));
      return absl::InvalidArgumentError(Msg(context, message, ""));
  }
}

Status PostgresErrorToStatus(std::string_view sqlstate, std::string_view message,
                             std::string_view context) {
  if (sqlstate.empty()) {
    // libpq failed locally (connect or lost connection): classify by text.
    auto has = [&](std::string_view s) { return message.find(s) != std::string_view::npos; };
    if (has("password authentication failed") || has("no password supplied") ||
        (has("role \"") && has("does not exist"))) {
      return absl::PermissionDeniedError(
          Msg(context, message, "check the user name and --password-file"));
    }
    if (has("database \"") && has("does not exist")) {
      return absl::NotFoundError(Msg(context, message, ""));
    }
    return absl::UnavailableError(
        Msg(context, message, "is the server running and the host and port right?"));
  }
  std::string_view cls = sqlstate.substr(0, 2);
  if (cls == "08" || sqlstate == "40001" || sqlstate == "40P01" || sqlstate == "57P01" ||
      sqlstate == "57P03") {
    return absl::UnavailableError(Msg(context, message, ""));
  }
  if (cls == "28" || sqlstate == "42501") {
    return absl::PermissionDeniedError(Msg(context, message, "check the user and its grants"));
  }
  if (sqlstate == "42P01" || sqlstate == "42703" || sqlstate == "3D000" || sqlstate == "3F000") {
    return absl::NotFoundError(Msg(context, message, ""));
  }
  if (sqlstate == "23505" || sqlstate == "42P07") {
    return absl::AlreadyExistsError(Msg(context, message, ""));
  }
  if (sqlstate == "57014") return absl::AbortedError(Msg(context, message, ""));
  if (cls == "53") return absl::ResourceExhaustedError(Msg(context, message, ""));
  return absl::InvalidArgumentError(Msg(context, message, ""));
}

Status SqliteErrorToStatus(int code, std::string_view message, std::string_view context) {
  switch (code & 0xff) {
    case 5:  // SQLITE_BUSY
    case 6:  // SQLITE_LOCKED
      return absl::UnavailableError(Msg(context, message, "the database is locked; retry"));
    case 3:   // SQLITE_PERM
    case 8:   // SQLITE_READONLY
    case 23:  // SQLITE_AUTH
      return absl::PermissionDeniedError(Msg(context, message, ""));
    case 13:  // SQLITE_FULL
      return absl::ResourceExhaustedError(Msg(context, message, "the disk is full"));
    case 14:  // SQLITE_CANTOPEN
      return absl::NotFoundError(Msg(context, message, "check the sqlite:/// path"));
    case 11:  // SQLITE_CORRUPT
    case 26:  // SQLITE_NOTADB
      return absl::DataLossError(Msg(context, message, ""));
    case 9:  // SQLITE_INTERRUPT
      return absl::AbortedError(Msg(context, message, ""));
    case 19:  // SQLITE_CONSTRAINT
      return absl::AlreadyExistsError(Msg(context, message, ""));
    default:
      if (message.find("no such table") != std::string_view::npos ||
          message.find("no such column") != std::string_view::npos) {
        return absl::NotFoundError(Msg(context, message, ""));
      }
      return absl::InvalidArgumentError(Msg(context, message, ""));
  }
}

}  // namespace comptoir::source
