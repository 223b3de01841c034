#include "comptoir/stream/archiver.h"

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <iostream>
#include <set>
#include <tuple>

#include "comptoir/core/decimal.h"
#include "comptoir/core/signals.h"
#include "comptoir/core/time.h"
#include "comptoir/lake/publish.h"
#include "comptoir/quality/quarantine.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"

namespace comptoir::stream {
namespace {

constexpr std::string_view kTemporary = "_temporary";

// "dt=2026-11-28" for a UTC millisecond timestamp.
std::string DayDir(int64_t ts_ms) {
  using namespace std::chrono;
  sys_days day = floor<days>(sys_time<milliseconds>(milliseconds(ts_ms)));
  year_month_day ymd(day);
  return fmt::format("dt={:04d}-{:02d}-{:02d}", static_cast<int>(ymd.year()),
                     static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
}

bool ParseOffset(std::string_view text, int64_t* out) {
  return !text.empty() && ParseInt(text, out) && *out >= 0;
}

}  // namespace

std::optional<ArchiveFile> ParseArchiveFileName(std::string_view name) {
  if (!ConsumePrefix(&name, "part-")) return std::nullopt;
  size_t dot = name.find('.');
  if (dot == std::string_view::npos) return std::nullopt;
  std::string_view ext = name.substr(dot);
  if (ext != ".jsonl" && ext != ".jsonl.zst") return std::nullopt;
  std::vector<std::string_view> parts = Split(name.substr(0, dot), '-', false);
  if (parts.size() != 3) return std::nullopt;
  int64_t p = 0;
  ArchiveFile f;
  if (!ParseOffset(parts[0], &p) || !ParseOffset(parts[1], &f.first) ||
      !ParseOffset(parts[2], &f.last) || f.last < f.first || p > 1 << 20) {
    return std::nullopt;
  }
  f.partition = static_cast<int>(p);
  return f;
}

struct Archiver::OpenFile {
  std::string temp_path;
  std::string rejects_temp;                       // its quarantined events, staged
  std::unique_ptr<lake::WritableFile> rejects;    // created at the first reject
  uint64_t rejected = 0;
  uint64_t warned = 0;
  std::optional<quality::RowChecker> checker;  // its events' verdicts (the run's unique keys shared)
  std::string day;
  std::unique_ptr<lake::WritableFile> out;
  int64_t first = 0;
  int64_t last = 0;
  uint64_t events = 0;
  std::chrono::steady_clock::time_point opened;
};

Archiver::Archiver(lake::Storage* lake, ArchiverOptions options)
    : lake_(lake), o_(std::move(options)), last_data_(std::chrono::steady_clock::now()) {}

Archiver::~Archiver() = default;

StatusOr<std::unique_ptr<Archiver>> Archiver::Open(lake::Storage* lake, ArchiverOptions options) {
  ASSIGN_OR_RETURN(options.target_dir, lake::NormalizePath(options.target_dir));
  if (options.roll_bytes == 0 || options.roll_interval.count() <= 0) {
    return absl::InvalidArgumentError("the roll size and interval must be positive");
  }
  auto a = std::unique_ptr<Archiver>(new Archiver(lake, std::move(options)));
  std::vector<quality::Rule> rules;
  for (quality::Rule r : a->o_.rules) {
    StatusOr<std::string> d = lake::NormalizePath(r.dataset);
    if (!d.ok() || *d != a->o_.target_dir) continue;
    r.dataset = *d;
    rules.push_back(std::move(r));
  }
  if (!rules.empty()) {
    std::vector<std::string> columns(kEventColumns.begin(), kEventColumns.end());
    ASSIGN_OR_RETURN(a->checker_, quality::RowChecker::Create(rules, a->o_.target_dir, columns,
                                                              quality::LakeColumnValues(lake)));
    a->tally_.emplace(*a->checker_, a->o_.target_dir, "archive");
    a->parser_ = std::make_unique<EventParser>();
    if (!a->o_.dlq_topic.empty()) {
      ASSIGN_OR_RETURN(a->dlq_, bus::OpenProducer(a->o_.bus_uri, a->o_.dlq_topic, 1, a->o_.bus));
    }
  }
  RETURN_IF_ERROR(a->Recover());
  bus::ConsumerOptions co;
  co.group = a->o_.group;
  co.balanced = false;  // one archiver reads every partition
  co.start = bus::StartAt::kBeginning;
  co.start_offsets = a->resume_;
  ASSIGN_OR_RETURN(a->consumer_, bus::OpenConsumer(a->o_.bus_uri, a->o_.topic, co, a->o_.bus));
  // Catch the group up with files published just before a crash.
  RETURN_IF_ERROR(a->consumer_->CommitOffsets(a->resume_));
  return a;
}

Status Archiver::Recover() {
  const std::string& target = o_.target_dir;
  std::string temp = lake::JoinPath(target, kTemporary);
  ASSIGN_OR_RETURN(bool has_temp, lake::Exists(lake_, temp));
  if (has_temp) RETURN_IF_ERROR(lake_->Delete(temp, /*recursive=*/true));
  RETURN_IF_ERROR(lake_->MakeDirs(target));
  ASSIGN_OR_RETURN(std::vector<lake::FileInfo> days, lake_->List(target));
  std::set<std::tuple<int, int64_t, int64_t>> published;
  for (const lake::FileInfo& d : days) {
    if (!d.is_dir || !d.name.starts_with("dt=")) continue;
    ASSIGN_OR_RETURN(std::vector<lake::FileInfo> files, lake_->List(d.path));
    for (const lake::FileInfo& f : files) {
      std::optional<ArchiveFile> a = ParseArchiveFileName(f.name);
      if (!a) continue;
      published.insert({a->partition, a->first, a->last});
      int64_t& next = resume_[a->partition];
      next = std::max(next, a->last + 1);
    }
  }
  // Rejects are published just before their file: those whose file is not
  // there belong to a roll a crash interrupted, whose events are read again.
  StatusOr<std::vector<lake::FileInfo>> quarantined = lake_->List(lake::JoinPath(target, "_rejects"));
  if (!quarantined.ok() && !absl::IsNotFound(quarantined.status())) return quarantined.status();
  for (const lake::FileInfo& q : quarantined.ok() ? *quarantined : std::vector<lake::FileInfo>()) {
    std::optional<ArchiveFile> a = ParseArchiveFileName(q.name + ".jsonl");
    if (!a || published.contains({a->partition, a->first, a->last})) continue;
    RETURN_IF_ERROR(lake_->Delete(q.path, /*recursive=*/true));
    ++stats_.rolled_back_rejects;
  }
  stats_.recovered = resume_.size();
  // The group may be ahead of the lake (files removed by hand): never archive twice.
  ASSIGN_OR_RETURN(std::unique_ptr<bus::Admin> admin, bus::OpenAdmin(o_.bus_uri, o_.bus));
  ASSIGN_OR_RETURN(std::vector<bus::PartitionState> parts, admin->Describe(o_.topic, o_.group));
  for (const bus::PartitionState& p : parts) {
    if (p.committed && *p.committed > resume_[p.partition]) resume_[p.partition] = *p.committed;
  }
  return absl::OkStatus();
}

Status Archiver::Append(const bus::Record& r) {
  std::unique_ptr<OpenFile>& f = open_[r.partition];
  std::string day = DayDir(r.timestamp_ms);
  if (f && f->day != day) {
    RETURN_IF_ERROR(Publish(r.partition));  // a file holds one day
  }
  if (!f) {
    f = std::make_unique<OpenFile>();
    f->day = day;
    f->first = r.offset;
    f->opened = std::chrono::steady_clock::now();
    f->temp_path = lake::JoinPath(lake::JoinPath(o_.target_dir, kTemporary),
                                  fmt::format("part-{}-{}.jsonl", r.partition, r.offset));
    lake::CreateOptions co;
    co.overwrite = true;
    ASSIGN_OR_RETURN(std::unique_ptr<lake::WritableFile> raw, lake_->Create(f->temp_path, co));
    f->out = lake::NewCompressingFile(std::move(raw), o_.codec);
    if (checker_) f->checker.emplace(checker_->Fork());
  }
  if (checker_) {
    ASSIGN_OR_RETURN(bool keep, Check(r, f.get()));
    if (!keep) {  // in the rejects file: the file's range covers it
      f->last = r.offset;
      ++f->events;
      return absl::OkStatus();
    }
  }
  const std::string& v = r.value;
  if (std::memchr(v.data(), '\n', v.size()) != nullptr ||
      std::memchr(v.data(), '\r', v.size()) != nullptr) {
    nlohmann::json j = {{"malformed", true}, {"partition", r.partition}, {"offset", r.offset},
                        {"value", v}};
    RETURN_IF_ERROR(f->out->Append(
        j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n"));
  } else {
    RETURN_IF_ERROR(f->out->Append(v));
    RETURN_IF_ERROR(f->out->Append("\n"));
  }
  // Only once it is written: a failed write must not widen the file's range.
  f->last = r.offset;
  ++f->events;
  return absl::OkStatus();
}

StatusOr<bool> Archiver::Check(const bus::Record& r, OpenFile* f) {
  Event e;
  Status parsed = parser_->Parse(r.value, r.timestamp_ms, &e);
  std::string rule, reason;
  if (!parsed.ok()) {
    rule = "parse";
    reason = std::string(parsed.message());
  } else {
    std::string ts = core::FormatIsoMillis(e.ts_ms), order = std::to_string(e.order_number),
                line = std::to_string(e.order_line), qty = std::to_string(e.quantity), price, amount;
    core::AppendFixed(&price, e.price_each_cents, 2);
    core::AppendFixed(&amount, e.amount_cents, 2);
    std::array<std::optional<std::string_view>, kEventColumns.size()> values = {
        e.event_id, ts, order, line, e.customer, e.country, e.territory, e.product_code, e.product_line,
        qty, price, amount, e.status, e.deal_size};
    quality::RowChecker::Verdict v = f->checker->CheckRecord(values);
    if (v.passed()) return true;
    const quality::Rule& failed = f->checker->rules()[static_cast<size_t>(v.rule)];
    if (v.action == quality::Action::kWarn) {
      ++stats_.warned;
      ++f->warned;
      return true;
    }
    if (v.action == quality::Action::kFail) {
      return quality::QualityFailedError(fmt::format(
          "data quality: the event at partition {} offset {} failed {} ({}, action fail): {}; its file was not "
          "published and the group's offsets stay before it: fix the rule or the data, then start again",
          r.partition, r.offset, failed.Label(), failed.Describe(), v.reason));
    }
    rule = failed.Label();
    reason = v.reason;
  }
  if (!f->rejects) {
    f->rejects_temp = lake::JoinPath(lake::JoinPath(o_.target_dir, kTemporary),
                                     fmt::format("rejects-{}-{}.jsonl", r.partition, f->first));
    lake::CreateOptions co;
    co.overwrite = true;
    ASSIGN_OR_RETURN(f->rejects, lake_->Create(f->rejects_temp, co));
  }
  nlohmann::json j = {{"rule", rule}, {"reason", reason}, {"source", fmt::format("{}:{}", r.partition, r.offset)},
                      {"raw", r.value}};
  RETURN_IF_ERROR(f->rejects->Append(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n"));
  if (dlq_) RETURN_IF_ERROR(dlq_->Send(r.key, r.value, r.timestamp_ms));
  ++f->rejected;
  ++stats_.rejected;
  return false;
}

Status Archiver::Publish(int partition) {
  auto it = open_.find(partition);
  if (it == open_.end() || !it->second) return absl::OkStatus();
  OpenFile& f = *it->second;
  uint64_t bytes = f.out->Size();
  RETURN_IF_ERROR(f.out->Close());
  if (f.rejects) {  // first: a crash before the file below makes the next start remove them
    RETURN_IF_ERROR(f.rejects->Close());
    if (dlq_) RETURN_IF_ERROR(dlq_->Flush());
    RETURN_IF_ERROR(lake::PublishStagedFile(
        lake_, f.rejects_temp,
        lake::JoinPath(lake::JoinPath(o_.target_dir, "_rejects"),
                       fmt::format("part-{}-{}-{}/part-00000.jsonl", partition, f.first, f.last))));
  }
  std::string final_path = lake::JoinPath(
      lake::JoinPath(o_.target_dir, f.day),
      fmt::format("part-{}-{}-{}.jsonl{}", partition, f.first, f.last, lake::CodecExtension(o_.codec)));
  RETURN_IF_ERROR(lake::PublishStagedFile(lake_, f.temp_path, final_path));
  // Only now is the group allowed past these records.
  RETURN_IF_ERROR(consumer_->CommitOffsets({{partition, f.last + 1}}));
  stats_.events += f.events - f.rejected;
  if (tally_ && f.checker) tally_->Add(*f.checker, f.events, f.rejected, f.warned);
  stats_.bytes += bytes;
  ++stats_.files;
  it->second.reset();  // the entry stays: callers may hold a reference to it
  return absl::OkStatus();
}

Status Archiver::Step(std::chrono::milliseconds wait) {
  ASSIGN_OR_RETURN(std::span<const bus::Record> batch, consumer_->PollView(10000, wait));
  auto now = std::chrono::steady_clock::now();
  if (!batch.empty()) last_data_ = now;
  for (const bus::Record& r : batch) {
    RETURN_IF_ERROR(Append(r));
    const auto& f = open_[r.partition];
    if (f && f->out->Size() >= o_.roll_bytes) RETURN_IF_ERROR(Publish(r.partition));
  }
  std::vector<int> due;
  for (const auto& [p, f] : open_) {
    if (f && now - f->opened >= o_.roll_interval) due.push_back(p);
  }
  for (int p : due) RETURN_IF_ERROR(Publish(p));
  RecordQuality(false);
  return absl::OkStatus();
}

void Archiver::RecordQuality(bool force) {
  if (!tally_) return;
  // Kept for the next try when the lake refuses: the counts are not lost.
  if (Status s = tally_->RecordIfDue(lake_, force); !s.ok()) spdlog::warn("archive: data quality history: {}", s.ToString());
}

Status Archiver::Close() {
  std::vector<int> parts;
  for (const auto& [p, f] : open_) {
    if (f) parts.push_back(p);
  }
  for (int p : parts) RETURN_IF_ERROR(Publish(p));
  RecordQuality(true);
  Status cleaned = lake_->Delete(lake::JoinPath(o_.target_dir, kTemporary), /*recursive=*/true);
  if (!cleaned.ok() && !absl::IsNotFound(cleaned)) return cleaned;
  StatusOr<int64_t> lag = consumer_->Lag();
  if (lag.ok()) stats_.lag = *lag;
  return absl::OkStatus();
}

Status Archiver::Run(const std::function<bool()>& stop, std::chrono::milliseconds idle_exit) {
  auto wait = std::min<std::chrono::milliseconds>(std::chrono::milliseconds(200), o_.roll_interval);
  while (!stop()) {
    RETURN_IF_ERROR(Step(wait));
    bool any_open = std::any_of(open_.begin(), open_.end(), [](const auto& e) { return e.second != nullptr; });
    if (idle_exit.count() > 0 && !any_open &&
        std::chrono::steady_clock::now() - last_data_ >= idle_exit) {
      break;
    }
    if (idle_exit.count() > 0 && std::chrono::steady_clock::now() - last_data_ >= idle_exit) {
      RETURN_IF_ERROR(Close());  // publish the tail, then exit at the next turn
    }
  }
  return Close();
}

StatusOr<std::unique_ptr<coord::Lock>> TakeArchiverLease(coord::Coordinator* coordination, const std::string& bus_uri,
                                                         const std::string& topic) {
  std::string name = fmt::format("archiver/{}-{}", core::NameHash(topic), core::NameHash(bus_uri));
  std::string holder = fmt::format("{} pid {}", core::HostName(), getpid());
  bool said = false;
  while (!core::Cancelled()) {
    StatusOr<std::unique_ptr<coord::Lock>> lock = coordination->Acquire(name, holder, std::chrono::milliseconds(500));
    if (lock.ok()) {
      if (said) std::cerr << "archive: now the active archiver of " << topic << "\n";
      return lock;
    }
    if (!absl::IsFailedPrecondition(lock.status())) return lock.status();
    if (!said) {  // a state change, not progress: said even with --quiet
      std::cerr << fmt::format("archive: standby: another archiver is active for {} on {} ({}); waiting\n", topic,
                               bus_uri, std::string(lock.status().message()));
      said = true;
    }
  }
  return std::unique_ptr<coord::Lock>();
}

}  // namespace comptoir::stream
