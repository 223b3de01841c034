// The archiver: copies a topic into the lake exactly once.
//
// Layout: <target>/dt=YYYY-MM-DD/part-<partition>-<first offset>-<last offset>.jsonl[.zst],
// one message value per line, the day taken from the message timestamp (UTC).
// A file is written under <target>/_temporary/ and renamed to its final name
// when it rolls (by size, by age, at a day change, or on shutdown); only then
// are the group's offsets committed, up to that file's last offset.
//
// Exactly once: on start-up the archiver removes <target>/_temporary, reads
// the offset ranges in the published file names and resumes each partition
// after max(last published offset + 1, the group's committed offset). A crash
// before a rename loses only an unpublished temporary (its records are read
// again); a crash between the rename and the commit is repaired by the file
// names. So every record lands in exactly one published file: no gap, no
// duplicate. One archiver per topic and target may run at a time.
//
// A value containing a line break would break the one-line framing; it is
// written as {"malformed":true,"partition":P,"offset":O,"value":"<escaped>"}.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "comptoir/bus/client.h"
#include "comptoir/coord/coordinator.h"
#include "comptoir/core/names.h"
#include "comptoir/lake/compression.h"
#include "comptoir/lake/storage.h"

namespace comptoir::stream {

struct ArchiverOptions {
  std::string bus_uri;
  bus::BusOptions bus;
  std::string topic{core::kTopic};
  std::string group{core::kArchiverGroup};
  std::string target_dir{core::kTransactionsDir};
  uint64_t roll_bytes = 128ull << 20;  // uncompressed bytes per file
  std::chrono::milliseconds roll_interval{std::chrono::minutes(5)};  // age of a file's first record
  lake::Codec codec = lake::Codec::kNone;  // kZstd: .jsonl.zst
};

struct ArchiverStats {
  uint64_t events = 0;      // records written into published files by this run
  uint64_t files = 0;       // files published by this run
  uint64_t bytes = 0;       // uncompressed bytes published by this run
  uint64_t recovered = 0;   // partitions whose position came from the file names
  int64_t lag = 0;          // records not yet archived, at the last check
};

// A published file's name, parsed.
struct ArchiveFile {
  int partition = 0;
  int64_t first = 0;
  int64_t last = 0;
};
// "part-2-100-199.jsonl.zst" -> {2, 100, 199}; nullopt for other names.
std::optional<ArchiveFile> ParseArchiveFileName(std::string_view name);

// The archiver's lease for (bus, topic): one active archiver per topic. A
// second one is a standby: it says so once on stderr and waits until the
// first one dies or stops. nullptr when cancelled (Ctrl-C) while waiting.
StatusOr<std::unique_ptr<coord::Lock>> TakeArchiverLease(coord::Coordinator* coordination, const std::string& bus_uri,
                                                         const std::string& topic);

class Archiver {
 public:
  // Recovers the target (see above) and opens the consumer.
  static StatusOr<std::unique_ptr<Archiver>> Open(lake::Storage* lake, ArchiverOptions options);
  ~Archiver();

  // Reads one batch (waiting up to `wait`) and publishes the files due to roll.
  Status Step(std::chrono::milliseconds wait);
  // Publishes every open file and commits: call before exiting.
  Status Close();

  // Runs Step() until `stop()` is true or, when `idle_exit` > 0, nothing new
  // arrived for that long; then Close().
  Status Run(const std::function<bool()>& stop, std::chrono::milliseconds idle_exit);

  const ArchiverStats& stats() const { return stats_; }

 private:
  struct OpenFile;
  Archiver(lake::Storage* lake, ArchiverOptions options);
  Status Recover();
  Status Append(const bus::Record& r);
  Status Publish(int partition);

  lake::Storage* lake_;
  ArchiverOptions o_;
  std::unique_ptr<bus::Consumer> consumer_;
  std::map<int, std::unique_ptr<OpenFile>> open_;
  std::map<int, int64_t> resume_;  // partition -> next offset, from the lake and the group
  ArchiverStats stats_;
  std::chrono::steady_clock::time_point last_data_;
};

}  // namespace comptoir::stream
