// comptoir produce / consume: Flow B's simulator and console consumer.
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <thread>

#include "common.h"
#include "comptoir/bus/client.h"
#include "comptoir/core/progress.h"
#include "comptoir/core/signals.h"
#include "comptoir/stream/event.h"
#include "comptoir/stream/simulator.h"
#include "comptoir/core/decimal.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"

namespace comptoir::cli {
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// "90s", "5m", "2h", "1500ms", or plain seconds.
StatusOr<std::chrono::milliseconds> ParseDuration(const std::string& text) {
  std::string_view t = text;
  int64_t mult = 1000;
  if (t.ends_with("ms")) {
    mult = 1;
    t.remove_suffix(2);
  } else if (t.ends_with('s')) {
    t.remove_suffix(1);
  } else if (t.ends_with('m')) {
    mult = 60000;
    t.remove_suffix(1);
  } else if (t.ends_with('h')) {
    mult = 3600000;
    t.remove_suffix(1);
  }
  int64_t n = 0;
  if (!ParseInt(t, &n) || n < 0) {
    return absl::InvalidArgumentError(StrCat("duration \"", text, "\": use e.g. 500ms, 30s, 5m, 1h"));
  }
  return std::chrono::milliseconds(n * mult);
}

// A bare directory is the embedded log there.
std::string BusUri(const std::string& text) {
  if (text.find("://") != std::string::npos) return text;
  return "log://" + std::filesystem::absolute(text).lexically_normal().string();
}

struct ProduceFlags {
  std::string bus = "bus";
  std::string topic = "transactions";
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

Status RunProduce(const ProduceFlags& f, bool quiet) {
  std::chrono::milliseconds duration{0};
  if (!f.duration.empty()) {
    ASSIGN_OR_RETURN(duration, ParseDuration(f.duration));
  }
  ASSIGN_OR_RETURN(std::chrono::milliseconds burst_every, ParseDuration(f.burst_every));
  if (f.rate < 0) return absl::InvalidArgumentError("--rate must be 0 (as fast as possible) or more");
  std::string uri = BusUri(f.bus);
  ASSIGN_OR_RETURN(std::unique_ptr<bus::Producer> producer, bus::OpenProducer(uri, f.topic, f.partitions));
  std::ofstream log;
  if (!f.log.empty()) {
    log.open(f.log, std::ios::app);
    if (!log) return ErrnoToStatus(errno, StrCat("open --log ", f.log));
  }
  int64_t start_ms = NowMs();
  stream::Simulator sim(f.seed, fmt::format("p{:x}", (start_ms ^ getpid()) & 0xfffff),
                        (start_ms / 1000 - 1700000000) * 1000);
  core::Progress progress("producing", f.count, "events", quiet);
  auto t0 = std::chrono::steady_clock::now();
  auto next_burst = t0 + burst_every;
  uint64_t sent = 0;
  auto last_flush = t0;
  Status status;
  while (f.count == 0 || sent < f.count) {
    auto now = std::chrono::steady_clock::now();
    if (duration.count() > 0 && now - t0 >= duration) break;
    if (core::Cancelled()) break;  // Ctrl-C: flush what was produced, then stop
    int n = 1;
    if (f.burst > 0 && now >= next_burst) {
      n += f.burst;
      next_burst += burst_every;
    }
    for (int i = 0; i < n && (f.count == 0 || sent < f.count); ++i) {
      stream::Event e = sim.Next(NowMs());
      std::string json = stream::ToJson(e);
      status = producer->Send(std::to_string(e.order_number), json, e.ts_ms);
      if (!status.ok()) break;
      if (log.is_open()) {
        log << stream::Simulator::LogLine(e) << '\n';
        if (auto incident = sim.IncidentLine(e, f.error_rate)) log << *incident << '\n';
      }
      ++sent;
      progress.Add(1, json.size());
    }
    if (!status.ok()) break;
    if (f.rate > 0) {
      if (log.is_open()) log.flush();
      RETURN_IF_ERROR(producer->Flush());  // paced: every event is durable before the next
      auto due = t0 + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                          std::chrono::duration<double>(static_cast<double>(sent) / f.rate));
      std::this_thread::sleep_until(due);
    } else if (now - last_flush >= std::chrono::milliseconds(5) || sent % 5000 == 0) {
      RETURN_IF_ERROR(producer->Flush());
      last_flush = now;
    }
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
  std::string bus = "bus";
  std::string topic = "transactions";
  std::string group;
  bool from_beginning = false;
  std::string from_time;
  uint64_t count = 0;
  std::string format = "json";
};

Status RunConsume(const ConsumeFlags& f) {
  if (f.format != "json" && f.format != "table") {
    return absl::InvalidArgumentError(StrCat("--format \"", f.format, "\": use json or table"));
  }
  bus::ConsumerOptions o;
  o.group = f.group;
  o.start = f.from_beginning || f.group.empty() ? bus::StartAt::kBeginning : bus::StartAt::kEnd;
  if (!f.from_time.empty()) {
    stream::EventParser p;
    StatusOr<stream::Event> probe = p.Parse(
        StrCat(R"({"order_id":0,"amount":0,"status":"x","ts":")", f.from_time, "\"}"), 0);
    if (!probe.ok()) {
      return absl::InvalidArgumentError(StrCat("--from-time \"", f.from_time,
                                               "\": use RFC 3339 UTC, e.g. 2026-11-27T21:00:00Z"));
    }
    o.start = bus::StartAt::kTime;
    o.start_time_ms = probe->ts_ms;
  }
  std::string uri = BusUri(f.bus);
  ASSIGN_OR_RETURN(std::unique_ptr<bus::Consumer> consumer, bus::OpenConsumer(uri, f.topic, o));
  std::unique_ptr<bus::Producer> dlq;
  stream::EventParser parser;
  uint64_t seen = 0, bad = 0;
  int64_t revenue = 0;
  if (f.format == "table") {
    std::cout << fmt::format("{:<24} {:>9} {:>4} {:<30} {:>10} {:<10}\n", "ts", "order", "line",
                             "customer", "amount", "status");
  }
  while ((f.count == 0 || seen < f.count) && !core::Cancelled()) {
    ASSIGN_OR_RETURN(std::vector<bus::Record> batch,
                     consumer->Poll(f.count == 0 ? 1000 : std::min<uint64_t>(1000, f.count - seen),
                                    std::chrono::milliseconds(200)));
    for (const bus::Record& r : batch) {
      ++seen;
      StatusOr<stream::Event> e = parser.Parse(r.value, r.timestamp_ms);
      if (f.format == "json") std::cout << r.value << '\n';  // every record, as it is
      if (!e.ok()) {
        // Malformed messages never stop the consumer: counted and set aside
        // (a dead-letter topic is not forwarded again).
        ++bad;
        if (f.topic.ends_with(".dlq")) continue;
        if (!dlq) {
          ASSIGN_OR_RETURN(dlq, bus::OpenProducer(uri, f.topic + ".dlq", 1));
        }
        RETURN_IF_ERROR(dlq->Send(r.key,
                                  StrCat(R"({"error":)", nlohmann::json(std::string(e.status().message())).dump(),
                                         R"(,"partition":)", r.partition, R"(,"offset":)", r.offset,
                                         R"(,"value":)", nlohmann::json(r.value).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), "}"),
                                  r.timestamp_ms));
        continue;
      }
      revenue += e->amount_cents;
      if (f.format == "table") {
        std::string amount;
        core::AppendFixed(&amount, e->amount_cents, 2);
        std::cout << fmt::format("{:<24} {:>9} {:>4} {:<30.30} {:>10} {:<10}\n",
                                 stream::FormatTimestamp(e->ts_ms), e->order_number, e->order_line,
                                 e->customer, amount, e->status);
      }
    }
    std::cout.flush();
    if (dlq) RETURN_IF_ERROR(dlq->Flush());
    RETURN_IF_ERROR(consumer->Commit());  // after the records were handled
  }
  std::string total;
  core::AppendFixed(&total, revenue, 2);
  std::cerr << fmt::format("consumed {} events ({} malformed{}), revenue {}\n",
                           core::WithThousands(seen), bad,
                           f.topic.ends_with(".dlq") ? "" : StrCat(", sent to ", f.topic, ".dlq"),
                           total);
  return absl::OkStatus();
}

}  // namespace

void AddStreamCommands(CLI::App* app, Globals* g, int* result) {
  auto p = std::make_shared<ProduceFlags>();
  CLI::App* produce = app->add_subcommand(
      "produce", "Simulate point-of-sale transactions onto the bus (Flow B)");
  produce->add_option("--bus", p->bus, "Bus URI: log:///dir or a directory (default ./bus)");
  produce->add_option("--topic", p->topic, "Topic (default transactions)");
  produce->add_option("--rate", p->rate, "Events per second; 0 = as fast as possible (default 5)");
  produce->add_option("--burst", p->burst, "Extra events sent at once every --burst-every");
  produce->add_option("--burst-every", p->burst_every, "Interval between bursts (default 10s)");
  produce->add_option("--count", p->count, "Stop after N events");
  produce->add_option("--duration", p->duration, "Stop after this long (e.g. 30s, 5m)");
  produce->add_option("--seed", p->seed, "Random seed (same seed, same sequence)");
  produce->add_option("--log", p->log, "Also append the app's log lines to this file");
  produce->add_option("--error-rate", p->error_rate,
                      "Share of events followed by a WARNING/ERROR log line (default 0.02)");
  produce->add_option("--partitions", p->partitions, "Partitions of a new topic (default 3)");
  produce->callback([p, g, result] {
    Status s = RunProduce(*p, g->quiet);
    *result = s.ok() ? 0 : Fail("produce", s);
  });

  auto c = std::make_shared<ConsumeFlags>();
  CLI::App* consume = app->add_subcommand("consume", "Print events from the bus");
  consume->add_option("--bus", c->bus, "Bus URI: log:///dir or a directory (default ./bus)");
  consume->add_option("--topic", c->topic, "Topic (default transactions)");
  consume->add_option("--group", c->group, "Consumer group: resume where it left off and commit");
  consume->add_flag("--from-beginning", c->from_beginning, "Start at the oldest event");
  consume->add_option("--from-time", c->from_time, "Start at this time (RFC 3339 UTC)");
  consume->add_option("--count", c->count, "Stop after N events");
  consume->add_option("--format", c->format, "json (default) or table");
  consume->callback([c, result] {
    Status s = RunConsume(*c);
    *result = s.ok() ? 0 : Fail("consume", s);
  });
}

}  // namespace comptoir::cli
