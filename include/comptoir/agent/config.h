// The agent's configuration file and its Flume migration.
//
//   state_dir = "/var/lib/comptoir/agent"
//   lake = "webhdfs://namenode:9870"
//
//   [[flow]]
//   name = "app"
//   sources = ["/var/log/app/*.log"]
//   target_dir = "/user/flume/logs/%Y-%m-%d"
//
// Every key is declared (AgentConfigKeys(): name, type, default, help); an
// unknown key is an error naming it; docs/agent-config.md is generated from
// the declarations (`comptoir agent config-doc`).
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "comptoir/agent/agent.h"

namespace comptoir::agent {

struct AgentConfigKey {
  std::string_view name;
  bool per_flow;               // a key of each [[flow]] table, else top level
  std::string_view type;       // string, strings, size, duration, integer, or "a|b" (one of)
  std::string_view default_value;
  std::string_view help;
};

std::span<const AgentConfigKey> AgentConfigKeys();
// The declared default of a key (the agent's command-line flags start from
// these too); "" for an unknown key.
std::string_view AgentConfigDefault(std::string_view name);

struct AgentConfig {
  AgentOptions options;
  std::string lake;  // empty: the global `lake`
};

// Parses a TOML text (`origin` names it in messages).
StatusOr<AgentConfig> ParseAgentConfig(std::string_view toml, const std::string& origin);
StatusOr<AgentConfig> LoadAgentConfig(const std::string& path);
// The same configuration as TOML (what --print-config shows).
std::string AgentConfigToToml(const AgentConfig& config);
// docs/agent-config.md, from the declarations.
std::string AgentConfigMarkdown();

// A Flume agent's properties converted: the equivalent configuration and the
// properties comptoir does not honour, each with the reason.
struct FlumeMigration {
  AgentConfig config;
  std::vector<std::string> not_honoured;
};
// Reads `agent_name`'s exec (tail -F) or TAILDIR sources and HDFS sinks.
StatusOr<FlumeMigration> MigrateFlumeConf(std::string_view properties, const std::string& agent_name,
                                          const std::string& origin);

}  // namespace comptoir::agent
