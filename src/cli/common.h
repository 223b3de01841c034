// Pieces of the command line that several commands share: flag groups and
// the descriptors every command file exports (registered in registry.cc).
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "command.h"
#include "comptoir/core/names.h"
#include "comptoir/core/status.h"
#include "comptoir/health/health.h"
#include "comptoir/lake/storage.h"
#include "comptoir/source/database.h"

namespace comptoir::cli {

// The descriptors of each command file.
std::vector<CommandDef> LakeCommands();
std::vector<CommandDef> SeedCommands();
std::vector<CommandDef> ImportCommands();
std::vector<CommandDef> DemoCommands();
std::vector<CommandDef> StreamCommands();
std::vector<CommandDef> AgentCommands();
std::vector<CommandDef> ServeCommands();
std::vector<CommandDef> HealthCommands();
std::vector<CommandDef> UpCommands();
std::vector<CommandDef> ConfigCommands();
std::vector<CommandDef> QualityCommands();
std::vector<CommandDef> ViewsCommands();

// Sqoop's connection flags, shared by seed, import and import-all-tables.
struct ConnectionFlags {
  std::string connect;
  std::string username;
  std::string password_file;
  std::string password;
  bool prompt = false;

  void Add(Command& cmd);
  // The options, reading the password file or prompting (-P) as asked.
  StatusOr<source::ConnectOptions> Resolve() const;
};

// What `health` (and serve's /api/v1/health) checks, from flags and the
// configuration.
struct HealthFlags {
  std::string lake, bus, topic{core::kTopic}, zookeeper, coord, jobs_dir;
  std::vector<std::string> databases;
  std::vector<std::string> datasets = {std::string(core::kSalesDir), std::string(core::kTransactionsDir),
                                       std::string(core::kLogsDir)};
  std::string views_dir = "/user/comptoir/views/sales";  // checked against datasets[0]; "none" = not
  std::chrono::milliseconds stale_after{0};
  std::chrono::milliseconds timeout{3000};
  bool json = false;
  void Add(Command& cmd);
};
health::Targets HealthTargets(const HealthFlags& f, const Globals& g, lake::Storage* lake);
// The datasets the configuration's [[quality.rule]] tables name (none when
// the rules do not load: `comptoir quality rules` says why).
std::vector<std::string> QualityDatasets(const Globals& g);

}  // namespace comptoir::cli
