// Producers and consumers by bus URI.
//
//   log:///var/lib/comptoir/bus   the embedded durable log (works today)
//   kafka://host:port[,...]       Apache Kafka via librdkafka (not built yet: a clear
//                                 Unimplemented error)
//
// A Producer sends keyed records to a topic (partition by Kafka's murmur2 of
// the key) and makes them durable on Flush(). A Consumer reads every
// partition of a topic from its group's committed offsets (or from the
// beginning, the end or a time when the group has none) and commits the next
// offsets after the caller processed what it read. Not thread-safe.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "comptoir/bus/embedded_log.h"

namespace comptoir::bus {

class Producer {
 public:
  virtual ~Producer() = default;
  virtual Status Send(std::string_view key, std::string_view value, int64_t timestamp_ms) = 0;
  virtual Status Flush() = 0;
  virtual int partitions() const = 0;
};

struct ConsumerOptions {
  std::string group;  // empty: read without committing
  StartAt start = StartAt::kBeginning;
  int64_t start_time_ms = 0;  // with StartAt::kTime
};

class Consumer {
 public:
  virtual ~Consumer() = default;
  // Up to `max` records across partitions; waits up to `wait` for the first.
  virtual StatusOr<std::vector<Record>> Poll(size_t max, std::chrono::milliseconds wait) = 0;
  // Stores the positions reached by Poll() for the group.
  virtual Status Commit() = 0;
  // Records in the topic after the group's position, summed over partitions.
  virtual StatusOr<int64_t> Lag() = 0;
};

// Creates `topic` when it does not exist yet (embedded log: with `partitions`).
StatusOr<std::unique_ptr<Producer>> OpenProducer(const std::string& uri, const std::string& topic,
                                                 int partitions_if_new = 3);
StatusOr<std::unique_ptr<Consumer>> OpenConsumer(const std::string& uri, const std::string& topic,
                                                 const ConsumerOptions& options);

}  // namespace comptoir::bus
