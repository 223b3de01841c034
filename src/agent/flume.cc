// Migrating a Flume agent: its exec (tail -F) and TAILDIR sources and HDFS
// sinks become flows; every property that has no equivalent is listed with
// the reason, never silently dropped.
#include <map>
#include <set>

#include "comptoir/agent/config.h"
#include "comptoir/core/strings.h"
#include "comptoir/core/units.h"
#include "fmt/format.h"

namespace comptoir::agent {
namespace {

// Java properties: `key = value` or `key: value`, # and ! comments, a
// trailing backslash continues the line.
std::map<std::string, std::string> ParseProperties(std::string_view text) {
  std::map<std::string, std::string> out;
  std::string logical;
  for (std::string_view raw : Split(text, '\n', false)) {
    std::string_view line = StripAsciiWhitespace(raw);
    if (logical.empty() && (line.empty() || line[0] == '#' || line[0] == '!')) continue;
    if (!line.empty() && line.back() == '\\') {
      logical.append(line.substr(0, line.size() - 1));
      continue;
    }
    logical.append(line);
    size_t sep = logical.find_first_of("=:");
    if (sep != std::string::npos) {
      out[std::string(StripAsciiWhitespace(std::string_view(logical).substr(0, sep)))] =
          std::string(StripAsciiWhitespace(std::string_view(logical).substr(sep + 1)));
    }
    logical.clear();
  }
  return out;
}

// TAILDIR's file-name regex to a glob, when it is a simple one.
std::optional<std::string> RegexToGlob(std::string_view re) {
  std::string out;
  for (size_t i = 0; i < re.size(); ++i) {
    char c = re[i];
    if (c == '.' && i + 1 < re.size() && re[i + 1] == '*') {
      out.push_back('*');
      ++i;
    } else if (c == '\\' && i + 1 < re.size() && re[i + 1] == '.') {
      out.push_back('.');
      ++i;
    } else if (c == '.') {
      out.push_back('?');
    } else if (std::string_view("^$()[]{}+?|\\").find(c) != std::string_view::npos) {
      return std::nullopt;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// One agent's properties, with the keys read so far (the others are listed
// as not honoured at the end).
class Migration {
 public:
  Migration(std::string_view properties, const std::string& agent, const std::string& origin)
      : p_(ParseProperties(properties)), a_(agent + "."), agent_(agent), origin_(origin) {}

  StatusOr<FlumeMigration> Run() {
    if (Get(a_ + "sources").empty() || Get(a_ + "sinks").empty()) {
      return absl::InvalidArgumentError(StrCat(origin_, " has no agent \"", agent_, "\" (no ", a_, "sources / ", a_,
                                               "sinks); give its name with --name"));
    }
    Use(a_ + "channels");
    std::map<std::string, std::string> sink_of_channel = HdfsSinks();
    const std::string sources = Use(a_ + "sources");
    for (std::string_view src : Split(sources, ' ', true)) {
      FlowOptions flow;
      flow.name = std::string(src);
      std::string s = StrCat(a_, "sources.", src, ".");
      if (!Source(s, &flow)) continue;
      std::string sink = SinkOf(s, sink_of_channel);
      if (sink.empty()) continue;
      RETURN_IF_ERROR(Sink(StrCat(a_, "sinks.", sink, ".hdfs."), &flow));
      m_.config.options.flows.push_back(flow);
    }
    Leftovers();
    if (m_.config.options.flows.empty()) {
      return absl::InvalidArgumentError(StrCat(origin_, ": agent \"", agent_, "\" has no source comptoir can run: ",
                                               Join(m_.not_honoured, "; ")));
    }
    return std::move(m_);
  }

 private:
  std::string Get(const std::string& key) const {
    auto it = p_.find(key);
    return it == p_.end() ? "" : it->second;
  }
  std::string Use(const std::string& key) {
    used_.insert(key);
    return Get(key);
  }
  void NotHonoured(std::string why) { m_.not_honoured.push_back(std::move(why)); }

  // The HDFS sinks, by the channel they drain.
  std::map<std::string, std::string> HdfsSinks() {
    std::map<std::string, std::string> out;
    const std::string sinks = Use(a_ + "sinks");
    for (std::string_view sink : Split(sinks, ' ', true)) {
      std::string s = StrCat(a_, "sinks.", sink, ".");
      std::string type = Use(s + "type");
      if (type != "hdfs") {
        NotHonoured(StrCat(s, "type = ", type, ": only HDFS sinks are migrated"));
        continue;
      }
      out[Use(s + "channel")] = std::string(sink);
    }
    return out;
  }

  // The files a source tails; false when it cannot be migrated.
  bool Source(const std::string& s, FlowOptions* flow) {
    std::string type = Use(s + "type");
    if (type == "exec") {
      if (!ExecSource(s, flow)) return false;
    } else if (type == "TAILDIR" || type == "taildir") {
      TaildirSource(s, flow);
    } else {
      NotHonoured(StrCat(s, "type = ", type, ": only exec (tail -F) and TAILDIR sources are migrated"));
      return false;
    }
    if (!Get(s + "interceptors").empty()) {
      Use(s + "interceptors");
      NotHonoured(StrCat(s, "interceptors: not migrated yet"));
    }
    return true;
  }

  bool ExecSource(const std::string& s, FlowOptions* flow) {
    std::string cmd = Use(s + "command");
    std::vector<std::string_view> words = Split(cmd, ' ', true);
    bool tail = !words.empty() && (words[0] == "tail" || words[0].ends_with("/tail"));
    if (!tail || words.size() < 2 || words.back().starts_with("-")) {
      NotHonoured(StrCat(s, "command = ", cmd, ": only `tail -F FILE` is migrated"));
      return false;
    }
    flow->sources.emplace_back(words.back());
    for (std::string_view w : words) {
      if (w.starts_with("-n")) {
        NotHonoured(StrCat(s, "command: `", w, "` ignored; the agent reads whole files and keeps its position"));
      }
    }
    for (const char* k : {"shell", "restart", "restartThrottle", "logStdErr", "batchSize", "batchTimeout"}) {
      if (!Get(s + k).empty()) {
        Use(s + k);
        NotHonoured(StrCat(s, k, ": not needed (the agent tails files itself)"));
      }
    }
    return true;
  }

  void TaildirSource(const std::string& s, FlowOptions* flow) {
    const std::string groups = Use(s + "filegroups");
    for (std::string_view g : Split(groups, ' ', true)) {
      std::string path = Use(StrCat(s, "filegroups.", g));
      std::string dir = path.substr(0, path.rfind('/') + 1);
      std::optional<std::string> glob = RegexToGlob(path.substr(path.rfind('/') + 1));
      if (!glob) {
        NotHonoured(StrCat(s, "filegroups.", g, " = ", path, ": the file-name regex is not a simple one; write a glob"));
        continue;
      }
      flow->sources.push_back(dir + *glob);
    }
    if (!Get(s + "positionFile").empty()) {
      Use(s + "positionFile");
      NotHonoured(StrCat(s, "positionFile: the agent keeps its positions in state_dir"));
    }
    if (Get(s + "skipToEnd") == "true") {
      Use(s + "skipToEnd");
      flow->start_at_end = true;
    }
  }

  // The HDFS sink that drains one of the source's channels, or "".
  std::string SinkOf(const std::string& s, const std::map<std::string, std::string>& sink_of_channel) {
    std::string channels = Use(s + "channels");
    std::string sink;
    for (std::string_view c : Split(channels, ' ', true)) {
      used_.insert(StrCat(a_, "channels.", c, ".type"));
      if (auto it = sink_of_channel.find(std::string(c)); it != sink_of_channel.end()) sink = it->second;
    }
    if (sink.empty()) NotHonoured(StrCat(s, "channels = ", channels, ": no HDFS sink drains them"));
    return sink;
  }

  // The HDFS sink's settings (`k` = "<agent>.sinks.<sink>.hdfs.") into the flow.
  Status Sink(const std::string& k, FlowOptions* flow) {
    std::string path = Use(k + "path");
    // hdfs://namenode:8020/user/flume/logs/%Y-%m-%d -> the lake and the directory.
    if (path.starts_with("hdfs://")) {
      size_t slash = path.find('/', 7);
      std::string authority = path.substr(7, slash == std::string::npos ? std::string::npos : slash - 7);
      std::string host = authority.substr(0, authority.find(':'));
      m_.config.lake = StrCat("webhdfs://", host, ":9870");
      NotHonoured(StrCat(k, "path: the NameNode's HTTP port is taken to be 9870 (", m_.config.lake,
                         "); set lake = \"webhdfs://", host, ":PORT\" if it differs"));
      path = slash == std::string::npos ? "/" : path.substr(slash);
    }
    flow->target_dir = path;
    flow->file_prefix = Get(k + "filePrefix").empty() ? "FlumeData" : Use(k + "filePrefix");
    flow->file_suffix = Use(k + "fileSuffix");
    RETURN_IF_ERROR(Seconds(k + "rollInterval", &flow->roll_interval, "never roll by time (kept)"));
    RETURN_IF_ERROR(Seconds(k + "idleTimeout", &flow->idle_timeout, "no idle roll (kept)"));
    if (Get(k + "rollInterval").empty()) flow->roll_interval = std::chrono::seconds(30);  // Flume's default
    RollSize(k, flow);
    Codec(k, flow);
    flow->use_event_time = Use(k + "useLocalTimeStamp") != "true";
    for (const char* ignored : {"writeFormat", "batchSize", "callTimeout", "threadsPoolSize", "inUsePrefix",
                                "inUseSuffix", "minBlockReplicas", "maxOpenFiles"}) {
      if (Get(k + ignored).empty()) continue;
      Use(k + ignored);
      if (std::string_view(ignored) != "writeFormat") NotHonoured(StrCat(k, ignored, ": not needed"));
    }
    return absl::OkStatus();
  }

  Status Seconds(const std::string& key, std::chrono::milliseconds* out, const char* zero_means) {
    std::string v = Use(key);
    if (v.empty()) return absl::OkStatus();
    int64_t n = 0;
    if (!ParseInt(v, &n) || n < 0) {
      return absl::InvalidArgumentError(StrCat(origin_, ": ", key, " = ", v, " is not a number of seconds"));
    }
    if (n == 0) {
      *out = std::chrono::hours(24 * 365);
      NotHonoured(StrCat(key, " = 0: ", zero_means));
    } else {
      *out = std::chrono::seconds(n);
    }
    return absl::OkStatus();
  }

  void RollSize(const std::string& k, FlowOptions* flow) {
    std::string roll_size = Use(k + "rollSize");
    int64_t bytes = 0;
    if (!roll_size.empty() && ParseInt(roll_size, &bytes) && bytes > 0) {
      flow->roll_bytes = static_cast<uint64_t>(bytes);
    } else if (roll_size.empty()) {
      flow->roll_bytes = 1024;  // Flume's default rollSize
    } else {
      NotHonoured(StrCat(k, "rollSize = ", roll_size, ": Flume never rolls by size; comptoir still rolls at ",
                         core::FormatSize(flow->roll_bytes), " (roll_size)"));
    }
    std::string count = Use(k + "rollCount");
    if (count != "0") {
      NotHonoured(StrCat(k, "rollCount = ", count.empty() ? "10 (default)" : count,
                         ": rolls by event count are not supported; size and interval are"));
    }
  }

  void Codec(const std::string& k, FlowOptions* flow) {
    std::string file_type = Use(k + "fileType");
    std::string codec = Use(k + "codeC");
    if (file_type == "CompressedStream" && !codec.empty()) {
      StatusOr<lake::Codec> c = lake::ParseCodec(codec);
      if (c.ok()) {
        flow->codec = *c;
      } else {
        NotHonoured(StrCat(k, "codeC = ", codec, ": comptoir writes gzip or zstd"));
      }
    } else if (!file_type.empty() && file_type != "DataStream") {
      NotHonoured(StrCat(k, "fileType = ", file_type, ": files are written as DataStream (plain text)"));
    } else if (!codec.empty()) {
      NotHonoured(StrCat(k, "codeC = ", codec, ": ignored without fileType = CompressedStream"));
    }
  }

  // Channel settings have no equivalent: the spool replaces the channel.
  void Leftovers() {
    for (const auto& [key, value] : p_) {
      if (!key.starts_with(a_) || used_.count(key)) continue;
      if (key.starts_with(a_ + "channels.")) {
        if (key.ends_with(".type")) continue;
        NotHonoured(StrCat(key, " = ", value, ": the agent's durable spool replaces the channel"));
        continue;
      }
      NotHonoured(StrCat(key, " = ", value, ": not supported"));
    }
  }

  std::map<std::string, std::string> p_;
  std::string a_;  // "<agent>."
  std::string agent_;
  std::string origin_;
  std::set<std::string> used_;
  FlumeMigration m_;
};

}  // namespace

StatusOr<FlumeMigration> MigrateFlumeConf(std::string_view properties, const std::string& agent,
                                          const std::string& origin) {
  return Migration(properties, agent, origin).Run();
}

}  // namespace comptoir::agent
