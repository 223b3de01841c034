#include "common.h"

#include <termios.h>

#include <cstdio>

#include "comptoir/bus/client.h"
#include "comptoir/importer/jobs.h"
#include "comptoir/quality/rules.h"
#include "spdlog/spdlog.h"

namespace comptoir::cli {
namespace {

// Prompts on the terminal without echo (-P).
StatusOr<std::string> PromptPassword(const std::string& prompt) {
  FILE* tty = std::fopen("/dev/tty", "r+");
  if (tty == nullptr) return absl::FailedPreconditionError("-P needs a terminal; use --password-file instead");
  std::fputs(prompt.c_str(), tty);
  std::fflush(tty);
  termios old{};
  tcgetattr(fileno(tty), &old);
  termios quiet = old;
  quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
  tcsetattr(fileno(tty), TCSAFLUSH, &quiet);
  char buf[1024];
  bool ok = std::fgets(buf, sizeof(buf), tty) != nullptr;
  tcsetattr(fileno(tty), TCSAFLUSH, &old);
  std::fputs("\n", tty);
  std::fclose(tty);
  if (!ok) return absl::AbortedError("no password entered");
  std::string pw = buf;
  if (pw.ends_with('\n')) pw.pop_back();
  return pw;
}

}  // namespace

void ConnectionFlags::Add(Command& cmd) {
  cmd.Option("--connect", &connect,
             "Database URL: mysql://user@host:port/db, jdbc:mysql://host:port/db, postgresql://user@host:port/db, "
             "sqlite:///path.db")
      .Required();
  cmd.Option("--username", &username, "Database user (overrides the URL's)");
  cmd.Option("--password-file", &password_file, "File holding the password (must not be readable by others)");
  cmd.Option("--password", &password, "Password on the command line (insecure; prefer --password-file or -P)");
  cmd.Flag("-P", &prompt, "Prompt for the password on the terminal");
}

StatusOr<source::ConnectOptions> ConnectionFlags::Resolve() const {
  source::ConnectOptions o;
  o.url = connect;
  o.username = username;
  int given = !password_file.empty() + !password.empty() + prompt;
  if (given > 1) return absl::InvalidArgumentError("give only one of --password-file, --password and -P");
  if (!password_file.empty()) {
    ASSIGN_OR_RETURN(o.password, source::ReadPasswordFile(password_file));
  } else if (!password.empty()) {
    spdlog::warn("Setting your password on the command-line is insecure. Consider using -P instead.");
    o.password = password;
  } else if (prompt) {
    ASSIGN_OR_RETURN(o.password, PromptPassword("Enter password: "));
  }
  return o;
}

void HealthFlags::Add(Command& cmd) {
  cmd.Option("--lake", &lake, "Lake URI or directory (default: config lake)");
  cmd.Option("--bus", &bus, "Bus URI (default: config bus.uri; none: do not check a bus)");
  cmd.Option("--topic", &topic, "Topic of the live events (default transactions)");
  cmd.Option("--zookeeper", &zookeeper, "ZooKeeper host:port[,host:port] (default: config zookeeper.connect)");
  cmd.Option("--db", &databases, "Source database URL to check (repeatable; default: config health.databases)");
  cmd.Option("--coord", &coord, "Coordination URI where agents register (default: config coord.uri)");
  cmd.Option("--jobs-dir", &jobs_dir,
             "Saved import jobs whose last run to report (default: config import.jobs_dir, else ~/.comptoir/jobs; "
             "none: skip)");
  cmd.Option("--dataset", &datasets, "Lake datasets whose freshness to report (repeatable)");
  cmd.Option("--views-dir", &views_dir, "The sales view checked against the first dataset (default /user/comptoir/views/sales; none: not checked)");
  cmd.Duration("--stale-after", &stale_after, "A dataset without new data for this long is degraded (default: never)");
  cmd.Duration("--timeout", &timeout, "Per probe (default 3s)");
}

std::vector<std::string> QualityDatasets(const Globals& g) {
  std::vector<std::string> out;
  StatusOr<std::vector<quality::Rule>> rules = quality::LoadRules(g.config_path, g.config_explicit);
  if (!rules.ok()) return out;  // `comptoir quality rules` reports a broken rule
  for (const quality::Rule& r : *rules) {
    StatusOr<std::string> d = lake::NormalizePath(r.dataset);
    if (d.ok() && std::find(out.begin(), out.end(), *d) == out.end()) out.push_back(*d);
  }
  return out;
}

health::Targets HealthTargets(const HealthFlags& f, const Globals& g, lake::Storage* lake) {
  const core::Config& config = g.config;
  health::Targets t;
  t.lake = lake;
  t.bus_uri = bus::ConfiguredBusUri(config, f.bus);
  if (t.bus_uri == "none") t.bus_uri.clear();
  t.bus = bus::ConfiguredBusOptions(config);
  t.topic = f.topic;
  t.zookeeper = !f.zookeeper.empty() ? f.zookeeper : config.GetString("zookeeper.connect");
  if (t.zookeeper.starts_with("zk://")) t.zookeeper = t.zookeeper.substr(5, t.zookeeper.find('/', 5) - 5);
  t.databases = f.databases;
  if (t.databases.empty()) {
    for (std::string_view d : Split(config.GetString("health.databases"), ',', true)) {
      t.databases.emplace_back(StripAsciiWhitespace(d));
    }
  }
  t.coord_uri = !f.coord.empty() ? f.coord : config.GetString("coord.uri");
  t.jobs_dir = !f.jobs_dir.empty() ? f.jobs_dir : importer::JobsDir(config);
  if (t.jobs_dir == "none") t.jobs_dir.clear();
  auto stale = std::chrono::duration_cast<std::chrono::seconds>(f.stale_after);
  for (const std::string& d : f.datasets) t.datasets.push_back({d, stale});
  t.quality_datasets = QualityDatasets(g);
  if (f.views_dir != "none" && !f.datasets.empty()) t.views.emplace_back(f.views_dir, f.datasets.front());
  t.timeout = f.timeout;
  return t;
}

}  // namespace comptoir::cli
