// comptoir agent: Flow C, application logs into the lake exactly once.
#include <malloc.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>
#include <fstream>
#include <iostream>

#include "comptoir/agent/agent.h"
#include "comptoir/agent/compact.h"
#include "comptoir/agent/config.h"
#include "comptoir/coord/coordinator.h"
#include "comptoir/core/progress.h"
#include "comptoir/core/signals.h"
#include "comptoir/core/units.h"
#include "comptoir/quality/rules.h"
#include "common.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"

namespace comptoir::cli {
namespace {

// The quick flags of one flow; their defaults are the configuration file's
// (agent/config.cc declares each once).
struct AgentFlags {
  static std::string Default(std::string_view key) { return std::string(agent::AgentConfigDefault(key)); }
  std::vector<std::string> sources;
  std::string target_dir = Default("target_dir");
  std::string lake;
  std::string state_dir = Default("state_dir");
  std::string roll_size = Default("roll_size");
  std::string roll_interval = Default("roll_interval");
  std::string idle_timeout = Default("idle_timeout");
  std::string start_at = Default("start_at");
  std::string time = Default("time");
  std::string multiline_start;
  std::string file_prefix;
  std::string file_suffix;
  std::string host;
  std::string partial_timeout = Default("partial_timeout");
  std::vector<std::string> levels;
  std::string include;
  std::string exclude;
  std::string compress = Default("compression");
  std::string format = Default("format");
  bool once = false;
  bool json = false;
  std::string config;
  std::string flume_conf;
  std::string flume_name = "agent";
  bool print_config = false;
  std::string coord;  // register in the coordination group "agents"
  // agent compact
  std::vector<std::string> compact_dirs;
  std::string min_age = "1h";
  bool dry_run = false;
};

// The flow from the quick flags.
StatusOr<agent::AgentConfig> ConfigFromFlags(const AgentFlags& f) {
  agent::AgentConfig c;
  agent::AgentOptions& o = c.options;
  o.state_dir = f.state_dir;
  o.host = f.host;
  agent::FlowOptions flow;
  flow.sources = f.sources;
  flow.target_dir = f.target_dir;
  flow.file_prefix = f.file_prefix;
  flow.file_suffix = f.file_suffix;
  flow.multiline_start = f.multiline_start;
  flow.levels = f.levels;
  flow.include = f.include;
  flow.exclude = f.exclude;
  ASSIGN_OR_RETURN(flow.codec, lake::ParseCodec(f.compress));
  if (f.format != "text" && f.format != "json") {
    return absl::InvalidArgumentError(StrCat("--format \"", f.format, "\": use text or json"));
  }
  flow.json_records = f.format == "json";
  if (f.start_at != "beginning" && f.start_at != "end") {
    return absl::InvalidArgumentError(StrCat("--start-at \"", f.start_at, "\": use beginning or end"));
  }
  flow.start_at_end = f.start_at == "end";
  if (f.time != "event" && f.time != "ingest") {
    return absl::InvalidArgumentError(StrCat("--time \"", f.time, "\": use event or ingest"));
  }
  flow.use_event_time = f.time == "event";
  ASSIGN_OR_RETURN(flow.roll_bytes, core::ParseSize(f.roll_size));
  ASSIGN_OR_RETURN(flow.roll_interval, core::ParseDuration(f.roll_interval));
  ASSIGN_OR_RETURN(flow.idle_timeout, core::ParseDuration(f.idle_timeout));
  ASSIGN_OR_RETURN(flow.partial_timeout, core::ParseDuration(f.partial_timeout));
  o.flows.push_back(flow);
  c.lake = f.lake;
  return c;
}

// --config, --flume-conf, or the quick flags; prints the not-honoured Flume
// properties on stderr.
StatusOr<agent::AgentConfig> ResolveConfig(const AgentFlags& f) {
  int given = !f.config.empty() + !f.flume_conf.empty() + !f.sources.empty();
  if (given != 1) {
    return absl::InvalidArgumentError(
        "give exactly one of --config agent.toml, --flume-conf flume.conf --name AGENT, or --source GLOB");
  }
  if (!f.config.empty()) return agent::LoadAgentConfig(f.config);
  if (!f.flume_conf.empty()) {
    std::ifstream in(f.flume_conf);
    if (!in) return absl::NotFoundError(StrCat("Flume configuration ", f.flume_conf, " does not exist"));
    std::string text((std::istreambuf_iterator<char>(in)), {});
    ASSIGN_OR_RETURN(agent::FlumeMigration m, agent::MigrateFlumeConf(text, f.flume_name, f.flume_conf));
    for (const std::string& n : m.not_honoured) std::cerr << "agent: not honoured: " << n << '\n';
    m.config.options.state_dir = f.state_dir;
    if (!f.lake.empty()) m.config.lake = f.lake;
    return m.config;
  }
  return ConfigFromFlags(f);
}

Status RunAgent(const AgentFlags& f, const Globals& g) {
  ASSIGN_OR_RETURN(agent::AgentConfig config, ResolveConfig(f));
  if (f.print_config) {
    std::cout << agent::AgentConfigToToml(config);
    return absl::OkStatus();
  }
  agent::AgentOptions& o = config.options;
  ASSIGN_OR_RETURN(std::vector<quality::Rule> rules, quality::LoadRules(g.config_path, g.config_explicit));
  for (agent::FlowOptions& flow : o.flows) flow.rules = rules;
  // Big buffers (seal batches, roll chunks) come from mmap and go back to the
  // system when freed, instead of staying in the heap: a small, steady RSS.
  mallopt(M_MMAP_THRESHOLD, 256 << 10);
  ASSIGN_OR_RETURN(std::unique_ptr<lake::Storage> lake, lake::OpenConfiguredLake(g.config, config.lake));
  auto t0 = std::chrono::steady_clock::now();
  ASSIGN_OR_RETURN(std::unique_ptr<agent::Agent> a, agent::Agent::Open(lake.get(), o));
  if (!g.quiet && !f.once) {
    for (const agent::FlowOptions& flow : o.flows) {
      std::cerr << fmt::format("agent: flow {}: tailing {} into {}{} (state {}; Ctrl-C to stop)\n",
                               flow.name, Join(flow.sources, " "), lake->Uri(), flow.target_dir,
                               o.state_dir);
    }
  }
  // Registered (when coordination is configured) with its lag, last commit and
  // last error, from the status file the agent writes every second.
  std::unique_ptr<coord::Coordinator> coordination;
  std::unique_ptr<coord::Registration> registration;
  std::atomic<bool> done{false};
  std::thread reporter;
  std::string coord_uri = !f.coord.empty() ? f.coord : g.config.GetString("coord.uri");
  if (!coord_uri.empty() && !f.once) {
    ASSIGN_OR_RETURN(coordination, coord::OpenCoordinator(coord_uri));
    std::string state = std::filesystem::absolute(o.state_dir).string();
    std::string id = fmt::format("{}/{}", core::HostName(), core::NameHash(state).substr(0, 8));
    auto payload = [state] {
      nlohmann::json p = {{"host", core::HostName()}, {"state_dir", state}};
      int64_t lag = 0, last = 0;
      std::string error;
      StatusOr<std::vector<agent::FileStatus>> files = agent::ReadStatus(state);
      if (files.ok()) {
        for (const auto& x : *files) {
          lag += static_cast<int64_t>(x.size > x.committed ? x.size - x.committed : 0);
          last = std::max(last, x.last_commit_ms);
          if (error.empty()) error = x.last_error;
        }
        p["files"] = files->size();
      }
      p["lag_bytes"] = lag;
      p["last_commit_ms"] = last;
      p["last_error"] = error;
      return p.dump();
    };
    ASSIGN_OR_RETURN(registration, coordination->Register(std::string(core::kAgentsGroup), id, payload()));
    reporter = std::thread([&done, &registration, payload] {
      while (!done) {
        for (int i = 0; i < 20 && !done; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
        (void)registration->Update(payload());
      }
    });
  }
  Status s;
  if (f.once) {
    // Everything there now, published, then exit.
    s = a->Step();
    while (s.ok() && !a->CaughtUp() && !core::Cancelled()) s = a->Step();
    if (s.ok()) s = a->Drain();
  } else {
    s = a->Run([] { return core::Cancelled(); });
  }
  done = true;
  if (reporter.joinable()) reporter.join();
  const agent::AgentStats& st = a->stats();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cout << fmt::format(
      "agent: {} lines ({} bytes) read, {} files ({} bytes) published into {} in {:.2f} s; "
      "{} rotations, {} truncated, {} partial; spool {} bytes{}\n",
      core::WithThousands(st.lines), core::WithThousands(st.bytes), st.published_files,
      core::WithThousands(st.published_bytes), lake->Uri(), secs, st.rotations,
      st.truncated_records, st.partial_records, core::WithThousands(st.spool_bytes),
      st.quality_rejected + st.quality_warned > 0
          ? fmt::format("; quality: {} records rejected (in <dataset>/_rejects/), {} warned",
                        core::WithThousands(st.quality_rejected), core::WithThousands(st.quality_warned))
          : "");
  return s;
}

Status RunAgentStatus(const AgentFlags& f) {
  ASSIGN_OR_RETURN(std::vector<agent::FileStatus> files, agent::ReadStatus(f.state_dir));
  int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  if (f.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& x : files) {
      out.push_back({{"flow", x.flow}, {"source_id", x.source_id}, {"path", x.path},
                     {"size", x.size}, {"read", x.read}, {"committed", x.committed},
                     {"lag_bytes", x.size > x.committed ? x.size - x.committed : 0},
                     {"last_commit_ms", x.last_commit_ms}, {"last_error", x.last_error},
                     {"open", x.open}});
    }
    std::cout << out.dump() << '\n';
    return absl::OkStatus();
  }
  std::cout << fmt::format("{:<40} {:>14} {:>14} {:>14} {:>12} {:>14}  {}\n", "file", "read",
                           "committed", "lag bytes", "lag time", "last commit", "last error");
  for (const auto& x : files) {
    uint64_t lag = x.size > x.committed ? x.size - x.committed : 0;
    std::string since = x.last_commit_ms == 0 ? "never"
                                              : fmt::format("{:.1f} s ago", (now - x.last_commit_ms) / 1000.0);
    std::string lag_time = lag == 0 ? "0 s" : since;
    std::cout << fmt::format("{:<40} {:>14} {:>14} {:>14} {:>12} {:>14}  {}\n", x.path, x.read,
                             x.committed, lag, lag_time, since,
                             x.last_error.empty() ? "-" : x.last_error);
  }
  return absl::OkStatus();
}

Status RunCompact(const AgentFlags& f, const Globals& g) {
  agent::CompactOptions o;
  ASSIGN_OR_RETURN(o.min_age, core::ParseDuration(f.min_age));
  o.dry_run = f.dry_run;
  ASSIGN_OR_RETURN(std::unique_ptr<lake::Storage> lake, lake::OpenConfiguredLake(g.config, f.lake));
  size_t outputs = 0, inputs = 0;
  uint64_t bytes = 0;
  for (const std::string& dir : f.compact_dirs) {
    ASSIGN_OR_RETURN(std::vector<agent::CompactResult> done, agent::CompactTree(lake.get(), dir, o));
    for (const agent::CompactResult& r : done) {
      std::cout << fmt::format("compact: {}{} {} files ({} bytes) -> {}\n",
                               r.recovered ? "finished an interrupted compaction: " : "",
                               o.dry_run ? "would merge" : "merged", r.inputs.size(),
                               core::WithThousands(r.bytes), r.output);
      ++outputs;
      inputs += r.inputs.size();
      bytes += r.bytes;
    }
  }
  std::cout << fmt::format("compact: {} files ({} bytes) {} into {} file{}\n", inputs,
                           core::WithThousands(bytes), o.dry_run ? "would be merged" : "merged", outputs,
                           outputs == 1 ? "" : "s");
  return absl::OkStatus();
}


void DefineAgent(Command& agent) {
  auto f = std::make_shared<AgentFlags>();
  agent.Option("--source", &f->sources, "File or glob to tail (repeatable), e.g. 'logs/*.log'");
  agent.Option("--target-dir", &f->target_dir,
               "Lake directory template: %Y %m %d %H %M, %{host} (default /user/flume/logs/%Y-%m-%d)");
  agent.Option("--lake", &f->lake, "Lake URI or directory (default: config lake)");
  agent.Option("--state-dir", &f->state_dir, "Checkpoints and the local spool (default ./agent-state)");
  agent.Option("--roll-size", &f->roll_size, "Roll a lake file at this size (default 128MB)");
  agent.Option("--roll-interval", &f->roll_interval, "Roll a lake file this long after its first line (default 5m)");
  agent.Option("--idle-timeout", &f->idle_timeout, "Roll when a file got nothing new for this long (default 30s)");
  agent.Option("--start-at", &f->start_at, "beginning (default) or end: where files found at the very first start begin");
  agent.Option("--time", &f->time,
               "event (default: the line's own timestamp when it parses) or ingest: the time that fills the target "
               "template");
  agent.Option("--multiline-start", &f->multiline_start,
               "Regex of a line that starts a record; other lines join the record before (e.g. '^\\d{4}-\\d\\d-\\d\\d ' "
               "keeps Python tracebacks with their line)");
  agent.Option("--partial-timeout", &f->partial_timeout,
               "Release an unterminated last line after this long (default 0: wait for its newline)");
  agent.Option("--level", &f->levels, "Keep only lines of this level (repeatable: --level WARNING --level ERROR)");
  agent.Option("--include", &f->include, "Regex: keep only matching lines");
  agent.Option("--exclude", &f->exclude, "Regex: drop matching lines");
  agent.Option("--compress", &f->compress, "none (default), gzip or zstd lake files");
  agent.Option("--format", &f->format,
               "text (default: the lines as they are) or json (one object per record with ts, level, host, path, "
               "ingest_ts, message)");
  agent.Option("--file-prefix", &f->file_prefix, "Lake file name prefix (default: the source file name)");
  agent.Option("--file-suffix", &f->file_suffix, "Lake file name suffix (default none)");
  agent.Option("--host", &f->host, "Value of %{host} (default: this machine's name)");
  agent.Flag("--once", &f->once, "Publish what the files hold now, then exit");
  agent.Option("--coord", &f->coord,
               "Coordination URI to register in (group agents: lag, last commit, last error; default: config "
               "coord.uri, none when unset)");
  agent.Option("--config", &f->config, "Agent configuration (TOML, several [[flow]]s; see docs/agent-config.md)");
  agent.Option("--flume-conf", &f->flume_conf, "Run a Flume agent's exec (tail -F) / TAILDIR sources and HDFS sinks");
  agent.Option("--name", &f->flume_name, "The Flume agent's name in --flume-conf (default agent)");
  agent.Flag("--print-config", &f->print_config,
             "Print the configuration as TOML (e.g. converted from --flume-conf) and exit");
  const Globals* g = &agent.globals();
  agent.Action([f, g] { return RunAgent(*f, *g); });
  agent.Sub("config-doc", "Print the configuration reference (Markdown)").Action([] {
    std::cout << agent::AgentConfigMarkdown();
    return absl::OkStatus();
  });
  Command compact = agent.Sub(
      "compact", "Merge the small files of closed directories (days) into one per directory, crash-safely");
  compact.Option("dirs", &f->compact_dirs, "Lake directories, searched recursively (e.g. /user/flume/logs)").Required();
  compact.Option("--lake", &f->lake, "Lake URI or directory (default: config lake)");
  compact.Option("--min-age", &f->min_age, "A directory is closed when its newest file is this old (default 1h)");
  compact.Flag("--dry-run", &f->dry_run, "Print what would be merged; change nothing");
  compact.Action([f, g] { return RunCompact(*f, *g); });
  Command status = agent.Sub("status", "Each file's read and committed offsets, lag, last commit and last error");
  status.Option("--state-dir", &f->state_dir, "The agent's state directory (default ./agent-state)");
  status.Flag("--json", &f->json, "Print JSON");
  status.Action([f] { return RunAgentStatus(*f); });
}

}  // namespace

std::vector<CommandDef> AgentCommands() {
  return {{{.name = "agent",
            .help = "Tail application logs into the lake exactly once (Flow C)",
            .lifetime = orchestrate::Lifetime::kLongRunning,
            .start_rank = 1,
            .needs = {{"lake"}, {"coord"}},
            .one_shot_subcommands = {"compact"}},
           DefineAgent}};
}

}  // namespace comptoir::cli
