// The spool: records sealed into durable segments in the state directory
// (<state>/spool/<source id>/<start>-<end>.<ingest ms>), and loaded back at
// start-up.
#include <filesystem>

#include "agent_impl.h"
#include "comptoir/core/files.h"
#include "comptoir/core/strings.h"
#include "comptoir/core/time.h"
#include "fmt/format.h"

namespace comptoir::agent {

namespace fs = std::filesystem;

// "<start>-<end>.<ingest ms>"
std::optional<Segment> ParseSegmentName(std::string_view name) {
  size_t dash = name.find('-');
  size_t dot = name.find('.');
  if (dash == std::string_view::npos || dot == std::string_view::npos || dot < dash) return std::nullopt;
  Segment s;
  int64_t a = 0, b = 0, t = 0;
  if (!ParseInt(name.substr(0, dash), &a) || !ParseInt(name.substr(dash + 1, dot - dash - 1), &b) ||
      !ParseInt(name.substr(dot + 1), &t) || a < 0 || b <= a) {
    return std::nullopt;
  }
  s.start = static_cast<uint64_t>(a);
  s.end = static_cast<uint64_t>(b);
  s.ingest_ms = t;
  return s;
}

Status Agent::Impl::LoadSpool(Source* s) {
  std::string dir = s->spool_dir(o.state_dir);
  std::error_code ec;
  if (!fs::exists(dir, ec)) return absl::OkStatus();
  for (const auto& f : fs::directory_iterator(dir, ec)) {
    std::string name = f.path().filename().string();
    if (name.ends_with(".tmp")) {
      fs::remove(f.path(), ec);
      continue;
    }
    std::optional<Segment> seg = ParseSegmentName(name);
    if (!seg || seg->end <= s->committed) {
      if (seg) fs::remove(f.path(), ec);  // already published
      continue;
    }
    seg->path = f.path().string();
    seg->sealed_at = Clock::now();
    s->segments.push_back(*seg);
  }
  std::sort(s->segments.begin(), s->segments.end(),
            [](const Segment& a, const Segment& b) { return a.start < b.start; });
  for (const Segment& seg : s->segments) stats.spool_bytes += seg.end - seg.start;
  if (!s->segments.empty()) s->sealed_end = std::max(s->sealed_end, s->segments.back().end);
  s->read_pos = s->sealed_end;
  return absl::OkStatus();
}


Status Agent::Impl::Seal(Source* s) {
  if (s->unsealed.empty()) return absl::OkStatus();
  uint64_t end = s->read_pos - s->pending.size();
  Segment seg;
  seg.start = s->sealed_end;
  seg.end = end;
  seg.ingest_ms = core::UnixMillis();
  seg.sealed_at = Clock::now();
  std::string dir = s->spool_dir(o.state_dir);
  std::error_code ec;
  fs::create_directories(dir, ec);
  seg.path = fmt::format("{}/{}-{}.{}", dir, seg.start, seg.end, seg.ingest_ms);
  // The segment's data is synced; its name is made durable by the directory
  // sync of the roll intent, written in the same directory before anything
  // is published (a segment lost to a power cut before that is read again).
  RETURN_IF_ERROR(core::WriteFileAtomically(seg.path, s->unsealed, /*sync_dir=*/false));
  if (s->segments.empty() && s->sealed_end == s->committed && !Checkpointed(s->id)) {
    RETURN_IF_ERROR(SaveCheckpoint());  // the generation is known before its first roll
  }
  stats.bytes += s->unsealed.size();
  stats.spool_bytes += seg.end - seg.start;
  s->segments.push_back(seg);
  s->sealed_end = end;
  std::string().swap(s->unsealed);  // idle files hold no buffer
  return absl::OkStatus();
}

}  // namespace comptoir::agent
