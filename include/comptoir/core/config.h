// Layered configuration: declared defaults < TOML file < COMPTOIR_* environment
// variables < command-line flags.
//
// Every key is declared (name, type, default, help). The TOML file
// (--config, default ./comptoir.toml; a missing default file is fine, a
// missing explicit file is an error) may only contain declared keys: an
// unknown key is an InvalidArgument error that names the key and the file.
// The environment variable of key "import.num_mappers" is
// COMPTOIR_IMPORT_NUM_MAPPERS. Values are kept as validated text. A key
// declared as "bus.kafka.*" opens a table whose keys pass through unchecked
// (read with GetTable("bus.kafka")); they come from the file or Set() only.
// Not thread-safe; build it once at start-up, then read it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "comptoir/core/status.h"

namespace comptoir::core {

// kSection: a top-level table read by its own command (`up` reads
// [components.NAME]); Load() leaves it to that command.
enum class ConfigType { kString, kInt, kBool, kSection };

struct ConfigKey {
  std::string_view name;  // dotted, e.g. "import.num_mappers"
  ConfigType type;
  std::string_view default_value;
  std::string_view help;
};

// Every key Comptoir knows, for validation and for `comptoir config keys`.
std::span<const ConfigKey> BuiltinConfigKeys();

class Config {
 public:
  // Reads `path` (when it exists or `explicit_path`) and the environment
  // through `getenv` (defaults to ::getenv; tests pass their own).
  static StatusOr<Config> Load(
      const std::string& path, bool explicit_path,
      std::span<const ConfigKey> keys = BuiltinConfigKeys(),
      const std::function<const char*(const char*)>& getenv = nullptr);

  // A flag given on the command line; the value is validated against the type.
  Status Set(std::string_view key, std::string_view value);

  std::string GetString(std::string_view key) const;
  int64_t GetInt(std::string_view key) const;
  bool GetBool(std::string_view key) const;
  // The keys below `prefix` of an open table (declared as "prefix.*"), without the prefix.
  std::map<std::string, std::string> GetTable(std::string_view prefix) const;
  // Where the value came from: "default", "file PATH", "env NAME", "flag".
  std::string Origin(std::string_view key) const;

  // COMPTOIR_IMPORT_NUM_MAPPERS for "import.num_mappers".
  static std::string EnvName(std::string_view key);

 private:
  struct Value {
    std::string text;
    std::string origin;
  };
  const ConfigKey* Find(std::string_view key) const;
  Status Put(std::string_view key, std::string_view text, std::string origin);

  std::span<const ConfigKey> keys_;
  std::map<std::string, Value, std::less<>> values_;
};

}  // namespace comptoir::core
