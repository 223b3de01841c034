// URI parsing for every backend address Comptoir accepts.
//
//   mysql://user:pass@host:3306/db?opt=v   mariadb://...   jdbc:mysql://host:3306/db
//   postgresql://user@host:5432/db         postgres://...  jdbc:postgresql://host/db
//   sqlite:///absolute/path.db             file:///var/lib/comptoir/lake
//   mem://name                             webhdfs://namenode:9870
//   kafka://b1:9092,b2:9092                zk://zk1:2181,zk2:2181/chroot
//
// A leading "jdbc:" is removed and remembered. User, password, path and query
// values are percent-decoded. A bare path (no "scheme:") is not a URI; callers
// that accept paths (e.g. --lake ./lake) turn it into file:// themselves.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "comptoir/core/status.h"

namespace comptoir::core {

struct HostPort {
  std::string host;
  std::optional<uint16_t> port;
};

struct Uri {
  std::string scheme;  // lower-case, without "jdbc:"
  bool jdbc = false;   // the text started with "jdbc:"
  std::string user;
  std::optional<std::string> password;
  std::vector<HostPort> hosts;  // empty for sqlite:/// and file:///
  std::string path;             // decoded; "" or starts with '/'
  std::map<std::string, std::string> query;

  // First host or "" (most schemes have exactly one).
  std::string host() const { return hosts.empty() ? "" : hosts.front().host; }
  std::optional<uint16_t> port() const {
    return hosts.empty() ? std::nullopt : hosts.front().port;
  }
  // The URI as text with any password replaced by "***": safe to log.
  std::string Redacted() const;
};

// Parses `text`. Errors (InvalidArgument) name the text and the problem.
StatusOr<Uri> ParseUri(std::string_view text);

// Percent-decodes `s` ("%2F" -> "/"); '+' is kept as is.
StatusOr<std::string> PercentDecode(std::string_view s);

}  // namespace comptoir::core
