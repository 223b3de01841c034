// comptoir: one binary, one subcommand per job.
#include <iostream>

#include "common.h"
#include "comptoir/core/log.h"
#include "comptoir/core/signals.h"
#include "comptoir/lake/storage.h"
#include "comptoir/lake/webhdfs.h"
#include "fmt/format.h"

namespace {

constexpr char kVersion[] = "0.1.0";

// `nested`: a command run by another one (`demo`), in this process: logging
// and signal handling are the outer command's.
int Main(int argc, char** argv, bool nested) {
  using namespace comptoir;
  if (!nested) {
    core::InstallSignalHandlers();
    lake::RegisterBuiltinStorages();
    lake::RegisterWebHdfsStorage();
    core::InitLogging(core::LogFormat::kHuman, spdlog::level::info);
  }

  cli::Globals g;
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
  auto* config_opt =
      app.add_option("--config", g.config_path, "TOML configuration file (default ./comptoir.toml)");
  app.add_option("--log-format", g.log_format, "human (default) or json");
  app.add_option("--log-level", g.log_level, "trace, debug, info (default), warn, error, off");
  app.add_flag("-q,--quiet", g.quiet, "No progress bars");
  std::string hdfs_user;
  app.add_option("--hdfs-user", hdfs_user,
                 "user.name for webhdfs:// lakes (default: config hdfs.user, HADOOP_USER_NAME, "
                 "the local user)");

  // Configuration and logging are settled before any command runs.
  app.parse_complete_callback([&] {
    g.config_explicit = config_opt->count() > 0;
    StatusOr<core::Config> c = core::Config::Load(g.config_path, g.config_explicit);
    if (!c.ok()) throw CLI::ValidationError("--config", std::string(c.status().message()));
    g.config = *std::move(c);
    if (!g.log_format.empty()) (void)g.config.Set("log.format", g.log_format);
    if (!g.log_level.empty()) (void)g.config.Set("log.level", g.log_level);
    if (!hdfs_user.empty()) (void)g.config.Set("hdfs.user", hdfs_user);
    cli::SetDefaultHdfsUser(g.config.GetString("hdfs.user"));
    StatusOr<core::LogFormat> fmt = core::ParseLogFormat(g.config.GetString("log.format"));
    if (!fmt.ok()) throw CLI::ValidationError("--log-format", std::string(fmt.status().message()));
    StatusOr<spdlog::level::level_enum> lvl = core::ParseLogLevel(g.config.GetString("log.level"));
    if (!lvl.ok()) throw CLI::ValidationError("--log-level", std::string(lvl.status().message()));
    if (!nested) core::InitLogging(*fmt, *lvl);
  });

  cli::AddSeedCommand(&app, &g, &result);
  cli::AddImportCommands(&app, &g, &result);
  cli::AddLakeCommands(&app, &g, &result);
  cli::AddStreamCommands(&app, &g, &result);
  cli::AddAgentCommand(&app, &g, &result);
  cli::AddServeCommand(&app, &g, &result);
  cli::AddHealthCommand(&app, &g, &result);
  cli::AddDemoCommand(&app, &g, &result);
  cli::AddUpCommands(&app, &g, &result);

  CLI::App* config_cmd = app.add_subcommand("config", "Show configuration keys and values");
  config_cmd->add_subcommand("keys", "List every configuration key with its type and help")
      ->callback([&] {
        for (const core::ConfigKey& k : core::BuiltinConfigKeys()) {
          std::cout << fmt::format("{:<26} {:<8} default {:<10} env {}\n  {}\n", k.name,
                                   k.type == core::ConfigType::kInt    ? "integer"
                                   : k.type == core::ConfigType::kBool ? "boolean"
                                   : k.type == core::ConfigType::kSection ? "table"
                                                                          : "string",
                                   k.default_value.empty() ? "\"\"" : k.default_value,
                                   core::Config::EnvName(k.name), k.help);
        }
      });
  config_cmd->add_subcommand("show", "Print each key's value and where it came from")
      ->callback([&] {
        for (const core::ConfigKey& k : core::BuiltinConfigKeys()) {
          if (k.type == core::ConfigType::kSection) continue;  // shown by its command (`up --print`)
          if (k.name.ends_with(".*")) {
            std::string prefix(k.name.substr(0, k.name.size() - 2));
            for (const auto& [key, value] : g.config.GetTable(prefix)) {
              std::string full = StrCat(prefix, ".", key);
              std::cout << fmt::format("{} = \"{}\"  ({})\n", full, value, g.config.Origin(full));
            }
            continue;
          }
          std::cout << fmt::format("{} = \"{}\"  ({})\n", k.name, g.config.GetString(k.name),
                                   g.config.Origin(k.name));
        }
      });
  config_cmd->require_subcommand(1);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  return result;
}

}  // namespace

namespace comptoir::cli {
int RunCommandLine(const std::vector<std::string>& args) {
  std::vector<std::string> storage = {"comptoir"};
  storage.insert(storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : storage) argv.push_back(a.data());
  return Main(static_cast<int>(argv.size()), argv.data(), /*nested=*/true);
}
}  // namespace comptoir::cli

int main(int argc, char** argv) { return Main(argc, argv, /*nested=*/false); }
