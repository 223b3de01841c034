// The command table: every command of the binary, in the order of
// `comptoir --help`. `comptoir up` plans its components from the same table.
#include "common.h"

namespace comptoir::cli {

const std::vector<CommandDef>& AllCommands() {
  static const std::vector<CommandDef>* all = [] {
    auto* out = new std::vector<CommandDef>();
    for (auto* group : {&SeedCommands, &ImportCommands, &LakeCommands, &StreamCommands, &AgentCommands,
                        &ServeCommands, &HealthCommands, &DemoCommands, &UpCommands, &QualityCommands, &ViewsCommands,
                        &ConfigCommands}) {
      for (CommandDef& def : (*group)()) out->push_back(std::move(def));
    }
    return out;
  }();
  return *all;
}

}  // namespace comptoir::cli
