// The only file of the command line that includes the parser (CLI11).
#include "command.h"

#include <exception>
#include <iostream>

#include "CLI/CLI.hpp"
#include "comptoir/core/log.h"
#include "comptoir/core/signals.h"
#include "comptoir/core/units.h"
#include "comptoir/lake/storage.h"
#include "comptoir/lake/webhdfs.h"
#include "comptoir/quality/rules.h"
#include "fmt/format.h"
#include "spdlog/spdlog.h"

namespace comptoir::cli {

int ExitCodeFor(const Status& s) {
  if (s.ok()) return 0;
  if (absl::IsAborted(s)) return 130;
  if (quality::IsQualityFailed(s)) return quality::kQualityFailedExitCode;
  return 1;
}

namespace {

constexpr char kVersion[] = "0.1.0";

// "bus describe" for the app of `comptoir bus describe`.
std::string CommandPath(const CLI::App* app) {
  std::string path;
  for (const CLI::App* a = app; a != nullptr && a->get_parent() != nullptr; a = a->get_parent()) {
    path = path.empty() ? a->get_name() : a->get_name() + " " + path;
  }
  return path;
}

// Runs an action: the Status or exception it ends with becomes the exit code
// and one line on stderr.
int RunAction(const CLI::App* app, const std::function<StatusOr<int>()>& run) {
  StatusOr<int> code = absl::InternalError("no result");
  try {
    code = run();
  } catch (const CLI::Error&) {
    throw;  // the parser's own (usage) errors are reported by the parser
  } catch (const std::exception& e) {
    code = absl::InternalError(fmt::format(
        "unexpected error: {} (this is a bug; please report it with the command line that caused it)", e.what()));
  }
  if (code.ok()) return *code;
  spdlog::error("{}: {}", CommandPath(app), std::string(code.status().message()));
  return ExitCodeFor(code.status());
}

// Global options, configuration and logging, then one command.
// `nested`: a command run by another one (`demo`), in this process: logging
// and signal handling are the outer command's.
int Main(int argc, char** argv, bool nested) {
  if (!nested) {
    core::InstallSignalHandlers();
    lake::RegisterBuiltinStorages();
    lake::RegisterWebHdfsStorage();
    core::InitLogging(core::LogFormat::kHuman, spdlog::level::info);
  }
  Globals g;
  int result = 0;
  CLI::App app{
      "Comptoir: a retail data platform in one native binary.\n"
      "Batch import from ERP databases into an HDFS-style lake (Flow A), with Sqoop's flags;\n"
      "point-of-sale events on a durable bus, embedded or Kafka (Flow B); application logs into the lake\n"
      "(Flow C); a live dashboard (serve); health, coordination and a supervisor (up/down)."};
  app.name("comptoir");
  app.set_version_flag("--version", kVersion);
  app.require_subcommand(1);
  app.fallthrough();
  auto* config_opt = app.add_option("--config", g.config_path, "TOML configuration file (default ./comptoir.toml)");
  app.add_option("--log-format", g.log_format, "human (default) or json");
  app.add_option("--log-level", g.log_level, "trace, debug, info (default), warn, error, off");
  app.add_flag("-q,--quiet", g.quiet, "No progress bars");
  std::string hdfs_user;
  app.add_option("--hdfs-user", hdfs_user,
                 "user.name for webhdfs:// lakes (default: config hdfs.user, HADOOP_USER_NAME, the local user)");
  // Configuration and logging are settled before any command runs.
  app.parse_complete_callback([&] {
    g.config_explicit = config_opt->count() > 0;
    StatusOr<core::Config> c = core::Config::Load(g.config_path, g.config_explicit);
    if (!c.ok()) throw CLI::ValidationError("--config", std::string(c.status().message()));
    g.config = *std::move(c);
    if (!g.log_format.empty()) (void)g.config.Set("log.format", g.log_format);
    if (!g.log_level.empty()) (void)g.config.Set("log.level", g.log_level);
    if (!hdfs_user.empty()) (void)g.config.Set("hdfs.user", hdfs_user);
    StatusOr<core::LogFormat> fmt = core::ParseLogFormat(g.config.GetString("log.format"));
    if (!fmt.ok()) throw CLI::ValidationError("--log-format", std::string(fmt.status().message()));
    StatusOr<spdlog::level::level_enum> lvl = core::ParseLogLevel(g.config.GetString("log.level"));
    if (!lvl.ok()) throw CLI::ValidationError("--log-level", std::string(lvl.status().message()));
    if (!nested) core::InitLogging(*fmt, *lvl);
  });
  for (const CommandDef& def : AllCommands()) {
    Command cmd(app.add_subcommand(std::string(def.info.name), std::string(def.info.help)), &g, &result);
    def.define(cmd);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  return result;
}

}  // namespace

Command::Command(CLI::App* app, Globals* globals, int* result) : app_(app), globals_(globals), result_(result) {}

Command& Command::Option(std::string_view names, std::string* value, std::string_view help) {
  last_ = app_->add_option(std::string(names), *value, std::string(help));
  return *this;
}
Command& Command::Option(std::string_view names, int* value, std::string_view help) {
  last_ = app_->add_option(std::string(names), *value, std::string(help));
  return *this;
}
Command& Command::Option(std::string_view names, int64_t* value, std::string_view help) {
  last_ = app_->add_option(std::string(names), *value, std::string(help));
  return *this;
}
Command& Command::Option(std::string_view names, uint64_t* value, std::string_view help) {
  last_ = app_->add_option(std::string(names), *value, std::string(help));
  return *this;
}
Command& Command::Option(std::string_view names, double* value, std::string_view help) {
  last_ = app_->add_option(std::string(names), *value, std::string(help));
  return *this;
}
Command& Command::Option(std::string_view names, std::vector<std::string>* values, std::string_view help) {
  last_ = app_->add_option(std::string(names), *values, std::string(help));
  return *this;
}
Command& Command::Option(std::string_view names, std::optional<std::string>* value, std::string_view help) {
  last_ = app_->add_option(std::string(names), *value, std::string(help));
  return *this;
}

Command& Command::Duration(std::string_view names, std::chrono::milliseconds* value, std::string_view help) {
  std::string name(names.substr(0, names.find(',')));
  last_ = app_->add_option_function<std::string>(
      std::string(names),
      [value, name](const std::string& text) {
        StatusOr<std::chrono::milliseconds> d = core::ParseDuration(text);
        if (!d.ok()) throw CLI::ValidationError(name, std::string(d.status().message()));
        *value = *d;
      },
      std::string(help));
  return *this;
}

Command& Command::Flag(std::string_view names, bool* value, std::string_view help) {
  last_ = app_->add_flag(std::string(names), *value, std::string(help));
  return *this;
}

Command& Command::Required() {
  if (last_ != nullptr) last_->required();
  return *this;
}

Command& Command::Within(int min, int max) {
  if (last_ != nullptr) last_->check(CLI::Range(min, max));
  return *this;
}

Command Command::Sub(std::string_view name, std::string_view help) {
  return Command(app_->add_subcommand(std::string(name), std::string(help)), globals_, result_);
}

Command& Command::RequireSub() {
  app_->require_subcommand(1);
  return *this;
}

std::string Command::name() const { return CommandPath(app_); }

void Command::Action(std::function<Status()> run) {
  CLI::App* app = app_;
  int* result = result_;
  app_->callback([app, result, run = std::move(run)] {
    if (!app->get_subcommands().empty()) return;  // the subcommand's action decided
    *result = RunAction(app, [&]() -> StatusOr<int> {
      Status s = run();
      if (!s.ok()) return s;
      return 0;
    });
  });
}

void Command::ActionWithCode(std::function<StatusOr<int>()> run) {
  CLI::App* app = app_;
  int* result = result_;
  app_->callback([app, result, run = std::move(run)] {
    if (!app->get_subcommands().empty()) return;  // the subcommand's action decided
    *result = RunAction(app, run);
  });
}

DetachedCommand::DetachedCommand(std::string_view name, Globals* globals)
    : app_(std::make_unique<CLI::App>(std::string(name))), command_(app_.get(), globals, &result_) {}

DetachedCommand::~DetachedCommand() = default;

Status DetachedCommand::Parse(const std::vector<std::string>& args) {
  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 takes them last first
  try {
    app_->parse(reversed);
  } catch (const CLI::ParseError& e) {
    return absl::InvalidArgumentError(e.what());
  }
  return absl::OkStatus();
}

int RunCommandLine(const std::vector<std::string>& args) {
  std::vector<std::string> storage = {"comptoir"};
  storage.insert(storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : storage) argv.push_back(a.data());
  return Main(static_cast<int>(argv.size()), argv.data(), /*nested=*/true);
}

std::vector<orchestrate::CommandInfo> CommandInfos() {
  std::vector<orchestrate::CommandInfo> out;
  for (const CommandDef& def : AllCommands()) out.push_back(def.info);
  return out;
}

int RunMain(int argc, char** argv) { return Main(argc, argv, /*nested=*/false); }

}  // namespace comptoir::cli
