#include "comptoir/core/child.h"
#include "comptoir/orchestrate/supervisor.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>

#include "comptoir/core/files.h"
#include "comptoir/core/signals.h"
#include "comptoir/core/strings.h"
#include "comptoir/core/time.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"

namespace comptoir::orchestrate {
namespace {

using Steady = std::chrono::steady_clock;
using Wall = std::chrono::system_clock;
constexpr auto kPoll = std::chrono::milliseconds(100);
constexpr auto kMaxBackoff = std::chrono::seconds(60);
constexpr auto kHealthyAfter = std::chrono::seconds(30);  // a run this long resets the backoff
constexpr uint64_t kLogRotateBytes = 64ull << 20;

int64_t Millis(Wall::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}
std::string Clock(Wall::time_point t) { return core::FormatLocalClock(Millis(t)); }
std::string Iso(Wall::time_point t) { return core::FormatIsoSeconds(Millis(t)); }

std::string Seconds(Steady::duration d) {
  return fmt::format("{:.1f} s", std::chrono::duration<double>(d).count());
}

// Whether something accepts TCP connections at "tcp://host:port".
bool Listening(const std::string& ready) {
  std::string_view hp = std::string_view(ready).substr(6);
  size_t colon = hp.rfind(':');
  std::string host(hp.substr(0, colon)), port(hp.substr(colon + 1));
  if (host.empty() || host == "0.0.0.0" || host == "*") host = "127.0.0.1";
  if (host.front() == '[') host = host.substr(1, host.size() - 2);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(host.c_str(), port.c_str(), &hints, &res) != 0) return false;
  bool ok = false;
  for (addrinfo* a = res; a != nullptr && !ok; a = a->ai_next) {
    int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    ok = connect(fd, a->ai_addr, a->ai_addrlen) == 0;
    close(fd);
  }
  freeaddrinfo(res);
  return ok;
}

}  // namespace

std::string DescribeWaitStatus(int st) {
  if (WIFEXITED(st)) return fmt::format("status {}", WEXITSTATUS(st));
  if (WIFSIGNALED(st)) return fmt::format("signal {} ({})", WTERMSIG(st), strsignal(WTERMSIG(st)));
  return "an unknown wait status";
}

struct Supervisor::Proc {
  ComponentSpec spec;
  std::string log_path;
  pid_t pid = -1;
  Steady::time_point started{};
  int runs = 0;      // processes started
  int failures = 0;  // consecutive failed runs
  std::optional<Steady::time_point> restart_at;
  Wall::time_point next_run{};  // scheduled components
  bool finished = false;        // will not run again
  bool then_running = false;    // the running process is the spec's `then`
  std::string last_exit;
};

Supervisor::Supervisor(SupervisorOptions options) : o_(std::move(options)) {
  std::error_code ec;
  std::filesystem::create_directories(o_.log_dir, ec);
}

Supervisor::~Supervisor() { StopAll(); }

void Supervisor::Spawn(Proc* p, bool then) {
  std::error_code ec;
  if (std::filesystem::file_size(p->log_path, ec) > kLogRotateBytes) {
    std::filesystem::rename(p->log_path, p->log_path + ".1", ec);
  }
  std::vector<std::string> args = {o_.exe};
  args.insert(args.end(), o_.global_args.begin(), o_.global_args.end());
  const std::vector<std::string>& own = then ? p->spec.then : p->spec.args;
  args.insert(args.end(), own.begin(), own.end());
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int log_fd = open(p->log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  std::string header = fmt::format("--- {} comptoir up: {} {} of {}: {}\n", Iso(Wall::now()), then ? "then, after run" : "run",
                                   then ? p->runs : p->runs + 1, p->spec.name,
                                   Join(std::vector<std::string>(args.begin() + 1, args.end()), " "));
  if (log_fd >= 0) (void)!write(log_fd, header.data(), header.size());
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0) {
    // Only async-signal-safe calls from here to exec. Its own group: a Ctrl-C
    // reaches the supervisor, which stops components in order.
    core::PrepareChild(parent, SIGTERM, log_fd);
    execv(argv[0], argv.data());
    constexpr char kMsg[] = "comptoir up: cannot execute the comptoir binary\n";
    (void)!write(STDERR_FILENO, kMsg, sizeof(kMsg) - 1);
    _exit(127);
  }
  if (log_fd >= 0) close(log_fd);
  if (pid < 0) {
    p->last_exit = StrCat("fork failed: ", strerror(errno));
    p->restart_at = Steady::now() + kMaxBackoff;
    o_.say(fmt::format("{} {}: cannot start: {}; next try in 60 s", Clock(Wall::now()), p->spec.name, p->last_exit));
    return;
  }
  setpgid(pid, pid);  // also here, so a stop right after the fork reaches the group
  p->pid = pid;
  p->started = Steady::now();
  p->restart_at.reset();
  p->then_running = then;
  if (!then) ++p->runs;
  WriteState();
}

bool Supervisor::ReapOne(Proc* p, bool block) {
  if (p->pid <= 0) return false;
  int st = 0;
  pid_t r = waitpid(p->pid, &st, block ? 0 : WNOHANG);
  if (r != p->pid) return false;
  OnExit(p, st);
  return true;
}

void Supervisor::OnExit(Proc* p, int st) {
  Steady::duration ran = Steady::now() - p->started;
  p->pid = -1;
  bool ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
  p->last_exit = fmt::format("{} after {} at {}", ok ? "success" : DescribeWaitStatus(st), Seconds(ran),
                             Iso(Wall::now()));
  std::string now = Clock(Wall::now());
  if (core::Cancelled()) {
    WriteState();
    return;  // stopping: StopAll reports it
  }
  if (p->then_running) {
    p->then_running = false;
    o_.say(fmt::format("{} {}: then `{}` {} in {}; next run at {}{}", now, p->spec.name, Join(p->spec.then, " "),
                       ok ? "succeeded" : "failed with " + DescribeWaitStatus(st), Seconds(ran), Clock(p->next_run),
                       ok ? "" : fmt::format(" (see {})", p->log_path)));
    p->last_exit = StrCat("then `", Join(p->spec.then, " "), "`: ", p->last_exit);
    WriteState();
    return;
  }
  if (p->spec.schedule && ok && !p->spec.then.empty()) {
    o_.say(fmt::format("{} {}: run {} succeeded in {}; then `{}`", now, p->spec.name, p->runs, Seconds(ran),
                       Join(p->spec.then, " ")));
    Spawn(p, true);
    if (p->pid > 0) return;
  }
  if (p->spec.schedule) {
    o_.say(fmt::format("{} {}: run {} {} in {}; next run at {}{}", now, p->spec.name, p->runs,
                       ok ? "succeeded" : "failed with " + DescribeWaitStatus(st), Seconds(ran), Clock(p->next_run),
                       ok ? "" : fmt::format(" (see {})", p->log_path)));
    WriteState();
    return;
  }
  bool restart = p->spec.restart == Restart::kAlways || (p->spec.restart == Restart::kOnFailure && !ok);
  if (!restart) {
    p->finished = true;
    o_.say(fmt::format("{} {}: exited with {} after {}; not restarted (restart = {})", now, p->spec.name,
                       DescribeWaitStatus(st), Seconds(ran),
                       p->spec.restart == Restart::kNever ? "never" : "on-failure"));
    WriteState();
    return;
  }
  p->failures = ran >= kHealthyAfter ? 1 : p->failures + 1;
  auto delay = std::min<std::chrono::milliseconds>(
      kMaxBackoff, std::chrono::seconds(1) * (1LL << std::min(p->failures - 1, 6)));
  p->restart_at = Steady::now() + delay;
  o_.say(fmt::format("{} {}: exited with {} after {}; restarting in {} s (failure {} in a row; log {})", now,
                     p->spec.name, DescribeWaitStatus(st), Seconds(ran), delay.count() / 1000, p->failures,
                     p->log_path));
  WriteState();
}

std::string Supervisor::LogTail(const Proc& p) const {
  std::ifstream in(p.log_path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
    if (lines.size() > 8) lines.erase(lines.begin());
  }
  std::string out;
  for (const std::string& l : lines) out += "\n    " + l;
  return out;
}

StatusOr<std::string> Supervisor::Start(const ComponentSpec& spec) {
  auto owned = std::make_unique<Proc>();
  Proc* p = owned.get();
  p->spec = spec;
  p->log_path = (std::filesystem::path(o_.log_dir) / (spec.name + ".log")).string();
  procs_.push_back(std::move(owned));
  if (spec.schedule) {
    Wall::time_point now = Wall::now();
    if (spec.schedule->RunsAtStart()) {
      p->next_run = spec.schedule->Next(now);
      Spawn(p);
      return fmt::format("{}; first run now (pid {}), next at {}", spec.schedule->Describe(), p->pid,
                         Clock(p->next_run));
    }
    p->next_run = spec.schedule->Next(now);
    WriteState();
    return fmt::format("{}; first run at {}", spec.schedule->Describe(), Clock(p->next_run));
  }
  Steady::time_point t0 = Steady::now();
  Spawn(p);
  if (p->pid < 0) return absl::InternalError(StrCat(spec.name, ": ", p->last_exit));
  auto failed = [&](std::string_view what) {
    return absl::FailedPreconditionError(
        fmt::format("{} {}; the last lines of {}:{}", spec.name, what, p->log_path, LogTail(*p)));
  };
  while (true) {
    int st = 0;
    pid_t r = waitpid(p->pid, &st, WNOHANG);
    if (r == p->pid) {
      p->pid = -1;
      Steady::duration ran = Steady::now() - t0;
      p->last_exit = fmt::format("{} after {}", DescribeWaitStatus(st), Seconds(ran));
      if (spec.ready == "exit" && WIFEXITED(st) && WEXITSTATUS(st) == 0) {
        p->finished = true;
        WriteState();
        return fmt::format("finished in {}", Seconds(ran));
      }
      WriteState();
      return failed(fmt::format("exited with {} while starting ({} after its start)", DescribeWaitStatus(st),
                                Seconds(ran)));
    }
    if (core::Cancelled()) return absl::AbortedError("interrupted while starting " + spec.name);
    Steady::duration waited = Steady::now() - t0;
    if (spec.ready == "start" && waited >= o_.start_period) return fmt::format("running (pid {})", p->pid);
    if (spec.ready.starts_with("tcp://") && Listening(spec.ready)) {
      return fmt::format("running (pid {}), listening on {} after {}", p->pid, spec.ready.substr(6), Seconds(waited));
    }
    if (spec.ready.starts_with("tcp://") && waited >= o_.ready_timeout) {
      return failed(fmt::format("is running (pid {}) but nothing listens on {} after {}", p->pid,
                                spec.ready.substr(6), Seconds(waited)));
    }
    std::this_thread::sleep_for(kPoll);
  }
}

void Supervisor::Run() {
  while (!core::Cancelled()) {
    bool alive = false;
    Steady::time_point now = Steady::now();
    Wall::time_point wall = Wall::now();
    for (auto& owned : procs_) {
      Proc* p = owned.get();
      ReapOne(p, false);
      if (p->spec.schedule) {
        if (wall >= p->next_run) {
          Wall::time_point due = p->next_run;
          // `every` counts from the previous due time; after a pause (or for
          // cron) from now.
          Wall::time_point next = p->spec.schedule->Next(p->spec.schedule->RunsAtStart() ? due : wall);
          p->next_run = next > wall ? next : p->spec.schedule->Next(wall);
          if (p->pid > 0) {
            o_.say(fmt::format("{} {}: run {} still going at its next time; skipped, next at {}", Clock(wall),
                               p->spec.name, p->runs, Clock(p->next_run)));
          } else {
            Spawn(p);
            o_.say(fmt::format("{} {}: run {} started (pid {})", Clock(wall), p->spec.name, p->runs, p->pid));
          }
        }
        alive |= p->next_run != Wall::time_point::max() || p->pid > 0;
        continue;
      }
      if (p->pid < 0 && p->restart_at && now >= *p->restart_at) {
        Spawn(p);
        if (p->pid > 0) o_.say(fmt::format("{} {}: restarted (pid {})", Clock(wall), p->spec.name, p->pid));
      }
      alive |= p->pid > 0 || p->restart_at.has_value();
    }
    if (!alive) {
      o_.say(fmt::format("{} every component has finished and none is scheduled", Clock(wall)));
      return;
    }
    std::this_thread::sleep_for(kPoll);
  }
}

void Supervisor::StopAll() {
  for (auto it = procs_.rbegin(); it != procs_.rend(); ++it) {
    Proc* p = it->get();
    if (p->pid <= 0) continue;
    pid_t pid = p->pid;
    Steady::time_point t0 = Steady::now();
    kill(-pid, SIGTERM);
    bool stopped = false;
    while (Steady::now() - t0 < o_.stop_timeout) {
      int st = 0;
      if (waitpid(pid, &st, WNOHANG) == pid) {
        stopped = true;
        p->last_exit = fmt::format("stopped ({}) at {}", DescribeWaitStatus(st), Iso(Wall::now()));
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (!stopped) {
      kill(-pid, SIGKILL);
      waitpid(pid, nullptr, 0);
      p->last_exit = fmt::format("killed after the stop timeout at {}", Iso(Wall::now()));
    }
    p->pid = -1;
    p->restart_at.reset();
    p->finished = true;
    o_.say(stopped ? fmt::format("stopped {} (pid {}) in {}", p->spec.name, pid, Seconds(Steady::now() - t0))
                   : fmt::format("{} (pid {}) did not stop within {} of SIGTERM; killed it", p->spec.name, pid,
                                 Seconds(o_.stop_timeout)));
    WriteState();
  }
}

void Supervisor::WriteState() {
  if (o_.state_path.empty()) return;
  SupervisorState state;
  state.supervisor_pid = getpid();
  state.updated = Iso(Wall::now());
  for (const auto& owned : procs_) {
    const Proc& p = *owned;
    ComponentState c;
    c.name = p.spec.name;
    c.command = p.spec.command;
    c.state = p.pid > 0                                               ? "running"
              : p.restart_at                                          ? "restarting"
              : p.spec.schedule && !p.finished                        ? "scheduled"
              : p.finished && p.last_exit.starts_with("success")      ? "finished"
                                                                      : "stopped";
    c.pid = p.pid > 0 ? p.pid : 0;
    c.runs = p.runs;
    c.last_exit = p.last_exit;
    c.log = p.log_path;
    if (p.spec.schedule) {
      c.schedule = p.spec.schedule->Describe();
      if (p.next_run != Wall::time_point::max()) c.next_run = Iso(p.next_run);
    }
    state.components.push_back(std::move(c));
  }
  // A failed write keeps the previous snapshot; `ps` shows that one.
  (void)core::WriteFileAtomically(o_.state_path, StateToJson(state) + "\n", /*sync_dir=*/false);
}

std::string StateToJson(const SupervisorState& state) {
  nlohmann::json components = nlohmann::json::array();
  for (const ComponentState& c : state.components) {
    nlohmann::json j = {{"name", c.name},
                        {"command", c.command},
                        {"state", c.state},
                        {"pid", c.pid > 0 ? nlohmann::json(c.pid) : nlohmann::json(nullptr)},
                        {"runs", c.runs},
                        {"last_exit", c.last_exit},
                        {"log", c.log}};
    if (!c.schedule.empty()) j["schedule"] = c.schedule;
    if (!c.next_run.empty()) j["next_run"] = c.next_run;
    components.push_back(std::move(j));
  }
  nlohmann::json j = {{"supervisor_pid", state.supervisor_pid}, {"updated", state.updated}, {"components", components}};
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
}

StatusOr<SupervisorState> ReadSupervisorState(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, core::ReadFile(path));
  auto damaged = [&](std::string_view what) {
    return absl::DataLossError(fmt::format(
        "{} is damaged: {}; it is rewritten by the supervisor at its next change (or remove it while nothing runs)",
        path, what));
  };
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) return damaged(text.empty() ? "it is empty" : "it is not valid JSON");
  if (!j.is_object()) return damaged("it is not a JSON object");
  SupervisorState s;
  auto str = [&](const nlohmann::json& o, const char* key, std::string* out) -> Status {
    auto it = o.find(key);
    if (it == o.end() || it->is_null()) return absl::OkStatus();
    if (!it->is_string()) return damaged(fmt::format("\"{}\" must be a string", key));
    *out = it->get<std::string>();
    return absl::OkStatus();
  };
  auto num = [&](const nlohmann::json& o, const char* key, int* out) -> Status {
    auto it = o.find(key);
    if (it == o.end() || it->is_null()) return absl::OkStatus();
    if (!it->is_number_integer()) return damaged(fmt::format("\"{}\" must be an integer", key));
    *out = it->get<int>();
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(num(j, "supervisor_pid", &s.supervisor_pid));
  RETURN_IF_ERROR(str(j, "updated", &s.updated));
  auto comps = j.find("components");
  if (comps == j.end()) return s;
  if (!comps->is_array()) return damaged("\"components\" must be an array");
  for (const nlohmann::json& e : *comps) {
    if (!e.is_object()) return damaged("each of \"components\" must be an object");
    ComponentState c;
    RETURN_IF_ERROR(str(e, "name", &c.name));
    RETURN_IF_ERROR(str(e, "command", &c.command));
    RETURN_IF_ERROR(str(e, "state", &c.state));
    RETURN_IF_ERROR(num(e, "pid", &c.pid));
    RETURN_IF_ERROR(num(e, "runs", &c.runs));
    RETURN_IF_ERROR(str(e, "last_exit", &c.last_exit));
    RETURN_IF_ERROR(str(e, "log", &c.log));
    RETURN_IF_ERROR(str(e, "schedule", &c.schedule));
    RETURN_IF_ERROR(str(e, "next_run", &c.next_run));
    s.components.push_back(std::move(c));
  }
  return s;
}

}  // namespace comptoir::orchestrate
