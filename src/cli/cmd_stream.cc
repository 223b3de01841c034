// comptoir produce / consume: Flow B's simulator and console consumer.
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <thread>
#include <unordered_map>

#include "common.h"
#include "comptoir/bus/client.h"
#include "comptoir/coord/coordinator.h"
#include "comptoir/core/decimal.h"
#include "comptoir/core/progress.h"
#include "comptoir/core/signals.h"
#include "comptoir/core/units.h"
#include "comptoir/core/time.h"
#include "comptoir/lake/compression.h"
#include "comptoir/quality/rules.h"
#include "comptoir/stream/archiver.h"
#include "comptoir/stream/event.h"
#include "comptoir/stream/simulator.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"

namespace comptoir::cli {
namespace {

constexpr const char* kBusHelp =
    "Bus URI: kafka://host:port[,host:port], log:///dir or a directory (default: config bus.uri, ./bus)";

struct ProduceFlags {
  std::string bus;
  std::string topic{core::kTopic};
  double rate = 5;
  int burst = 0;
  std::string burst_every = "10s";
  uint64_t count = 0;
  std::string duration;
  uint64_t seed = 1;
  std::string log;
  double error_rate = 0.02;
  int partitions = 3;
};

// One simulated event onto the bus (and its log lines into --log).
class EventSender {
 public:
  EventSender(stream::Simulator* sim, bus::Producer* producer, std::ofstream* log, double error_rate)
      : sim_(*sim), producer_(*producer), log_(*log), error_rate_(error_rate) {}
  // The size of the event's JSON.
  StatusOr<size_t> Send() {
    int64_t now_ms = core::UnixMillis();
    int64_t order = 0;
    if (log_.is_open()) {  // the log lines need the whole event
      sim_.Next(now_ms, &e_);
      json_.clear();
      stream::AppendJson(e_, &json_);
      order = e_.order_number;
    } else {
      order = sim_.NextJson(now_ms, &json_);
    }
    auto key = std::to_chars(key_, key_ + sizeof(key_), order);
    RETURN_IF_ERROR(producer_.Send(std::string_view(key_, static_cast<size_t>(key.ptr - key_)), json_, now_ms));
    if (log_.is_open()) {
      log_ << stream::Simulator::LogLine(e_) << '\n';
      if (auto incident = sim_.IncidentLine(e_, error_rate_)) log_ << *incident << '\n';
    }
    return json_.size();
  }

 private:
  stream::Simulator& sim_;
  bus::Producer& producer_;
  std::ofstream& log_;
  double error_rate_;
  stream::Event e_;
  std::string json_;
  char key_[24];
};

Status RunProduce(const ProduceFlags& f, const Globals& g) {
  std::chrono::milliseconds duration{0};
  if (!f.duration.empty()) {
    ASSIGN_OR_RETURN(duration, core::ParseDuration(f.duration));
  }
  ASSIGN_OR_RETURN(std::chrono::milliseconds burst_every, core::ParseDuration(f.burst_every));
  if (f.rate < 0) return absl::InvalidArgumentError("--rate must be 0 (as fast as possible) or more");
  std::string uri = bus::ConfiguredBusUri(g.config, f.bus);
  ASSIGN_OR_RETURN(std::unique_ptr<bus::Producer> producer,
                   bus::OpenProducer(uri, f.topic, f.partitions, bus::ConfiguredBusOptions(g.config)));
  std::ofstream log;
  if (!f.log.empty()) {
    log.open(f.log, std::ios::app);
    if (!log) return ErrnoToStatus(errno, StrCat("open --log ", f.log));
  }
  int64_t start_ms = core::UnixMillis();
  stream::Simulator sim(f.seed, fmt::format("p{:x}", (start_ms ^ getpid()) & 0xfffff),
                        (start_ms / 1000 - 1700000000) * 1000);
  EventSender sender(&sim, producer.get(), &log, f.error_rate);
  core::Progress progress("producing", f.count, "events", g.quiet);
  auto t0 = std::chrono::steady_clock::now();
  auto next_burst = t0 + burst_every;
  uint64_t sent = 0;
  Status status;
  while ((f.count == 0 || sent < f.count) && status.ok()) {
    auto now = std::chrono::steady_clock::now();
    if ((duration.count() > 0 && now - t0 >= duration) || core::Cancelled()) break;  // Ctrl-C: flush, then stop
    int n = 1;
    if (f.burst > 0 && now >= next_burst) {
      n += f.burst;
      next_burst += burst_every;
    }
    for (int i = 0; i < n && (f.count == 0 || sent < f.count) && status.ok(); ++i) {
      StatusOr<size_t> bytes = sender.Send();
      status = bytes.status();
      if (bytes.ok()) ++sent, progress.Add(1, *bytes);
    }
    if (!status.ok()) break;
    if (f.rate <= 0) {
      status = producer->Poll();
      continue;
    }
    if (log.is_open()) log.flush();
    auto due = t0 + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                        std::chrono::duration<double>(static_cast<double>(sent) / f.rate));
    // A long pause before the next event: make this one durable now;
    // otherwise let events share a batch (the producer's linger).
    status = due - std::chrono::steady_clock::now() > std::chrono::milliseconds(5) ? producer->Flush()
                                                                                    : producer->Poll();
    if (status.ok()) std::this_thread::sleep_until(due);
  }
  Status flushed = producer->Flush();
  if (log.is_open()) log.flush();
  progress.Finish();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cout << fmt::format("Produced {} events to {} topic {} ({} partitions) in {:.2f} s ({} events/s)\n",
                           core::WithThousands(sent), uri, f.topic, producer->partitions(), secs,
                           core::WithThousands(static_cast<uint64_t>(sent / std::max(secs, 1e-6))));
  RETURN_IF_ERROR(status);
  return flushed;
}

struct ConsumeFlags {
  std::string bus;
  std::string topic{core::kTopic};
  std::string group;
  bool from_beginning = false;
  std::string from_time;
  uint64_t count = 0;
  std::string format = "json";
};

// What `consume` prints: each record (json), a table row per event, or
// revenue by status and product line at the end (summary).
class ConsumeOutput {
 public:
  explicit ConsumeOutput(std::string format) : format_(std::move(format)) {
    if (format_ == "table") {
      std::cout << fmt::format("{:<24} {:>9} {:>4} {:<30} {:>10} {:<10}\n", "ts", "order", "line", "customer",
                               "amount", "status");
    }
  }
  void Record(const bus::Record& r) {
    if (format_ == "json") std::cout << r.value << '\n';  // every record, as it is
  }
  void Event(const stream::Event& e) {
    revenue_ += e.amount_cents;
    if (format_ == "summary") {
      Add(&by_status_[e.status], e.amount_cents);
      Add(&by_line_[e.product_line], e.amount_cents);
    } else if (format_ == "table") {
      std::string amount;
      core::AppendFixed(&amount, e.amount_cents, 2);
      std::cout << fmt::format("{:<24} {:>9} {:>4} {:<30.30} {:>10} {:<10}\n", core::FormatIsoMillis(e.ts_ms),
                               e.order_number, e.order_line, e.customer, amount, e.status);
    }
  }
  void Finish() const {
    if (format_ != "summary") return;
    Print("status", by_status_);
    Print("product_line", by_line_);
  }
  int64_t revenue() const { return revenue_; }

 private:
  struct Sum {
    uint64_t events = 0;
    int64_t cents = 0;
  };
  static void Add(Sum* s, int64_t cents) {
    ++s->events;
    s->cents += cents;
  }
  static void Print(const char* title, const std::unordered_map<std::string, Sum>& m) {
    std::vector<std::pair<std::string, Sum>> rows(m.begin(), m.end());
    std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.second.cents > b.second.cents; });
    std::cout << fmt::format("{:<20} {:>12} {:>18}\n", title, "events", "revenue");
    for (const auto& [key, sum] : rows) {
      std::string amount;
      core::AppendFixed(&amount, sum.cents, 2);
      std::cout << fmt::format("{:<20} {:>12} {:>18}\n", key, sum.events, amount);
    }
  }
  std::string format_;
  int64_t revenue_ = 0;
  std::unordered_map<std::string, Sum> by_status_, by_line_;
};

// Malformed messages never stop the consumer: they go, with the parser's
// error and their position, to <topic>.dlq (a dead-letter topic itself is
// not forwarded again).
class DeadLetters {
 public:
  DeadLetters(std::string uri, std::string topic, bus::BusOptions options)
      : uri_(std::move(uri)), topic_(std::move(topic)), options_(std::move(options)) {}
  Status Send(const bus::Record& r, const Status& why) {
    if (topic_.ends_with(".dlq")) return absl::OkStatus();
    if (!dlq_) {
      ASSIGN_OR_RETURN(dlq_, bus::OpenProducer(uri_, topic_ + ".dlq", 1, options_));
    }
    return dlq_->Send(r.key,
                      StrCat(R"({"error":)", nlohmann::json(std::string(why.message())).dump(), R"(,"partition":)",
                             r.partition, R"(,"offset":)", r.offset, R"(,"value":)",
                             nlohmann::json(r.value).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                             "}"),
                      r.timestamp_ms);
  }
  Status Flush() { return dlq_ ? dlq_->Flush() : absl::OkStatus(); }

 private:
  std::string uri_, topic_;
  bus::BusOptions options_;
  std::unique_ptr<bus::Producer> dlq_;
};

StatusOr<bus::ConsumerOptions> ConsumerOptionsFor(const ConsumeFlags& f) {
  bus::ConsumerOptions o;
  o.group = f.group;
  o.start = f.from_beginning || f.group.empty() ? bus::StartAt::kBeginning : bus::StartAt::kEnd;
  if (!f.from_time.empty()) {
    o.start_time_ms = core::ParseIsoTime(f.from_time, /*require_zone=*/true);
    if (o.start_time_ms < 0) {
      return absl::InvalidArgumentError(
          StrCat("--from-time \"", f.from_time, "\": use RFC 3339 UTC, e.g. 2026-11-27T21:00:00Z"));
    }
    o.start = bus::StartAt::kTime;
  }
  return o;
}

Status RunConsume(const ConsumeFlags& f, const Globals& g) {
  if (f.format != "json" && f.format != "table" && f.format != "summary") {
    return absl::InvalidArgumentError(StrCat("--format \"", f.format, "\": use json, table or summary"));
  }
  ASSIGN_OR_RETURN(bus::ConsumerOptions o, ConsumerOptionsFor(f));
  std::string uri = bus::ConfiguredBusUri(g.config, f.bus);
  bus::BusOptions bo = bus::ConfiguredBusOptions(g.config);
  ASSIGN_OR_RETURN(std::unique_ptr<bus::Consumer> consumer, bus::OpenConsumer(uri, f.topic, o, bo));
  DeadLetters dlq(uri, f.topic, bo);
  ConsumeOutput output(f.format);
  stream::EventParser parser;
  stream::Event event;
  uint64_t seen = 0, bad = 0;
  auto last_commit = std::chrono::steady_clock::now();
  while ((f.count == 0 || seen < f.count) && !core::Cancelled()) {
    ASSIGN_OR_RETURN(std::span<const bus::Record> batch,
                     consumer->PollView(f.count == 0 ? 1000 : std::min<uint64_t>(1000, f.count - seen),
                                        std::chrono::milliseconds(200)));
    for (const bus::Record& r : batch) {
      ++seen;
      output.Record(r);
      Status parsed = parser.Parse(r.value, r.timestamp_ms, &event);
      if (parsed.ok()) {
        output.Event(event);
      } else {
        ++bad;
        RETURN_IF_ERROR(dlq.Send(r, parsed));
      }
    }
    std::cout.flush();
    RETURN_IF_ERROR(dlq.Flush());
    // Commit after the records were handled, at most every 200 ms (each
    // commit is a round trip to the broker).
    auto now = std::chrono::steady_clock::now();
    bool done = (f.count != 0 && seen >= f.count) || core::Cancelled();
    if (done || now - last_commit >= std::chrono::milliseconds(200)) {
      RETURN_IF_ERROR(consumer->Commit());
      last_commit = now;
    }
  }
  RETURN_IF_ERROR(consumer->Commit());
  output.Finish();
  std::string total;
  core::AppendFixed(&total, output.revenue(), 2);
  std::cerr << fmt::format("consumed {} events ({} malformed{}), revenue {}\n", core::WithThousands(seen), bad,
                           f.topic.ends_with(".dlq") ? "" : StrCat(", sent to ", f.topic, ".dlq"), total);
  return absl::OkStatus();
}

struct BusFlags {
  std::string bus;
  std::string topic;
  std::string group;
  int partitions = 3;
  int replication = 1;
  bool json = false;
};

Status RunBusList(const BusFlags& f, const Globals& g) {
  std::string uri = bus::ConfiguredBusUri(g.config, f.bus);
  ASSIGN_OR_RETURN(std::unique_ptr<bus::Admin> admin, bus::OpenAdmin(uri, bus::ConfiguredBusOptions(g.config)));
  ASSIGN_OR_RETURN(std::vector<std::string> topics, admin->ListTopics());
  nlohmann::json out = nlohmann::json::array();
  for (const std::string& t : topics) {
    ASSIGN_OR_RETURN(int n, admin->Partitions(t));
    if (f.json) {
      out.push_back({{"topic", t}, {"partitions", n}});
    } else {
      std::cout << fmt::format("{:<40} {} partition{}\n", t, n, n == 1 ? "" : "s");
    }
  }
  if (f.json) std::cout << out.dump() << '\n';
  return absl::OkStatus();
}

Status RunBusCreate(const BusFlags& f, const Globals& g) {
  if (f.partitions < 1 || f.replication < 1) {
    return absl::InvalidArgumentError("--partitions and --replication must be at least 1");
  }
  std::string uri = bus::ConfiguredBusUri(g.config, f.bus);
  ASSIGN_OR_RETURN(std::unique_ptr<bus::Admin> admin, bus::OpenAdmin(uri, bus::ConfiguredBusOptions(g.config)));
  RETURN_IF_ERROR(admin->CreateTopic(f.topic, f.partitions, f.replication));
  std::cout << fmt::format("Created topic {} with {} partition{} on {}\n", f.topic, f.partitions,
                           f.partitions == 1 ? "" : "s", uri);
  return absl::OkStatus();
}

nlohmann::json DamageJson(const std::vector<bus::DamagedRange>& damage) {
  nlohmann::json out = nlohmann::json::array();
  for (const bus::DamagedRange& d : damage) {
    out.push_back({{"kind", d.kind}, {"first", d.first}, {"last", d.last}, {"records", d.records()},
                   {"segment", d.segment}, {"byte", d.byte}, {"bytes", d.bytes},
                   {"found_at", core::FormatIsoSeconds(d.at_ms)}});
  }
  return out;
}

Status RunBusDescribe(const BusFlags& f, const Globals& g) {
  std::string uri = bus::ConfiguredBusUri(g.config, f.bus);
  ASSIGN_OR_RETURN(std::unique_ptr<bus::Admin> admin, bus::OpenAdmin(uri, bus::ConfiguredBusOptions(g.config)));
  ASSIGN_OR_RETURN(std::vector<bus::PartitionState> parts, admin->Describe(f.topic, f.group));
  int64_t total = 0, lag = 0, lost = 0;
  std::vector<std::string> beyond;
  nlohmann::json rows = nlohmann::json::array();
  if (!f.json) {
    std::cout << fmt::format("{:>9} {:>14} {:>14} {:>14} {:>12} {:>10}\n", "partition", "start", "end", "committed",
                             "lag", "lost");
  }
  for (const bus::PartitionState& p : parts) {
    total += p.end - p.start;
    lag += p.lag();
    lost += p.lost();
    if (p.committed_beyond_end()) {
      beyond.push_back(fmt::format("partition {}: group {} committed offset {}, beyond the end {}", p.partition,
                                   f.group, *p.committed, p.end));
    }
    if (f.json) {
      nlohmann::json row = {{"partition", p.partition}, {"start", p.start}, {"end", p.end}, {"lost", p.lost()},
                            {"damage", DamageJson(p.damage)}};
      if (!f.group.empty()) {
        row["committed"] = p.committed ? nlohmann::json(*p.committed) : nlohmann::json(nullptr);
        row["lag"] = p.lag();
      }
      rows.push_back(row);
      continue;
    }
    std::cout << fmt::format("{:>9} {:>14} {:>14} {:>14} {:>12} {:>10}\n", p.partition, p.start, p.end,
                             f.group.empty() ? "-" : p.committed ? std::to_string(*p.committed) : "none",
                             f.group.empty() ? "-" : std::to_string(p.lag()), p.lost());
    for (const bus::DamagedRange& d : p.damage) {
      std::cout << fmt::format("{:>9}   {} (found {})\n", "", d.Describe(), core::FormatIsoSeconds(d.at_ms));
    }
  }
  if (f.json) {
    nlohmann::json out = {{"topic", f.topic}, {"records", total}, {"lost", lost}, {"partitions", rows}};
    if (!f.group.empty()) {
      out["group"] = f.group;
      out["lag"] = lag;
    }
    std::cout << out.dump() << '\n';
  } else {
    std::cout << fmt::format("topic {}: {} records in {} partitions", f.topic,
                             core::WithThousands(static_cast<uint64_t>(total)), parts.size());
    if (!f.group.empty()) std::cout << fmt::format("; group {} lag {}", f.group, lag);
    if (lost > 0) std::cout << fmt::format("; {} records lost to damage", lost);
    std::cout << '\n';
  }
  if (!beyond.empty()) {
    return absl::FailedPreconditionError(StrCat(Join(beyond, "; "),
                                                ": those offsets were never written to this log (it was recreated or "
                                                "replaced); delete the group's offsets to read it again"));
  }
  return absl::OkStatus();
}

struct ArchiveFlags {
  std::string bus;
  std::string topic{core::kTopic};
  std::string lake;
  std::string target_dir{core::kTransactionsDir};
  std::string group{core::kArchiverGroup};
  std::string roll_size = "128MB";
  std::string roll_interval = "5m";
  std::string compress = "none";
  std::string idle_exit;
  std::string coord;
  std::string dlq_topic;  // "" = <topic>.dlq when rules apply; "none" = no DLQ
};

Status RunArchive(const ArchiveFlags& f, const Globals& g) {
  stream::ArchiverOptions o;
  o.bus_uri = bus::ConfiguredBusUri(g.config, f.bus);
  o.bus = bus::ConfiguredBusOptions(g.config);
  o.topic = f.topic;
  o.group = f.group;
  o.target_dir = f.target_dir;
  ASSIGN_OR_RETURN(o.roll_bytes, core::ParseSize(f.roll_size));
  ASSIGN_OR_RETURN(o.roll_interval, core::ParseDuration(f.roll_interval));
  ASSIGN_OR_RETURN(o.codec, lake::ParseCodec(f.compress));
  if (o.codec == lake::Codec::kGzip) {
    return absl::InvalidArgumentError("--compress: the archive is written as zstd or none");
  }
  ASSIGN_OR_RETURN(o.rules, quality::LoadRules(g.config_path, g.config_explicit));
  o.dlq_topic = f.dlq_topic.empty() ? f.topic + ".dlq" : f.dlq_topic == "none" ? "" : f.dlq_topic;
  std::chrono::milliseconds idle{0};
  if (!f.idle_exit.empty()) {
    ASSIGN_OR_RETURN(idle, core::ParseDuration(f.idle_exit));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<lake::Storage> lake, lake::OpenConfiguredLake(g.config, f.lake));
  // One active archiver per topic: a second one is a standby.
  ASSIGN_OR_RETURN(std::unique_ptr<coord::Coordinator> coordination, coord::OpenConfiguredCoordinator(g.config, f.coord));
  ASSIGN_OR_RETURN(std::unique_ptr<coord::Lock> lease, stream::TakeArchiverLease(coordination.get(), o.bus_uri, o.topic));
  if (lease == nullptr) return core::CheckCancelled("archive");
  auto t0 = std::chrono::steady_clock::now();
  ASSIGN_OR_RETURN(std::unique_ptr<stream::Archiver> archiver, stream::Archiver::Open(lake.get(), o));
  if (!g.quiet) {
    std::cerr << fmt::format("archiving {} topic {} into {}{} (group {}; Ctrl-C to stop)\n",
                             o.bus_uri, o.topic, lake->Uri(), o.target_dir, o.group);
  }
  Status s = archiver->Run([] { return core::Cancelled(); }, idle);
  const stream::ArchiverStats& st = archiver->stats();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cout << fmt::format(
      "Archived {} events in {} files ({} bytes) into {}{} in {:.2f} s; lag {}{}\n",
      core::WithThousands(st.events), st.files, core::WithThousands(st.bytes), lake->Uri(),
      o.target_dir, secs, st.lag,
      st.rejected + st.warned > 0
          ? fmt::format("; quality: {} events rejected (in {}/_rejects/{}), {} warned",
                        core::WithThousands(st.rejected), o.target_dir,
                        o.dlq_topic.empty() ? "" : ", and to topic " + o.dlq_topic, core::WithThousands(st.warned))
          : "");
  return s;
}


void DefineProduce(Command& cmd) {
  auto p = std::make_shared<ProduceFlags>();
  cmd.Option("--bus", &p->bus, kBusHelp);
  cmd.Option("--topic", &p->topic, "Topic (default transactions)");
  cmd.Option("--rate", &p->rate, "Events per second; 0 = as fast as possible (default 5)");
  cmd.Option("--burst", &p->burst, "Extra events sent at once every --burst-every");
  cmd.Option("--burst-every", &p->burst_every, "Interval between bursts (default 10s)");
  cmd.Option("--count", &p->count, "Stop after N events");
  cmd.Option("--duration", &p->duration, "Stop after this long (e.g. 30s, 5m)");
  cmd.Option("--seed", &p->seed, "Random seed (same seed, same sequence)");
  cmd.Option("--log", &p->log, "Also append the app's log lines to this file");
  cmd.Option("--error-rate", &p->error_rate, "Share of events followed by a WARNING/ERROR log line (default 0.02)");
  cmd.Option("--partitions", &p->partitions, "Partitions of a new topic (default 3)");
  const Globals* g = &cmd.globals();
  cmd.Action([p, g] { return RunProduce(*p, *g); });
}

void DefineConsume(Command& cmd) {
  auto c = std::make_shared<ConsumeFlags>();
  cmd.Option("--bus", &c->bus, kBusHelp);
  cmd.Option("--topic", &c->topic, "Topic (default transactions)");
  cmd.Option("--group", &c->group, "Consumer group: resume where it left off and commit");
  cmd.Flag("--from-beginning", &c->from_beginning, "Start at the oldest event");
  cmd.Option("--from-time", &c->from_time, "Start at this time (RFC 3339 UTC)");
  cmd.Option("--count", &c->count, "Stop after N events");
  cmd.Option("--format", &c->format,
             "json (default: each message as it is), table, or summary (revenue by status and product line at the "
             "end)");
  const Globals* g = &cmd.globals();
  cmd.Action([c, g] { return RunConsume(*c, *g); });
}

void DefineBus(Command& cmd) {
  auto b = std::make_shared<BusFlags>();
  cmd.Option("--bus", &b->bus, kBusHelp);
  cmd.Flag("--json", &b->json, "Print JSON");
  cmd.RequireSub();
  const Globals* g = &cmd.globals();
  cmd.Sub("list", "List the topics and their partitions").Action([b, g] { return RunBusList(*b, *g); });
  Command create = cmd.Sub("create", "Create a topic");
  create.Option("topic", &b->topic, "Topic name").Required();
  create.Option("--partitions", &b->partitions, "Partitions (default 3)");
  create.Option("--replication", &b->replication, "Kafka replication factor (default 1)");
  create.Action([b, g] { return RunBusCreate(*b, *g); });
  Command describe = cmd.Sub("describe", "Offsets of every partition, and a group's committed offsets and lag");
  describe.Option("topic", &b->topic, "Topic name").Required();
  describe.Option("--group", &b->group, "Consumer group whose lag to show");
  describe.Action([b, g] { return RunBusDescribe(*b, *g); });
}

void DefineArchive(Command& cmd) {
  auto a = std::make_shared<ArchiveFlags>();
  cmd.Option("--bus", &a->bus, kBusHelp);
  cmd.Option("--topic", &a->topic, "Topic (default transactions)");
  cmd.Option("--lake", &a->lake, "Lake URI or directory (default: config lake)");
  cmd.Option("--target-dir", &a->target_dir, "Lake directory (default /user/kafka/transactions)");
  cmd.Option("--group", &a->group, "Consumer group (default comptoir-archiver)");
  cmd.Option("--roll-size", &a->roll_size, "Roll a file at this size (default 128MB)");
  cmd.Option("--roll-interval", &a->roll_interval, "Roll a file this long after its first event (default 5m)");
  cmd.Option("--compress", &a->compress, "none (default) or zstd (.jsonl.zst)");
  cmd.Option("--coord", &a->coord,
             "Coordination URI for the one-active-archiver lease (default: config coord.uri, else local:// in "
             "~/.comptoir/coord)");
  cmd.Option("--idle-exit", &a->idle_exit, "Publish and exit once no event arrived for this long (e.g. 5s)");
  cmd.Option("--dlq-topic", &a->dlq_topic,
             "With [[quality.rule]] for the target: events the rules reject also go to this topic (default "
             "<topic>.dlq; none: only to <target>/_rejects/)");
  const Globals* g = &cmd.globals();
  cmd.Action([a, g] { return RunArchive(*a, *g); });
}

}  // namespace

std::vector<CommandDef> StreamCommands() {
  using orchestrate::Lifetime;
  return {
      {{.name = "produce",
        .help = "Simulate point-of-sale transactions onto the bus (Flow B)",
        .lifetime = Lifetime::kLongRunning,
        .start_rank = 3,
        .needs = {{"bus"}}},
       DefineProduce},
      {{.name = "consume", .help = "Print events from the bus", .lifetime = Lifetime::kLongRunning, .needs = {{"bus"}}},
       DefineConsume},
      {{.name = "bus", .help = "Topics, offsets and consumer-group lag"}, DefineBus},
      {{.name = "archive",
        .help = "Copy a topic into the lake exactly once (dt=YYYY-MM-DD/part-P-FIRST-LAST.jsonl)",
        .lifetime = Lifetime::kLongRunning,
        .start_rank = 0,
        .needs = {{"bus"}, {"lake"}, {"coord"}}},
       DefineArchive},
  };
}

}  // namespace comptoir::cli
