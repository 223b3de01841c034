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
#include <functional>
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

// What an acknowledged record (Flush() returned OK) survives:
enum class FsyncPolicy {
  kEveryBatch,  // Flush() returns once the batch is fdatasynced: survives kill -9 and a power cut
  kInterval,    // fdatasync at most every `fsync_interval`: survives kill -9; a power cut may
                // lose what was acknowledged in the last interval
};

// What a reader does with records it cannot read back (a damaged disk): they
// are reported either way (log, <partition>/damage.jsonl, `bus describe`,
// health, /metrics).
enum class DamagePolicy {
  kSkip,  // skip them, counting them as lost, and go on with the next valid record
  kFail,  // stop with a DataLoss error naming the offsets, the file and the bytes
};

struct LogOptions {
  FsyncPolicy fsync = FsyncPolicy::kEveryBatch;
  std::chrono::milliseconds fsync_interval{1000};
  std::chrono::milliseconds writer_lock_timeout{10000};  // wait for another process's writer
  DamagePolicy on_damage = DamagePolicy::kSkip;
  // Tests only: stands in for fdatasync(2) on the log's segments and
  // high-water mark (to simulate what a power cut keeps). Null: fdatasync.
  std::function<int(int fd)> sync_for_tests;
};

// A range of offsets a partition lost or could not read back.
struct DamagedRange {
  std::string kind;       // "damaged" (bad bytes between valid records), "lost" (records gone: a
                          // damaged tail of acknowledged data, a deleted segment), "torn_tail"
                          // (an unacknowledged write cut by a crash: nothing lost)
  int64_t first = 0;      // offsets [first, last]; for a torn tail, first is the next offset
  int64_t last = -1;
  std::string segment;    // file name, "" when unknown (a deleted segment)
  uint64_t byte = 0;      // where the bad bytes start in `segment`
  uint64_t bytes = 0;     // how many
  int64_t at_ms = 0;      // when it was found
  int64_t records() const { return kind == "torn_tail" ? 0 : last - first + 1; }
  // "offsets 55-299: 50 bad bytes at byte 20000 of 00000000000000000000.log"
  std::string Describe() const;
};

// Where a new reader starts when its group has no committed offset.
enum class StartAt { kBeginning, kEnd, kTime };

// Kafka's murmur2 hash (org.apache.kafka.common.utils.Utils.murmur2).
int32_t Murmur2(std::string_view key);
// Java-compatible partitioner: toPositive(murmur2(key)) % partitions, as
// Kafka's default partitioner and librdkafka's murmur2_random do for keys.
int PartitionForKey(std::string_view key, int partitions);

}  // namespace comptoir::bus
