// Compaction of a closed directory's small lake files into one.
//
// The agent publishes one file per roll: a day directory of a busy host holds
// hundreds of them. Once no file has been published into a directory for
// `min_age` (the day is closed), CompactDirectory() concatenates its data files
// into one, `compacted-<N><suffix>`, in the order of the agent's names (per
// source file, by byte range), so every line stays exactly once and in order.
// Compressed files are concatenated as they are: gzip members and zstd frames
// stay valid when concatenated.
//
// Crash safety, in this order:
//   1. the output is written to a hidden `.compacted-<N><suffix>.tmp`;
//   2. the record `_compacted-<N>` (the output name, then one input per line)
//      is written: the commit point;
//   3. the temporary is renamed to its final name;
//   4. the inputs are deleted.
// A rerun first finishes any committed record (steps 3 and 4) and deletes
// uncommitted temporaries. Between steps 3 and 4 a reader can see an input
// and the output at once; the `_compacted-*` records say which files are
// superseded (Superseded()), and the agent checks them before it replays a
// roll, so a replay after a crash never brings back a compacted file.
#pragma once

#include <chrono>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "comptoir/core/status.h"
#include "comptoir/lake/storage.h"

namespace comptoir::agent {

struct CompactOptions {
  // A directory is closed when its newest data file is at least this old.
  std::chrono::milliseconds min_age{std::chrono::hours(1)};
  bool dry_run = false;  // say what would be done, change nothing
};

struct CompactResult {
  std::string dir;
  std::string output;  // lake path of the compacted file
  std::vector<std::string> inputs;
  uint64_t bytes = 0;
  bool recovered = false;  // an interrupted compaction was finished
};

// Compacts the data files of `dir` (not recursive). Nothing to do (fewer than
// two data files, or not closed yet) returns an empty list.
StatusOr<std::vector<CompactResult>> CompactDirectory(lake::Storage* lake, const std::string& dir,
                                                      const CompactOptions& options);
// The same for `root` and every directory below it.
StatusOr<std::vector<CompactResult>> CompactTree(lake::Storage* lake, const std::string& root,
                                                 const CompactOptions& options);
// Names in `dir` merged into a compacted file (from its `_compacted-*` records).
StatusOr<std::set<std::string>> Superseded(lake::Storage* lake, const std::string& dir);

}  // namespace comptoir::agent
