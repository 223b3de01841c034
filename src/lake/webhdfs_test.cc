#include "comptoir/lake/webhdfs.h"

#include <curl/curl.h>
#include <gtest/gtest.h>

namespace comptoir::lake {
namespace {

using Code = absl::StatusCode;

std::string Remote(const std::string& exception, const std::string& message) {
  return R"({"RemoteException":{"exception":")" + exception +
         R"(","javaClassName":"x","message":")" + message + R"("}})";
}

TEST(WebHdfsErrorTest, Table) {
  struct Case {
    int curl;
    long http;
    std::string body;
    Code code;
  } cases[] = {
      {0, 404, Remote("FileNotFoundException", "File does not exist: /x"), Code::kNotFound},
      {0, 403, Remote("FileAlreadyExistsException", "/x already exists"), Code::kAlreadyExists},
      {0, 403, Remote("AlreadyBeingCreatedException", "lease is currently owned by DFSClient_1"), Code::kAlreadyExists},
      {55, 403, Remote("AlreadyBeingCreatedException", "lease is currently owned by DFSClient_1"), Code::kAlreadyExists},
      {0, 403, Remote("AccessControlException", "Permission denied: user=bob"),
       Code::kPermissionDenied},
      {0, 403, Remote("SafeModeException", "Name node is in safe mode."), Code::kUnavailable},
      {0, 403, Remote("RetriableException", "try again"), Code::kUnavailable},
      {0, 403, Remote("StandbyException", "Operation category READ is not supported"),
       Code::kUnavailable},
      {0, 403, Remote("IOException", "Failed to find datanode, suggest to check cluster health."),
       Code::kUnavailable},
      {0, 403, Remote("RemoteException", "File /x could only be written to 0 of the 1 "
                                         "minReplication nodes."),
       Code::kUnavailable},
      {0, 403, Remote("IOException", "/d is non empty': Directory is not empty"),
       Code::kFailedPrecondition},
      {0, 403, Remote("DSQuotaExceededException", "quota"), Code::kResourceExhausted},
      {0, 400, Remote("IllegalArgumentException", "Invalid value"), Code::kInvalidArgument},
      {0, 403, "", Code::kPermissionDenied},
      {0, 401, "", Code::kUnauthenticated},
      {0, 404, "", Code::kNotFound},
      {0, 500, "", Code::kUnavailable},
      {0, 503, "", Code::kUnavailable},
      {CURLE_COULDNT_CONNECT, 0, "", Code::kUnavailable},
      {CURLE_OPERATION_TIMEDOUT, 0, "", Code::kUnavailable},
      {CURLE_RECV_ERROR, 0, "", Code::kUnavailable},  // connection reset
      {CURLE_URL_MALFORMAT, 0, "", Code::kInvalidArgument},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(WebHdfsErrorToStatus(c.curl, c.http, c.body, "ctx").code(), c.code)
        << c.curl << " " << c.http << " " << c.body;
  }
  EXPECT_EQ(WebHdfsErrorToStatus(0, 404, Remote("FileNotFoundException", "File does not exist: /x"),
                                 "stat /x in webhdfs://nn:9870")
                .message(),
            "stat /x in webhdfs://nn:9870: File does not exist: /x");
  EXPECT_EQ(WebHdfsErrorToStatus(CURLE_COULDNT_CONNECT, 0, "", "list / in webhdfs://nn:1").message(),
            "list / in webhdfs://nn:1: Couldn't connect to server (is the NameNode/DataNode "
            "running and reachable?)");
}

TEST(WebHdfsUriTest, UserAndAuth) {
  auto o = ParseWebHdfsUri("webhdfs://nn.example:50070?user=etl&delegation=abc");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->host, "nn.example");
  EXPECT_EQ(o->port, 50070);
  EXPECT_EQ(o->user, "etl");
  EXPECT_EQ(o->delegation, "abc");
  EXPECT_FALSE(o->kerberos);
  auto k = ParseWebHdfsUri("webhdfs://nn?auth=kerberos");
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(k->port, 9870);
  EXPECT_TRUE(k->kerberos);
  EXPECT_FALSE(k->user.empty());
  EXPECT_EQ(ParseWebHdfsUri("webhdfs://a:1,b:2").status().code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace comptoir::lake
