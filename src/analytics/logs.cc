#include "comptoir/analytics/logs.h"

#include <re2/re2.h>

#include <algorithm>

#include "comptoir/core/strings.h"
#include "comptoir/core/time.h"
#include "comptoir/lake/compression.h"
#include "nlohmann/json.hpp"

namespace comptoir::analytics {
namespace {

// Files below `dir`, depth first.
Status ListFiles(lake::Storage* lake, const std::string& dir, std::vector<lake::FileInfo>* out) {
  StatusOr<std::vector<lake::FileInfo>> entries = lake->List(dir);
  if (absl::IsNotFound(entries.status())) return absl::OkStatus();
  RETURN_IF_ERROR(entries.status());
  for (lake::FileInfo& f : *entries) {
    if (lake::IsHiddenName(f.name)) continue;
    if (f.is_dir) {
      RETURN_IF_ERROR(ListFiles(lake, f.path, out));
    } else {
      out->push_back(std::move(f));
    }
  }
  return absl::OkStatus();
}

// A record: a line with its own time and the lines without one after it.
struct Record {
  int64_t ts = -1;
  std::string level;
  std::string text;
};

std::vector<Record> Records(std::string_view data) {
  std::vector<Record> out;
  for (std::string_view line : Split(data, '\n', true)) {
    if (line.starts_with('{')) {  // the agent's JSON records
      nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_object()) {
        Record r;
        // ISO 8601 ("2026-11-27T21:48:14.123Z", the agent's JSON) or a log-line time.
        std::string ts = j.contains("ts") && j["ts"].is_string() ? j["ts"].get<std::string>() : "";
        r.ts = core::ParseIsoTime(ts);
        if (r.ts < 0) r.ts = core::ParseLogTime(ts);
        r.level = j.value("level", "");
        r.text = j.value("message", std::string(line));
        out.push_back(std::move(r));
        continue;
      }
    }
    int64_t ts = core::ParseLogTime(line);
    if (ts < 0 && !out.empty()) {
      out.back().text += "\n";
      out.back().text += line;
      continue;
    }
    Record r;
    r.ts = ts;
    r.level = std::string(core::LogLineLevel(line));
    r.text = std::string(line);
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace

LogIndex::LogIndex(lake::Storage* lake, std::string root) : lake_(lake), root_(std::move(root)) {}

StatusOr<LogResult> LogIndex::Search(const LogQuery& q) {
  std::unique_ptr<RE2> re;
  if (q.regex && !q.text.empty()) {
    RE2::Options opts;
    opts.set_case_sensitive(false);
    opts.set_log_errors(false);
    re = std::make_unique<RE2>(q.text, opts);
    if (!re->ok()) return absl::InvalidArgumentError(StrCat("bad regular expression: ", re->error()));
  }
  std::string needle = ToLower(q.text);
  std::vector<lake::FileInfo> files;
  RETURN_IF_ERROR(ListFiles(lake_, root_, &files));
  LogResult result;
  std::vector<LogLine> found;
  for (const lake::FileInfo& f : files) {
    {
      std::lock_guard<std::mutex> l(mu_);
      auto it = stats_.find(f.path);
      if (it != stats_.end() && it->second.size == f.size && it->second.mtime_ms == f.mtime_ms) {
        const FileStats& s = it->second;
        bool out_of_range = s.max_ts < q.from_ms || s.min_ts > q.to_ms;
        bool no_level = !q.levels.empty() && std::none_of(q.levels.begin(), q.levels.end(), [&](const std::string& lv) {
          auto c = s.levels.find(lv);
          return c != s.levels.end() && c->second > 0;
        });
        if ((out_of_range && s.min_ts <= s.max_ts) || no_level) {
          ++result.files_skipped;
          continue;
        }
      }
    }
    ++result.files_scanned;
    ASSIGN_OR_RETURN(std::string data, lake::ReadDecompressed(lake_, f.path));
    FileStats s;
    s.size = f.size;
    s.mtime_ms = f.mtime_ms;
    for (Record& r : Records(data)) {
      if (r.ts >= 0) s.min_ts = std::min(s.min_ts, r.ts), s.max_ts = std::max(s.max_ts, r.ts);
      ++s.levels[r.level];
      if (r.ts >= 0 ? (r.ts < q.from_ms || r.ts > q.to_ms) : (q.from_ms != INT64_MIN || q.to_ms != INT64_MAX)) continue;
      if (!q.levels.empty() && std::find(q.levels.begin(), q.levels.end(), r.level) == q.levels.end()) continue;
      if (re ? !RE2::PartialMatch(r.text, *re) : (!needle.empty() && ToLower(r.text).find(needle) == std::string::npos)) {
        continue;
      }
      found.push_back(LogLine{r.ts, std::move(r.level), std::move(r.text), f.path});
    }
    std::lock_guard<std::mutex> l(mu_);
    stats_[f.path] = std::move(s);
  }
  std::stable_sort(found.begin(), found.end(), [](const LogLine& a, const LogLine& b) { return a.ts_ms > b.ts_ms; });
  if (found.size() > q.limit) {
    result.truncated = true;
    found.resize(q.limit);
  }
  result.lines = std::move(found);
  return result;
}

}  // namespace comptoir::analytics
