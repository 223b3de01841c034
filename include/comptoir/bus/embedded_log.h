// The embedded durable log (`log:///dir`): Kafka's storage model on a local
// disk, for one machine and the demo.
//
// Layout: <dir>/<topic>/topic.json (partition count, retention), and per
// partition <dir>/<topic>/<p>/<base offset>.log segments. A record is
//   u32 length | u32 crc32c(rest) | i64 offset | i64 timestamp_ms | u32 key length | key | value
// little-endian. Segments roll by size; a sparse index (<base>.index, one
// entry per 64 KiB) finds an offset without scanning the whole segment; it is
// rebuilt when missing or stale. Retention removes whole old segments by size
// and age.
//
// Concurrency: one writer per partition at a time, across processes (an
// exclusive flock on <p>/.writer; a second writer waits up to the open
// timeout, then fails). Any number of readers in any process follow new data
// by polling the file size (new records are seen within a few milliseconds).
//
// Crash safety: Append() buffers; Flush() writes the batch and, with
// FsyncPolicy::kEveryBatch, fdatasyncs before returning: what Flush()
// acknowledged survives kill -9 and power loss (kInterval: kill -9 only).
// After each Flush() the writer records its next offset in <p>/hwm (the
// high-water mark; written in place, fdatasynced at rolls, opens and closes).
//
// Recovery (a writer's open) tells two cases apart in the newest segment:
//  - a torn tail: bad bytes after the last valid record, with no valid record
//    behind them and no acknowledged offset beyond it (hwm): an unfinished
//    write of a crash. It is cut, and said (log, damage.jsonl, `bus describe`).
//  - damage: bad bytes followed by valid records, or acknowledged records
//    (below hwm) that no longer read back. Damage is never cut: readers skip
//    it (DamagePolicy) and report the range; if the damage is at the tail,
//    the writer continues in a new segment at hwm.
// Offsets never go backwards: the next offset is max(end of the valid
// records, hwm), so records lost to a damaged or deleted segment never have
// their offsets reused. Every damaged range found (by a writer or a reader) is
// appended to <p>/damage.jsonl, which `bus describe` and health read.
//
// Consumer groups: <dir>/<topic>/groups/<group>/<partition> holds the next
// offset to read, replaced atomically (write, fsync, rename).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "comptoir/bus/bus.h"

namespace comptoir::bus {

// Appends to one partition. Not thread-safe; one per partition per process.
class PartitionWriter {
 public:
  virtual ~PartitionWriter() = default;
  // Buffers a record and returns its offset (durable after Flush()).
  virtual StatusOr<int64_t> Append(std::string_view key, std::string_view value,
                                   int64_t timestamp_ms) = 0;
  // Writes buffered records (and syncs them, per the fsync policy).
  virtual Status Flush() = 0;
  // The offset the next record will get.
  virtual int64_t EndOffset() const = 0;
};

// Reads one partition in offset order. Not thread-safe.
class PartitionReader {
 public:
  virtual ~PartitionReader() = default;
  // Moves to `offset` (clamped to the retained range).
  virtual Status Seek(int64_t offset) = 0;
  // Moves to the first record with timestamp >= `timestamp_ms`.
  virtual Status SeekToTime(int64_t timestamp_ms) = 0;
  // Up to `max` records from the current position into `slots` (their
  // buffers are reused); waits up to `wait` for the first one when none is
  // there yet. Returns how many were read, 0 when nothing arrived.
  virtual StatusOr<size_t> ReadInto(Record* slots, size_t max, std::chrono::milliseconds wait) = 0;
  // The same, as a new vector.
  StatusOr<std::vector<Record>> Read(size_t max, std::chrono::milliseconds wait);
  virtual int64_t Position() const = 0;
  // Records this reader skipped because they were damaged or lost.
  virtual int64_t Lost() const = 0;
};

// What a partition holds, and what it lost.
struct PartitionInfo {
  int64_t start = 0;  // first retained offset
  int64_t end = 0;    // next offset to be written
  std::vector<DamagedRange> damage;  // from damage.jsonl, oldest first, without duplicates
  int64_t lost() const;              // records in the "damaged" and "lost" ranges
};

class EmbeddedLog {
 public:
  // Opens (creating) the log directory.
  static StatusOr<std::unique_ptr<EmbeddedLog>> Open(const std::string& dir, LogOptions options = {});

  Status CreateTopic(const std::string& topic, const TopicConfig& config);
  StatusOr<TopicConfig> DescribeTopic(const std::string& topic) const;
  StatusOr<std::vector<std::string>> ListTopics() const;

  StatusOr<std::unique_ptr<PartitionWriter>> OpenWriter(const std::string& topic, int partition);
  StatusOr<std::unique_ptr<PartitionReader>> OpenReader(const std::string& topic, int partition);

  // First retained and next-to-write offsets of a partition.
  StatusOr<std::pair<int64_t, int64_t>> OffsetRange(const std::string& topic, int partition) const;
  // The same with the damaged ranges found so far.
  StatusOr<PartitionInfo> Inspect(const std::string& topic, int partition) const;

  Status CommitOffset(const std::string& topic, const std::string& group, int partition,
                      int64_t next_offset);
  // nullopt when the group never committed for that partition.
  StatusOr<std::optional<int64_t>> CommittedOffset(const std::string& topic,
                                                   const std::string& group, int partition) const;

  // Applies retention to every partition of `topic` (writers also do it when they roll).
  Status EnforceRetention(const std::string& topic);

  const std::string& dir() const { return dir_; }

 private:
  EmbeddedLog(std::string dir, LogOptions options) : dir_(std::move(dir)), options_(options) {}
  std::string dir_;
  LogOptions options_;
};

}  // namespace comptoir::bus
