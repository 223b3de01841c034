// What the supervisor knows of a comptoir command. Each command states it
// once, in its descriptor (src/cli: the same table registers the command
// line), and `comptoir up` reads that table to plan the components.
#pragma once

#include <span>
#include <string_view>
#include <vector>

namespace comptoir::orchestrate {

// An external service a command waits for before it can start: "lake",
// "bus", "coord", "database" or "zookeeper". `only_with` / `unless` name a
// flag that adds or removes the need ("serve --no-live" needs no bus).
struct NeedRule {
  std::string_view service;
  std::string_view only_with = {};
  std::string_view unless = {};
};

enum class Lifetime {
  kOneShot,      // finishes by itself: the next component waits for exit 0
  kLongRunning,  // runs until stopped: ready once it listens or still runs after 1 s
};

struct CommandInfo {
  std::string_view name = {};
  std::string_view help = {};
  Lifetime lifetime = Lifetime::kOneShot;
  bool supervised = true;  // `up` may run it (not up, down, ps, demo)
  // Default start order, sinks before sources: 0 serve and the archiver,
  // 1 agents, 2 imports, 3 producers.
  int start_rank = 1;
  std::vector<NeedRule> needs = {};
  // A long-running server is ready once something listens on this flag's
  // HOST:PORT (`listen_default` when the flag is not given).
  std::string_view listen_flag = {};
  std::string_view listen_default = {};
  // Subcommands that finish by themselves although the command does not
  // ("agent compact").
  std::vector<std::string_view> one_shot_subcommands = {};
};

// The entry for `name`, or nullptr.
const CommandInfo* FindCommand(std::span<const CommandInfo> commands, std::string_view name);

}  // namespace comptoir::orchestrate
