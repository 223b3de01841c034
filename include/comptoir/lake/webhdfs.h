// webhdfs:// backend: HDFS over its REST API (libcurl).
//
//   webhdfs://namenode:9870[?user=NAME][&delegation=TOKEN][&auth=kerberos]
//                          [&retry_deadline_ms=10000]
//
// Authentication: `user.name` (simple auth; default: config hdfs.user, then
// HADOOP_USER_NAME, then the local user), a delegation token
// (`delegation=`), or SPNEGO/Kerberos through libcurl's GSS-API
// (`auth=kerberos`, using the caller's ticket cache). Data moves in the
// two-step form: the NameNode answers with the DataNode's address
// (`noredirect=true`), then the bytes stream to or from the DataNode without
// being buffered whole. NameNode calls that are safe to repeat are retried
// with backoff in core::Retry; a data transfer that fails midway fails the
// file (the publish protocol keeps such a file invisible).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "comptoir/core/retry.h"
#include "comptoir/lake/storage.h"

namespace comptoir::lake {

struct WebHdfsOptions {
  std::string host;
  int port = 9870;
  std::string user;        // user.name
  std::string delegation;  // delegation token, when given
  bool kerberos = false;   // SPNEGO via GSS-API
  core::RetryOptions retry;
  long connect_timeout_ms = 10000;
};

// Parses a webhdfs:// URI into options (user defaults as described above).
StatusOr<WebHdfsOptions> ParseWebHdfsUri(std::string_view uri);

std::unique_ptr<Storage> NewWebHdfsStorage(WebHdfsOptions options);

// Registers webhdfs:// (and initialises libcurl). Call once from main().
void RegisterWebHdfsStorage();

// Maps one WebHDFS answer to a Status: `curl_code` (0 when the transfer
// worked), the HTTP status and the body (a RemoteException JSON or empty).
Status WebHdfsErrorToStatus(int curl_code, long http_status, std::string_view body,
                            std::string_view context);

}  // namespace comptoir::lake
