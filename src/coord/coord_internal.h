// Shared pieces of the coordination backends.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "comptoir/coord/coordinator.h"

namespace comptoir::coord::internal {

// A lock, key or group name as one node name: letters, digits, '-', '_', '.'
// kept, '/' escaped as %2F; anything else is InvalidArgument.
StatusOr<std::string> NodeName(const std::string& name);
// The name back from a node name.
std::string DisplayName(const std::string& node);

StatusOr<std::unique_ptr<Coordinator>> OpenLocal(const std::string& dir);
// `rest`: "host:port[,host:port]/chroot".
StatusOr<std::unique_ptr<Coordinator>> OpenZooKeeper(const std::string& uri, const std::string& rest,
                                                     std::chrono::milliseconds timeout);

}  // namespace comptoir::coord::internal
