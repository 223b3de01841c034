// The event bus: topics of partitions of ordered, durable records.
//
// One interface, backends by URI:
//   log:///var/lib/comptoir/bus   the embedded durable log (embedded_log.h)
//   kafka://b1:9092,b2:9092        Apache Kafka via librdkafka (kafka.cc)
//
// Producers append records (key, value, timestamp) to a partition chosen by
// the key; consumers read a partition in offset order from a position
// (beginning, end, a time, or their group's committed offset) and commit the
// next offset to read once they processed what they read.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "comptoir/core/status.h"

namespace comptoir::bus {

struct Record {
  std::string topic;
  int partition = 0;
  int64_t offset = 0;
  int64_t timestamp_ms = 0;  // milliseconds since the Unix epoch
  std::string key;
  std::string value;
};

struct TopicConfig {
  int partitions = 1;
  uint64_t segment_bytes = 64ull << 20;      // roll a segment at this size
  uint64_t retention_bytes = 0;              // per partition; 0 = unlimited
  int64_t retention_ms = 7LL * 24 * 3600 * 1000;  // 0 = unlimited
};

enum class FsyncPolicy {
  kEveryBatch,  // Flush() returns once the batch is on disk (acknowledged = durable)
  kInterval,    // at most every `fsync_interval`; a machine crash may lose the last interval
};

struct LogOptions {
  FsyncPolicy fsync = FsyncPolicy::kEveryBatch;
  std::chrono::milliseconds fsync_interval{1000};
  std::chrono::milliseconds writer_lock_timeout{10000};  // wait for another process's writer
};

// Where a new reader starts when its group has no committed offset.
enum class StartAt { kBeginning, kEnd, kTime };

// Kafka's murmur2 hash (org.apache.kafka.common.utils.Utils.murmur2).
int32_t Murmur2(std::string_view key);
// Java-compatible partitioner: toPositive(murmur2(key)) % partitions, as
// Kafka's default partitioner and librdkafka's murmur2_random do for keys.
int PartitionForKey(std::string_view key, int partitions);

}  // namespace comptoir::bus
