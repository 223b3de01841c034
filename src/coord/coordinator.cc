#include "comptoir/coord/coordinator.h"

#include <filesystem>

#include "comptoir/core/names.h"
#include "comptoir/core/strings.h"
#include "coord_internal.h"

namespace comptoir::coord {

StatusOr<std::unique_ptr<Coordinator>> OpenCoordinator(const std::string& uri, std::chrono::milliseconds timeout) {
  std::string_view rest = uri;
  if (ConsumePrefix(&rest, "local://")) {
    if (rest.empty()) return absl::InvalidArgumentError(StrCat(uri, ": no directory (local:///var/lib/comptoir/coord)"));
    return internal::OpenLocal(std::filesystem::absolute(std::string(rest)).string());
  }
  if (ConsumePrefix(&rest, "zk://")) return internal::OpenZooKeeper(uri, std::string(rest), timeout);
  return absl::InvalidArgumentError(
      StrCat("'", uri, "' is not a coordination URI: use local:///dir or zk://host:port[,host:port]/chroot"));
}

std::string ConfiguredCoordinationUri(const core::Config& config, std::string_view flag) {
  if (!flag.empty()) return std::string(flag);
  std::string uri = config.GetString("coord.uri");
  return uri.empty() ? StrCat("local://", core::HomeStateDir("coord")) : uri;
}

StatusOr<std::unique_ptr<Coordinator>> OpenConfiguredCoordinator(const core::Config& config, std::string_view flag) {
  return OpenCoordinator(ConfiguredCoordinationUri(config, flag));
}

}  // namespace comptoir::coord
