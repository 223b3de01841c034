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
//
// Data quality: with [[quality.rule]] tables for the target (columns: the
// event's fields, see kEventColumns), each event is parsed and checked. A
// rejected event (or one that does not parse: rule "parse") goes to
// <target>/_rejects/part-P-F-L/part-00000.jsonl as {"rule","reason","source":
// "P:offset","raw"} and, when a DLQ topic is given, to that topic (at least
// once: a retry after a crash may send it again). The rejects of a file are
// published just before it; on start-up, rejects whose file was never
// published are removed (their events are read again), so every event ends
// up exactly once in the dataset or in quarantine. A `fail` verdict stops
// the archiver (quality::IsQualityFailed) before the file is published.
#pragma once

#include <array>
#include <chrono>
#include <optional>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "comptoir/bus/client.h"
#include "comptoir/coord/coordinator.h"
#include "comptoir/core/names.h"
#include "comptoir/lake/compression.h"
#include "comptoir/lake/storage.h"
#include "comptoir/quality/history.h"
#include "comptoir/quality/rules.h"
#include "comptoir/stream/event.h"

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
  std::vector<quality::Rule> rules;        // those of target_dir apply
  std::string dlq_topic;                   // rejected events also go there ("" = nowhere)
};

// The columns quality rules name on events, in this order.
inline constexpr std::array<std::string_view, 14> kEventColumns = {
    "event_id", "ts",          "order_number", "order_line", "customer", "country", "territory",
    "product_code", "product_line", "quantity", "price_each", "amount", "status", "deal_size"};

struct ArchiverStats {
  uint64_t events = 0;      // records written into published files by this run
  uint64_t files = 0;       // files published by this run
  uint64_t bytes = 0;       // uncompressed bytes published by this run
  uint64_t recovered = 0;   // partitions whose position came from the file names
  int64_t lag = 0;          // records not yet archived, at the last check
  uint64_t rejected = 0;    // events quarantined by quality rules
  uint64_t warned = 0;      // events that failed only `warn` rules
  uint64_t rolled_back_rejects = 0;  // rejects of files never published, removed at start-up
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
  // The quality verdict on one event: false when it goes to quarantine.
  StatusOr<bool> Check(const bus::Record& r, OpenFile* f);
  // Writes the quality history's record when due (or now, with `force`).
  void RecordQuality(bool force);

  lake::Storage* lake_;
  ArchiverOptions o_;
  std::unique_ptr<bus::Consumer> consumer_;
  std::map<int, std::unique_ptr<OpenFile>> open_;
  std::map<int, int64_t> resume_;  // partition -> next offset, from the lake and the group
  ArchiverStats stats_;
  std::chrono::steady_clock::time_point last_data_;
  std::optional<quality::RowChecker> checker_;
  std::optional<quality::RunTally> tally_;  // the quality history's counts since its last record
  std::unique_ptr<EventParser> parser_;
  std::unique_ptr<bus::Producer> dlq_;
};

}  // namespace comptoir::stream
