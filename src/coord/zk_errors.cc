#include "zk_errors.h"

#include <zookeeper/zookeeper.h>

#include "fmt/format.h"

namespace comptoir::coord::internal {

Status ZkError(int rc, const std::string& what) {
  std::string msg = fmt::format("ZooKeeper: {}: {}", what, zerror(rc));
  switch (rc) {
    case ZCONNECTIONLOSS:
    case ZOPERATIONTIMEOUT:
    case ZSESSIONEXPIRED:
    case ZCLOSING:
      return absl::UnavailableError(msg);
    case ZNONODE:
      return absl::NotFoundError(msg);
    case ZNODEEXISTS:
      return absl::AlreadyExistsError(msg);
    case ZBADVERSION:
      return absl::FailedPreconditionError(msg);
    default:
      return absl::InternalError(msg);
  }
}

}  // namespace comptoir::coord::internal
