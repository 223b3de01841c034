#include "zk_errors.h"

#include <gtest/gtest.h>
#include <zookeeper/zookeeper.h>

namespace comptoir::coord::internal {
namespace {

using Code = absl::StatusCode;

TEST(ZkErrorTest, Table) {
  struct Case {
    int rc;
    Code code;
  } cases[] = {
      {ZCONNECTIONLOSS, Code::kUnavailable}, {ZOPERATIONTIMEOUT, Code::kUnavailable},
      {ZSESSIONEXPIRED, Code::kUnavailable}, {ZCLOSING, Code::kUnavailable},
      {ZNONODE, Code::kNotFound},            {ZNODEEXISTS, Code::kAlreadyExists},
      {ZBADVERSION, Code::kFailedPrecondition}, {ZNOAUTH, Code::kInternal},
      {ZNOTEMPTY, Code::kInternal},
  };
  for (const Case& c : cases) EXPECT_EQ(ZkError(c.rc, "x").code(), c.code) << zerror(c.rc);
  EXPECT_EQ(ZkError(ZNONODE, "get /comptoir/jobs/x").message(),
            std::string("ZooKeeper: get /comptoir/jobs/x: ") + zerror(ZNONODE));
}

}  // namespace
}  // namespace comptoir::coord::internal
