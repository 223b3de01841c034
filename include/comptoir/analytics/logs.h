// Search over the agent's logs in the lake (`/user/flume/logs` by default).
//
// Lines are read in the Python logging layout ("YYYY-MM-DD HH:MM:SS,mmm LEVEL
// message"; lines without a time, such as a traceback, belong to the line
// before them) or as the agent's JSON records. Each file's time range and
// per-level line counts are remembered (keyed by path, size and mtime), so a
// search skips the files that cannot match its time range or levels.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "comptoir/core/status.h"
#include "comptoir/lake/storage.h"

namespace comptoir::analytics {

struct LogQuery {
  std::string text;  // case-insensitive substring, or a regex with `regex`
  bool regex = false;
  std::vector<std::string> levels;  // upper case; empty = all
  int64_t from_ms = INT64_MIN;      // inclusive
  int64_t to_ms = INT64_MAX;        // inclusive
  size_t limit = 100;
};

struct LogLine {
  int64_t ts_ms = -1;
  std::string level;
  std::string message;  // the whole line (with its traceback lines)
  std::string file;
};

struct LogResult {
  std::vector<LogLine> lines;  // newest first
  int files_scanned = 0;
  int files_skipped = 0;
  bool truncated = false;  // more lines matched than `limit`
};

class LogIndex {
 public:
  LogIndex(lake::Storage* lake, std::string root);
  // InvalidArgument for a bad regex; a missing root is an empty result.
  StatusOr<LogResult> Search(const LogQuery& q);

 private:
  struct FileStats {
    uint64_t size = 0;
    int64_t mtime_ms = 0;
    int64_t min_ts = INT64_MAX, max_ts = INT64_MIN;
    std::map<std::string, int64_t> levels;
  };
  lake::Storage* lake_;
  std::string root_;
  std::mutex mu_;
  std::map<std::string, FileStats> stats_;
};

}  // namespace comptoir::analytics
