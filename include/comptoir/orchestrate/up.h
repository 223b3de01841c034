// `comptoir up`, `down` and `ps` below the command line: the components of a
// configuration file started in dependency order once the external services
// they need are ready, supervised (supervisor.h), and stopped again.
//
// Files, in the configuration's up.run_dir (default ./run):
//   up.pid   the supervisor's pid, flock'ed while it runs (one `up` per run_dir)
//   up.log   what `up` said (the step lines; the detached supervisor's output)
//   up.json  the supervisor's state (SupervisorState), read by `ps`
//   logs/<component>.log
//
// Output: `up` and `down` print their step lines on stdout as they go.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "comptoir/core/config.h"
#include "comptoir/core/status.h"
#include "comptoir/orchestrate/commands.h"
#include "comptoir/orchestrate/supervisor.h"

namespace comptoir::orchestrate {

// A configuration file and what `up` derives from it.
struct UpSetup {
  std::string config_path;  // absolute
  core::Config config;
  std::string run_dir, log_dir, pid_path, log_path, state_path;
  std::chrono::milliseconds wait_timeout{120000}, stop_timeout{20000};
};

// Reads `config_path` and changes the working directory to the file's: its
// relative paths (lake, bus, run_dir, sources) are relative to it, for `up`
// and for every component it runs. NotFound (saying how to declare
// components) when the file does not exist.
StatusOr<UpSetup> LoadUpSetup(const std::string& config_path);

struct UpOptions {
  bool detach = false;   // return once everything is up; the supervisor stays in the background
  bool dry_run = false;  // print what would be waited for and started; start nothing
  std::string exe;       // the comptoir binary the components run
  std::vector<CommandInfo> commands;  // what `up` may run, and how
};

// Errors found before anything starts (a configuration mistake, a missing
// saved job, a second `up` on the same run_dir) are returned. Otherwise the
// result is the exit code: 0 after a clean start and stop; a failed start-up
// (a service never ready, a component that died while starting) is reported on
// the way, stops what had started and gives 1 (130 when interrupted).
StatusOr<int> RunUp(const UpSetup& setup, const UpOptions& options);

// Stops the supervisor of `setup` (SIGTERM; it stops its components last
// started first) and relays its lines; "nothing is running" is not an error.
// DeadlineExceeded after killing a supervisor that did not stop in time.
Status RunDown(const UpSetup& setup);

// What `ps` shows: the running supervisor's pid (0 when none runs) and the
// last state it wrote (nullopt when it never wrote one).
struct UpStatus {
  int supervisor_pid = 0;
  std::optional<SupervisorState> state;
};
// DataLoss when the state file is damaged (the error names it).
StatusOr<UpStatus> ReadUpStatus(const UpSetup& setup);

}  // namespace comptoir::orchestrate
