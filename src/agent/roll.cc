// Rolling: spooled records into lake files, exactly once. A roll first writes
// its intent (the byte range), then publishes one lake file per target
// directory, then commits the range and forgets the spool. An intent, once
// written, is finished before any other roll of its file, whatever happens.
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "agent_impl.h"
#include "comptoir/agent/compact.h"
#include "comptoir/core/files.h"
#include "comptoir/core/strings.h"
#include "comptoir/core/time.h"
#include "comptoir/lake/publish.h"
#include "comptoir/quality/quarantine.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"

namespace comptoir::agent {
namespace {

namespace fs = std::filesystem;

// <spool>/roll: "<first> <last> <attempt>\n".
struct RollIntent {
  int64_t first = 0, last = 0, attempt = 0;
};

StatusOr<RollIntent> ReadRollIntent(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, core::ReadFile(path));
  std::vector<std::string_view> parts = Split(StripAsciiWhitespace(text), ' ', true);
  RollIntent r;
  if (parts.size() != 3 || !ParseInt(parts[0], &r.first) || !ParseInt(parts[1], &r.last) ||
      !ParseInt(parts[2], &r.attempt) || r.first < 0 || r.last < r.first || r.attempt < 0) {
    return absl::DataLossError(StrCat(path, " is damaged (", text.size(),
                                      " bytes, not \"<first> <last> <attempt>\"); the agent cannot tell which range "
                                      "it was publishing: restore it, or remove the state directory to start over"));
  }
  return r;
}

// The lake files of one roll: one per target directory (the path template
// expanded with each record's time), each written to a hidden temporary of
// this attempt and published when complete. Lines pass the flow's
// interceptors (levels, include, exclude; a line without a time of its own
// follows the decision on the line before it) and, for JSON records, are
// assembled into one object per record.
class RollWriter {
 public:
  RollWriter(lake::Storage* lake, const FlowOptions& flow, const std::string& host, const std::string& source_path,
             RE2* include, RE2* exclude, AgentStats* stats, std::string name, int64_t attempt,
             const quality::RowChecker* checker, uint64_t first_offset)
      : lake_(lake), f_(flow), host_(host), source_path_(source_path), include_(include), exclude_(exclude),
        stats_(*stats), name_(std::move(name)), attempt_(attempt), offset_(first_offset) {
    if (checker != nullptr) checker_.emplace(checker->Fork(/*share_unique_keys=*/false));
  }

  // A spool segment begins: lines without a time take its ingest time.
  void StartSegment(int64_t ingest_ms) {
    ingest_ms_ = ingest_ms;
    last_time_ = ingest_ms;
    current_ = nullptr;
  }

  // One line (its newline included, except maybe at the end of a segment).
  Status Line(std::string_view line) {
    uint64_t at = offset_;
    offset_ += line.size();
    int64_t line_time = core::ParseLogTime(line);
    if (f_.use_event_time && line_time >= 0) last_time_ = line_time;  // tracebacks follow the line before
    bool starts = line_time >= 0 || !decided_;
    if (starts) {  // a new record: decide again
      decided_ = true;
      std::string_view text = Bare(line);
      keep_ = (f_.levels.empty() ||
               std::find(f_.levels.begin(), f_.levels.end(), core::LogLineLevel(line)) != f_.levels.end()) &&
              (include_ == nullptr || RE2::PartialMatch(text, *include_)) &&
              (exclude_ == nullptr || !RE2::PartialMatch(text, *exclude_));
      if (keep_ && checker_) RETURN_IF_ERROR(Check(line, line_time, at));
    }
    if (!keep_) {
      ++stats_.filtered_lines;
      return absl::OkStatus();
    }
    if (reject_.active) {  // the record's lines go to quarantine, not to the dataset
      if (!reject_.raw.empty()) reject_.raw.push_back('\n');
      reject_.raw.append(Bare(line));
      return absl::OkStatus();
    }
    RETURN_IF_ERROR(Target(f_.use_event_time ? last_time_ : ingest_ms_));
    if (!f_.json_records) {
      if (current_->file) RETURN_IF_ERROR(current_->file->Append(line));
      bytes_ += line.size();
      return absl::OkStatus();
    }
    if (starts || rec_.out == nullptr) {
      RETURN_IF_ERROR(Emit());
      rec_.out = current_;
      rec_.text.assign(Bare(line));
      rec_.has_time = line_time >= 0;
      rec_.time_ms = rec_.has_time ? line_time : ingest_ms_;
      rec_.ingest_ms = ingest_ms_;
    } else {
      rec_.text.push_back('\n');
      rec_.text.append(Bare(line));
    }
    return absl::OkStatus();
  }

  // Closes and publishes every file (idempotently: one published before a
  // crash stays as it is): the rejects first, so a crash between the two
  // leaves the data to the retry, which finds the rejects already there.
  // After Finish(): the roll's records for the quality history.
  void AddTo(quality::RunTally* tally) const {
    if (checker_) tally->Add(*checker_, checked_, rejected_, warned_);
  }

  Status Finish() {
    RETURN_IF_ERROR(Emit());
    RETURN_IF_ERROR(EmitReject());
    if (rejects_.file) {
      RETURN_IF_ERROR(rejects_.file->Close());
      RETURN_IF_ERROR(lake::PublishStagedFile(lake_, rejects_.tmp, rejects_.final_path));
    }
    for (auto& [dir, out] : outs_) {
      if (!out.file) continue;
      RETURN_IF_ERROR(out.file->Close());
      RETURN_IF_ERROR(lake::PublishStagedFile(lake_, out.tmp, out.final_path));
      ++stats_.published_files;
    }
    stats_.published_bytes += bytes_;
    return absl::OkStatus();
  }

  // The lake directories this roll published into.
  std::set<std::string> Dirs() const {
    std::set<std::string> out;
    if (rejects_.file) out.insert(lake::ParentPath(rejects_.final_path));
    for (const auto& [dir, o] : outs_) {
      if (o.file) out.insert(lake::ParentPath(o.final_path));
    }
    return out;
  }

 private:
  struct Out {
    std::string tmp, final_path;
    std::unique_ptr<lake::WritableFile> file;
    bool exists = false;  // published before a crash: kept as it is
  };
  // The JSON record being assembled and the file it goes to.
  struct Record {
    Out* out = nullptr;
    std::string text;
    int64_t time_ms = 0;
    int64_t ingest_ms = 0;
    bool has_time = false;
  };

  // A record starts: the quality rules decide where it goes.
  Status Check(std::string_view line, int64_t line_time, uint64_t at) {
    RETURN_IF_ERROR(EmitReject());
    std::string_view bare = Bare(line);
    std::string ts, level;
    std::string_view message = bare;
    if (line_time >= 0) {
      ts = core::FormatIsoMillis(line_time);
      level = std::string(core::LogLineLevel(bare));
      message.remove_prefix(std::min(bare.size(), size_t{24} + level.size() + 1));
    }
    std::optional<std::string_view> values[] = {
        line_time >= 0 ? std::optional<std::string_view>(ts) : std::nullopt,
        line_time >= 0 && !level.empty() ? std::optional<std::string_view>(level) : std::nullopt,
        std::string_view(host_), std::string_view(source_path_), message};
    ++checked_;
    quality::RowChecker::Verdict v = checker_->CheckRecord(values);
    if (v.passed()) return absl::OkStatus();
    const quality::Rule& rule = checker_->rules()[static_cast<size_t>(v.rule)];
    std::string source = fmt::format("{}:{}", source_path_, at);
    switch (v.action) {
      case quality::Action::kWarn:
        ++stats_.quality_warned;
        ++warned_;
        return absl::OkStatus();
      case quality::Action::kFail:
        return quality::QualityFailedError(fmt::format(
            "data quality: the record at {} failed {} ({}, action fail): {}; nothing of this roll was published and "
            "its lines stay in the agent's spool: fix the rule or the data, then start the agent again",
            source, rule.Label(), rule.Describe(), v.reason));
      case quality::Action::kReject:
        break;
    }
    ++stats_.quality_rejected;
    ++rejected_;
    reject_ = {true, rule.Label(), v.reason, std::move(source), ""};  // Line() adds the record's lines
    return absl::OkStatus();
  }

  // Writes the pending rejected record to <dataset>/_rejects/<roll>/part-00000.
  Status EmitReject() {
    if (!reject_.active) return absl::OkStatus();
    if (!rejects_.file && !rejects_.exists) {
      ASSIGN_OR_RETURN(std::string d, lake::NormalizePath(TemplateDataset(f_.target_dir)));
      std::string dir = lake::JoinPath(d, quality::RejectsDir(name_));
      rejects_.final_path = lake::JoinPath(dir, "part-00000");
      rejects_.tmp = lake::JoinPath(dir, fmt::format(".part-00000.{}.tmp", attempt_));
      for (int64_t earlier = 1; earlier < attempt_; ++earlier) {  // an earlier attempt's leftovers
        Status gone = lake_->Delete(lake::JoinPath(dir, fmt::format(".part-00000.{}.tmp", earlier)), false);
        if (!gone.ok() && !absl::IsNotFound(gone)) return gone;
      }
      ASSIGN_OR_RETURN(rejects_.exists, lake::Exists(lake_, rejects_.final_path));
      if (!rejects_.exists) {
        lake::CreateOptions co;
        co.overwrite = true;
        ASSIGN_OR_RETURN(rejects_.file, lake_->Create(rejects_.tmp, co));
      }
    }
    if (rejects_.file) {
      nlohmann::json j = {{"rule", reject_.rule}, {"reason", reject_.reason}, {"source", reject_.source},
                          {"raw", reject_.raw}};
      std::string out = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      out.push_back('\n');
      RETURN_IF_ERROR(rejects_.file->Append(out));
    }
    reject_ = Reject{};
    return absl::OkStatus();
  }

  static std::string_view Bare(std::string_view line) {
    return line.substr(0, line.size() - (line.ends_with('\n') ? 1 : 0));
  }

  // Makes current_ the output of the directory for time `when`. The template
  // is expanded once per second of time.
  Status Target(int64_t when) {
    if (when / 1000 != dir_second_) {
      dir_second_ = when / 1000;
      dir_ = ExpandTemplate(f_.target_dir, when, host_);
    }
    if (current_ != nullptr && dir_ == current_dir_) return absl::OkStatus();
    current_dir_ = dir_;
    current_ = &outs_[dir_];
    if (current_->file || current_->exists) return absl::OkStatus();
    ASSIGN_OR_RETURN(std::string d, lake::NormalizePath(dir_));
    current_->final_path = lake::JoinPath(d, name_);
    current_->tmp = lake::JoinPath(d, fmt::format(".{}.{}.tmp", name_, attempt_));
    for (int64_t earlier = 1; earlier < attempt_; ++earlier) {  // an earlier attempt's leftovers
      Status gone = lake_->Delete(lake::JoinPath(d, fmt::format(".{}.{}.tmp", name_, earlier)), false);
      if (!gone.ok() && !absl::IsNotFound(gone)) return gone;
    }
    ASSIGN_OR_RETURN(bool exists, lake::Exists(lake_, current_->final_path));
    if (!exists && attempt_ > 1) {  // a replay: the file may since have been compacted
      ASSIGN_OR_RETURN(std::set<std::string> merged, Superseded(lake_, d));
      exists = merged.contains(name_);
    }
    current_->exists = exists;
    if (exists) return absl::OkStatus();
    lake::CreateOptions co;
    co.overwrite = true;
    ASSIGN_OR_RETURN(std::unique_ptr<lake::WritableFile> raw, lake_->Create(current_->tmp, co));
    current_->file = lake::NewCompressingFile(std::move(raw), f_.codec);
    return absl::OkStatus();
  }

  Status Emit() {
    if (rec_.out == nullptr) return absl::OkStatus();
    std::string_view text = rec_.text;
    std::string_view level = rec_.has_time ? core::LogLineLevel(text) : std::string_view();
    std::string_view message = text;
    if (rec_.has_time) message.remove_prefix(std::min(text.size(), size_t{24} + level.size() + 1));
    nlohmann::json j = {{"ts", core::FormatIsoMillis(rec_.time_ms)},
                        {"level", std::string(level)},
                        {"host", host_},
                        {"path", source_path_},
                        {"ingest_ts", core::FormatIsoMillis(rec_.ingest_ms)},
                        {"message", std::string(message)}};
    std::string out = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    out.push_back('\n');
    if (rec_.out->file) RETURN_IF_ERROR(rec_.out->file->Append(out));
    bytes_ += out.size();
    rec_ = Record{};
    return absl::OkStatus();
  }

  lake::Storage* lake_;
  const FlowOptions& f_;
  const std::string& host_;
  const std::string& source_path_;
  RE2* include_;
  RE2* exclude_;
  AgentStats& stats_;
  std::string name_;
  int64_t attempt_;
  std::map<std::string, Out> outs_;
  Out* current_ = nullptr;
  std::string current_dir_, dir_;
  int64_t dir_second_ = INT64_MIN;
  int64_t ingest_ms_ = 0, last_time_ = 0;
  bool keep_ = true, decided_ = false;
  Record rec_;
  uint64_t bytes_ = 0;
  // Quality: the flow's rules (a fork per roll), the record being
  // quarantined, and the roll's rejects file.
  struct Reject {
    bool active = false;
    std::string rule, reason, source, raw;
  };
  std::optional<quality::RowChecker> checker_;
  uint64_t checked_ = 0, rejected_ = 0, warned_ = 0;  // records this roll checked (for the history)
  uint64_t offset_ = 0;  // of the next line in its source file
  Reject reject_;
  Out rejects_;
};

// Calls `line` for each line of a spool segment, streamed in 1 MiB chunks: a
// roll never holds a whole segment in memory.
Status ForEachLine(const Segment& g, const std::function<Status(std::string_view)>& line) {
  std::ifstream in(g.path, std::ios::binary);
  if (!in) return absl::NotFoundError(StrCat("spool segment ", g.path, " is missing"));
  std::string data;
  std::vector<char> chunk(1 << 20);
  bool eof = false;
  while (!eof) {
    in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    data.append(chunk.data(), static_cast<size_t>(in.gcount()));
    eof = !in;
    size_t pos = 0;
    while (pos < data.size()) {
      size_t nl = data.find('\n', pos);
      if (nl == std::string::npos && !eof) break;  // the rest comes with the next chunk
      size_t end = nl == std::string::npos ? data.size() : nl + 1;
      RETURN_IF_ERROR(line(std::string_view(data.data() + pos, end - pos)));
      pos = end;
    }
    data.erase(0, pos);
  }
  return absl::OkStatus();
}

}  // namespace

std::string ExpandTemplate(std::string_view tmpl, int64_t time_ms, const std::string& host) {
  using namespace std::chrono;
  sys_time<milliseconds> tp{milliseconds(time_ms)};
  sys_days day = floor<days>(tp);
  year_month_day ymd(day);
  hh_mm_ss hms(floor<seconds>(tp - day));
  std::string out;
  for (size_t i = 0; i < tmpl.size(); ++i) {
    char c = tmpl[i];
    if (c != '%' || i + 1 == tmpl.size()) {
      out.push_back(c);
      continue;
    }
    char e = tmpl[++i];
    switch (e) {
      case 'Y': out += fmt::format("{:04d}", static_cast<int>(ymd.year())); break;
      case 'm': out += fmt::format("{:02d}", static_cast<unsigned>(ymd.month())); break;
      case 'd': out += fmt::format("{:02d}", static_cast<unsigned>(ymd.day())); break;
      case 'H': out += fmt::format("{:02d}", hms.hours().count()); break;
      case 'M': out += fmt::format("{:02d}", hms.minutes().count()); break;
      case 'S': out += fmt::format("{:02d}", hms.seconds().count()); break;
      case '%': out.push_back('%'); break;
      case '{': {
        size_t close = tmpl.find('}', i);
        std::string_view name = close == std::string_view::npos ? "" : tmpl.substr(i + 1, close - i - 1);
        if (name == "host") {
          out += host;
          i = close;
          break;
        }
        out.push_back('%');
        out.push_back(e);
        break;
      }
      default:
        out.push_back('%');
        out.push_back(e);
    }
  }
  return out;
}

bool Agent::Impl::RollDue(const Source* s, bool draining) const {
  if (s->segments.empty()) return false;
  if (draining) return true;  // stopping: one more try even while backing off
  if (Clock::now() < s->retry_at) return false;
  if (s->intent_pending) return true;
  const FlowOptions& f = o.flows[s->flow];
  uint64_t bytes = s->segments.back().end - s->segments.front().start;
  auto now = Clock::now();
  return bytes >= f.roll_bytes || now - s->segments.front().sealed_at >= f.roll_interval ||
         now - s->last_data >= f.idle_timeout || (s->closed && s->unsealed.empty());
}

Status Agent::Impl::Roll(Source* s) {
  std::string intent = fmt::format("{} {} 0\n", s->segments.front().start, s->segments.back().end);
  RETURN_IF_ERROR(core::WriteFileAtomically(s->spool_dir(o.state_dir) + "/roll", intent));
  s->intent_pending = true;
  return FinishRoll(s);
}

namespace {

// The hidden temporaries in `dir` of files already published there, removed
// (best effort). An attempt killed mid-file may leave one that the lake
// creates only after the next attempt cleaned up: WebHDFS's DataNode can
// carry out a dead client's create a moment later. Done on a retried roll and
// on each process's first roll into a directory.
void SweepStaleTemporaries(lake::Storage* lake, const std::string& dir) {
  StatusOr<std::vector<lake::FileInfo>> entries = lake->List(dir);
  if (!entries.ok()) return;
  std::set<std::string_view> names;
  for (const lake::FileInfo& e : *entries) names.insert(e.name);
  for (const lake::FileInfo& e : *entries) {
    std::string_view n = e.name;  // ".<published name>.<attempt>.tmp"
    if (e.is_dir || !n.starts_with('.') || !n.ends_with(".tmp")) continue;
    n = n.substr(1, n.size() - 5);
    size_t dot = n.rfind('.');
    if (dot == std::string_view::npos || dot + 1 == n.size() ||
        !std::all_of(n.begin() + static_cast<ptrdiff_t>(dot) + 1, n.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      continue;
    }
    if (names.contains(n.substr(0, dot))) (void)lake->Delete(e.path, false);
  }
}

}  // namespace

// Publishes the range named by the roll intent, then commits it. Each attempt
// writes its lake temporaries under its own number (a writer of an earlier
// attempt, killed mid-file, may still hold a lease on its own) and removes
// those of earlier attempts.
Status Agent::Impl::FinishRoll(Source* s) {
  std::string intent_path = s->spool_dir(o.state_dir) + "/roll";
  ASSIGN_OR_RETURN(RollIntent intent, ReadRollIntent(intent_path));
  ++intent.attempt;
  RETURN_IF_ERROR(core::WriteFileAtomically(intent_path,
                                            fmt::format("{} {} {}\n", intent.first, intent.last, intent.attempt)));
  const auto first = static_cast<uint64_t>(intent.first), last = static_cast<uint64_t>(intent.last);
  const FlowOptions& f = o.flows[s->flow];
  std::string name = fmt::format("{}.{}.{}-{}{}{}", s->prefix, s->id, first, last, f.file_suffix,
                                 lake::CodecExtension(f.codec));
  const std::optional<quality::RowChecker>& checker = checkers[s->flow];
  RollWriter writer(lake, f, o.host, s->path, include[s->flow].get(), exclude[s->flow].get(), &stats, name,
                    intent.attempt, checker ? &*checker : nullptr, first);
  std::vector<const Segment*> segs;
  for (const Segment& g : s->segments) {
    if (g.start >= first && g.end <= last) segs.push_back(&g);
  }
  for (const Segment* g : segs) {
    writer.StartSegment(g->ingest_ms);
    RETURN_IF_ERROR(ForEachLine(*g, [&](std::string_view line) { return writer.Line(line); }));
  }
  RETURN_IF_ERROR(writer.Finish());
  for (const std::string& dir : writer.Dirs()) {
    if (intent.attempt > 1 || swept_dirs.insert(dir).second) SweepStaleTemporaries(lake, dir);
  }
  if (std::optional<quality::RunTally>& tally = tallies[s->flow]) writer.AddTo(&*tally);
  // Commit, then forget the spool.
  s->committed = last;
  s->last_commit_ms = core::UnixMillis();
  s->last_error.clear();
  s->failures = 0;
  RETURN_IF_ERROR(SaveCheckpoint());
  std::error_code ec;
  for (const Segment* g : segs) {
    fs::remove(g->path, ec);
    stats.spool_bytes -= std::min<uint64_t>(stats.spool_bytes, g->end - g->start);
  }
  fs::remove(intent_path, ec);
  s->intent_pending = false;
  std::erase_if(s->segments, [&](const Segment& g) { return g.end <= last; });
  return absl::OkStatus();
}

}  // namespace comptoir::agent
