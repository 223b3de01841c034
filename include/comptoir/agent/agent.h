// The log agent (Flow C): tails application log files into the lake, exactly once.
//
// Pipeline, per flow:
//
//   files (globs) --tail--> records --seal every 20 ms--> local spool --roll--> lake
//
// * Tail: files matching the globs are found again every 500 ms; open files are
//   polled every 10 ms. A file's identity is device + inode + birth time (plus a
//   generation bumped when the file is truncated in place), so rename + create,
//   copytruncate, delete + re-create and inode reuse are told apart. A renamed
//   file is drained through its open descriptor before it is let go. A last line
//   without its newline is held until the newline arrives; with a multiline start
//   pattern, lines that do not start a record (a Python traceback) stay with the
//   record before them.
// * Seal: complete records are appended to a spool segment in the state
//   directory, <state>/spool/<source id>/<start>-<end>.<ingest ms>, written to a
//   temporary name, fdatasynced and renamed: a sealed segment is durable. Never
//   one fsync per line.
// * Roll: when a source's sealed bytes reach the roll size, its oldest sealed
//   record reaches the roll interval, it has been idle for the idle timeout, or
//   the agent stops, the agent first writes a roll intent (the range), then
//   publishes one lake file per target directory (the path template is expanded
//   with the record's time) named <prefix>.<source id>.<start>-<end><suffix>,
//   each written to a hidden ".<name>.tmp" and renamed, then commits the range
//   in <state>/checkpoints.json and deletes the segments and the intent.
// * Exactly once: at start-up an unfinished roll intent is completed first (a
//   file that already exists under its final name is skipped), unsealed
//   temporaries are deleted, and each file resumes after its last sealed
//   segment or its committed offset. A crash at any point therefore leads to the
//   same lake files, without gap or duplicate.
// * Lake down: rolls fail and are retried with backoff while reading goes on
//   into the spool; past `max_spool_bytes` the agent stops reading (the files
//   keep the data) until the lake is back.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "comptoir/core/names.h"
#include "comptoir/core/status.h"
#include "comptoir/lake/compression.h"
#include "comptoir/lake/storage.h"
#include "comptoir/quality/rules.h"

namespace comptoir::agent {

struct FlowOptions {
  std::string name = "default";
  std::vector<std::string> sources;  // globs of files to tail
  // Lake directory template: strftime escapes (%Y %m %d %H %M), %{host}.
  std::string target_dir{core::kLogsTemplate};
  std::string file_prefix;            // default: the source file's name
  std::string file_suffix = "";
  bool start_at_end = false;          // files present at the very first start
  bool use_event_time = true;         // bucket by the line's own timestamp when it parses
  std::string multiline_start;        // regex; empty = every line is a record
  size_t max_record_bytes = 1 << 20;  // longer records are truncated (and counted)
  std::chrono::milliseconds partial_timeout{0};  // release an unterminated last line; 0 = never
  uint64_t roll_bytes = 128ull << 20;
  std::chrono::milliseconds roll_interval{std::chrono::minutes(5)};
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(30)};
  std::chrono::milliseconds seal_interval{20};
  uint64_t max_spool_bytes = 1ull << 30;
  // Interceptors, applied when a roll writes the lake file. A line that has
  // no time of its own (a traceback line) follows the decision on the line
  // before it.
  std::vector<std::string> levels;  // keep only lines of these levels (INFO, WARNING, ...); empty = all
  std::string include;              // regex: keep only matching lines; empty = all
  std::string exclude;              // regex: drop matching lines
  lake::Codec codec = lake::Codec::kNone;  // gzip or zstd lake files (.gz / .zst)
  // false: the lines as they are (byte-identical); true: one JSON object per
  // record {"ts","level","host","path","ingest_ts","message"}, a record being
  // a line with its time and the lines without one that follow it.
  bool json_records = false;
  // Data-quality rules whose dataset is the target directory's fixed part
  // (/user/flume/logs for /user/flume/logs/%Y-%m-%d), checked on each record
  // (columns ts, level, host, path, message; ts and level NULL on a line
  // without a time of its own). Rejected records go to
  // <dataset>/_rejects/<roll>/part-00000 (JSON lines with rule, reason,
  // source "path:offset" and the raw record), published before the roll's
  // data files under names its retries reproduce; a `fail` verdict publishes
  // nothing of the roll and stops the agent (the lines stay in the spool).
  std::vector<quality::Rule> rules;
};

// The dataset a target directory template belongs to: its part before the
// first escape, without a trailing '/' ("/user/flume/logs").
std::string TemplateDataset(std::string_view target_dir);

struct AgentOptions {
  std::string state_dir = "./agent-state";
  std::string host;  // %{host}; default: this machine's name
  std::vector<FlowOptions> flows;
};

// One tailed file, as `agent status` shows it.
struct FileStatus {
  std::string flow;
  std::string source_id;
  std::string path;
  uint64_t size = 0;       // bytes in the file now
  uint64_t read = 0;       // bytes read into sealed or buffered records
  uint64_t committed = 0;  // bytes published into the lake
  int64_t last_commit_ms = 0;
  std::string last_error;
  bool open = false;
};

struct AgentStats {
  uint64_t lines = 0;          // records sealed
  uint64_t bytes = 0;          // bytes sealed
  uint64_t published_files = 0;
  uint64_t published_bytes = 0;
  uint64_t truncated_records = 0;
  uint64_t partial_records = 0;
  uint64_t filtered_lines = 0;   // dropped by the interceptors
  uint64_t quality_rejected = 0;  // records quarantined by quality rules
  uint64_t quality_warned = 0;    // records that failed only `warn` rules
  uint64_t rotations = 0;
  uint64_t spool_bytes = 0;
};

class Agent {
 public:
  static StatusOr<std::unique_ptr<Agent>> Open(lake::Storage* lake, AgentOptions options);
  ~Agent();

  // One turn: discover files, read, seal, roll what is due. Returns without
  // waiting; Run() paces the turns.
  Status Step();
  // Seals, publishes everything and commits (the end of a clean stop).
  Status Drain();
  // Every open file has been read to its end (what is left is at most an
  // unterminated last line).
  bool CaughtUp() const;
  // Runs until `stop()` is true, then drains. Lake failures are retried.
  Status Run(const std::function<bool()>& stop);

  const AgentStats& stats() const { return stats_; }
  std::vector<FileStatus> Files() const;

 private:
  struct Impl;
  explicit Agent(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  AgentStats& stats_;
};

// Reads <state>/status.json written by a running agent (for `agent status`).
StatusOr<std::vector<FileStatus>> ReadStatus(const std::string& state_dir);

// Expands %Y %m %d %H %M %S %% and %{host} for a UTC time.
std::string ExpandTemplate(std::string_view tmpl, int64_t time_ms, const std::string& host);

}  // namespace comptoir::agent
