// What `comptoir up` runs: the [components.NAME] tables of comptoir.toml.
//
//   [components.serve]
//   run = "serve --archive --listen 127.0.0.1:8080"   # comptoir's own arguments
//
//   [components.import-sales]
//   run = "job --exec sales"
//   every = "5m"                 # or cron = "*/5 * * * *"
//
// Keys of a component:
//   run      the comptoir command line, as a string (split like a shell would,
//            $VARIABLES expanded, no command substitution) or an array
//   after    components to start before this one (besides the default order)
//   needs    external services to wait for: lake, bus, database, coord,
//            zookeeper (default: the command's NeedRules, commands.h)
//   restart  on-failure (default), always, never
//   every / cron   a scheduled one-shot (see schedule.h)
//   ready    when the next component may start: "tcp://host:port" (listening;
//            serve's default is its --listen), "exit" (finished with status 0;
//            default for import, job and other one-shots) or "start" (still
//            running after 1 s; the default otherwise)
//   enabled  false keeps a component in the file without running it
// The default order starts sinks before sources: serve and the archiver,
// then agents, then imports, then producers; `after` adds edges to that.
#pragma once

#include <chrono>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "comptoir/core/status.h"
#include "comptoir/orchestrate/commands.h"
#include "comptoir/orchestrate/schedule.h"

namespace comptoir::orchestrate {

enum class Restart { kOnFailure, kAlways, kNever };

struct ComponentSpec {
  std::string name;
  std::vector<std::string> args;  // after `comptoir`: global options, the command, its flags
  std::string command;            // the subcommand, e.g. "serve"
  std::vector<std::string> after;
  std::vector<std::string> needs;  // "zookeeper", "bus", "lake", "database", "coord"
  Restart restart = Restart::kOnFailure;
  std::optional<Schedule> schedule;
  // Scheduled ones: a comptoir command run after each successful run
  // (`then = "views build"`), in the same slot and log.
  std::vector<std::string> then;
  std::string ready;  // "tcp://host:port", "exit" or "start"
  int start_rank = 1;  // the command's default start order (CommandInfo)
};

// Reads, checks and orders the components of the TOML file at `path`;
// `commands` says which commands `up` may run and how (their needs, ready
// condition and start order). Errors name the file, the component and the
// key. Disabled components are left out. An empty list is an error that says
// how to declare one.
StatusOr<std::vector<ComponentSpec>> LoadComponents(const std::string& path, std::span<const CommandInfo> commands);

// The value of `--flag V` or `--flag=V` in `args`, or "".
std::string FlagValue(const std::vector<std::string>& args, std::string_view flag);

}  // namespace comptoir::orchestrate
