// ZooKeeper C client return codes to Status, in one table: Unavailable
// (connection lost, timeout, expired session) is retried by the callers; a
// lost compare-and-set is FailedPrecondition.
#pragma once

#include <string>

#include "comptoir/core/status.h"

namespace comptoir::coord::internal {

// "ZooKeeper: <what>: <zerror text>".
Status ZkError(int rc, const std::string& what);

}  // namespace comptoir::coord::internal
