// comptoir config keys|show: the configuration reference and the values in effect.
#include <iostream>

#include "common.h"
#include "fmt/format.h"

namespace comptoir::cli {
namespace {

std::string_view TypeName(core::ConfigType t) {
  switch (t) {
    case core::ConfigType::kInt: return "integer";
    case core::ConfigType::kBool: return "boolean";
    case core::ConfigType::kSection: return "table";
    case core::ConfigType::kString: break;
  }
  return "string";
}

void PrintKeys() {
  for (const core::ConfigKey& k : core::BuiltinConfigKeys()) {
    std::cout << fmt::format("{:<26} {:<8} default {:<10} env {}\n  {}\n", k.name, TypeName(k.type),
                             k.default_value.empty() ? "\"\"" : k.default_value, core::Config::EnvName(k.name), k.help);
  }
}

void PrintValues(const core::Config& config) {
  for (const core::ConfigKey& k : core::BuiltinConfigKeys()) {
    if (k.type == core::ConfigType::kSection) continue;  // shown by its command (`up --dry-run`)
    if (k.name.ends_with(".*")) {
      std::string prefix(k.name.substr(0, k.name.size() - 2));
      for (const auto& [key, value] : config.GetTable(prefix)) {
        std::string full = StrCat(prefix, ".", key);
        std::cout << fmt::format("{} = \"{}\"  ({})\n", full, value, config.Origin(full));
      }
      continue;
    }
    std::cout << fmt::format("{} = \"{}\"  ({})\n", k.name, config.GetString(k.name), config.Origin(k.name));
  }
}

}  // namespace

std::vector<CommandDef> ConfigCommands() {
  return {{{.name = "config", .help = "Show configuration keys and values", .supervised = false}, [](Command& cmd) {
             cmd.RequireSub();
             cmd.Sub("keys", "List every configuration key with its type and help").Action([] {
               PrintKeys();
               return absl::OkStatus();
             });
             Command show = cmd.Sub("show", "Print each key's value and where it came from");
             const Globals* g = &cmd.globals();
             show.Action([g] {
               PrintValues(g->config);
               return absl::OkStatus();
             });
           }}};
}

}  // namespace comptoir::cli
