// Coordination between Comptoir processes: locks with leases, versioned
// key-value state, membership and watches.
//
//   local:///var/lib/comptoir/coord    one machine: file locks and files
//   zk://zk1:2181,zk2:2181/comptoir     a ZooKeeper ensemble (chroot optional)
//
// * Locks are leases: released by Lock's destructor, and by the system when
//   the holder dies (local: the kernel drops the flock; ZooKeeper: the holder's
//   ephemeral node goes with its session).
// * Key-value state carries a version; CompareAndSet() writes only over the
//   version the caller read (kNoVersion: only if the key does not exist), so
//   two writers never lose each other's update silently.
// * Membership: Register() publishes an ephemeral entry with a payload
//   (an agent's lag and last commit); it disappears when its owner dies.
// * Watches: Watch() calls back (on a coordinator thread) when a key or a
//   group's members change.
// ZooKeeper sessions that expire are re-established; registrations are made
// again, and locks held by the old session are reported as lost (Lock::lost()).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "comptoir/core/config.h"
#include "comptoir/core/status.h"

namespace comptoir::coord {

inline constexpr int64_t kNoVersion = -1;

struct Versioned {
  std::string value;
  int64_t version = kNoVersion;
};

struct Member {
  std::string id;
  std::string payload;
};

class Lock {
 public:
  virtual ~Lock() = default;
  // True once the lease was lost (a ZooKeeper session expired).
  virtual bool lost() const = 0;
};

class Registration {
 public:
  virtual ~Registration() = default;  // leaves the group
  virtual Status Update(const std::string& payload) = 0;
};

class Coordinator {
 public:
  virtual ~Coordinator() = default;
  virtual std::string Uri() const = 0;
  // Takes lock `name` for `holder`, waiting up to `wait` (0: try once).
  // FailedPrecondition "held by <holder>" when it stays taken.
  virtual StatusOr<std::unique_ptr<Lock>> Acquire(const std::string& name, const std::string& holder,
                                                  std::chrono::milliseconds wait) = 0;
  // NotFound when the key has no value.
  virtual StatusOr<Versioned> Get(const std::string& key) = 0;
  // Writes `value` if the key's version is `expected` (kNoVersion: absent);
  // returns the new version. FailedPrecondition on a conflict.
  virtual StatusOr<int64_t> CompareAndSet(const std::string& key, const std::string& value, int64_t expected) = 0;
  virtual StatusOr<std::unique_ptr<Registration>> Register(const std::string& group, const std::string& id,
                                                           const std::string& payload) = 0;
  virtual StatusOr<std::vector<Member>> Members(const std::string& group) = 0;
  // Calls `changed` when the key (or, with `group`, the group's membership or a
  // member's payload) changes, until the coordinator is destroyed.
  virtual Status Watch(const std::string& key_or_group, bool group, std::function<void()> changed) = 0;
};

// Opens local:///dir or zk://hosts/chroot. InvalidArgument for another scheme;
// Unavailable when ZooKeeper cannot be reached within `timeout`.
StatusOr<std::unique_ptr<Coordinator>> OpenCoordinator(const std::string& uri,
                                                       std::chrono::milliseconds timeout = std::chrono::seconds(10));
// The coordination a command uses: `flag` (its --coord) when not empty, else
// the configuration's coord.uri, else local:// in $HOME/.comptoir/coord (one
// machine).
std::string ConfiguredCoordinationUri(const core::Config& config, std::string_view flag);
StatusOr<std::unique_ptr<Coordinator>> OpenConfiguredCoordinator(const core::Config& config, std::string_view flag);

}  // namespace comptoir::coord
