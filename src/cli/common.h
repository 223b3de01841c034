// Shared pieces of the command-line front end.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "comptoir/coord/coordinator.h"
#include "comptoir/core/config.h"
#include "comptoir/core/units.h"
#include "comptoir/core/status.h"
#include "comptoir/lake/storage.h"
#include "comptoir/source/database.h"

namespace comptoir::cli {

using core::ParseDuration;
using core::ParseSize;

// Options every command shares; filled by main() before a command runs.
struct Globals {
  std::string config_path = "./comptoir.toml";
  bool config_explicit = false;
  std::string log_format;
  std::string log_level;
  bool quiet = false;
  core::Config config;
};

// Exit codes: 0 ok, 1 failure, 2 usage error, 130 interrupted.
int ExitCodeFor(const Status& s);

// Prints "comptoir <command>: <message>" to stderr and returns the exit code.
int Fail(std::string_view command, const Status& s);

// Opens the lake named by --lake (or config `lake`); a bare directory is
// file://. `shown` receives a text for messages ("file:///abs/lake").
StatusOr<std::unique_ptr<lake::Storage>> OpenLake(const std::string& uri_or_dir);
// --bus, else the config's bus.uri; a bare directory is the embedded log there
// ("none" and "" stay as they are).
std::string BusUri(const Globals& g, const std::string& flag);
// The user webhdfs:// lakes act as when their URI names none.
void SetDefaultHdfsUser(std::string user);

// Each command registers itself on `app` and runs through the callback it
// sets; `result` receives the exit code.
void AddLakeCommands(CLI::App* app, Globals* g, int* result);
void AddSeedCommand(CLI::App* app, Globals* g, int* result);
void AddImportCommands(CLI::App* app, Globals* g, int* result);
void AddDemoCommand(CLI::App* app, Globals* g, int* result);
void AddStreamCommands(CLI::App* app, Globals* g, int* result);
void AddAgentCommand(CLI::App* app, Globals* g, int* result);
void AddServeCommand(CLI::App* app, Globals* g, int* result);
void AddHealthCommand(CLI::App* app, Globals* g, int* result);
// Runs `comptoir <args>` in this process, as the command line would, and
// returns its exit code (for `demo`, which runs several commands at once).
int RunCommandLine(const std::vector<std::string>& args);

// The coordination service: `uri_flag`, else config coord.uri, else
// local:// in $HOME/.comptoir/coord (one machine).
StatusOr<std::unique_ptr<coord::Coordinator>> OpenCoordination(const Globals& g, const std::string& uri_flag);
// This machine's name.
std::string HostName();
// A short stable name for a URI or path (coordination names allow [A-Za-z0-9._-/]).
std::string NameHash(std::string_view text);
// The archiver's lease for (bus, topic): one active archiver per topic. A second
// one waits as a standby (and says so) until the first dies or stops. nullptr
// when cancelled while waiting.
StatusOr<std::unique_ptr<coord::Lock>> TakeArchiverLock(coord::Coordinator* c, const std::string& bus_uri,
                                                        const std::string& topic);

// Where saved jobs live: config import.jobs_dir, else $HOME/.comptoir/jobs.
std::string JobsDir(const Globals& g);
// The saved import of job `name` ("import", "--connect", ...).
StatusOr<std::vector<std::string>> SavedJobArgs(const Globals& g, const std::string& name);
// `comptoir up`, `down` and `ps`.
void AddUpCommands(CLI::App* app, Globals* g, int* result);

// Reads a password file; refuses one readable by group or others.
StatusOr<std::string> ReadPasswordFile(const std::string& path);
// Prompts on the terminal without echo (-P).
StatusOr<std::string> PromptPassword(const std::string& prompt);

}  // namespace comptoir::cli
namespace comptoir::health {
struct Targets;
}
namespace comptoir::cli {
// What `health` (and serve's /api/v1/health) checks, from flags and the config.
struct HealthFlags {
  std::string lake, bus, topic = "transactions", zookeeper, coord, jobs_dir;
  std::vector<std::string> databases;
  std::vector<std::string> datasets = {"/user/sqoop/sales", "/user/kafka/transactions", "/user/flume/logs"};
  std::chrono::seconds stale_after{0};
  std::chrono::milliseconds timeout{3000};
  bool json = false;
  void Add(CLI::App* cmd);
};
health::Targets HealthTargets(const HealthFlags& f, const Globals& g, lake::Storage* lake);

// Sqoop's connection flags, shared by seed, import and import-all-tables.
struct ConnectionFlags {
  std::string connect;
  std::string username;
  std::string password_file;
  std::string password;
  bool prompt = false;

  void Add(CLI::App* app);
  // Builds the options, reading the password file or prompting as asked.
  StatusOr<source::ConnectOptions> Resolve() const;
};

}  // namespace comptoir::cli
