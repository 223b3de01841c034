// comptoir up / down / ps: the platform's components as supervised child
// processes, started in dependency order once the external services they
// need are ready. See docs/platform.md.
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <thread>

#include "common.h"
#include "comptoir/core/signals.h"
#include "comptoir/core/uri.h"
#include "comptoir/health/health.h"
#include "comptoir/orchestrate/plan.h"
#include "comptoir/orchestrate/supervisor.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"

namespace comptoir::cli {
namespace {

namespace fs = std::filesystem;
using orchestrate::ComponentSpec;
using orchestrate::FlagValue;
using Steady = std::chrono::steady_clock;

struct UpFlags {
  std::string config;  // -c; default: the global --config
  bool detach = false;
  bool dry_run = false;
  bool json = false;
};

// The file, the configuration in it and the paths `up` derives from it.
struct Setup {
  std::string config_path;  // absolute
  core::Config config;
  std::string run_dir, log_dir, pid_path, log_path, state_path;
  std::chrono::milliseconds wait_timeout{120000}, stop_timeout{20000};
};

StatusOr<Setup> LoadSetup(const UpFlags& f, const Globals& g) {
  Setup s;
  std::string path = !f.config.empty() ? f.config : g.config_path;
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    return absl::NotFoundError(fmt::format(
        "{} does not exist: `up` runs the [components.NAME] of a configuration file (-c FILE; "
        "packaging/comptoir.toml and docs/platform.md show one)",
        path));
  }
  s.config_path = fs::absolute(path).lexically_normal().string();
  // Relative paths in the file (lake, bus, run_dir, sources) are relative to
  // its directory, for `up` and for every component it runs.
  fs::current_path(fs::path(s.config_path).parent_path(), ec);
  if (ec) return ErrnoToStatus(ec.value(), StrCat("cd ", fs::path(s.config_path).parent_path().string()));
  ASSIGN_OR_RETURN(s.config, core::Config::Load(s.config_path, true));
  s.run_dir = fs::absolute(s.config.GetString("up.run_dir")).lexically_normal().string();
  s.log_dir = s.run_dir + "/logs";
  s.pid_path = s.run_dir + "/up.pid";
  s.log_path = s.run_dir + "/up.log";
  s.state_path = s.run_dir + "/up.json";
  auto duration = [&](const char* key, std::chrono::milliseconds* out) -> Status {
    StatusOr<std::chrono::milliseconds> d = ParseDuration(s.config.GetString(key));
    if (!d.ok()) return absl::InvalidArgumentError(StrCat(s.config_path, ": ", key, ": ", d.status().message()));
    *out = *d;
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(duration("up.wait_timeout", &s.wait_timeout));
  RETURN_IF_ERROR(duration("up.stop_timeout", &s.stop_timeout));
  return s;
}

// An external service a component waits for.
struct Service {
  std::string kind;  // zookeeper, bus, lake, database
  std::string uri;   // what it is (shown, and used by the probe)
  source::ConnectOptions db;  // for a database
  std::string needed_by;
};

std::string ZooKeeperHosts(const std::string& zk_uri) {
  std::string hosts = zk_uri.substr(5);
  return hosts.substr(0, hosts.find('/'));
}

// The services the components need, in the order to wait for them:
// ZooKeeper, then Kafka, the lake and the databases.
StatusOr<std::vector<Service>> ServicesFor(const std::vector<ComponentSpec>& components, const Setup& s,
                                           const Globals& g) {
  std::vector<Service> zk, bus, lake, db;
  std::set<std::string> seen;
  auto add = [&](std::vector<Service>* list, Service svc) {
    if (seen.insert(svc.kind + " " + svc.uri).second) list->push_back(std::move(svc));
  };
  const std::string zookeeper = s.config.GetString("zookeeper.connect");
  for (const ComponentSpec& c : components) {
    // A saved job's flags are in its file.
    std::vector<std::string> args = c.args;
    if (c.command == "job" && !FlagValue(c.args, "--exec").empty()) {
      Globals jg = g;
      jg.config = s.config;
      StatusOr<std::vector<std::string>> saved = SavedJobArgs(jg, FlagValue(c.args, "--exec"));
      if (!saved.ok()) return absl::FailedPreconditionError(StrCat("component ", c.name, ": ", saved.status().message()));
      args.insert(args.end(), saved->begin(), saved->end());
    }
    if (std::find(args.begin(), args.end(), "-P") != args.end()) {
      return absl::InvalidArgumentError(fmt::format(
          "component {}: -P prompts for a password on a terminal, which a supervised component has not; use "
          "--password-file",
          c.name));
    }
    auto pick = [&](std::string_view flag, std::string_view key) {
      std::string v = FlagValue(args, flag);
      return v.empty() ? s.config.GetString(key) : v;
    };
    for (const std::string& need : c.needs) {
      if (need == "lake") {
        add(&lake, {"lake", pick("--lake", "lake"), {}, c.name});
      } else if (need == "bus") {
        Globals bg = g;
        bg.config = s.config;
        std::string uri = BusUri(bg, FlagValue(args, "--bus"));
        if (uri.starts_with("kafka://") && !zookeeper.empty()) add(&zk, {"zookeeper", zookeeper, {}, c.name});
        if (uri != "none") add(&bus, {"bus", uri, {}, c.name});
      } else if (need == "coord") {
        std::string uri = pick("--coord", "coord.uri");
        if (uri.starts_with("zk://")) add(&zk, {"zookeeper", ZooKeeperHosts(uri), {}, c.name});
      } else if (need == "zookeeper") {
        if (zookeeper.empty()) {
          return absl::InvalidArgumentError(
              fmt::format("component {} needs zookeeper, but zookeeper.connect is not set in {}", c.name, s.config_path));
        }
        add(&zk, {"zookeeper", zookeeper, {}, c.name});
      } else if (need == "database") {
        std::vector<source::ConnectOptions> targets;
        if (std::string url = FlagValue(args, "--connect"); !url.empty()) {
          source::ConnectOptions o;
          o.url = url;
          o.username = FlagValue(args, "--username");
          o.password = FlagValue(args, "--password");
          if (std::string file = FlagValue(args, "--password-file"); !file.empty()) {
            StatusOr<std::string> pw = ReadPasswordFile(file);
            if (!pw.ok()) return absl::FailedPreconditionError(StrCat("component ", c.name, ": ", pw.status().message()));
            o.password = *pw;
          }
          targets.push_back(o);
        } else {
          for (std::string_view each : Split(s.config.GetString("health.databases"), ',', true)) {
            source::ConnectOptions o;
            o.url = std::string(StripAsciiWhitespace(each));
            targets.push_back(o);
          }
        }
        for (source::ConnectOptions& o : targets) {
          std::string shown = core::ParseUri(o.url).value_or(core::Uri{}).Redacted();
          add(&db, {"database", shown.empty() ? o.url : shown, o, c.name});
        }
      }
    }
  }
  std::vector<Service> all;
  for (auto* list : {&zk, &bus, &lake, &db}) all.insert(all.end(), list->begin(), list->end());
  return all;
}

// The service's state; an error when waiting cannot help (a malformed URI,
// refused credentials), to stop at once.
StatusOr<health::Component> Probe(const Service& svc, const Setup& s, std::chrono::milliseconds timeout) {
  auto hopeless = [](const Status& st) {
    return absl::IsInvalidArgument(st) || absl::IsPermissionDenied(st) || absl::IsUnauthenticated(st);
  };
  if (svc.kind == "database") {
    StatusOr<std::unique_ptr<source::Connection>> conn = source::Connect(svc.db);
    if (!conn.ok() && hopeless(conn.status())) return conn.status();
    if (!conn.ok()) return health::Component{"database", health::State::kDown, std::string(conn.status().message())};
    return health::Component{"database", health::State::kOk, fmt::format("reachable, server {}", (*conn)->ServerVersion())};
  }
  health::Targets t;
  t.timeout = timeout;
  t.groups.clear();
  std::unique_ptr<lake::Storage> lake;
  if (svc.kind == "lake") {
    ASSIGN_OR_RETURN(lake, OpenLake(svc.uri));
    t.lake = lake.get();
    // A local lake is a directory `up` may create, as an import would.
    if (StatusOr<core::Uri> u = core::ParseUri(lake->Uri()); u.ok() && u->scheme == "file") {
      std::error_code ec;
      fs::create_directories(u->path, ec);
    }
  } else if (svc.kind == "bus") {
    t.bus_uri = svc.uri;
    t.bus.kafka_properties = s.config.GetTable("bus.kafka");
    StatusOr<std::unique_ptr<bus::Admin>> admin = bus::OpenAdmin(t.bus_uri, t.bus);
    if (!admin.ok() && hopeless(admin.status())) return admin.status();
  } else {
    t.zookeeper = svc.uri;
  }
  std::vector<health::Component> out = health::Check(t);
  if (out.empty()) return health::Component{svc.kind, health::State::kDown, "no probe"};
  return out.front();
}

bool Ready(const health::Component& c) { return c.state != health::State::kDown && !c.read_only; }

// Waits until `svc` is ready; says what it waits for when it is not yet.
Status WaitFor(const Service& svc, const Setup& s, const std::function<void(std::string_view)>& say,
               std::string* detail) {
  Steady::time_point t0 = Steady::now(), last_said{};
  std::string last;
  while (true) {
    StatusOr<health::Component> probed = Probe(svc, s, std::chrono::milliseconds(3000));
    if (!probed.ok()) {
      return absl::InvalidArgumentError(fmt::format("{} {} (needed by {}): {}", svc.kind, svc.uri, svc.needed_by,
                                                    std::string(probed.status().message())));
    }
    const health::Component& c = *probed;
    if (Ready(c)) {
      double waited = std::chrono::duration<double>(Steady::now() - t0).count();
      *detail = waited >= 1 ? fmt::format("ready after {:.1f} s: {}", waited, c.detail) : "ready: " + c.detail;
      return absl::OkStatus();
    }
    if (Steady::now() - t0 >= s.wait_timeout) {
      return absl::DeadlineExceededError(fmt::format(
          "{} {} is not ready after {} s ({}); {} needs it. Start it (the test services: scripts/stack start), or "
          "raise up.wait_timeout in {}",
          svc.kind, svc.uri, s.wait_timeout.count() / 1000, c.detail, svc.needed_by, s.config_path));
    }
    if (c.detail != last || Steady::now() - last_said > std::chrono::seconds(15)) {
      say(fmt::format("      waiting: {}", c.detail));
      last = c.detail;
      last_said = Steady::now();
    }
    for (int i = 0; i < 10 && !core::Cancelled(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (core::Cancelled()) return absl::AbortedError(StrCat("interrupted while waiting for ", svc.kind));
  }
}

// The supervisor's pid file, locked for as long as it runs.
struct PidFile {
  int fd = -1;
  ~PidFile() {
    if (fd >= 0) close(fd);
  }
};

StatusOr<int> RunningSupervisor(const Setup& s, PidFile* pf) {
  pf->fd = open(s.pid_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (pf->fd < 0) return ErrnoToStatus(errno, StrCat("open ", s.pid_path));
  if (flock(pf->fd, LOCK_EX | LOCK_NB) == 0) return 0;
  char buf[32] = {};
  ssize_t n = pread(pf->fd, buf, sizeof(buf) - 1, 0);
  int64_t pid = 0;
  (void)ParseInt(std::string_view(buf, n > 0 ? static_cast<size_t>(n) : 0).substr(0, std::string_view(buf).find('\n')), &pid);
  return static_cast<int>(pid > 0 ? pid : -1);
}

std::string ExePath() {
  std::error_code ec;
  fs::path p = fs::read_symlink("/proc/self/exe", ec);
  return ec ? "comptoir" : p.string();
}

// Errors before anything starts are returned; a failed start-up is reported
// on the way (lines and up.log) and only sets `exit_code`.
Status RunUp(const UpFlags& f, const Globals& g, CLI::App* root, int* exit_code) {
  ASSIGN_OR_RETURN(Setup s, LoadSetup(f, g));
  ASSIGN_OR_RETURN(std::vector<ComponentSpec> components, orchestrate::LoadComponents(s.config_path));
  std::set<std::string> commands;
  for (CLI::App* sub : root->get_subcommands([](CLI::App*) { return true; })) commands.insert(sub->get_name());
  for (const ComponentSpec& c : components) {
    if (c.command == "up" || c.command == "down" || c.command == "ps" || c.command == "demo" ||
        !commands.contains(c.command)) {
      return absl::InvalidArgumentError(fmt::format(
          "{}: component {}: \"{}\" is not a comptoir command that `up` can run (see comptoir --help)", s.config_path,
          c.name, c.command));
    }
  }
  ASSIGN_OR_RETURN(std::vector<Service> services, ServicesFor(components, s, g));
  if (f.dry_run) {
    std::cout << fmt::format("comptoir up -c {} would, in this order:\n", s.config_path);
    for (const Service& svc : services) {
      std::cout << fmt::format("  wait for {} {} (needed by {}; up to {} s)\n", svc.kind, svc.uri, svc.needed_by,
                               s.wait_timeout.count() / 1000);
    }
    for (const ComponentSpec& c : components) {
      std::cout << fmt::format("  start {}: comptoir {}\n      {}; ready when {}; restart {}; log {}/{}.log\n", c.name,
                               Join(c.args, " "),
                               c.schedule ? c.schedule->Describe() : std::string("long-running"),
                               c.ready == "exit" ? "it exits with status 0"
                               : c.ready == "start" ? "it still runs after 1 s"
                                                    : "something listens on " + c.ready.substr(6),
                               c.restart == orchestrate::Restart::kAlways  ? "always"
                               : c.restart == orchestrate::Restart::kNever ? "never"
                                                                           : "on failure, with backoff",
                               s.log_dir, c.name);
    }
    return absl::OkStatus();
  }
  std::error_code ec;
  fs::create_directories(s.log_dir, ec);
  if (ec) return ErrnoToStatus(ec.value(), StrCat("create ", s.log_dir));
  PidFile pid_file;
  ASSIGN_OR_RETURN(int running, RunningSupervisor(s, &pid_file));
  if (running != 0) {
    return absl::AlreadyExistsError(fmt::format(
        "already running (supervisor pid {}) for {}; `comptoir down -c {}` stops it, `comptoir ps` shows it", running,
        s.run_dir, s.config_path));
  }
  // Detached: the parent relays the start-up lines and exits with its result.
  int relay = -1;
  if (f.detach) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return ErrnoToStatus(errno, "pipe");
    std::cout << std::flush;
    pid_t child = fork();
    if (child < 0) return ErrnoToStatus(errno, "fork");
    if (child > 0) {
      close(fds[1]);
      std::string all;
      char buf[4096];
      for (ssize_t n; (n = read(fds[0], buf, sizeof(buf))) != 0;) {
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) break;
        all.append(buf, static_cast<size_t>(n));
        size_t nl;
        while ((nl = all.find('\n')) != std::string::npos) {
          std::string line = all.substr(0, nl);
          all.erase(0, nl + 1);
          if (line.starts_with('\x1e')) _exit(std::atoi(line.c_str() + 1));
          std::cout << line << "\n" << std::flush;
        }
      }
      std::cerr << fmt::format("comptoir up: the supervisor stopped during start-up; see {}\n", s.log_path);
      _exit(1);
    }
    close(fds[0]);
    relay = fds[1];
    setsid();
    int null_fd = open("/dev/null", O_RDWR);
    int log_fd = open(s.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (null_fd >= 0) dup2(null_fd, STDIN_FILENO);
    if (log_fd >= 0) dup2(log_fd, STDOUT_FILENO), dup2(log_fd, STDERR_FILENO);
  }
  std::string pid_text = fmt::format("{}\n", getpid());
  (void)!ftruncate(pid_file.fd, 0);
  (void)!pwrite(pid_file.fd, pid_text.data(), pid_text.size(), 0);
  std::ofstream up_log;
  if (!f.detach) up_log.open(s.log_path, std::ios::app);
  std::mutex say_mu;
  auto say = [&](std::string_view line) {
    std::lock_guard<std::mutex> l(say_mu);
    std::string text = StrCat(line, "\n");
    if (relay >= 0) (void)!write(relay, text.data(), text.size());
    std::cout << text << std::flush;  // the terminal, or up.log when detached
    if (up_log.is_open()) up_log << text << std::flush;
  };
  auto finish_start = [&](int code) {
    if (relay < 0) return;
    std::string end = fmt::format("\x1e{}\n", code);
    (void)!write(relay, end.data(), end.size());
    close(relay);
    relay = -1;
  };
  orchestrate::SupervisorOptions so;
  so.exe = ExePath();
  so.global_args = {"--config", s.config_path, "-q"};
  so.log_dir = s.log_dir;
  so.state_path = s.state_path;
  so.stop_timeout = s.stop_timeout;
  so.say = say;
  orchestrate::Supervisor supervisor(so);
  size_t steps = services.size() + components.size(), step = 0;
  say(fmt::format("comptoir up: {} component{} from {} (supervisor pid {}; logs in {})", components.size(),
                  components.size() == 1 ? "" : "s", s.config_path, getpid(), s.log_dir));
  Status status = [&]() -> Status {
    for (const Service& svc : services) {
      say(fmt::format("[{}/{}] {} {}", ++step, steps, svc.kind, svc.uri));
      std::string detail;
      RETURN_IF_ERROR(WaitFor(svc, s, say, &detail));
      say(fmt::format("      {}", detail));
    }
    for (const ComponentSpec& c : components) {
      say(fmt::format("[{}/{}] {}: comptoir {}", ++step, steps, c.name, Join(c.args, " ")));
      StatusOr<std::string> started = supervisor.Start(c);
      if (!started.ok()) return started.status();
      say(fmt::format("      {}", *started));
    }
    return absl::OkStatus();
  }();
  if (!status.ok()) {
    say(fmt::format("comptoir up: {}", std::string(status.message())));
    supervisor.StopAll();
    say("comptoir up: start-up failed; what had started is stopped");
    *exit_code = ExitCodeFor(status);
    finish_start(*exit_code);
    unlink(s.pid_path.c_str());
    return absl::OkStatus();
  }
  std::string dashboard;
  for (const ComponentSpec& c : components) {
    if (c.command == "serve") dashboard = fmt::format("; dashboard on http://{}", c.ready.substr(6));
  }
  say(fmt::format("comptoir up: everything is up{}. {}", dashboard,
                  f.detach ? fmt::format("`comptoir down -c {}` stops it; supervisor log {}", s.config_path, s.log_path)
                           : std::string("Ctrl-C (or `comptoir down`) stops it")));
  finish_start(0);
  supervisor.Run();
  say(core::Cancelled() ? "comptoir up: stopping, last started first" : "comptoir up: stopping");
  supervisor.StopAll();
  say("comptoir up: stopped");
  unlink(s.pid_path.c_str());
  return absl::OkStatus();
}

Status RunDown(const UpFlags& f, const Globals& g) {
  ASSIGN_OR_RETURN(Setup s, LoadSetup(f, g));
  std::error_code ec;
  if (!fs::exists(s.pid_path, ec)) {
    std::cout << fmt::format("comptoir down: nothing is running ({} has no supervisor)\n", s.run_dir);
    return absl::OkStatus();
  }
  PidFile pf;
  ASSIGN_OR_RETURN(int pid, RunningSupervisor(s, &pf));
  if (pid == 0) {
    unlink(s.pid_path.c_str());
    std::cout << fmt::format("comptoir down: nothing is running (a stale pid file in {} was removed)\n", s.run_dir);
    return absl::OkStatus();
  }
  if (pid < 0) return absl::DataLossError(StrCat(s.pid_path, " is locked but holds no pid"));
  uintmax_t offset = fs::file_size(s.log_path, ec);
  if (ec) offset = 0;
  std::cout << fmt::format("comptoir down: stopping the supervisor (pid {}) and its components\n", pid) << std::flush;
  Steady::time_point t0 = Steady::now();
  if (kill(pid, SIGTERM) != 0) return ErrnoToStatus(errno, fmt::format("signal pid {}", pid));
  std::ifstream log(s.log_path);
  log.seekg(static_cast<std::streamoff>(offset));
  auto relay = [&] {
    std::string line;
    while (std::getline(log, line)) std::cout << "  " << line << "\n";
    log.clear();
    std::cout << std::flush;
  };
  size_t n_components = 0;
  if (std::ifstream st(s.state_path); st) {
    nlohmann::json j = nlohmann::json::parse(st, nullptr, false);
    if (j.is_object() && j["components"].is_array()) n_components = j["components"].size();
  }
  auto limit = s.stop_timeout * static_cast<int64_t>(n_components + 1) + std::chrono::seconds(10);
  while (flock(pf.fd, LOCK_EX | LOCK_NB) != 0) {
    relay();
    if (Steady::now() - t0 > limit) {
      kill(pid, SIGKILL);
      relay();
      return absl::DeadlineExceededError(fmt::format(
          "the supervisor (pid {}) did not stop within {} s; killed it (its components get SIGTERM from the kernel)",
          pid, std::chrono::duration_cast<std::chrono::seconds>(limit).count()));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  relay();
  std::cout << fmt::format("comptoir down: stopped in {:.1f} s\n",
                           std::chrono::duration<double>(Steady::now() - t0).count());
  return absl::OkStatus();
}

Status RunPs(const UpFlags& f, const Globals& g) {
  ASSIGN_OR_RETURN(Setup s, LoadSetup(f, g));
  PidFile pf;
  std::error_code ec;
  int pid = 0;
  if (fs::exists(s.pid_path, ec)) {
    ASSIGN_OR_RETURN(pid, RunningSupervisor(s, &pf));
  }
  nlohmann::json state = nlohmann::json::object();
  if (std::ifstream in(s.state_path); in) state = nlohmann::json::parse(in, nullptr, false);
  if (!state.is_object()) state = nlohmann::json::object();
  state["running"] = pid > 0;
  if (f.json) {
    std::cout << state.dump() << "\n";
    return absl::OkStatus();
  }
  std::cout << (pid > 0 ? fmt::format("supervisor: running (pid {}), {}\n", pid, s.run_dir)
                        : fmt::format("supervisor: not running ({})\n", s.run_dir));
  if (!state.contains("components")) return absl::OkStatus();
  std::cout << fmt::format("{:<20} {:<11} {:>8} {:>5}  {}\n", "COMPONENT", "STATE", "PID", "RUNS", "LAST EXIT / NEXT RUN");
  for (const nlohmann::json& c : state["components"]) {
    std::string pid_text = c["pid"].is_number() ? std::to_string(c["pid"].get<int>()) : "-";
    std::string info = c.value("last_exit", "");
    if (c.contains("next_run") && pid > 0) info += (info.empty() ? "" : "; ") + ("next " + c["next_run"].get<std::string>());
    std::cout << fmt::format("{:<20} {:<11} {:>8} {:>5}  {}\n", c.value("name", ""),
                             pid > 0 ? c.value("state", "") : "stopped", pid > 0 ? pid_text : "-", c.value("runs", 0),
                             info);
  }
  return absl::OkStatus();
}

}  // namespace

void AddUpCommands(CLI::App* app, Globals* g, int* result) {
  auto f = std::make_shared<UpFlags>();
  const char* kConfigHelp = "The configuration file with the [components.NAME] to run (default: --config, ./comptoir.toml)";
  CLI::App* up = app->add_subcommand(
      "up",
      "Start the configured components (agents, producer, serve with the archiver, scheduled imports) in dependency "
      "order once the services they need are ready; restart crashed ones with backoff; one log file each");
  up->add_option("-c,--config", f->config, kConfigHelp);
  up->add_flag("-d,--detach", f->detach, "Return once everything is up; the supervisor keeps running in the background");
  up->add_flag("--dry-run", f->dry_run, "Print what would be waited for and started, in order; start nothing");
  up->callback([f, g, result, app] {
    int code = 0;
    Status s = RunUp(*f, *g, app, &code);
    *result = s.ok() ? code : Fail("up", s);
  });
  CLI::App* down = app->add_subcommand("down", "Stop what `comptoir up` started, last started first, and the supervisor");
  down->add_option("-c,--config", f->config, kConfigHelp);
  down->callback([f, g, result] {
    Status s = RunDown(*f, *g);
    *result = s.ok() ? 0 : Fail("down", s);
  });
  CLI::App* ps = app->add_subcommand("ps", "Show the components `comptoir up` runs: state, pid, runs, last exit");
  ps->add_option("-c,--config", f->config, kConfigHelp);
  ps->add_flag("--json", f->json, "Print JSON (up.json, with \"running\")");
  ps->callback([f, g, result] {
    Status s = RunPs(*f, *g);
    *result = s.ok() ? 0 : Fail("ps", s);
  });
}

}  // namespace comptoir::cli
