#include "comptoir/orchestrate/up.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <set>
#include <thread>

#include "comptoir/bus/client.h"
#include "comptoir/core/signals.h"
#include "comptoir/core/strings.h"
#include "comptoir/core/units.h"
#include "comptoir/core/uri.h"
#include "comptoir/health/health.h"
#include "comptoir/importer/jobs.h"
#include "comptoir/lake/storage.h"
#include "comptoir/orchestrate/plan.h"
#include "comptoir/source/database.h"
#include "fmt/format.h"

namespace comptoir::orchestrate {
namespace {

namespace fs = std::filesystem;
using Steady = std::chrono::steady_clock;

// An external service a component waits for.
struct Service {
  std::string kind;           // zookeeper, bus, lake, database
  std::string uri;            // what it is (shown, and used by the probe)
  source::ConnectOptions db;  // for a database
  std::string needed_by;
};

std::string ZooKeeperHosts(const std::string& zk_uri) {
  std::string hosts = zk_uri.substr(5);
  return hosts.substr(0, hosts.find('/'));
}

// The database a component connects to: its --connect (with its credentials)
// or the configuration's health.databases.
StatusOr<std::vector<source::ConnectOptions>> DatabasesOf(const std::vector<std::string>& args, const UpSetup& s,
                                                          const std::string& component) {
  std::vector<source::ConnectOptions> out;
  if (std::string url = FlagValue(args, "--connect"); !url.empty()) {
    source::ConnectOptions o;
    o.url = url;
    o.username = FlagValue(args, "--username");
    if (std::string pw = FlagValue(args, "--password"); !pw.empty()) o.password = pw;
    if (std::string file = FlagValue(args, "--password-file"); !file.empty()) {
      StatusOr<std::string> pw = source::ReadPasswordFile(file);
      if (!pw.ok()) return absl::FailedPreconditionError(StrCat("component ", component, ": ", pw.status().message()));
      o.password = *pw;
    }
    out.push_back(o);
    return out;
  }
  for (std::string_view each : Split(s.config.GetString("health.databases"), ',', true)) {
    source::ConnectOptions o;
    o.url = std::string(StripAsciiWhitespace(each));
    out.push_back(o);
  }
  return out;
}

// The services the components need, in the order to wait for them:
// ZooKeeper, then Kafka, the lake and the databases.
StatusOr<std::vector<Service>> ServicesFor(const std::vector<ComponentSpec>& components, const UpSetup& s) {
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
      StatusOr<importer::JobRecord> job =
          importer::JobStore(importer::JobsDir(s.config)).Load(FlagValue(c.args, "--exec"));
      if (!job.ok()) return absl::FailedPreconditionError(StrCat("component ", c.name, ": ", job.status().message()));
      args.insert(args.end(), job->args.begin(), job->args.end());
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
        std::string uri = bus::ConfiguredBusUri(s.config, FlagValue(args, "--bus"));
        if (uri.starts_with("kafka://") && !zookeeper.empty()) add(&zk, {"zookeeper", zookeeper, {}, c.name});
        if (uri != "none") add(&bus, {"bus", uri, {}, c.name});
      } else if (need == "coord") {
        std::string uri = pick("--coord", "coord.uri");
        if (uri.starts_with("zk://")) add(&zk, {"zookeeper", ZooKeeperHosts(uri), {}, c.name});
      } else if (need == "zookeeper") {
        if (zookeeper.empty()) {
          return absl::InvalidArgumentError(fmt::format(
              "component {} needs zookeeper, but zookeeper.connect is not set in {}", c.name, s.config_path));
        }
        add(&zk, {"zookeeper", zookeeper, {}, c.name});
      } else if (need == "database") {
        ASSIGN_OR_RETURN(std::vector<source::ConnectOptions> targets, DatabasesOf(args, s, c.name));
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
StatusOr<health::Component> Probe(const Service& svc, const UpSetup& s, std::chrono::milliseconds timeout) {
  auto hopeless = [](const Status& st) {
    return absl::IsInvalidArgument(st) || absl::IsPermissionDenied(st) || absl::IsUnauthenticated(st);
  };
  if (svc.kind == "database") {
    StatusOr<std::unique_ptr<source::Connection>> conn = source::Connect(svc.db);
    if (!conn.ok() && hopeless(conn.status())) return conn.status();
    if (!conn.ok()) return health::Component{"database", health::State::kDown, std::string(conn.status().message())};
    return health::Component{"database", health::State::kOk,
                             fmt::format("reachable, server {}", (*conn)->ServerVersion())};
  }
  health::Targets t;
  t.timeout = timeout;
  t.groups.clear();
  std::unique_ptr<lake::Storage> lake;
  if (svc.kind == "lake") {
    ASSIGN_OR_RETURN(lake, lake::OpenConfiguredLake(s.config, svc.uri));
    t.lake = lake.get();
    // A local lake is a directory `up` may create, as an import would.
    if (StatusOr<core::Uri> u = core::ParseUri(lake->Uri()); u.ok() && u->scheme == "file") {
      std::error_code ec;
      fs::create_directories(u->path, ec);
    }
  } else if (svc.kind == "bus") {
    t.bus_uri = svc.uri;
    t.bus = bus::ConfiguredBusOptions(s.config);
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
Status WaitFor(const Service& svc, const UpSetup& s, const std::function<void(std::string_view)>& say,
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

// 0 when no supervisor runs (and `pf` now holds the lock), else its pid (-1
// when the locked file holds none).
StatusOr<int> RunningSupervisor(const UpSetup& s, PidFile* pf) {
  pf->fd = open(s.pid_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (pf->fd < 0) return ErrnoToStatus(errno, StrCat("open ", s.pid_path));
  if (flock(pf->fd, LOCK_EX | LOCK_NB) == 0) return 0;
  char buf[32] = {};
  ssize_t n = pread(pf->fd, buf, sizeof(buf) - 1, 0);
  int64_t pid = 0;
  std::string_view text(buf, n > 0 ? static_cast<size_t>(n) : 0);
  (void)ParseInt(text.substr(0, text.find('\n')), &pid);
  return static_cast<int>(pid > 0 ? pid : -1);
}

void PrintPlan(const UpSetup& s, const std::vector<Service>& services, const std::vector<ComponentSpec>& components) {
  std::cout << fmt::format("comptoir up -c {} would, in this order:\n", s.config_path);
  for (const Service& svc : services) {
    std::cout << fmt::format("  wait for {} {} (needed by {}; up to {} s)\n", svc.kind, svc.uri, svc.needed_by,
                             s.wait_timeout.count() / 1000);
  }
  for (const ComponentSpec& c : components) {
    std::cout << fmt::format("  start {}: comptoir {}\n      {}; ready when {}; restart {}; log {}/{}.log\n", c.name,
                             Join(c.args, " "),
                             c.schedule ? c.schedule->Describe() + (c.then.empty() ? "" : ", then comptoir " + Join(c.then, " "))
                                        : std::string("long-running"),
                             c.ready == "exit"    ? "it exits with status 0"
                             : c.ready == "start" ? "it still runs after 1 s"
                                                  : "something listens on " + c.ready.substr(6),
                             c.restart == Restart::kAlways  ? "always"
                             : c.restart == Restart::kNever ? "never"
                                                            : "on failure, with backoff",
                             s.log_dir, c.name);
  }
}

// Detaching: the parent relays the supervisor's start-up lines from a pipe
// and exits with the code that ends them ("\x1e<code>"); the child becomes
// the supervisor (new session, output to up.log). Returns the pipe's write
// end in the child.
StatusOr<int> Detach(const UpSetup& s) {
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
  setsid();
  int null_fd = open("/dev/null", O_RDWR);
  int log_fd = open(s.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (null_fd >= 0) dup2(null_fd, STDIN_FILENO);
  if (log_fd >= 0) dup2(log_fd, STDOUT_FILENO), dup2(log_fd, STDERR_FILENO);
  return fds[1];
}

// Waits for every service, then starts every component, in order.
Status StartAll(const std::vector<Service>& services, const std::vector<ComponentSpec>& components,
                const UpSetup& s, Supervisor* supervisor, const std::function<void(std::string_view)>& say) {
  size_t steps = services.size() + components.size(), step = 0;
  for (const Service& svc : services) {
    say(fmt::format("[{}/{}] {} {}", ++step, steps, svc.kind, svc.uri));
    std::string detail;
    RETURN_IF_ERROR(WaitFor(svc, s, say, &detail));
    say(fmt::format("      {}", detail));
  }
  for (const ComponentSpec& c : components) {
    say(fmt::format("[{}/{}] {}: comptoir {}", ++step, steps, c.name, Join(c.args, " ")));
    ASSIGN_OR_RETURN(std::string started, supervisor->Start(c));
    say(fmt::format("      {}", started));
  }
  return absl::OkStatus();
}

}  // namespace

StatusOr<UpSetup> LoadUpSetup(const std::string& path) {
  UpSetup s;
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    return absl::NotFoundError(fmt::format(
        "{} does not exist: `up` runs the [components.NAME] of a configuration file (-c FILE; "
        "packaging/comptoir.toml and docs/platform.md show one)",
        path));
  }
  s.config_path = fs::absolute(path).lexically_normal().string();
  fs::current_path(fs::path(s.config_path).parent_path(), ec);
  if (ec) return ErrnoToStatus(ec.value(), StrCat("cd ", fs::path(s.config_path).parent_path().string()));
  ASSIGN_OR_RETURN(s.config, core::Config::Load(s.config_path, true));
  s.run_dir = fs::absolute(s.config.GetString("up.run_dir")).lexically_normal().string();
  s.log_dir = s.run_dir + "/logs";
  s.pid_path = s.run_dir + "/up.pid";
  s.log_path = s.run_dir + "/up.log";
  s.state_path = s.run_dir + "/up.json";
  auto duration = [&](const char* key, std::chrono::milliseconds* out) -> Status {
    StatusOr<std::chrono::milliseconds> d = core::ParseDuration(s.config.GetString(key));
    if (!d.ok()) return absl::InvalidArgumentError(StrCat(s.config_path, ": ", key, ": ", d.status().message()));
    *out = *d;
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(duration("up.wait_timeout", &s.wait_timeout));
  RETURN_IF_ERROR(duration("up.stop_timeout", &s.stop_timeout));
  return s;
}

StatusOr<int> RunUp(const UpSetup& s, const UpOptions& options) {
  ASSIGN_OR_RETURN(std::vector<ComponentSpec> components, LoadComponents(s.config_path, options.commands));
  ASSIGN_OR_RETURN(std::vector<Service> services, ServicesFor(components, s));
  if (options.dry_run) {
    PrintPlan(s, services, components);
    return 0;
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
  int relay = -1;
  if (options.detach) {
    ASSIGN_OR_RETURN(relay, Detach(s));
  }
  std::string pid_text = fmt::format("{}\n", getpid());
  (void)!ftruncate(pid_file.fd, 0);
  (void)!pwrite(pid_file.fd, pid_text.data(), pid_text.size(), 0);
  std::ofstream up_log;
  if (!options.detach) up_log.open(s.log_path, std::ios::app);
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
  SupervisorOptions so;
  so.exe = options.exe;
  so.global_args = {"--config", s.config_path, "-q"};
  so.log_dir = s.log_dir;
  so.state_path = s.state_path;
  so.stop_timeout = s.stop_timeout;
  so.say = say;
  Supervisor supervisor(so);
  say(fmt::format("comptoir up: {} component{} from {} (supervisor pid {}; logs in {})", components.size(),
                  components.size() == 1 ? "" : "s", s.config_path, getpid(), s.log_dir));
  Status status = StartAll(services, components, s, &supervisor, say);
  if (!status.ok()) {
    say(fmt::format("comptoir up: {}", std::string(status.message())));
    supervisor.StopAll();
    say("comptoir up: start-up failed; what had started is stopped");
    int code = absl::IsAborted(status) ? 130 : 1;
    finish_start(code);
    unlink(s.pid_path.c_str());
    return code;
  }
  std::string dashboard;
  for (const ComponentSpec& c : components) {
    if (c.ready.starts_with("tcp://") && c.command == "serve") {
      dashboard = fmt::format("; dashboard on http://{}", c.ready.substr(6));
    }
  }
  say(fmt::format("comptoir up: everything is up{}. {}", dashboard,
                  options.detach
                      ? fmt::format("`comptoir down -c {}` stops it; supervisor log {}", s.config_path, s.log_path)
                      : std::string("Ctrl-C (or `comptoir down`) stops it")));
  finish_start(0);
  supervisor.Run();
  say(core::Cancelled() ? "comptoir up: stopping, last started first" : "comptoir up: stopping");
  supervisor.StopAll();
  say("comptoir up: stopped");
  unlink(s.pid_path.c_str());
  return 0;
}

Status RunDown(const UpSetup& s) {
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
  // A damaged state file only makes the wait shorter: it is not needed to stop.
  size_t n_components = 0;
  if (StatusOr<SupervisorState> st = ReadSupervisorState(s.state_path); st.ok()) n_components = st->components.size();
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

StatusOr<UpStatus> ReadUpStatus(const UpSetup& s) {
  UpStatus out;
  PidFile pf;
  std::error_code ec;
  if (fs::exists(s.pid_path, ec)) {
    ASSIGN_OR_RETURN(out.supervisor_pid, RunningSupervisor(s, &pf));
  }
  StatusOr<SupervisorState> state = ReadSupervisorState(s.state_path);
  if (state.ok()) {
    out.state = *std::move(state);
  } else if (!absl::IsNotFound(state.status())) {
    return state.status();
  }
  return out;
}

}  // namespace comptoir::orchestrate
