// spark-submit from comptoir: finding Spark and the jobs, checking the
// master, running the job with its output in the driver log, a progress bar
// from the driver's status REST API, and the failures mapped to clear errors.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <sstream>
#include <fstream>
#include <thread>

#include "comptoir/core/child.h"
#include "comptoir/core/http.h"
#include "comptoir/core/names.h"
#include "comptoir/core/progress.h"
#include "comptoir/core/signals.h"
#include "comptoir/core/strings.h"
#include "comptoir/core/time.h"
#include "comptoir/core/uri.h"
#include "comptoir/views/views.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"

namespace comptoir::views {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? "" : v;
}

bool Executable(const std::string& path) { return !path.empty() && access(path.c_str(), X_OK) == 0; }

StatusOr<std::string> FindSubmit(const SparkOptions& o) {
  std::vector<std::pair<std::string, std::string>> tried;
  auto candidate = [&](const std::string& path, const std::string& from) {
    tried.emplace_back(path, from);
    return Executable(path);
  };
  if (!o.submit.empty()) {
    if (candidate(o.submit, "--spark-submit")) return o.submit;
  } else {
    if (std::string e = Env("COMPTOIR_SPARK_SUBMIT"); !e.empty() && candidate(e, "COMPTOIR_SPARK_SUBMIT")) return e;
    if (std::string h = Env("SPARK_HOME"); !h.empty() && candidate(h + "/bin/spark-submit", "SPARK_HOME")) {
      return h + "/bin/spark-submit";
    }
    for (std::string_view dir : Split(Env("PATH"), ':', true)) {
      std::string p = StrCat(dir, "/spark-submit");
      if (Executable(p)) return p;
    }
  }
  std::string where;
  for (const auto& [path, from] : tried) where += fmt::format(" {} ({}) is not executable;", path, from);
  return absl::FailedPreconditionError(fmt::format(
      "no Spark found:{} no spark-submit on PATH. Install one (pip install pyspark==4.2.0, or an Apache Spark "
      "distribution) and set SPARK_HOME or COMPTOIR_SPARK_SUBMIT, or build with --engine embedded",
      where));
}

// The directory of the jobs' sources: the repository's spark/ beside the
// build directory, or share/comptoir/spark of an installed package.
StatusOr<std::string> FindJobs(const SparkOptions& o, const std::string& job) {
  std::vector<std::string> dirs;
  if (!o.jobs_dir.empty()) {
    dirs.push_back(o.jobs_dir);
  } else if (std::string e = Env("COMPTOIR_SPARK_JOBS"); !e.empty()) {
    dirs.push_back(e);
  } else {
    std::error_code ec;
    fs::path exe = fs::read_symlink("/proc/self/exe", ec).parent_path();
    dirs = {(exe / "../spark").lexically_normal().string(), (exe / "../share/comptoir/spark").lexically_normal().string()};
  }
  for (const std::string& d : dirs) {
    if (fs::exists(fs::path(d) / job) && fs::exists(fs::path(d) / "comptoir_lake.py")) return d;
  }
  return absl::FailedPreconditionError(fmt::format("the Spark job {} is not in {} (a broken installation? set "
                                                   "COMPTOIR_SPARK_JOBS to the spark/ directory of the sources)",
                                                   job, Join(dirs, " nor ")));
}

// spark://h1:p1,h2:p2 reachable? (spark-submit itself waits a minute before
// it gives up on a master it cannot reach.)
Status CheckMaster(const std::string& master) {
  if (master.starts_with("local")) return absl::OkStatus();
  if (master == "yarn") {
    if (Env("HADOOP_CONF_DIR").empty() && Env("YARN_CONF_DIR").empty()) {
      return absl::FailedPreconditionError("--spark-master yarn needs HADOOP_CONF_DIR or YARN_CONF_DIR (the "
                                           "directory of yarn-site.xml) in the environment");
    }
    return absl::OkStatus();
  }
  if (!master.starts_with("spark://")) {
    return absl::InvalidArgumentError(
        fmt::format("--spark-master '{}' is not local[N], spark://host:port or yarn", master));
  }
  std::string last_error;
  for (std::string_view hp : Split(std::string_view(master).substr(8), ',', true)) {
    size_t colon = hp.rfind(':');
    std::string host(hp.substr(0, colon)), port = colon == std::string_view::npos ? "7077" : std::string(hp.substr(colon + 1));
    addrinfo hints{}, *res = nullptr;
    hints.ai_socktype = SOCK_STREAM;
    if (int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &res); rc != 0) {
      last_error = fmt::format("{}: {}", host, gai_strerror(rc));
      continue;
    }
    for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
      int fd = socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) continue;
      int rc = connect(fd, a->ai_addr, a->ai_addrlen);
      if (rc != 0 && errno == EINPROGRESS) {
        pollfd p{fd, POLLOUT, 0};
        rc = poll(&p, 1, 3000) == 1 ? 0 : -1;
        int err = 0;
        socklen_t len = sizeof err;
        if (rc == 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err != 0) rc = -1, errno = err;
        if (rc != 0 && errno == EINPROGRESS) errno = ETIMEDOUT;
      }
      int saved = errno;
      close(fd);
      if (rc == 0) {
        freeaddrinfo(res);
        return absl::OkStatus();
      }
      last_error = fmt::format("{}:{}: {}", host, port, strerror(saved));
    }
    freeaddrinfo(res);
  }
  return absl::UnavailableError(fmt::format("the Spark master {} is unreachable ({}); start it, or build with "
                                            "--spark-master local[2] or --engine embedded",
                                            master, last_error));
}

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = 0;
  if (fd >= 0 && bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  if (fd >= 0) close(fd);
  return port == 0 ? 4040 : port;
}

bool LoopbackMaster(const std::string& master) {
  return master.starts_with("local") || master.starts_with("spark://127.") || master.starts_with("spark://localhost");
}

// The driver's progress (its status REST API): tasks done of all jobs so far.
struct Poller {
  std::string base;  // http://127.0.0.1:<ui port>/api/v1
  std::string app_name;
  std::string app;
  uint64_t done = 0, total = 0;

  void Poll() {
    using namespace std::chrono_literals;
    if (app.empty()) {
      StatusOr<std::string> apps = core::HttpGet(base + "/applications", 500ms);
      if (!apps.ok()) return;
      json j = json::parse(*apps, nullptr, false);
      if (!j.is_array()) return;
      for (const json& a : j) {
        if (a.is_object() && a.value("name", "") == app_name) app = a.value("id", "");
      }
      if (app.empty()) return;
    }
    StatusOr<std::string> jobs = core::HttpGet(fmt::format("{}/applications/{}/jobs", base, app), 500ms);
    if (!jobs.ok()) return;
    json j = json::parse(*jobs, nullptr, false);
    if (!j.is_array()) return;
    uint64_t d = 0, t = 0;
    for (const json& job : j) {
      if (!job.is_object()) continue;
      t += job.value("numTasks", uint64_t{0});
      d += job.value("numCompletedTasks", uint64_t{0}) + job.value("numSkippedTasks", uint64_t{0});
    }
    done = std::max(done, d), total = std::max(total, t);
  }
};

// The last lines of the driver log, for an error message.
std::string Tail(const std::string& log, size_t lines) {
  std::vector<std::string_view> all = Split(log, '\n', true);
  std::vector<std::string> keep;
  for (size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i) keep.emplace_back(all[i]);
  return Join(keep, "\n  ");
}

// The error of a failed run, in a line: the Python exception and the
// innermost Java cause ("Caused by: ...") of the driver log.
std::string Cause(const std::string& log) {
  std::vector<std::string_view> lines = Split(log, '\n', true);
  std::string_view error, cause;
  for (std::string_view l : lines) {
    if (error.empty() && (l.find("Error: ") != std::string_view::npos || l.find("Exception: ") != std::string_view::npos) &&
        !l.starts_with('\t') && l.find(" WARN ") == std::string_view::npos && l.find(" INFO ") == std::string_view::npos) {
      error = l;
    }
    if (l.starts_with("Caused by: ")) cause = l;
  }
  if (error.empty()) return "see its last lines:\n  " + Tail(log, 12);
  std::string out(error.substr(0, 400));
  if (!cause.empty() && out.find(cause.substr(11)) == std::string::npos) StrAppend(&out, " (", cause.substr(0, 300), ")");
  return out;
}

}  // namespace

Status ExplainSparkFailure(int exit_code, const std::string& log, const std::string& path, const std::string& master) {
  auto has = [&](std::string_view s) { return log.find(s) != std::string::npos; };
  std::string see = fmt::format("the driver log is {}", path);
  if (size_t at = log.rfind("COMPTOIR_ERROR "); at != std::string::npos) {
    std::string line = log.substr(at + 15, log.find('\n', at) - at - 15);
    return absl::FailedPreconditionError(fmt::format("{}; {}", line, see));
  }
  if (has("OutOfMemoryError") || has("Container killed by YARN for exceeding memory") ||
      has("exceeding memory limits")) {
    return absl::ResourceExhaustedError(fmt::format(
        "Spark ran out of memory; give it more with --spark-conf spark.driver.memory=4g and --spark-conf "
        "spark.executor.memory=4g, or more partitions with --spark-conf spark.sql.shuffle.partitions=400; {}",
        see));
  }
  if (has("All masters are unresponsive") || has("Failed to connect to master") || has("Connection refused")) {
    return absl::UnavailableError(fmt::format("Spark could not reach the master {}; {}", master, see));
  }
  if (has("PATH_NOT_FOUND") || has("Path does not exist") || has("FileNotFoundException")) {
    return absl::NotFoundError(fmt::format("Spark did not find its input (a dataset removed during the build?); {}", see));
  }
  if (has("Failed to find data source: avro") || has("DATA_SOURCE_NOT_FOUND")) {
    return absl::FailedPreconditionError(fmt::format(
        "the input is Avro and Spark has no spark-avro: set COMPTOIR_SPARK_AVRO_JAR to its jar or pass "
        "--spark-conf spark.jars.packages=org.apache.spark:spark-avro_2.13:<your Spark version>; {}",
        see));
  }
  return absl::InternalError(fmt::format("the Spark job failed (exit code {}): {}; {}", exit_code, Cause(log), see));
}

StatusOr<std::string> HadoopUri(lake::Storage* lake, const std::string& path) {
  std::string uri = lake->Uri();
  while (uri.ends_with('/')) uri.pop_back();
  std::string rel = path.starts_with('/') ? path : "/" + path;
  if (uri.starts_with("file://") || uri.starts_with("hdfs://")) return uri + rel;
  if (uri.starts_with("webhdfs://")) {
    // Spark's Hadoop client (the shaded one of pyspark) cannot decode WebHDFS
    // answers: it reads the same files through the NameNode's RPC address,
    // which the NameNode's JMX says.
    std::string host_port = uri.substr(10);
    std::string host = host_port.substr(0, host_port.rfind(':'));
    std::string url = fmt::format("http://{}/jmx?qry=Hadoop:service=NameNode,name=NameNodeStatus", host_port);
    StatusOr<std::string> body = core::HttpGet(url, std::chrono::seconds(5));
    json j = body.ok() ? json::parse(*body, nullptr, false) : json();
    std::string rpc;
    if (j.is_object() && j.contains("beans") && j["beans"].is_array() && !j["beans"].empty()) {
      rpc = j["beans"][0].value("HostAndPort", "");
    }
    if (rpc.rfind(':') == std::string::npos) {
      return absl::UnavailableError(fmt::format(
          "cannot learn the NameNode's RPC address for Spark from {} ({}); is {} a NameNode?", url,
          body.ok() ? "no HostAndPort" : std::string(body.status().message()), uri));
    }
    return fmt::format("hdfs://{}:{}{}", host, rpc.substr(rpc.rfind(':') + 1), rel);
  }
  if (uri.starts_with("s3://")) {
    return absl::FailedPreconditionError(fmt::format(
        "Spark cannot read the lake {} yet (it needs Hadoop's S3A connector, hadoop-aws, with the lake's "
        "credentials); build the view with --engine embedded",
        uri));
  }
  return absl::FailedPreconditionError(
      fmt::format("Spark cannot read the lake {}: use a file:// or webhdfs:// lake, or --engine embedded", uri));
}

StatusOr<SparkRun> RunSparkJob(const SparkOptions& o, const std::string& job, const std::vector<std::string>& args,
                               const std::string& what, bool quiet) {
  ASSIGN_OR_RETURN(std::string submit, FindSubmit(o));
  ASSIGN_OR_RETURN(std::string jobs, FindJobs(o, job));
  RETURN_IF_ERROR(CheckMaster(o.master));
  for (const std::string& c : o.conf) {
    if (c.find('=') == std::string::npos || c.starts_with('=')) {
      return absl::InvalidArgumentError(fmt::format("--spark-conf '{}' is not key=value", c));
    }
  }
  SparkRun run;
  run.driver_log = o.driver_log;
  if (run.driver_log.empty()) {
    std::string stamp = core::FormatIsoSeconds(core::UnixMillis());
    std::erase(stamp, ':');
    run.driver_log = fmt::format("{}/{}-{}.log", core::HomeStateDir("spark"), fs::path(job).stem().string(), stamp);
  }
  std::error_code ec;
  fs::create_directories(fs::path(run.driver_log).parent_path(), ec);
  int log_fd = open(run.driver_log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    return absl::FailedPreconditionError(fmt::format("cannot write the driver log {}: {} (choose another with "
                                                     "--driver-log)", run.driver_log, strerror(errno)));
  }
  const int ui_port = FreePort();
  const std::string app_name = fmt::format("comptoir-{}-{}", fs::path(job).stem().string(), getpid());
  std::vector<std::string> argv_s = {submit, "--master", o.master, "--name", app_name,
                                     "--conf", fmt::format("spark.ui.port={}", ui_port),
                                     "--conf", "spark.ui.enabled=true",
                                     "--conf", "spark.ui.showConsoleProgress=false"};
  if (std::string avro = Env("COMPTOIR_SPARK_AVRO_JAR"); !avro.empty()) argv_s.insert(argv_s.end(), {"--jars", avro});
  for (const std::string& c : o.conf) argv_s.insert(argv_s.end(), {"--conf", c});
  argv_s.insert(argv_s.end(), {"--py-files", jobs + "/comptoir_lake.py", jobs + "/" + job});
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::string header = fmt::format("--- {} comptoir: {}\n", core::FormatIsoSeconds(core::UnixMillis()), Join(argv_s, " "));
  (void)!write(log_fd, header.data(), header.size());
  // The child's environment: the Python the cluster runs, a loopback address on one host.
  std::vector<std::string> env_s;
  for (char** e = environ; *e != nullptr; ++e) env_s.emplace_back(*e);
  if (Env("PYSPARK_PYTHON").empty() && !Env("COMPTOIR_SPARK_PYTHON").empty()) {
    env_s.push_back("PYSPARK_PYTHON=" + Env("COMPTOIR_SPARK_PYTHON"));
  }
  if (Env("SPARK_LOCAL_IP").empty() && LoopbackMaster(o.master)) env_s.push_back("SPARK_LOCAL_IP=127.0.0.1");
  std::vector<char*> argv, envp;
  for (std::string& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (std::string& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0) {
    // Only async-signal-safe calls from here to exec. The driver and its
    // Python in one group to stop; comptoir killed: the driver goes too.
    core::PrepareChild(parent, SIGKILL, log_fd);
    execve(argv[0], argv.data(), envp.data());
    constexpr char kMsg[] = "comptoir: cannot execute spark-submit\n";
    (void)!write(STDERR_FILENO, kMsg, sizeof(kMsg) - 1);
    _exit(127);
  }
  close(log_fd);
  if (pid < 0) return absl::InternalError(fmt::format("cannot start spark-submit: {}", strerror(errno)));
  Poller poller{fmt::format("http://127.0.0.1:{}/api/v1", ui_port), app_name, "", 0, 0};
  core::Progress bar(fmt::format("spark: {}", what), 0, "tasks", quiet);
  int status = 0;
  bool interrupted = false;
  auto next_poll = std::chrono::steady_clock::now();
  while (true) {
    pid_t w = waitpid(pid, &status, WNOHANG);
    if (w == pid) break;
    if (core::Cancelled() && !interrupted) {
      interrupted = true;
      kill(-pid, SIGTERM);
    }
    if (std::chrono::steady_clock::now() >= next_poll) {
      uint64_t before = poller.done;
      poller.Poll();
      if (poller.total > 0) bar.SetTotal(poller.total);
      if (poller.done > before) bar.Add(poller.done - before, 0);
      next_poll = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  bar.Finish();
  run.application = poller.app;
  std::ifstream in(run.driver_log);
  std::string log((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (interrupted) return absl::AbortedError(fmt::format("interrupted; the Spark job was stopped ({})", run.driver_log));
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (code != 0) return ExplainSparkFailure(code, log, run.driver_log, o.master);
  run.result_line = SparkResultLine(log);
  if (run.application.empty()) {
    json r = json::parse(run.result_line, nullptr, false);
    if (r.is_object()) run.application = r.value("application", "");
  }
  return run;
}

std::string SparkResultLine(const std::string& log) {
  constexpr std::string_view kMarker = "COMPTOIR_VIEW ";
  size_t at = log.rfind(kMarker);
  if (at == std::string::npos) return "";
  std::istringstream in(log.substr(at + kMarker.size()));
  json j;
  try {
    in >> j;  // the first JSON value; what follows stays in the stream
  } catch (const json::exception&) {
    return "";
  }
  return j.is_object() ? j.dump() : "";
}

}  // namespace comptoir::views
