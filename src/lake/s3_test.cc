// Settings and error mapping of the s3:// backend (no server needed; the
// backend itself runs in the storage contract suite and tests/s3_integration_test.cc).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "comptoir/lake/s3.h"

namespace comptoir::lake {
namespace {

using Env = std::map<std::string, std::string>;

bool Contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

StatusOr<S3Options> Resolve(const std::string& uri, const Env& env) {
  return ResolveS3Options(uri, nullptr, [&](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  });
}

const Env kKeys = {{"AWS_ACCESS_KEY_ID", "AKIAENV"}, {"AWS_SECRET_ACCESS_KEY", "envsecret"}, {"HOME", "/nonexistent"}};

TEST(S3Options, BucketPrefixAndDefaultsForAws) {
  StatusOr<S3Options> o = Resolve("s3://sales-lake//prod/eu/", kKeys);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->bucket, "sales-lake");
  EXPECT_EQ(o->prefix, "prod/eu");
  EXPECT_EQ(o->region, "us-east-1");
  EXPECT_EQ(o->endpoint, "https://s3.us-east-1.amazonaws.com");
  EXPECT_FALSE(o->path_style) << "AWS: virtual-host addressing";
  EXPECT_EQ(o->access_key_id, "AKIAENV");
  EXPECT_EQ(o->credentials_from, "env AWS_ACCESS_KEY_ID");
  EXPECT_EQ(o->part_size, 8u << 20);
}

TEST(S3Options, TheUriWinsOverTheEnvironment) {
  Env env = kKeys;
  env["AWS_ENDPOINT_URL"] = "http://minio:9000";
  env["AWS_REGION"] = "eu-west-3";
  StatusOr<S3Options> o = Resolve("s3://b?region=us-west-2&path_style=false&part_size_mb=16&parallel=2", env);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->region, "us-west-2");
  EXPECT_EQ(o->endpoint, "http://minio:9000");
  EXPECT_FALSE(o->path_style);
  EXPECT_EQ(o->part_size, 16u << 20);
  EXPECT_EQ(o->parallel, 2);
  env["AWS_ENDPOINT_URL_S3"] = "http://s3only:9000";
  EXPECT_EQ(Resolve("s3://b", env)->endpoint, "http://s3only:9000");
  EXPECT_TRUE(Resolve("s3://b", env)->path_style) << "a custom endpoint: path style";
}

TEST(S3Options, ProfilesOfTheSharedFiles) {
  std::string home = ::testing::TempDir() + "s3-home-" + std::to_string(getpid());
  std::filesystem::create_directories(home + "/.aws");
  std::ofstream(home + "/.aws/credentials") << "[default]\naws_access_key_id = AKIADEF\naws_secret_access_key = d\n"
                                               "# a comment\n[etl]\naws_access_key_id=AKIAETL\naws_secret_access_key=e\n"
                                               "aws_session_token = tok\n";
  std::ofstream(home + "/.aws/config") << "[profile etl]\nregion = ap-south-1\nendpoint_url = http://rgw:7480\n";
  StatusOr<S3Options> d = Resolve("s3://b", {{"HOME", home}});
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->access_key_id, "AKIADEF");
  StatusOr<S3Options> e = Resolve("s3://b", {{"HOME", home}, {"AWS_PROFILE", "etl"}});
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->access_key_id, "AKIAETL");
  EXPECT_EQ(e->session_token, "tok");
  EXPECT_EQ(e->region, "ap-south-1");
  EXPECT_EQ(e->endpoint, "http://rgw:7480");
  EXPECT_EQ(e->credentials_from, home + "/.aws/credentials [etl]");
  std::filesystem::remove_all(home);
}

TEST(S3Options, ClearErrors) {
  EXPECT_EQ(Resolve("s3://b", {{"HOME", "/h"}}).status().message(),
            "no S3 credentials for s3://b: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, access_key_id and "
            "secret_access_key in [lake.s3], or a profile in /h/.aws/credentials");
  EXPECT_EQ(Resolve("s3://key:secret@b", kKeys).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(std::string(Resolve("s3://b?secret_access_key=x", kKeys).status().message()),
                                "credentials never go in the lake URI"));
  EXPECT_EQ(Resolve("s3://b?part_size_mb=1", kKeys).status().message(),
            "part_size_mb=\"1\" must be a number from 5 to 5120");
  EXPECT_EQ(Resolve("s3://b?path_style=maybe", kKeys).status().message(),
            "path_style=\"maybe\" must be true, false or auto");
  EXPECT_EQ(Resolve("s3://", kKeys).status().code(), absl::StatusCode::kInvalidArgument);
}

std::string Error(const std::string& code, const std::string& message, const std::string& extra = "") {
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>" + code + "</Code><Message>" + message +
         "</Message>" + extra + "</Error>";
}

TEST(S3Errors, EachAnswerMapsToOneCodeAndOneLine) {
  S3Options o;
  o.bucket = "lake";
  o.endpoint = "http://127.0.0.1:9000";
  o.region = "eu-west-3";
  o.credentials_from = "env AWS_ACCESS_KEY_ID";
  struct Case {
    int curl;
    long http;
    std::string body;
    absl::StatusCode want;
    std::string says;
  } cases[] = {
      {0, 404, Error("NoSuchKey", "The specified key does not exist."), absl::StatusCode::kNotFound, "key does not exist"},
      {0, 404, Error("NoSuchUpload", "gone"), absl::StatusCode::kNotFound, "gone"},
      {0, 404, Error("NoSuchBucket", "x"), absl::StatusCode::kFailedPrecondition,
       "bucket \"lake\" does not exist at http://127.0.0.1:9000; create it (aws s3 mb s3://lake)"},
      {0, 403, Error("InvalidAccessKeyId", "x"), absl::StatusCode::kUnauthenticated, "does not know this access key"},
      {0, 403, Error("SignatureDoesNotMatch", "x"), absl::StatusCode::kUnauthenticated, "secret key does not match"},
      {0, 400, Error("AuthorizationHeaderMalformed", "x", "<Region>us-east-1</Region>"), absl::StatusCode::kFailedPrecondition,
       "not in region eu-west-3 but in us-east-1; set AWS_REGION"},
      {0, 403, Error("AccessDenied", "Access Denied"), absl::StatusCode::kPermissionDenied, "Access Denied (credentials from env"},
      {0, 503, Error("SlowDown", "Reduce your request rate"), absl::StatusCode::kUnavailable, "Reduce your request rate"},
      {0, 500, Error("InternalError", "x"), absl::StatusCode::kUnavailable, "x"},
      {0, 412, Error("PreconditionFailed", "x"), absl::StatusCode::kAlreadyExists, "already exists"},
      {0, 404, "", absl::StatusCode::kNotFound, "HTTP 404"},
      {0, 403, "", absl::StatusCode::kPermissionDenied, "HTTP 403"},
      {0, 301, "", absl::StatusCode::kFailedPrecondition, "the bucket is elsewhere"},
      {7, 0, "", absl::StatusCode::kUnavailable, "is the S3 server at http://127.0.0.1:9000 running and reachable?"},
  };
  for (const Case& c : cases) {
    Status s = S3ErrorToStatus(c.curl, c.http, c.body, "list /x in s3://lake", o);
    EXPECT_EQ(s.code(), c.want) << c.body << " -> " << s;
    EXPECT_TRUE(Contains(std::string(s.message()), c.says)) << s;
    EXPECT_TRUE(std::string(s.message()).starts_with("list /x in s3://lake: ")) << s;
    EXPECT_EQ(s.message().find('\n'), std::string_view::npos) << s;
  }
}

}  // namespace
}  // namespace comptoir::lake
