#include "comptoir/agent/config.h"

#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "comptoir/core/names.h"
#include "comptoir/core/strings.h"
#include "comptoir/core/units.h"
#include "fmt/format.h"
#include "toml++/toml.h"

namespace comptoir::agent {
namespace {

constexpr AgentConfigKey kKeys[] = {
    {"state_dir", false, "string", "./agent-state",
     "Checkpoints and the local spool. Keep it on a local disk; one agent per directory."},
    {"host", false, "string", "", "Value of %{host} in target_dir (default: the machine's name)."},
    {"lake", false, "string", "",
     "Lake URI (file:///dir, a directory, webhdfs://namenode:9870); default: the `lake` of comptoir.toml."},
    {"name", true, "string", "default", "The flow's name (in status and checkpoints); unique."},
    {"sources", true, "strings", "", "Files or globs to tail, e.g. [\"/var/log/app/*.log\"]. Required."},
    {"target_dir", true, "string", core::kLogsTemplate,
     "Lake directory template: %Y %m %d %H %M %S and %{host}."},
    {"file_prefix", true, "string", "", "Lake file name prefix (default: the source file's name)."},
    {"file_suffix", true, "string", "", "Lake file name suffix, e.g. \".log\"."},
    {"start_at", true, "beginning|end", "beginning",
     "Where files present at the agent's very first start are read from."},
    {"time", true, "event|ingest", "event",
     "The time that fills target_dir: the line's own timestamp (Python logging layout) when it "
     "parses, else the time the agent read it; or always the latter."},
    {"multiline_start", true, "string", "",
     "Regex of a line that starts a record; other lines join the record before it."},
    {"max_record_size", true, "size", "1MiB", "Longer lines are cut to this size (and counted)."},
    {"partial_timeout", true, "duration", "0",
     "Release an unterminated last line after this long; 0 waits for its newline."},
    {"roll_size", true, "size", "128MiB", "Publish a lake file once a file's spool holds this much."},
    {"roll_interval", true, "duration", "5m", "... or this long after its oldest spooled line."},
    {"idle_timeout", true, "duration", "30s", "... or when the file got nothing new for this long."},
    {"seal_interval", true, "duration", "20ms", "How often read lines are made durable in the spool."},
    {"max_spool", true, "size", "1GiB",
     "Spool limit while the lake is unavailable; past it the agent stops reading (back-pressure)."},
    {"levels", true, "strings", "",
     "Keep only lines of these levels, e.g. [\"WARNING\", \"ERROR\"] (Python logging layout); "
     "lines without a time follow the line before."},
    {"include", true, "string", "", "Regex: keep only the lines (records) that match."},
    {"exclude", true, "string", "", "Regex: drop the lines (records) that match."},
    {"compression", true, "none|gzip|zstd", "none", "Compress lake files (.gz / .zst appended to the name)."},
    {"format", true, "text|json", "text",
     "text: the lines as they are (byte-identical); json: one object per record with ts, level, "
     "host, path, ingest_ts and message (a traceback stays in its record's message)."},
};

const AgentConfigKey* FindKey(std::string_view name, bool per_flow) {
  for (const AgentConfigKey& k : kKeys) {
    if (k.name == name && k.per_flow == per_flow) return &k;
  }
  return nullptr;
}

// A TOML scalar as text (strings as they are, integers in decimal).
std::optional<std::string> Scalar(const toml::node& n) {
  if (auto s = n.value<std::string>(); s && n.is_string()) return *s;
  if (n.is_integer()) return std::to_string(*n.value<int64_t>());
  if (n.is_boolean()) return *n.value<bool>() ? "true" : "false";
  return std::nullopt;
}

Status Apply(const AgentConfigKey& k, const toml::node& node, FlowOptions* flow, AgentConfig* config,
             const std::string& where) {
  auto bad = [&](std::string_view want) {
    return absl::InvalidArgumentError(StrCat(where, ": key \"", k.name, "\" must be ", want));
  };
  if (k.type == "strings") {
    const toml::array* arr = node.as_array();
    if (arr == nullptr) return bad("an array of strings");
    std::vector<std::string>& into = k.name == "levels" ? flow->levels : flow->sources;
    into.clear();
    for (const toml::node& e : *arr) {
      auto s = e.value<std::string>();
      if (!s || !e.is_string()) return bad("an array of strings");
      into.push_back(*s);
    }
    return absl::OkStatus();
  }
  std::optional<std::string> text = Scalar(node);
  if (!text) return bad("a string or an integer");
  const std::string& v = *text;
  if (k.type.find('|') != std::string_view::npos) {
    bool ok = false;
    for (std::string_view choice : Split(k.type, '|', true)) ok = ok || choice == v;
    if (!ok) return bad(StrCat("one of ", k.type, " (got \"", v, "\")"));
  }
  auto size = [&](uint64_t* out) -> Status {
    StatusOr<uint64_t> n = core::ParseSize(v);
    if (!n.ok()) return bad(StrCat("a size such as 128MiB (got \"", v, "\")"));
    *out = *n;
    return absl::OkStatus();
  };
  auto duration = [&](std::chrono::milliseconds* out) -> Status {
    StatusOr<std::chrono::milliseconds> d = core::ParseDuration(v);
    if (!d.ok()) return bad(StrCat("a duration such as 30s or 5m (got \"", v, "\")"));
    *out = *d;
    return absl::OkStatus();
  };
  std::string_view n = k.name;
  if (n == "state_dir") config->options.state_dir = v;
  else if (n == "host") config->options.host = v;
  else if (n == "lake") config->lake = v;
  else if (n == "name") flow->name = v;
  else if (n == "target_dir") flow->target_dir = v;
  else if (n == "file_prefix") flow->file_prefix = v;
  else if (n == "file_suffix") flow->file_suffix = v;
  else if (n == "start_at") flow->start_at_end = v == "end";
  else if (n == "time") flow->use_event_time = v == "event";
  else if (n == "multiline_start") flow->multiline_start = v;
  else if (n == "max_record_size") {
    uint64_t b = 0;
    RETURN_IF_ERROR(size(&b));
    flow->max_record_bytes = static_cast<size_t>(b);
  } else if (n == "partial_timeout") {
    if (v == "0") {
      flow->partial_timeout = std::chrono::milliseconds(0);
    } else {
      RETURN_IF_ERROR(duration(&flow->partial_timeout));
    }
  } else if (n == "roll_size") RETURN_IF_ERROR(size(&flow->roll_bytes));
  else if (n == "roll_interval") RETURN_IF_ERROR(duration(&flow->roll_interval));
  else if (n == "idle_timeout") RETURN_IF_ERROR(duration(&flow->idle_timeout));
  else if (n == "seal_interval") RETURN_IF_ERROR(duration(&flow->seal_interval));
  else if (n == "max_spool") RETURN_IF_ERROR(size(&flow->max_spool_bytes));
  else if (n == "include") flow->include = v;
  else if (n == "format") flow->json_records = v == "json";
  else if (n == "exclude") flow->exclude = v;
  else if (n == "compression") {
    ASSIGN_OR_RETURN(flow->codec, lake::ParseCodec(v));
  }
  return absl::OkStatus();
}

std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "\"";
}

}  // namespace

std::string_view AgentConfigDefault(std::string_view name) {
  for (const AgentConfigKey& k : kKeys) {
    if (k.name == name) return k.default_value;
  }
  return {};
}

std::span<const AgentConfigKey> AgentConfigKeys() { return kKeys; }

StatusOr<AgentConfig> ParseAgentConfig(std::string_view text, const std::string& origin) {
  toml::table t;
  try {
    t = toml::parse(text, origin);
  } catch (const toml::parse_error& e) {
    return absl::InvalidArgumentError(StrCat(origin, ":", e.source().begin.line, ":",
                                             e.source().begin.column, ": ", e.description()));
  }
  AgentConfig config;
  FlowOptions unused;
  for (const auto& [key, node] : t) {
    std::string k(key.str());
    if (k == "flow") {
      const toml::array* flows = node.as_array();
      if (flows == nullptr) {
        return absl::InvalidArgumentError(StrCat(origin, ": flows are [[flow]] tables"));
      }
      for (size_t i = 0; i < flows->size(); ++i) {
        const toml::table* ft = (*flows)[i].as_table();
        if (ft == nullptr) return absl::InvalidArgumentError(StrCat(origin, ": flows are [[flow]] tables"));
        FlowOptions flow;
        flow.name = i == 0 ? "default" : StrCat("flow", i + 1);
        std::string where = StrCat(origin, " [[flow]] #", i + 1);
        for (const auto& [fk, fv] : *ft) {
          const AgentConfigKey* d = FindKey(fk.str(), true);
          if (d == nullptr) {
            return absl::InvalidArgumentError(StrCat("unknown key \"", fk.str(), "\" in ", where,
                                                     "; run `comptoir agent config-doc` for the list"));
          }
          RETURN_IF_ERROR(Apply(*d, fv, &flow, &config, where));
        }
        if (flow.sources.empty()) {
          return absl::InvalidArgumentError(StrCat(where, ": \"sources\" is required"));
        }
        for (const FlowOptions& other : config.options.flows) {
          if (other.name == flow.name) {
            return absl::InvalidArgumentError(StrCat(where, ": two flows are named \"", flow.name, "\""));
          }
        }
        config.options.flows.push_back(flow);
      }
      continue;
    }
    const AgentConfigKey* d = FindKey(k, false);
    if (d == nullptr) {
      return absl::InvalidArgumentError(StrCat("unknown key \"", k, "\" in ", origin,
                                               FindKey(k, true) ? " (it belongs in a [[flow]] table)" : "",
                                               "; run `comptoir agent config-doc` for the list"));
    }
    RETURN_IF_ERROR(Apply(*d, node, &unused, &config, origin));
  }
  if (config.options.flows.empty()) {
    return absl::InvalidArgumentError(StrCat(origin, " defines no [[flow]]"));
  }
  return config;
}

StatusOr<AgentConfig> LoadAgentConfig(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(StrCat("agent configuration ", path, " does not exist"));
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseAgentConfig(ss.str(), path);
}

std::string AgentConfigToToml(const AgentConfig& c) {
  std::string out;
  out += fmt::format("state_dir = {}\n", Quote(c.options.state_dir));
  if (!c.options.host.empty()) out += fmt::format("host = {}\n", Quote(c.options.host));
  if (!c.lake.empty()) out += fmt::format("lake = {}\n", Quote(c.lake));
  for (const FlowOptions& f : c.options.flows) {
    out += "\n[[flow]]\n";
    out += fmt::format("name = {}\n", Quote(f.name));
    std::vector<std::string> q;
    for (const std::string& s : f.sources) q.push_back(Quote(s));
    out += fmt::format("sources = [{}]\n", Join(q, ", "));
    out += fmt::format("target_dir = {}\n", Quote(f.target_dir));
    if (!f.file_prefix.empty()) out += fmt::format("file_prefix = {}\n", Quote(f.file_prefix));
    if (!f.file_suffix.empty()) out += fmt::format("file_suffix = {}\n", Quote(f.file_suffix));
    out += fmt::format("start_at = \"{}\"\n", f.start_at_end ? "end" : "beginning");
    out += fmt::format("time = \"{}\"\n", f.use_event_time ? "event" : "ingest");
    if (!f.multiline_start.empty()) out += fmt::format("multiline_start = {}\n", Quote(f.multiline_start));
    out += fmt::format("max_record_size = \"{}\"\n", core::FormatSize(f.max_record_bytes));
    out += fmt::format("partial_timeout = \"{}\"\n", core::FormatDuration(f.partial_timeout));
    out += fmt::format("roll_size = \"{}\"\n", core::FormatSize(f.roll_bytes));
    out += fmt::format("roll_interval = \"{}\"\n", core::FormatDuration(f.roll_interval));
    out += fmt::format("idle_timeout = \"{}\"\n", core::FormatDuration(f.idle_timeout));
    out += fmt::format("seal_interval = \"{}\"\n", core::FormatDuration(f.seal_interval));
    out += fmt::format("max_spool = \"{}\"\n", core::FormatSize(f.max_spool_bytes));
    if (!f.levels.empty()) {
      std::vector<std::string> lv;
      for (const std::string& l : f.levels) lv.push_back(Quote(l));
      out += fmt::format("levels = [{}]\n", Join(lv, ", "));
    }
    if (!f.include.empty()) out += fmt::format("include = {}\n", Quote(f.include));
    if (!f.exclude.empty()) out += fmt::format("exclude = {}\n", Quote(f.exclude));
    if (f.codec != lake::Codec::kNone) out += fmt::format("compression = \"{}\"\n", lake::CodecName(f.codec));
    if (f.json_records) out += "format = \"json\"\n";
  }
  return out;
}

std::string AgentConfigMarkdown() {
  std::string out =
      "# Agent configuration\n\n"
      "Generated from the declarations in `src/agent/config.cc` by `comptoir agent config-doc`;\n"
      "do not edit by hand. `comptoir agent --config agent.toml` reads this file; an unknown key is\n"
      "an error that names it. Sizes: `512KiB`, `128MiB` (`MB` is read as MiB), `1GiB`, or bytes.\n"
      "Durations: `20ms`, `30s`, `5m`, `1h`.\n\n"
      "```toml\nstate_dir = \"/var/lib/comptoir/agent\"\nlake = \"webhdfs://namenode:9870\"\n\n"
      "[[flow]]\nname = \"app\"\nsources = [\"/var/log/app/*.log\"]\n"
      "target_dir = \"/user/flume/logs/%Y-%m-%d\"\nmultiline_start = '^\\d{4}-\\d\\d-\\d\\d '\n```\n";
  for (bool per_flow : {false, true}) {
    out += per_flow ? "\n## Each `[[flow]]`\n\n" : "\n## Top level\n\n";
    out += "| key | type | default | meaning |\n|---|---|---|---|\n";
    for (const AgentConfigKey& k : kKeys) {
      if (k.per_flow != per_flow) continue;
      std::string type(k.type);
      if (type.find('|') != std::string::npos) {
        std::vector<std::string> choices;
        for (std::string_view c : Split(k.type, '|', true)) choices.emplace_back(c);
        type = StrCat("`", Join(choices, "` or `"), "`");
      }
      out += fmt::format("| `{}` | {} | {} | {} |\n", k.name, type,
                         k.default_value.empty() ? "" : StrCat("`", k.default_value, "`"), k.help);
    }
  }
  return out;
}

}  // namespace comptoir::agent
