// comptoir up / down / ps: the platform's components as supervised child
// processes (orchestrate/up.h). See docs/platform.md.
#include <filesystem>
#include <iostream>

#include "common.h"
#include "comptoir/orchestrate/up.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"

namespace comptoir::cli {
namespace {

struct UpFlags {
  std::string config;  // -c; default: the global --config
  bool detach = false;
  bool dry_run = false;
  bool json = false;
};

constexpr const char* kConfigHelp =
    "The configuration file with the [components.NAME] to run (default: --config, ./comptoir.toml)";

std::string ExePath() {
  std::error_code ec;
  std::filesystem::path p = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? "comptoir" : p.string();
}

StatusOr<orchestrate::UpSetup> Setup(const UpFlags& f, const Globals& g) {
  return orchestrate::LoadUpSetup(!f.config.empty() ? f.config : g.config_path);
}

StatusOr<int> RunUp(const UpFlags& f, const Globals& g) {
  ASSIGN_OR_RETURN(orchestrate::UpSetup s, Setup(f, g));
  orchestrate::UpOptions o;
  o.detach = f.detach;
  o.dry_run = f.dry_run;
  o.exe = ExePath();
  o.commands = CommandInfos();
  return orchestrate::RunUp(s, o);
}

Status RunPs(const UpFlags& f, const Globals& g) {
  ASSIGN_OR_RETURN(orchestrate::UpSetup s, Setup(f, g));
  ASSIGN_OR_RETURN(orchestrate::UpStatus st, orchestrate::ReadUpStatus(s));
  const int pid = st.supervisor_pid;
  if (f.json) {
    nlohmann::json j = st.state ? nlohmann::json::parse(orchestrate::StateToJson(*st.state)) : nlohmann::json::object();
    j["running"] = pid > 0;
    std::cout << j.dump() << "\n";
    return absl::OkStatus();
  }
  std::cout << (pid > 0 ? fmt::format("supervisor: running (pid {}), {}\n", pid, s.run_dir)
                        : fmt::format("supervisor: not running ({})\n", s.run_dir));
  if (!st.state) return absl::OkStatus();
  std::cout << fmt::format("{:<20} {:<11} {:>8} {:>5}  {}\n", "COMPONENT", "STATE", "PID", "RUNS",
                           "LAST EXIT / NEXT RUN");
  for (const orchestrate::ComponentState& c : st.state->components) {
    std::string info = c.last_exit;
    if (!c.next_run.empty() && pid > 0) info += (info.empty() ? "" : "; ") + ("next " + c.next_run);
    std::cout << fmt::format("{:<20} {:<11} {:>8} {:>5}  {}\n", c.name, pid > 0 ? c.state : "stopped",
                             pid > 0 && c.pid > 0 ? std::to_string(c.pid) : "-", c.runs, info);
  }
  return absl::OkStatus();
}

}  // namespace

std::vector<CommandDef> UpCommands() {
  using orchestrate::Lifetime;
  return {
      {{.name = "up",
        .help = "Start the configured components (agents, producer, serve with the archiver, scheduled imports) in "
                "dependency order once the services they need are ready; restart crashed ones with backoff; one log "
                "file each",
        .lifetime = Lifetime::kLongRunning,
        .supervised = false},
       [](Command& cmd) {
         auto f = std::make_shared<UpFlags>();
         cmd.Option("-c,--config", &f->config, kConfigHelp);
         cmd.Flag("-d,--detach", &f->detach,
                  "Return once everything is up; the supervisor keeps running in the background");
         cmd.Flag("--dry-run", &f->dry_run, "Print what would be waited for and started, in order; start nothing");
         const Globals* g = &cmd.globals();
         cmd.ActionWithCode([f, g] { return RunUp(*f, *g); });
       }},
      {{.name = "down",
        .help = "Stop what `comptoir up` started, last started first, and the supervisor",
        .supervised = false},
       [](Command& cmd) {
         auto f = std::make_shared<UpFlags>();
         cmd.Option("-c,--config", &f->config, kConfigHelp);
         const Globals* g = &cmd.globals();
         cmd.Action([f, g]() -> Status {
           ASSIGN_OR_RETURN(orchestrate::UpSetup s, Setup(*f, *g));
           return orchestrate::RunDown(s);
         });
       }},
      {{.name = "ps", .help = "Show the components `comptoir up` runs: state, pid, runs, last exit", .supervised = false},
       [](Command& cmd) {
         auto f = std::make_shared<UpFlags>();
         cmd.Option("-c,--config", &f->config, kConfigHelp);
         cmd.Flag("--json", &f->json, "Print JSON (up.json, with \"running\")");
         const Globals* g = &cmd.globals();
         cmd.Action([f, g] { return RunPs(*f, *g); });
       }},
  };
}

}  // namespace comptoir::cli
