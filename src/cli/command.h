// The command line's building blocks. A Command is one (sub)command: its
// flags and its action. It is a thin typed layer over the parser (CLI11), so
// that the command files do not include the parser's headers (about 8 s of
// compile time per file): only command.cc does.
//
// Each command file exports descriptors (CommandDef): the supervisor's view
// of the command (orchestrate::CommandInfo: name, help, one-shot or
// long-running, what it needs, when it is ready) and a function that declares
// its flags, with their defaults, and its action. main.cc registers the
// table; `comptoir up` plans its components from the same table.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "comptoir/core/config.h"
#include "comptoir/core/status.h"
#include "comptoir/orchestrate/commands.h"

namespace CLI {
class App;
class Option;
}  // namespace CLI

namespace comptoir::cli {

// Options every command shares; filled before a command's action runs.
struct Globals {
  std::string config_path = "./comptoir.toml";
  bool config_explicit = false;
  std::string log_format;
  std::string log_level;
  bool quiet = false;
  core::Config config;
};

// Exit codes: 0 ok, 1 failure, 2 usage error, 3 a data-quality rule with
// action `fail` failed (nothing published), 130 interrupted.
int ExitCodeFor(const Status& s);

class Command {
 public:
  Command(CLI::App* app, Globals* globals, int* result);

  // An option that takes a value: "--table sales" or "--table=sales". `names`
  // is comma-separated ("-m,--num-mappers"); a name without a leading dash is
  // a positional argument. The variable's value before parsing is the default.
  Command& Option(std::string_view names, std::string* value, std::string_view help);
  Command& Option(std::string_view names, int* value, std::string_view help);
  Command& Option(std::string_view names, int64_t* value, std::string_view help);
  Command& Option(std::string_view names, uint64_t* value, std::string_view help);
  Command& Option(std::string_view names, double* value, std::string_view help);
  Command& Option(std::string_view names, std::vector<std::string>* values, std::string_view help);
  Command& Option(std::string_view names, std::optional<std::string>* value, std::string_view help);
  // A duration ("500ms", "30s", "5m", "2h"), checked while parsing.
  Command& Duration(std::string_view names, std::chrono::milliseconds* value, std::string_view help);
  // A flag without a value.
  Command& Flag(std::string_view names, bool* value, std::string_view help);
  // The option just added must be given.
  Command& Required();
  // The (integer) option just added must be within [min, max].
  Command& Within(int min, int max);

  // A subcommand ("bus list").
  Command Sub(std::string_view name, std::string_view help);
  // One of the subcommands must be given.
  Command& RequireSub();

  // The action. Its Status becomes the exit code (ExitCodeFor) and, when not
  // ok, the one line "comptoir <command>: <message>" on stderr. An exception
  // (a bug, or a library's error that escaped) becomes the same kind of line
  // and exit code 1, never an abort. It does not run when one of the
  // command's subcommands is given (that one's action runs instead).
  void Action(std::function<Status()> run);
  // An action that chooses its exit code (`health`: 1 when a component is
  // not ok).
  void ActionWithCode(std::function<StatusOr<int>()> run);

  Globals& globals() const { return *globals_; }
  std::string name() const;

 private:
  CLI::App* app_;
  Globals* globals_;
  int* result_;
  CLI::Option* last_ = nullptr;
};

// A command parsed on its own, outside the command line (a saved job's
// import): declare its flags with `define`, then Parse().
class DetachedCommand {
 public:
  DetachedCommand(std::string_view name, Globals* globals);
  ~DetachedCommand();
  Command& command() { return command_; }
  // InvalidArgument with the parser's message when `args` do not parse.
  Status Parse(const std::vector<std::string>& args);

 private:
  std::unique_ptr<CLI::App> app_;
  int result_ = 0;
  Command command_;
};

// A command of the binary: the supervisor's view and the flags and action.
struct CommandDef {
  orchestrate::CommandInfo info;
  std::function<void(Command&)> define;
};

// Runs `comptoir <args>` in this process, as the command line would, and
// returns its exit code (for `demo`, which runs several commands at once).
int RunCommandLine(const std::vector<std::string>& args);

// `main`: the whole command line.
int RunMain(int argc, char** argv);

// Every command of the binary, in the order of `comptoir --help`.
const std::vector<CommandDef>& AllCommands();
// The supervisor's view of them.
std::vector<orchestrate::CommandInfo> CommandInfos();

}  // namespace comptoir::cli
