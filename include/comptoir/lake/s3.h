// s3:// backend: the lake on an S3-compatible object store (Amazon S3, MinIO,
// Ceph RGW, R2, GCS interoperability, Garage, SeaweedFS, versitygw), over
// libcurl with its AWS Signature V4 signing.
//
//   s3://BUCKET[/PREFIX][?endpoint=URL][&region=R][&path_style=true|false]
//                      [&profile=NAME][&retry_deadline_ms=60000]
//                      [&part_size_mb=8][&parallel=4][&copy_limit_mb=5120]
//
// Lake path /user/sqoop/sales/part-m-00000 is the object PREFIX/user/sqoop/
// sales/part-m-00000. Settings come, first found wins, from the URI's query,
// the configuration's [lake.s3] table, the standard variables (AWS_ENDPOINT_URL_S3,
// AWS_ENDPOINT_URL, AWS_REGION, AWS_DEFAULT_REGION, AWS_PROFILE) and the shared
// files (~/.aws/config, ~/.aws/credentials, or AWS_CONFIG_FILE and
// AWS_SHARED_CREDENTIALS_FILE). Credentials never come from the URI: from
// [lake.s3] access_key_id/secret_access_key/session_token, then
// AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN, then the profile
// of the credentials file. They never appear in Uri(), messages or logs.
//
// libcurl 7.88's signing (CURLOPT_AWS_SIGV4) leaves four things to the
// caller, all handled here: the x-amz-content-sha256 header (S3 requires it;
// set to the SHA-256 of the body, so the server also checks every byte), the
// query string (signed as given: sent sorted and percent-encoded), parameters
// without a value (`?uploads` is sent as `uploads=`), and headers whose name
// is a prefix of another's (x-amz-copy-source / x-amz-copy-source-range),
// which it sorts wrongly: never sent together (no UploadPartCopy; an object
// over copy_limit_mb is copied through this process).
//
// Directories are prefixes; MakeDirs() writes an empty "DIR/" marker object
// so an empty directory exists. Files are written in parts of part_size_mb
// (multipart upload, at most `parallel` parts in flight, each retried with
// backoff); a small file is one PUT. Reads are ranged GETs streamed through a
// bounded pipe. Rename() copies on the server then deletes (not atomic: the
// publish protocol does not use it on an object store, see publish.h).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "comptoir/core/config.h"
#include "comptoir/core/retry.h"
#include "comptoir/lake/storage.h"

namespace comptoir::lake {

struct S3Options {
  std::string bucket;
  std::string prefix;       // without leading or trailing '/'; may be empty
  std::string endpoint;     // "http://127.0.0.1:9000"; empty: AWS for `region`
  std::string region = "us-east-1";
  bool path_style = true;   // http://host/bucket/key (false: http://bucket.host/key)
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;
  std::string credentials_from;  // where the key came from, for messages ("env AWS_ACCESS_KEY_ID")
  size_t part_size = 8 << 20;    // bytes per multipart part (5 MiB..5 GiB)
  int parallel = 4;              // parts in flight per file
  uint64_t copy_limit = uint64_t{5} << 30;  // larger objects are copied through the client, not on the server
  core::RetryOptions retry;
  long connect_timeout_ms = 10000;
};

// Reads settings as described above. `config` may be null (no [lake.s3]);
// `getenv` defaults to ::getenv (tests pass their own).
StatusOr<S3Options> ResolveS3Options(std::string_view uri, const core::Config* config,
                                     const std::function<const char*(const char*)>& getenv = nullptr);

std::unique_ptr<Storage> NewS3Storage(S3Options options);

// Registers s3:// (settings from the URI, the environment and ~/.aws).
void RegisterS3Storage();

// Maps one S3 answer to a Status: `curl_code` (0 when the transfer worked),
// the HTTP status and the body (an <Error> document or empty).
Status S3ErrorToStatus(int curl_code, long http_status, std::string_view body, std::string_view context,
                       const S3Options& options);

}  // namespace comptoir::lake
