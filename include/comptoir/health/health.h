// Health probes: what is up, what is degraded, and why.
//
// Each probe runs on its own thread with a timeout and gives a Component
// (ok | degraded | down, and details a user can act on):
//   lake       file://: free space; webhdfs://: NameNode reachable, safe mode,
//              live/dead DataNodes, capacity and remaining (NameNode JMX)
//   bus        Kafka: brokers and controller, the topic's partitions, the lag of
//              the dashboard's and the archiver's consumer groups; embedded log:
//              end offsets and size on disk
//   zookeeper  `ruok`, `mntr` (mode, latency, znodes, outstanding requests) and
//              the Kafka brokers and topics registered under /brokers
//   database   per source: reachable, server version
//   job NAME   per saved import job: its last run's result, rows and duration
//   agents     registered agents (coordination group "agents"): lag, last commit, last error
//   datasets   freshness: time since new data in the lake's datasets
//   quality    per dataset with [[quality.rule]]: its last run's outcome
//              (degraded when a `fail` rule stopped it)
// The same data feeds `comptoir health`, /api/v1/health and the Health tab.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "comptoir/bus/client.h"
#include "comptoir/lake/storage.h"

namespace comptoir::health {

enum class State { kOk, kDegraded, kDown };
std::string_view StateName(State s);  // "ok", "degraded", "down"

struct Component {
  std::string name;
  State state = State::kOk;
  std::string detail;
  double elapsed_ms = 0;
  bool read_only = false;  // up, but writers must wait (HDFS in safe mode)
};

struct Dataset {
  std::string path;              // lake directory
  std::chrono::seconds stale_after{0};  // degraded when no new data for this long; 0 = never
};

struct Targets {
  lake::Storage* lake = nullptr;
  std::string bus_uri;  // "" = no bus
  bus::BusOptions bus;
  std::string topic = "transactions";
  std::vector<std::string> groups = {"comptoir-serve", "comptoir-archiver"};
  std::string zookeeper;               // host:port[,host:port] ("" = none)
  std::vector<std::string> databases;  // source URLs
  std::string coord_uri;               // where agents register ("" = none)
  std::string jobs_dir;                // saved import jobs ("" = none)
  std::vector<Dataset> datasets;
  std::vector<std::string> quality_datasets;  // datasets with quality rules
  // Sales views to check against their dataset: (view dir, dataset).
  std::vector<std::pair<std::string, std::string>> views;
  std::chrono::milliseconds timeout{3000};
  double min_free_percent = 5;  // lake below this: degraded
};

// Runs every configured probe in parallel.
std::vector<Component> Check(const Targets& t);
State Overall(const std::vector<Component>& components);

// ZooKeeper's four-letter words (`ruok`, `mntr`) on host:port.
StatusOr<std::string> FourLetterWord(const std::string& host_port, const std::string& word,
                                     std::chrono::milliseconds timeout);

}  // namespace comptoir::health
