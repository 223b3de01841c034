// The process supervisor behind `comptoir up`: each component is a child
// process (`comptoir <args>`) in its own process group, with its output
// appended to <log_dir>/<name>.log. A crashed component restarts after 1 s,
// 2 s, 4 s ... up to 60 s (back to 1 s once it ran 30 s); scheduled ones run
// at their times, never twice at once. Children get SIGTERM if the
// supervisor dies. Stopping goes in reverse start order: SIGTERM, then
// SIGKILL after the stop timeout.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "comptoir/core/status.h"
#include "comptoir/orchestrate/plan.h"

namespace comptoir::orchestrate {

struct SupervisorOptions {
  std::string exe;                       // the comptoir binary
  std::vector<std::string> global_args;  // put before each component's args (--config FILE -q)
  std::string log_dir;
  std::string state_path;  // JSON snapshot of every component, rewritten on each change ("" = none)
  std::chrono::milliseconds stop_timeout{20000};
  std::chrono::milliseconds ready_timeout{60000};  // for ready = "tcp://..."
  std::chrono::milliseconds start_period{1000};    // for ready = "start"
  std::function<void(std::string_view)> say;       // one line per event
};

class Supervisor {
 public:
  explicit Supervisor(SupervisorOptions options);
  ~Supervisor();  // stops whatever still runs
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  // Starts a component and waits until it is ready; returns a description
  // for the step line ("running (pid 41), listening on 127.0.0.1:8080").
  // A scheduled component is armed, and run now when its schedule says so.
  // A component that fails to start is an error quoting its log's last lines.
  StatusOr<std::string> Start(const ComponentSpec& spec);
  // Supervises until core::Cancelled(), or until nothing is left to run.
  void Run();
  // Stops every running component, the last started first.
  void StopAll();

 private:
  struct Proc;
  // Starts the component's process (its `then` command when `then`).
  void Spawn(Proc* p, bool then = false);
  void OnExit(Proc* p, int wait_status);
  bool ReapOne(Proc* p, bool block);
  void WriteState();
  std::string LogTail(const Proc& p) const;

  SupervisorOptions o_;
  std::vector<std::unique_ptr<Proc>> procs_;
};

// "status 1", "signal 9 (Killed)".
std::string DescribeWaitStatus(int wait_status);

// The state file (`up.json` in the run directory), rewritten atomically on
// every change; `comptoir ps` reads it.
struct ComponentState {
  std::string name;
  std::string command;
  std::string state;  // running | restarting | scheduled | finished | stopped
  int pid = 0;        // 0 when not running
  int runs = 0;
  std::string last_exit;
  std::string log;
  std::string schedule;  // scheduled ones: "every 5m", "cron */5 * * * *"
  std::string next_run;  // scheduled ones: ISO 8601 UTC
};
struct SupervisorState {
  int supervisor_pid = 0;
  std::string updated;  // ISO 8601 UTC
  std::vector<ComponentState> components;
};
std::string StateToJson(const SupervisorState& state);
// NotFound when there is no state file; DataLoss, naming the file and the
// field, when it is damaged.
StatusOr<SupervisorState> ReadSupervisorState(const std::string& path);

}  // namespace comptoir::orchestrate
