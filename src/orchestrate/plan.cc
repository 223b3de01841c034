#include "comptoir/orchestrate/plan.h"

#include <wordexp.h>

#include <algorithm>
#include <map>
#include <set>

#include "comptoir/core/strings.h"
#include "comptoir/core/units.h"
#include "fmt/format.h"
#include "toml++/toml.h"

namespace comptoir::orchestrate {
namespace {

// Global options of comptoir that take a value (they may come before the command).
constexpr std::string_view kGlobalWithValue[] = {"--config", "--log-format", "--log-level", "--hdfs-user"};
bool HasFlag(const std::vector<std::string>& args, std::string_view flag) {
  return std::any_of(args.begin(), args.end(),
                     [&](const std::string& a) { return a == flag || (a.starts_with(flag) && a[flag.size()] == '='); });
}

// The services a command waits for, from its descriptor's rules.
std::vector<std::string> InferNeeds(const CommandInfo& info, const ComponentSpec& c) {
  std::vector<std::string> needs;
  for (const NeedRule& rule : info.needs) {
    if (!rule.only_with.empty() && !HasFlag(c.args, rule.only_with)) continue;
    if (!rule.unless.empty() && HasFlag(c.args, rule.unless)) continue;
    needs.emplace_back(rule.service);
  }
  return needs;
}

Status Invalid(const std::string& path, const toml::node& node, const std::string& component, std::string_view msg) {
  return absl::InvalidArgumentError(
      fmt::format("{}:{}: component \"{}\": {}", path, node.source().begin.line, component, std::string(msg)));
}

StatusOr<std::vector<std::string>> Strings(const std::string& path, const std::string& name, std::string_view key,
                                           const toml::node& node) {
  std::vector<std::string> out;
  const toml::array* a = node.as_array();
  if (a == nullptr) return Invalid(path, node, name, fmt::format("{} must be an array of strings", key));
  for (const toml::node& e : *a) {
    std::optional<std::string> s = e.value<std::string>();
    if (!s || !e.is_string()) return Invalid(path, e, name, fmt::format("{} must be an array of strings", key));
    out.push_back(*s);
  }
  return out;
}

// A `run` string split like a shell would, with $VARIABLES, without command substitution.
StatusOr<std::vector<std::string>> SplitWords(const std::string& text) {
  wordexp_t w{};
  int rc = wordexp(text.c_str(), &w, WRDE_NOCMD | WRDE_UNDEF);
  if (rc != 0) {
    if (rc != WRDE_NOSPACE) wordfree(&w);
    std::string_view why = rc == WRDE_BADCHAR  ? "it has a character a shell would treat specially (| & ; < > ( ) { } or a newline); quote it"
                           : rc == WRDE_BADVAL ? "it names an environment variable that is not set"
                           : rc == WRDE_CMDSUB ? "command substitution is not allowed"
                           : rc == WRDE_SYNTAX ? "unbalanced quotes"
                                               : "out of memory";
    return absl::InvalidArgumentError(std::string(why));
  }
  std::vector<std::string> out(w.we_wordv, w.we_wordv + w.we_wordc);
  wordfree(&w);
  return out;
}

// One [components.NAME] table, key by key; every error names the file, the
// line, the component and the key.
class ComponentReader {
 public:
  ComponentReader(const std::string& path, const std::string& name, const toml::table& t)
      : path_(path), name_(name), t_(t) {}

  StatusOr<ComponentSpec> Read(std::span<const CommandInfo> commands, bool* enabled) {
    ComponentSpec c;
    c.name = name_;
    RETURN_IF_ERROR(KnownKeys());
    RETURN_IF_ERROR(Run(&c));
    const CommandInfo* info = FindCommand(commands, c.command);
    if (info == nullptr || !info->supervised) {
      return absl::InvalidArgumentError(fmt::format(
          "{}: component {}: \"{}\" is not a comptoir command that `up` can run (see comptoir --help)", path_, name_,
          c.command));
    }
    c.start_rank = info->start_rank;
    if (const toml::node* n = t_.get("after")) {
      ASSIGN_OR_RETURN(c.after, Strings(path_, name_, "after", *n));
    }
    RETURN_IF_ERROR(Needs(*info, &c));
    RETURN_IF_ERROR(RestartPolicy(&c));
    RETURN_IF_ERROR(When(&c));
    RETURN_IF_ERROR(Then(commands, &c));
    RETURN_IF_ERROR(Ready(*info, &c));
    *enabled = true;
    if (const toml::node* n = t_.get("enabled")) {
      if (!n->is_boolean()) return Invalid(path_, *n, name_, "enabled must be true or false");
      *enabled = *n->value<bool>();
    }
    return c;
  }

 private:
  Status KnownKeys() const {
    static const std::set<std::string, std::less<>> kKeys = {"run",  "after", "needs", "restart", "every",
                                                             "cron", "then",  "ready", "enabled"};
    for (const auto& [key, node] : t_) {
      if (!kKeys.contains(key.str())) {
        return Invalid(path_, node, name_,
                       fmt::format("unknown key \"{}\" (known: run, after, needs, restart, every, cron, then, ready, "
                                   "enabled)",
                                   std::string(key.str())));
      }
    }
    return absl::OkStatus();
  }

  // A command line (`run`, `then`): the arguments, and the command among
  // them (after global options).
  Status CommandLine(const toml::node& n, std::string_view key, std::vector<std::string>* args,
                     std::string* command) const {
    if (std::optional<std::string> s = n.value<std::string>(); s && n.is_string()) {
      StatusOr<std::vector<std::string>> words = SplitWords(*s);
      if (!words.ok()) return Invalid(path_, n, name_, StrCat(key, " = \"", *s, "\": ", words.status().message()));
      *args = *std::move(words);
    } else {
      ASSIGN_OR_RETURN(*args, Strings(path_, name_, std::string(key), n));
    }
    if (!args->empty() && ((*args)[0] == "comptoir" || (*args)[0].ends_with("/comptoir"))) args->erase(args->begin());
    for (size_t i = 0; i < args->size(); ++i) {
      const std::string& a = (*args)[i];
      if (!a.starts_with('-')) {
        *command = a;
        break;
      }
      if (std::find(std::begin(kGlobalWithValue), std::end(kGlobalWithValue), a) != std::end(kGlobalWithValue)) ++i;
    }
    if (command->empty()) {
      return Invalid(path_, n, name_, StrCat("`", key, "` names no comptoir command (e.g. \"serve\", \"agent ...\")"));
    }
    return absl::OkStatus();
  }

  Status Run(ComponentSpec* c) const {
    const toml::node* run = t_.get("run");
    if (run == nullptr) {
      return Invalid(path_, t_, name_, "no `run` key: say which comptoir command it runs, e.g. run = \"serve --archive\"");
    }
    return CommandLine(*run, "run", &c->args, &c->command);
  }

  // `then`: a one-shot command after each successful run of a scheduled one.
  Status Then(std::span<const CommandInfo> commands, ComponentSpec* c) const {
    const toml::node* n = t_.get("then");
    if (n == nullptr) return absl::OkStatus();
    if (!c->schedule) {
      return Invalid(path_, *n, name_, "`then` runs after each run of a scheduled component: give `every` or `cron`");
    }
    std::string command;
    RETURN_IF_ERROR(CommandLine(*n, "then", &c->then, &command));
    const CommandInfo* info = FindCommand(commands, command);
    if (info == nullptr || !info->supervised || info->lifetime != Lifetime::kOneShot) {
      return Invalid(path_, *n, name_,
                     fmt::format("then: \"{}\" is not a one-shot comptoir command (e.g. \"views build\")", command));
    }
    return absl::OkStatus();
  }

  Status Needs(const CommandInfo& info, ComponentSpec* c) const {
    const toml::node* n = t_.get("needs");
    if (n == nullptr) {
      c->needs = InferNeeds(info, *c);
      return absl::OkStatus();
    }
    ASSIGN_OR_RETURN(c->needs, Strings(path_, name_, "needs", *n));
    for (const std::string& need : c->needs) {
      if (need != "lake" && need != "bus" && need != "database" && need != "coord" && need != "zookeeper") {
        return Invalid(path_, *n, name_,
                       fmt::format("needs \"{}\": expected lake, bus, database, coord or zookeeper", need));
      }
    }
    return absl::OkStatus();
  }

  StatusOr<std::optional<std::string>> Text(std::string_view key) const {
    const toml::node* n = t_.get(key);
    if (n == nullptr) return std::optional<std::string>();
    if (!n->is_string()) return Invalid(path_, *n, name_, fmt::format("{} must be a string", key));
    return n->value<std::string>();
  }

  Status RestartPolicy(ComponentSpec* c) const {
    ASSIGN_OR_RETURN(std::optional<std::string> restart, Text("restart"));
    if (!restart) return absl::OkStatus();
    if (*restart == "on-failure") {
      c->restart = Restart::kOnFailure;
    } else if (*restart == "always") {
      c->restart = Restart::kAlways;
    } else if (*restart == "never") {
      c->restart = Restart::kNever;
    } else {
      return Invalid(path_, *t_.get("restart"), name_,
                     fmt::format("restart = \"{}\": expected on-failure, always or never", *restart));
    }
    return absl::OkStatus();
  }

  // `every` or `cron`: a scheduled one-shot.
  Status When(ComponentSpec* c) const {
    ASSIGN_OR_RETURN(std::optional<std::string> every, Text("every"));
    ASSIGN_OR_RETURN(std::optional<std::string> cron, Text("cron"));
    if (every && cron) return Invalid(path_, *t_.get("cron"), name_, "give `every` or `cron`, not both");
    if (every) {
      StatusOr<std::chrono::milliseconds> period = core::ParseDuration(*every);
      StatusOr<Schedule> s = period.ok() ? Schedule::Every(*period) : StatusOr<Schedule>(period.status());
      if (!s.ok()) {
        return Invalid(path_, *t_.get("every"), name_, StrCat("every = \"", *every, "\": ", s.status().message()));
      }
      c->schedule = *std::move(s);
    }
    if (cron) {
      StatusOr<Schedule> s = Schedule::Cron(*cron);
      if (!s.ok()) return Invalid(path_, *t_.get("cron"), name_, std::string(s.status().message()));
      c->schedule = *std::move(s);
    }
    return absl::OkStatus();
  }

  // `ready`, else the command's own condition: listening, exit 0, or running after 1 s.
  Status Ready(const CommandInfo& info, ComponentSpec* c) const {
    ASSIGN_OR_RETURN(std::optional<std::string> ready, Text("ready"));
    if (ready) {
      if (*ready != "exit" && *ready != "start" &&
          !(ready->starts_with("tcp://") && ready->find(':', 6) != std::string::npos)) {
        return Invalid(path_, *t_.get("ready"), name_,
                       fmt::format("ready = \"{}\": expected \"tcp://host:port\", \"exit\" or \"start\"", *ready));
      }
      c->ready = *ready;
    } else if (!info.listen_flag.empty()) {
      std::string listen = FlagValue(c->args, info.listen_flag);
      c->ready = StrCat("tcp://", listen.empty() ? info.listen_default : listen);
    } else if (info.lifetime == Lifetime::kOneShot ||
               std::any_of(info.one_shot_subcommands.begin(), info.one_shot_subcommands.end(),
                           [&](std::string_view sub) { return HasFlag(c->args, sub); })) {
      c->ready = "exit";
    } else {
      c->ready = "start";
    }
    return absl::OkStatus();
  }

  const std::string& path_;
  const std::string& name_;
  const toml::table& t_;
};

// Kahn's algorithm over the `after` edges, picking among the ready ones the
// lowest default rank, then file order.
StatusOr<std::vector<ComponentSpec>> Order(const std::string& path, std::vector<ComponentSpec> specs,
                                           const std::set<std::string>& disabled) {
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < specs.size(); ++i) index[specs[i].name] = i;
  std::vector<std::vector<size_t>> dependents(specs.size());
  std::vector<int> pending(specs.size(), 0);
  for (size_t i = 0; i < specs.size(); ++i) {
    for (const std::string& a : specs[i].after) {
      if (disabled.contains(a)) continue;  // a disabled component does not hold others back
      auto it = index.find(a);
      if (it == index.end()) {
        return absl::InvalidArgumentError(
            fmt::format("{}: component \"{}\": after = \"{}\" names no component", path, specs[i].name, a));
      }
      dependents[it->second].push_back(i);
      ++pending[i];
    }
  }
  std::vector<ComponentSpec> ordered;
  std::vector<bool> done(specs.size(), false);
  while (ordered.size() < specs.size()) {
    size_t best = specs.size();
    for (size_t i = 0; i < specs.size(); ++i) {
      if (done[i] || pending[i] > 0) continue;
      if (best == specs.size() || specs[i].start_rank < specs[best].start_rank) best = i;
    }
    if (best == specs.size()) {
      std::vector<std::string> cycle;
      for (size_t i = 0; i < specs.size(); ++i) {
        if (!done[i]) cycle.push_back(specs[i].name);
      }
      return absl::InvalidArgumentError(
          fmt::format("{}: the `after` lists of {} form a cycle: none of them can start first", path, Join(cycle, ", ")));
    }
    done[best] = true;
    for (size_t d : dependents[best]) --pending[d];
    ordered.push_back(specs[best]);
  }
  return ordered;
}

}  // namespace

std::string FlagValue(const std::vector<std::string>& args, std::string_view flag) {
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == flag && i + 1 < args.size()) return args[i + 1];
    if (args[i].starts_with(flag) && args[i].size() > flag.size() && args[i][flag.size()] == '=') {
      return args[i].substr(flag.size() + 1);
    }
  }
  return "";
}

const CommandInfo* FindCommand(std::span<const CommandInfo> commands, std::string_view name) {
  for (const CommandInfo& c : commands) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

StatusOr<std::vector<ComponentSpec>> LoadComponents(const std::string& path, std::span<const CommandInfo> commands) {
  toml::table file;
  try {
    file = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    return absl::InvalidArgumentError(
        fmt::format("{}:{}:{}: {}", path, e.source().begin.line, e.source().begin.column, std::string(e.description())));
  }
  const toml::table* components = file["components"].as_table();
  if (components == nullptr || components->empty()) {
    return absl::InvalidArgumentError(
        fmt::format("{} declares no component to run: add e.g. [components.serve] with run = \"serve --archive\" "
                    "(docs/platform.md lists every key)",
                    path));
  }
  // In file order (toml++ keeps tables sorted by key).
  std::vector<std::pair<const toml::key*, const toml::node*>> entries;
  for (const auto& [key, node] : *components) entries.emplace_back(&key, &node);
  std::stable_sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
    return a.second->source().begin < b.second->source().begin;
  });
  std::vector<ComponentSpec> specs;
  std::set<std::string> disabled;
  for (const auto& [key, node] : entries) {
    std::string name(key->str());
    if (name.empty() || name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") !=
                            std::string::npos) {
      return absl::InvalidArgumentError(fmt::format(
          "{}:{}: component name \"{}\" may use letters, digits, '.', '_' and '-' only (it names its log file)", path,
          node->source().begin.line, name));
    }
    const toml::table* t = node->as_table();
    if (t == nullptr) return Invalid(path, *node, name, "must be a table: [components." + name + "]");
    bool enabled = true;
    ASSIGN_OR_RETURN(ComponentSpec c, ComponentReader(path, name, *t).Read(commands, &enabled));
    if (enabled) {
      specs.push_back(std::move(c));
    } else {
      disabled.insert(name);
    }
  }
  if (specs.empty()) {
    return absl::InvalidArgumentError(fmt::format("{}: every component is disabled (enabled = false)", path));
  }
  return Order(path, std::move(specs), disabled);
}

}  // namespace comptoir::orchestrate
