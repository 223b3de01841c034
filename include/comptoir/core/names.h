// Well-known names: the lake layout, the topic, the consumer groups and the
// local state directories every component agrees on. Defaults of flags and
// options come from here, so a name is stated once.
#pragma once

#include <string>
#include <string_view>

namespace comptoir::core {

// The lake layout of the reference design (Hadoop-compatible paths).
inline constexpr std::string_view kSqoopWarehouse = "/user/sqoop";             // import: <warehouse>/<table>
inline constexpr std::string_view kSalesDir = "/user/sqoop/sales";             // Flow A's sales table
inline constexpr std::string_view kLogsDir = "/user/flume/logs";               // Flow C's root
inline constexpr std::string_view kLogsTemplate = "/user/flume/logs/%Y-%m-%d"; // Flow C, one directory a day
inline constexpr std::string_view kTransactionsDir = "/user/kafka/transactions";  // Flow B's archive

// The bus.
inline constexpr std::string_view kTopic = "transactions";
inline constexpr std::string_view kServeGroup = "comptoir-serve";        // the dashboard's live view
inline constexpr std::string_view kArchiverGroup = "comptoir-archiver";  // the stream archiver

// The coordination group agents register in.
inline constexpr std::string_view kAgentsGroup = "agents";

// $HOME/.comptoir/<what> ("." when HOME is unset): the local coordination
// state ("coord") and the saved import jobs ("jobs").
std::string HomeStateDir(std::string_view what);

// This machine's name (gethostname).
std::string HostName();
// A short stable name for a URI or a path: 16 hex digits (FNV-1a 64), for
// coordination names, which allow only [A-Za-z0-9._-/].
std::string NameHash(std::string_view text);

}  // namespace comptoir::core
