#include "comptoir/core/config.h"

#include <cstdlib>
#include <filesystem>

#include "toml++/toml.h"

namespace comptoir::core {
namespace {

constexpr ConfigKey kBuiltinKeys[] = {
    {"lake", ConfigType::kString, "./lake",
     "Lake URI or local directory (file:///dir, mem://name, webhdfs://host:port, s3://bucket/prefix)"},
    {"lake.s3.endpoint", ConfigType::kString, "",
     "S3 endpoint URL, e.g. http://127.0.0.1:7070 (default: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, else AWS)"},
    {"lake.s3.region", ConfigType::kString, "", "S3 region (default: AWS_REGION, AWS_DEFAULT_REGION, ~/.aws/config, us-east-1)"},
    {"lake.s3.path_style", ConfigType::kString, "auto",
     "S3 addressing: true (http://host/bucket/key), false (virtual host) or auto (path style unless AWS)"},
    {"lake.s3.profile", ConfigType::kString, "", "Profile of ~/.aws/credentials and ~/.aws/config (default: AWS_PROFILE, default)"},
    {"lake.s3.access_key_id", ConfigType::kString, "", "S3 access key (default: AWS_ACCESS_KEY_ID, then the profile)"},
    {"lake.s3.secret_access_key", ConfigType::kString, "", "S3 secret key, with access_key_id; never logged"},
    {"lake.s3.session_token", ConfigType::kString, "", "S3 session token for temporary credentials"},
    {"lake.s3.part_size_mb", ConfigType::kInt, "8", "Multipart upload part size in MiB (5..5120)"},
    {"lake.s3.parallel", ConfigType::kInt, "4", "Parts uploaded at once per file (1..64)"},
    {"lake.s3.copy_limit_mb", ConfigType::kInt, "5120",
     "Larger objects are copied through comptoir instead of on the server (single-file publishes; 5..5120 MiB)"},
    {"lake.s3.retry_deadline_ms", ConfigType::kInt, "60000",
     "How long transient S3 failures (server restarting, 5xx, SlowDown) are retried"},
    {"log.level", ConfigType::kString, "info", "trace, debug, info, warn, error or off"},
    {"log.format", ConfigType::kString, "human", "human or json"},
    {"hdfs.user", ConfigType::kString, "", "user.name sent to WebHDFS (default: the local user)"},
    {"import.num_mappers", ConfigType::kInt, "4", "Parallel readers (splits) per import"},
    {"import.fetch_size", ConfigType::kInt, "10000", "Rows per network round trip"},
    {"import.compression_codec", ConfigType::kString, "gzip",
     "Codec used with --compress: gzip or zstd"},
    {"import.jobs_dir", ConfigType::kString, "",
     "Where saved jobs live (default: $HOME/.comptoir/jobs)"},
    {"bus.uri", ConfigType::kString, "./bus",
     "Event bus: log:///dir (embedded log), a directory, or kafka://host:port[,host:port]"},
    {"bus.on_damage", ConfigType::kString, "skip",
     "Embedded log readers meeting records a damaged disk no longer reads back: skip (count them as lost and go on) "
     "or fail (stop with an error); both report the range"},
    {"bus.kafka.*", ConfigType::kString, "",
     "librdkafka properties passed through, e.g. [bus.kafka] \"security.protocol\" = \"SSL\""},
    {"coord.uri", ConfigType::kString, "",
     "Coordination: local:///dir or zk://host:port[,host:port]/chroot (default: local, beside the saved jobs)"},
    {"zookeeper.connect", ConfigType::kString, "", "ZooKeeper host:port[,host:port] checked by `health`"},
    {"health.databases", ConfigType::kString, "", "Source database URLs checked by `health`, comma-separated"},
    {"up.run_dir", ConfigType::kString, "./run", "`up`: where the supervisor keeps its pid file, up.log and logs/<component>.log"},
    {"up.wait_timeout", ConfigType::kString, "2m", "`up`: how long to wait for each external service to be ready"},
    {"up.stop_timeout", ConfigType::kString, "20s", "`up`/`down`: how long a component may take to stop before SIGKILL"},
    {"components", ConfigType::kSection, "",
     "`up`: [components.NAME] tables (run, after, needs, restart, every, cron, ready); see docs/platform.md"},
    {"quality", ConfigType::kSection, "",
     "Data-quality rules: [[quality.rule]] tables (dataset, column, check, action, ...); see docs/quality.md"},
};

Status TypeError(std::string_view key, std::string_view text, std::string_view origin,
                 std::string_view want) {
  return absl::InvalidArgumentError(StrCat("config key \"", key, "\" from ", origin,
                                                 " has value \"", text, "\"; expected ", want));
}

// Flattens a TOML table into dotted keys.
Status Flatten(const toml::table& t, const std::string& prefix,
               std::map<std::string, std::string>* out, const std::string& file) {
  for (const auto& [k, node] : t) {
    std::string key = prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
    if (const toml::table* sub = node.as_table()) {
      RETURN_IF_ERROR(Flatten(*sub, key, out, file));
    } else if (auto s = node.value<std::string>(); s && node.is_string()) {
      (*out)[key] = *s;
    } else if (node.is_integer()) {
      (*out)[key] = std::to_string(*node.value<int64_t>());
    } else if (node.is_boolean()) {
      (*out)[key] = *node.value<bool>() ? "true" : "false";
    } else {
      return absl::InvalidArgumentError(StrCat(
          file, ": key \"", key, "\" must be a string, integer or boolean"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::span<const ConfigKey> BuiltinConfigKeys() { return kBuiltinKeys; }

std::string Config::EnvName(std::string_view key) {
  std::string name = "COMPTOIR_";
  for (char c : key) {
    name.push_back(c == '.' || c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  return name;
}

const ConfigKey* Config::Find(std::string_view key) const {
  for (const ConfigKey& k : keys_) {
    if (k.name == key) return &k;
    // "bus.kafka.*" accepts any key below "bus.kafka.".
    if (k.name.ends_with(".*") && key.size() > k.name.size() - 1 &&
        key.starts_with(k.name.substr(0, k.name.size() - 1))) {
      return &k;
    }
  }
  return nullptr;
}

Status Config::Put(std::string_view key, std::string_view text, std::string origin) {
  const ConfigKey* k = Find(key);
  if (k == nullptr || k->type == ConfigType::kSection) {
    return absl::InvalidArgumentError(StrCat("unknown config key \"", key, "\" in ", origin,
                                                   "; run `comptoir config keys` for the list"));
  }
  if (k->type == ConfigType::kInt) {
    int64_t v = 0;
    if (!ParseInt(text, &v)) return TypeError(key, text, origin, "an integer");
  } else if (k->type == ConfigType::kBool) {
    bool v = false;
    if (!ParseBool(text, &v)) return TypeError(key, text, origin, "true or false");
  }
  values_[std::string(key)] = Value{std::string(text), std::move(origin)};
  return absl::OkStatus();
}

StatusOr<Config> Config::Load(const std::string& path, bool explicit_path,
                              std::span<const ConfigKey> keys,
                              const std::function<const char*(const char*)>& getenv) {
  Config c;
  c.keys_ = keys;
  for (const ConfigKey& k : keys) {
    if (k.name.ends_with(".*") || k.type == ConfigType::kSection) continue;  // no default entries
    c.values_[std::string(k.name)] = Value{std::string(k.default_value), "default"};
  }
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) {
    toml::table parsed;
    try {
      parsed = toml::parse_file(path);
    } catch (const toml::parse_error& e) {
      return absl::InvalidArgumentError(StrCat(path, ":", e.source().begin.line, ":",
                                               e.source().begin.column, ": ", e.description()));
    }
    for (const ConfigKey& k : keys) {
      if (k.type == ConfigType::kSection) parsed.erase(k.name);
    }
    std::map<std::string, std::string> flat;
    RETURN_IF_ERROR(Flatten(parsed, "", &flat, path));
    // TOML cannot have `lake = "..."` beside a [lake.s3] table: [lake] uri = "..." says the same.
    if (auto uri = flat.find("lake.uri"); uri != flat.end()) {
      if (flat.contains("lake")) return absl::InvalidArgumentError(StrCat(path, ": both lake and lake.uri are set"));
      flat["lake"] = uri->second;
      flat.erase("lake.uri");
    }
    for (const auto& [k, v] : flat) RETURN_IF_ERROR(c.Put(k, v, StrCat("file ", path)));
  } else if (explicit_path) {
    return absl::NotFoundError(StrCat("config file ", path, " does not exist"));
  }
  for (const ConfigKey& k : keys) {
    if (k.name.ends_with(".*") || k.type == ConfigType::kSection) continue;
    std::string env = EnvName(k.name);
    const char* v = getenv ? getenv(env.c_str()) : std::getenv(env.c_str());
    if (v != nullptr) RETURN_IF_ERROR(c.Put(k.name, v, StrCat("env ", env)));
  }
  return c;
}

Status Config::Set(std::string_view key, std::string_view value) {
  return Put(key, value, "flag");
}

std::string Config::GetString(std::string_view key) const {
  auto it = values_.find(key);
  return it == values_.end() ? "" : it->second.text;
}

int64_t Config::GetInt(std::string_view key) const {
  int64_t v = 0;
  (void)ParseInt(GetString(key), &v);
  return v;
}

bool Config::GetBool(std::string_view key) const {
  bool v = false;
  (void)ParseBool(GetString(key), &v);
  return v;
}

std::map<std::string, std::string> Config::GetTable(std::string_view prefix) const {
  std::map<std::string, std::string> out;
  std::string p = StrCat(prefix, ".");
  for (auto it = values_.lower_bound(p); it != values_.end() && it->first.starts_with(p); ++it) {
    out[it->first.substr(p.size())] = it->second.text;
  }
  return out;
}

std::string Config::Origin(std::string_view key) const {
  auto it = values_.find(key);
  return it == values_.end() ? "" : it->second.origin;
}

}  // namespace comptoir::core
