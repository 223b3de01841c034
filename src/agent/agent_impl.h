// The agent's insides, shared by its rooms (agent.h tells the pipeline):
//   tail.cc        file identity, discovery, reattaching after a restart, reading
//   frame.cc       records from bytes: lines, multiline records, partial lines
//   spool.cc       sealing records into durable spool segments, loading them back
//   roll.cc        roll intents and publishing lake files (interceptors, JSON records)
//   checkpoint.cc  checkpoints.json, status.json, recovery at start-up
//   agent.cc       the loop (Turn) and the public Agent
// Not thread-safe: one thread drives an Agent.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "comptoir/agent/agent.h"
#include "comptoir/quality/history.h"
#include "re2/re2.h"

namespace comptoir::agent {

using Clock = std::chrono::steady_clock;

inline constexpr size_t kReadChunk = 256 << 10;   // per file per turn: fairness across files
inline constexpr size_t kSealBytes = 4 << 20;     // seal at once past this much (else every seal_interval)
inline constexpr size_t kFingerprintBytes = 256;  // of a file's first bytes
inline constexpr auto kDiscoverEvery = std::chrono::milliseconds(500);
inline constexpr auto kRotateWait = std::chrono::seconds(1);  // drained and gone: let go
inline constexpr auto kStatusEvery = std::chrono::seconds(1);

// A file's identity: device, inode and birth time.
struct Identity {
  uint64_t dev = 0;
  uint64_t ino = 0;
  int64_t btime_ns = 0;  // 0 where the file system has none
  bool operator==(const Identity&) const = default;
};

struct FileStat {
  Identity id;
  uint64_t size = 0;
  bool regular = false;
  bool deleted = false;  // no name left (st_nlink == 0)
};

// statx of an open file (fd >= 0) or a path; false when it fails.
bool StatFd(int fd, const char* path, FileStat* out);
// CRC of the first `len` bytes of `fd`, or nullopt when the file is shorter.
std::optional<uint32_t> Fingerprint(int fd, size_t len);
// The id of one generation of a file (16 hex digits).
std::string SourceId(const Identity& id, uint32_t generation);

// A sealed spool segment: the bytes [start, end) of one file generation.
struct Segment {
  uint64_t start = 0;
  uint64_t end = 0;
  int64_t ingest_ms = 0;
  Clock::time_point sealed_at;
  std::string path;
};
// "<start>-<end>.<ingest ms>"; nullopt for other names.
std::optional<Segment> ParseSegmentName(std::string_view name);

// One generation of one tailed file.
struct Source {
  size_t flow = 0;
  std::string id;
  Identity ident;
  uint32_t generation = 0;
  uint32_t fp = 0;
  uint32_t fp_len = 0;
  std::string path;    // where it was last seen
  std::string prefix;  // lake file prefix
  int fd = -1;
  uint64_t size = 0;
  uint64_t read_pos = 0;  // bytes consumed from the file
  std::string pending;    // an incomplete record: [read_pos - pending.size(), read_pos)
  Clock::time_point pending_since;
  bool skipping = false;  // dropping the rest of an over-long record
  std::string unsealed;   // complete records [sealed_end, sealed_end + size)
  Clock::time_point first_unsealed;
  uint64_t sealed_end = 0;
  uint64_t committed = 0;
  std::vector<Segment> segments;
  Clock::time_point last_data = Clock::now();
  Clock::time_point eof_since{};
  uint64_t eof_pos = 0;
  bool listed = true;           // matched a glob at the last discovery
  bool closed = false;          // no more reading (rotated away, drained, or superseded)
  bool intent_pending = false;  // a roll intent waits to be finished
  int64_t last_commit_ms = 0;
  std::string last_error;
  Clock::time_point retry_at;
  int failures = 0;

  std::string spool_dir(const std::string& state) const { return state + "/spool/" + id; }
};

struct Agent::Impl {
  lake::Storage* lake = nullptr;
  AgentOptions o;
  std::vector<std::unique_ptr<RE2>> multiline;         // per flow, may be null
  std::vector<std::unique_ptr<RE2>> include, exclude;  // per flow, may be null
  std::vector<std::optional<quality::RowChecker>> checkers;  // per flow: its quality rules, if any
  std::vector<std::optional<quality::RunTally>> tallies;     // per flow with rules: its history's counts
  std::vector<std::unique_ptr<Source>> sources;
  bool first_start = false;
  AgentStats stats;
  Clock::time_point next_discover;
  Clock::time_point next_status;
  uint64_t bytes_read = 0;  // by all turns, to tell busy turns from idle ones
  std::set<std::string> swept_dirs;  // lake directories cleared of stale temporaries by this process

  Source* Find(const Identity& ident, size_t flow);

  // checkpoint.cc
  Status SaveCheckpoint();
  bool Checkpointed(const std::string& id) const;
  Status WriteStatus();
  std::vector<FileStatus> Files() const;
  Status Recover();

  // tail.cc
  void Reattach(Source* s);
  bool SameContent(const Source* s, int fd, uint64_t size);
  void Discover();
  void Track(size_t flow, const std::string& path);
  Status Read(Source* s);

  // frame.cc
  void AppendLines(Source* s, std::string_view done);
  void Frame(Source* s);
  void ReleasePartial(Source* s);

  // spool.cc
  Status LoadSpool(Source* s);
  Status Seal(Source* s);

  // agent.cc: the quality history's records (every 10 min, and at the end)
  void RecordQuality(bool force);

  // roll.cc
  bool RollDue(const Source* s, bool draining) const;
  Status Roll(Source* s);
  Status FinishRoll(Source* s);

  // agent.cc
  Status Turn(bool draining);

 private:
  std::vector<std::string> checkpointed_;  // source ids in checkpoints.json, sorted
};

}  // namespace comptoir::agent
