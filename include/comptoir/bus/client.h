// Producers, consumers and topic administration by bus URI.
//
//   log:///var/lib/comptoir/bus   the embedded durable log (embedded_log.h)
//   kafka://host:port[,host:port]  Apache Kafka via librdkafka (kafka.cc)
//
// A Producer sends keyed records asynchronously (the partition is Kafka's
// murmur2 of the key on both backends) and makes them durable on Flush():
// when Flush() returns OK every record sent before it is acknowledged (log:
// written and fdatasynced; Kafka: acks=all from an idempotent producer, so a
// retried batch is never written twice). A failed delivery is an error from
// Poll() or Flush(), never silent.
//
// A Consumer reads the partitions of a topic. With a group it resumes from
// the group's committed offsets (or from `start` for partitions the group
// never committed) and Commit() stores the next offsets of what Poll()
// returned, so callers commit only after they processed it. On Kafka a
// `balanced` group consumer shares partitions with the group's other members;
// otherwise it reads every partition. Not thread-safe.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "comptoir/bus/embedded_log.h"
#include "comptoir/core/config.h"

namespace comptoir::bus {

// Options shared by every client of one bus.
struct BusOptions {
  // librdkafka properties passed through unchanged (config table [bus.kafka]),
  // applied after Comptoir's defaults, so they may override them.
  std::map<std::string, std::string> kafka_properties;
  // The embedded log's options (what a reader does with damaged records:
  // config bus.on_damage).
  LogOptions log;
};

class Producer {
 public:
  virtual ~Producer() = default;
  // Queues a record (blocks while the local queue is full: back-pressure).
  virtual Status Send(std::string_view key, std::string_view value, int64_t timestamp_ms) = 0;
  // Does due background work without blocking (log: writes a batch older than
  // the linger time; Kafka: serves delivery reports). Reports failed deliveries.
  virtual Status Poll() = 0;
  // Waits until everything sent is durable (see above).
  virtual Status Flush() = 0;
  virtual int partitions() const = 0;
};

struct ConsumerOptions {
  std::string group;  // empty: read without committing
  StartAt start = StartAt::kBeginning;
  int64_t start_time_ms = 0;  // with StartAt::kTime
  // Kafka: share the partitions with the group's other members (subscribe).
  // False: read every partition and use the group only for offsets.
  bool balanced = true;
  // Start positions that win over committed offsets (partition -> offset).
  std::map<int, int64_t> start_offsets;
};

class Consumer {
 public:
  virtual ~Consumer() = default;
  // Up to `max` records across partitions; waits up to `wait` for the first.
  // The records stay valid until the next call (their buffers are reused:
  // the hot path allocates nothing per record).
  virtual StatusOr<std::span<const Record>> PollView(size_t max, std::chrono::milliseconds wait) = 0;
  // The same, copied.
  StatusOr<std::vector<Record>> Poll(size_t max, std::chrono::milliseconds wait) {
    ASSIGN_OR_RETURN(std::span<const Record> view, PollView(max, wait));
    return std::vector<Record>(view.begin(), view.end());
  }
  // Stores the positions reached by Poll() for the group.
  virtual Status Commit() = 0;
  // Stores these next offsets (partition -> offset) for the group.
  virtual Status CommitOffsets(const std::map<int, int64_t>& next) = 0;
  // Records in the topic after this consumer's position, summed over its partitions.
  virtual StatusOr<int64_t> Lag() = 0;
  // Records this consumer skipped because a damaged disk no longer reads them
  // back (the embedded log with bus.on_damage = skip); 0 on Kafka.
  virtual int64_t Lost() const { return 0; }
};

struct PartitionState {
  int partition = 0;
  int64_t start = 0;  // first retained offset
  int64_t end = 0;    // next offset to be written
  std::optional<int64_t> committed;  // the group's next offset to read
  // The embedded log's damaged, lost and torn ranges (embedded_log.h).
  std::vector<DamagedRange> damage;
  // Records the group still has to read (0 when it committed beyond the end).
  int64_t lag() const { return std::max<int64_t>(0, end - std::max(start, committed.value_or(start))); }
  // A group offset beyond the end names offsets that were never written here:
  // the log was recreated or replaced. An error, not a negative lag.
  bool committed_beyond_end() const { return committed && *committed > end; }
  // Records lost to damage.
  int64_t lost() const;
};

// What the cluster says about itself (health checks).
struct ClusterInfo {
  std::vector<std::string> brokers;  // "id host:port" (Kafka) or the log directory
  int controller = -1;               // Kafka's controller broker id; -1 for the embedded log
};

class Admin {
 public:
  virtual ~Admin() = default;
  virtual StatusOr<ClusterInfo> Cluster() = 0;
  // AlreadyExists when the topic exists.
  virtual Status CreateTopic(const std::string& topic, int partitions, int replication) = 0;
  virtual StatusOr<std::vector<std::string>> ListTopics() = 0;
  // NotFound when the topic does not exist.
  virtual StatusOr<int> Partitions(const std::string& topic) = 0;
  // Offsets of every partition, with `group`'s committed ones when given.
  virtual StatusOr<std::vector<PartitionState>> Describe(const std::string& topic,
                                                         const std::string& group) = 0;
};

// The bus a command uses: `flag` (its --bus) when not empty, else the
// configuration's bus.uri. A bare directory is the embedded log there
// (log:///abs/dir); "none" and "" stay as they are (no bus).
std::string ConfiguredBusUri(const core::Config& config, std::string_view flag);
// The configuration's [bus.kafka] properties.
BusOptions ConfiguredBusOptions(const core::Config& config);

StatusOr<std::unique_ptr<Admin>> OpenAdmin(const std::string& uri, const BusOptions& bus = {});
// Creates `topic` with `partitions_if_new` partitions when it does not exist.
StatusOr<std::unique_ptr<Producer>> OpenProducer(const std::string& uri, const std::string& topic,
                                                 int partitions_if_new = 3,
                                                 const BusOptions& bus = {});
// NotFound when the topic does not exist.
StatusOr<std::unique_ptr<Consumer>> OpenConsumer(const std::string& uri, const std::string& topic,
                                                 const ConsumerOptions& options,
                                                 const BusOptions& bus = {});

// Backend entry points (client.cc dispatches on the scheme).
StatusOr<std::unique_ptr<Admin>> OpenKafkaAdmin(const std::string& brokers, const BusOptions& bus);
StatusOr<std::unique_ptr<Producer>> OpenKafkaProducer(const std::string& brokers,
                                                      const std::string& topic,
                                                      const BusOptions& bus);
StatusOr<std::unique_ptr<Consumer>> OpenKafkaConsumer(const std::string& brokers,
                                                      const std::string& topic,
                                                      const ConsumerOptions& options,
                                                      const BusOptions& bus);

}  // namespace comptoir::bus
