#include "comptoir/health/health.h"
#include "comptoir/analytics/sales_view.h"
#include "comptoir/core/http.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "comptoir/coord/coordinator.h"
#include "comptoir/core/strings.h"
#include "comptoir/core/time.h"
#include "comptoir/core/uri.h"
#include "comptoir/core/progress.h"
#include "comptoir/importer/jobs.h"
#include "comptoir/quality/history.h"
#include "comptoir/source/database.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"

namespace comptoir::health {

// zk_probe.cc
StatusOr<std::pair<std::vector<std::string>, std::vector<std::string>>> KafkaInZooKeeper(
    const std::string& hosts, std::chrono::milliseconds timeout);

namespace {

using nlohmann::json;

std::string Gb(double bytes) { return fmt::format("{:.1f} GB", bytes / 1e9); }

using core::HttpGet;

Component LakeProbe(const Targets& t) {
  Component c{"lake", State::kOk, t.lake->Uri()};
  StatusOr<core::Uri> uri = core::ParseUri(t.lake->Uri());
  if (uri.ok() && (uri->scheme == "webhdfs" || uri->scheme == "hdfs")) {
    std::string base =
        fmt::format("http://{}:{}/jmx?qry=Hadoop:service=NameNode,name=", uri->host(), uri->port().value_or(9870));
    StatusOr<std::string> state = HttpGet(base + "FSNamesystemState", t.timeout);
    if (!state.ok()) return {"lake", State::kDown, StrCat("HDFS NameNode unreachable: ", state.status().message())};
    json s = json::parse(*state, nullptr, false);
    StatusOr<std::string> info = HttpGet(base + "NameNodeInfo", t.timeout);
    json i = info.ok() ? json::parse(*info, nullptr, false) : json();
    if (!s.is_object() || s["beans"].empty()) return {"lake", State::kDown, "HDFS NameNode JMX gave no FSNamesystemState"};
    const json& b = s["beans"][0];
    int64_t live = b.value("NumLiveDataNodes", 0), dead = b.value("NumDeadDataNodes", 0);
    double total = b.value("CapacityTotal", 0.0), remaining = b.value("CapacityRemaining", 0.0);
    std::string safemode = i.is_object() && !i["beans"].empty() ? i["beans"][0].value("Safemode", "") : "";
    c.detail = fmt::format("{}: {} live / {} dead DataNodes, {} free of {}", t.lake->Uri(), live, dead, Gb(remaining),
                           Gb(total));
    if (live == 0) {
      c.state = State::kDown;
      c.detail += "; no live DataNode: writes fail";
    } else if (total <= 0) {
      c.state = State::kDegraded;
      c.read_only = true;
      c.detail += "; the DataNodes have not reported their storage yet (just started)";
    } else if (!safemode.empty()) {
      c.state = State::kDegraded;
      c.read_only = true;
      c.detail += "; in safe mode (read-only): " + safemode;
    } else if (dead > 0 || (total > 0 && 100 * remaining / total < t.min_free_percent)) {
      c.state = State::kDegraded;
    }
    return c;
  }
  StatusOr<lake::FileInfo> root = t.lake->Stat("/");
  if (!root.ok()) return {"lake", State::kDown, StrCat(t.lake->Uri(), ": ", root.status().message())};
  if (t.lake->capabilities().object_store) {  // Stat("/") listed the bucket with the lake's credentials
    c.detail = StrCat(t.lake->Uri(), ": the bucket answers and lists with these credentials");
    return c;
  }
  struct statvfs vfs {};
  if (uri.ok() && uri->scheme == "file" && statvfs(uri->path.c_str(), &vfs) == 0) {
    double free_bytes = static_cast<double>(vfs.f_bavail) * static_cast<double>(vfs.f_frsize);
    double pct = 100.0 * static_cast<double>(vfs.f_bavail) / static_cast<double>(std::max<fsblkcnt_t>(vfs.f_blocks, 1));
    c.detail = fmt::format("{}: {} free ({:.0f}%)", t.lake->Uri(), Gb(free_bytes), pct);
    if (pct < t.min_free_percent) {
      c.state = State::kDegraded;
      c.detail += fmt::format("; below {:.0f}%: free space before imports fail", t.min_free_percent);
    }
  }
  return c;
}

Component BusProbe(const Targets& t) {
  StatusOr<std::unique_ptr<bus::Admin>> admin = bus::OpenAdmin(t.bus_uri, t.bus);
  if (!admin.ok()) return {"bus", State::kDown, std::string(admin.status().message())};
  StatusOr<bus::ClusterInfo> cluster = (*admin)->Cluster();
  if (!cluster.ok()) return {"bus", State::kDown, std::string(cluster.status().message())};
  Component c{"bus", State::kOk, ""};
  bool kafka = cluster->controller >= 0 || !t.bus_uri.starts_with("log://");
  c.detail = kafka ? fmt::format("Kafka: {} broker{} ({}), controller {}", cluster->brokers.size(),
                                 cluster->brokers.size() == 1 ? "" : "s", Join(cluster->brokers, ", "),
                                 cluster->controller)
                   : Join(cluster->brokers, ", ");
  if (kafka && cluster->brokers.empty()) return {"bus", State::kDown, "Kafka answered with no broker"};
  if (kafka && cluster->controller < 0) c.state = State::kDegraded, c.detail += " (no controller elected)";
  StatusOr<int> parts = (*admin)->Partitions(t.topic);
  if (!parts.ok()) {
    c.state = std::max(c.state, State::kDegraded);
    c.detail += fmt::format("; topic {} not found (no producer has run yet)", t.topic);
    return c;
  }
  c.detail += fmt::format("; topic {}: {} partitions", t.topic, *parts);
  int64_t end = 0;
  std::vector<std::string> damage;
  for (const std::string& group : t.groups) {
    StatusOr<std::vector<bus::PartitionState>> d = (*admin)->Describe(t.topic, group);
    if (!d.ok()) continue;
    int64_t lag = 0;
    bool any = false;
    end = 0;
    damage.clear();
    for (const auto& p : *d) {
      end += p.end;
      if (p.committed) any = true, lag += p.lag();
      if (p.committed_beyond_end()) {
        c.state = std::max(c.state, State::kDegraded);
        damage.push_back(fmt::format("group {} committed offset {} of partition {}, beyond its end {}", group,
                                     *p.committed, p.partition, p.end));
      }
      for (const bus::DamagedRange& r : p.damage) {
        if (r.records() == 0) continue;  // a torn tail: nothing acknowledged was lost
        damage.push_back(fmt::format("partition {}: {}", p.partition, r.Describe()));
      }
    }
    c.detail += any ? fmt::format(", {} lag {}", group, lag) : fmt::format(", {} not started", group);
  }
  c.detail += fmt::format(", {} events", end);
  if (!kafka) {
    std::error_code ec;
    uint64_t size = 0;
    std::string dir = t.bus_uri.substr(6);
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir, ec)) {
      if (e.is_regular_file(ec)) size += e.file_size(ec);
    }
    c.detail += fmt::format(", {:.1f} MB on disk", static_cast<double>(size) / 1e6);
  }
  if (!damage.empty()) {
    c.state = std::max(c.state, State::kDegraded);
    c.detail += fmt::format("; DAMAGED: {} (see `comptoir bus describe {}`)", Join(damage, "; "), t.topic);
  }
  return c;
}

Component ZooKeeperProbe(const Targets& t) {
  std::string first = t.zookeeper.substr(0, t.zookeeper.find(','));
  StatusOr<std::string> ruok = FourLetterWord(first, "ruok", t.timeout);
  if (!ruok.ok()) return {"zookeeper", State::kDown, std::string(ruok.status().message())};
  if (*ruok != "imok") return {"zookeeper", State::kDown, fmt::format("{} answered '{}' to ruok", first, *ruok)};
  Component c{"zookeeper", State::kOk, first};
  StatusOr<std::string> mntr = FourLetterWord(first, "mntr", t.timeout);
  if (mntr.ok()) {
    std::map<std::string, std::string> m;
    for (std::string_view line : Split(*mntr, '\n', true)) {
      auto [k, v] = SplitOnce(line, '\t');
      m[std::string(k)] = std::string(v);
    }
    c.detail += fmt::format(": {}, latency avg {} ms, {} znodes, {} outstanding", m["zk_server_state"],
                            m["zk_avg_latency"], m["zk_znode_count"], m["zk_outstanding_requests"]);
    int64_t outstanding = 0;
    if (ParseInt(m["zk_outstanding_requests"], &outstanding) && outstanding > 100) c.state = State::kDegraded;
  } else {
    c.detail += " (mntr refused: add it to 4lw.commands.whitelist)";
  }
  auto kafka = KafkaInZooKeeper(t.zookeeper, t.timeout);
  if (kafka.ok()) {
    c.detail += fmt::format("; Kafka brokers registered: [{}], topics: [{}]", Join(kafka->first, ", "),
                            Join(kafka->second, ", "));
  }
  return c;
}

std::string Redacted(const std::string& url) {
  StatusOr<core::Uri> u = core::ParseUri(url);
  return u.ok() ? u->Redacted() : url;
}

Component DatabaseProbe(const Targets&, const std::string& url) {
  std::string name = "database " + Redacted(url);
  source::ConnectOptions o;
  o.url = url;
  StatusOr<std::unique_ptr<source::Connection>> conn = source::Connect(o);
  if (!conn.ok()) return {name, State::kDown, std::string(conn.status().message())};
  return {name, State::kOk, fmt::format("reachable, server {}", (*conn)->ServerVersion())};
}

Component AgentsProbe(const Targets& t) {
  StatusOr<std::unique_ptr<coord::Coordinator>> c = coord::OpenCoordinator(t.coord_uri, t.timeout);
  if (!c.ok()) return {"agents", State::kDown, StrCat("coordination ", t.coord_uri, ": ", c.status().message())};
  StatusOr<std::vector<coord::Member>> members = (*c)->Members("agents");
  if (!members.ok()) return {"agents", State::kDown, std::string(members.status().message())};
  if (members->empty()) return {"agents", State::kOk, "no agent registered"};
  Component out{"agents", State::kOk, ""};
  std::vector<std::string> parts;
  for (const coord::Member& m : *members) {
    json p = json::parse(m.payload, nullptr, false);
    if (!p.is_object()) continue;
    std::string error = p.value("last_error", "");
    int64_t last = p.value("last_commit_ms", int64_t{0});
    parts.push_back(fmt::format("{}: lag {} bytes, last commit {}{}", m.id, p.value("lag_bytes", int64_t{0}),
                                last > 0 ? core::FormatAgo(last) : "never", error.empty() ? "" : ", error: " + error));
    if (!error.empty()) out.state = State::kDegraded;
  }
  out.detail = fmt::format("{} registered; {}", members->size(), Join(parts, "; "));
  return out;
}

// A saved job's last run, as `job --exec` recorded it in the job file.
Component JobProbe(const std::string& dir, const std::string& name) {
  Component c{"job " + name, State::kOk, ""};
  StatusOr<importer::JobRecord> job = importer::JobStore(dir).Load(name);
  if (!job.ok()) return {c.name, State::kDegraded, std::string(job.status().message())};
  auto when = [](const importer::RunRecord& run) {
    // Job files written before 2026-11-28 hold a monotonic clock reading here.
    return run.finished_at > 1'000'000'000 ? core::FormatAgo(run.finished_at * 1000)
                                           : std::string("at an unknown time");
  };
  auto rows = [](const importer::RunRecord& run) {
    return fmt::format("{} rows in {:.2f} s", run.rows, run.seconds);
  };
  if (!job->last_run) {
    c.detail = "saved, never run";
    return c;
  }
  const importer::RunRecord& run = *job->last_run;
  if (run.ok) {
    c.detail = fmt::format("last run ok {}: {}", when(run), rows(run));
    return c;
  }
  c.state = State::kDegraded;
  c.detail = fmt::format("last run failed {} after {:.2f} s: {}", when(run), run.seconds,
                         run.error.empty() ? "no error recorded" : run.error);
  c.detail += job->last_success ? fmt::format("; last success {} ({})", when(*job->last_success), rows(*job->last_success))
                                : "; never succeeded";
  return c;
}

// Newest mtime under `dir` (a few levels deep) and the number of data files.
void Newest(lake::Storage* lake, const std::string& dir, int depth, int64_t* newest, int64_t* files) {
  StatusOr<std::vector<lake::FileInfo>> list = lake->List(dir);
  if (!list.ok()) return;
  for (const lake::FileInfo& f : *list) {
    if (lake::IsHiddenName(f.name) && f.name != "_SUCCESS") continue;
    if (f.is_dir) {
      if (depth > 0) Newest(lake, f.path, depth - 1, newest, files);
      continue;
    }
    *newest = std::max(*newest, f.mtime_ms);
    if (!lake::IsHiddenName(f.name)) ++*files;
  }
}

Component DatasetProbe(const Targets& t, const Dataset& d) {
  std::string name = "dataset " + d.path;
  int64_t newest = 0, files = 0;
  Newest(t.lake, d.path, 3, &newest, &files);
  if (files == 0) return {name, State::kDegraded, "no data yet"};
  Component c{name, State::kOk, fmt::format("{} files, newest data {}", files, core::FormatAgo(newest))};
  if (d.stale_after.count() > 0 && core::UnixMillis() - newest > d.stale_after.count() * 1000) {
    c.state = State::kDegraded;
    c.detail += fmt::format(" (stale: nothing new for more than {} s)", d.stale_after.count());
  }
  return c;
}

// The last quality run of a dataset with rules: degraded when it failed.
Component QualityProbe(const Targets& t, const std::string& dataset) {
  std::string name = "quality " + dataset;
  StatusOr<std::vector<quality::RunRecord>> runs = quality::ReadHistory(t.lake, dataset);
  if (!runs.ok()) return {name, State::kDegraded, fmt::format("cannot read its history: {}", std::string(runs.status().message()))};
  if (runs->empty()) return {name, State::kOk, "no run with rules yet"};
  const quality::RunRecord& last = runs->back();
  if (last.failed()) {
    return {name, State::kDegraded,
            fmt::format("last run {} ({}) failed, nothing published: {}", last.run, last.writer, last.failure)};
  }
  return {name, State::kOk,
          fmt::format("last run {} ({}): {} published, {} rejected, {} warned", last.run, last.writer,
                      core::WithThousands(last.rows_out), core::WithThousands(last.rejected),
                      core::WithThousands(last.warned))};
}

// A batch view: degraded when its dataset changed after it was built.
Component ViewProbe(const Targets& t, const std::string& dir, const std::string& dataset) {
  std::string name = "view " + dir;
  StatusOr<analytics::ViewManifest> m = analytics::ReadViewManifest(t.lake, dir);
  if (absl::IsNotFound(m.status())) return {name, State::kOk, fmt::format("none built; {} is answered from its rows", dataset)};
  if (!m.ok()) return {name, State::kDegraded, std::string(m.status().message())};
  std::string stale = analytics::ViewStaleness(t.lake, dataset, *m);
  if (!stale.empty()) return {name, State::kDegraded, stale};
  return {name, State::kOk,
          fmt::format("current: built {} by {} from the {} rows of {} ({} records)", core::FormatIsoSeconds(m->built_at_ms),
                      m->engine, core::WithThousands(static_cast<uint64_t>(m->source_rows)), dataset,
                      core::WithThousands(static_cast<uint64_t>(m->records)))};
}

}  // namespace

std::string_view StateName(State s) {
  switch (s) {
    case State::kOk: return "ok";
    case State::kDegraded: return "degraded";
    case State::kDown: return "down";
  }
  return "down";
}

State Overall(const std::vector<Component>& components) {
  State worst = State::kOk;
  for (const Component& c : components) worst = std::max(worst, c.state);
  return worst;
}

StatusOr<std::string> FourLetterWord(const std::string& host_port, const std::string& word,
                                     std::chrono::milliseconds timeout) {
  size_t colon = host_port.rfind(':');
  std::string host = host_port.substr(0, colon), port = colon == std::string::npos ? "2181" : host_port.substr(colon + 1);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(host.c_str(), port.c_str(), &hints, &res) != 0) {
    return absl::InvalidArgumentError(fmt::format("cannot resolve ZooKeeper host {}", host));
  }
  int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval tv{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  int rc = connect(fd, res->ai_addr, res->ai_addrlen);
  freeaddrinfo(res);
  if (rc != 0) {
    close(fd);
    return absl::UnavailableError(fmt::format("ZooKeeper {} unreachable: {}", host_port, strerror(errno)));
  }
  (void)!write(fd, word.data(), word.size());
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
  close(fd);
  if (out.empty()) return absl::UnavailableError(fmt::format("ZooKeeper {} gave no answer to {}", host_port, word));
  if (out.find("is not executed because it is not in the whitelist") != std::string::npos) {
    return absl::PermissionDeniedError(fmt::format("ZooKeeper {}: {} is not in 4lw.commands.whitelist", host_port, word));
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

std::vector<Component> Check(const Targets& t) {
  std::vector<std::pair<std::string, std::function<Component()>>> probes;
  std::vector<std::string> targets;  // what each probe talks to, for the timeout message
  if (t.lake) probes.emplace_back("lake", [t] { return LakeProbe(t); }), targets.push_back(t.lake->Uri());
  if (!t.bus_uri.empty()) probes.emplace_back("bus", [t] { return BusProbe(t); }), targets.push_back(t.bus_uri);
  if (!t.zookeeper.empty()) {
    probes.emplace_back("zookeeper", [t] { return ZooKeeperProbe(t); });
    targets.push_back(t.zookeeper);
  }
  for (const std::string& db : t.databases) {
    probes.emplace_back("database " + Redacted(db), [t, db] { return DatabaseProbe(t, db); });
    targets.push_back(Redacted(db));
  }
  if (!t.coord_uri.empty()) probes.emplace_back("agents", [t] { return AgentsProbe(t); }), targets.push_back(t.coord_uri);
  if (!t.jobs_dir.empty()) {
    for (const std::string& name : importer::JobStore(t.jobs_dir).List()) {
      probes.emplace_back("job " + name, [dir = t.jobs_dir, name] { return JobProbe(dir, name); });
      targets.push_back(importer::JobStore(t.jobs_dir).PathOf(name));
    }
  }
  if (t.lake) {
    for (const Dataset& d : t.datasets) {
      probes.emplace_back("dataset " + d.path, [t, d] { return DatasetProbe(t, d); });
      targets.push_back(t.lake->Uri() + d.path);
    }
    for (const std::string& d : t.quality_datasets) {
      probes.emplace_back("quality " + d, [t, d] { return QualityProbe(t, d); });
      targets.push_back(t.lake->Uri() + d);
    }
    for (const auto& [dir, dataset] : t.views) {
      probes.emplace_back("view " + dir, [t, dir, dataset] { return ViewProbe(t, dir, dataset); });
      targets.push_back(t.lake->Uri() + dir);
    }
  }
  struct Shared {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<std::optional<Component>> results;
  };
  auto shared = std::make_shared<Shared>();
  shared->results.resize(probes.size());
  for (size_t i = 0; i < probes.size(); ++i) {
    // Detached: a probe stuck past the timeout is reported down and left to finish.
    std::thread([shared, i, name = probes[i].first, probe = probes[i].second] {
      auto t0 = std::chrono::steady_clock::now();
      Component c;
      try {
        c = probe();
      } catch (const std::exception& e) {  // e.g. a job file with a field of the wrong type
        c = {name, State::kDegraded, StrCat("the probe failed: ", e.what())};
      }
      c.elapsed_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      std::lock_guard<std::mutex> l(shared->mu);
      shared->results[i] = std::move(c);
      shared->cv.notify_all();
    }).detach();
  }
  std::unique_lock<std::mutex> l(shared->mu);
  shared->cv.wait_for(l, t.timeout + std::chrono::milliseconds(500), [&] {
    return std::all_of(shared->results.begin(), shared->results.end(), [](const auto& r) { return r.has_value(); });
  });
  std::vector<Component> out;
  for (size_t i = 0; i < probes.size(); ++i) {
    if (shared->results[i]) {
      out.push_back(*shared->results[i]);
    } else {
      out.push_back({probes[i].first, State::kDown,
                     fmt::format("{}: no answer within {:.1f} s (is it running and reachable?)", targets[i],
                                 static_cast<double>(t.timeout.count()) / 1000)});
    }
  }
  return out;
}

}  // namespace comptoir::health
