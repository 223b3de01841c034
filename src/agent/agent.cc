#include "comptoir/agent/agent.h"

#include <fcntl.h>
#include <glob.h>
#include <isa-l/crc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "comptoir/core/time.h"
#include "comptoir/agent/compact.h"
#include "comptoir/core/strings.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"
#include "re2/re2.h"

namespace comptoir::agent {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr size_t kReadChunk = 256 << 10;     // per file per turn: fairness across files
constexpr size_t kSealBytes = 4 << 20;       // seal at once past this much (else every seal_interval)
constexpr size_t kFingerprintBytes = 256;    // of a file's first bytes
constexpr auto kDiscoverEvery = std::chrono::milliseconds(500);
constexpr auto kRotateWait = std::chrono::seconds(1);  // drained and gone: let go
constexpr auto kStatusEvery = std::chrono::seconds(1);

Status Errno(int err, std::string_view what) { return ErrnoToStatus(err, std::string(what)); }

Status FsyncPath(const std::string& path, bool dir) {
  int fd = ::open(path.c_str(), (dir ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
  if (fd < 0) return Errno(errno, StrCat("open ", path));
  int rc = dir ? ::fsync(fd) : ::fdatasync(fd);
  int err = errno;
  ::close(fd);
  return rc == 0 ? absl::OkStatus() : Errno(err, StrCat("sync ", path));
}

// Writes `data` to `path` atomically and durably (temporary, fdatasync,
// rename, and with `sync_dir` an fsync of the directory so the rename
// survives a power loss).
Status WriteFileAtomically(const std::string& path, std::string_view data, bool sync_dir = true) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Errno(errno, StrCat("create ", tmp));
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return Errno(err, StrCat("write ", tmp));
    }
    done += static_cast<size_t>(n);
  }
  if (::fdatasync(fd) != 0) {
    int err = errno;
    ::close(fd);
    return Errno(err, StrCat("sync ", tmp));
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return Errno(errno, StrCat("rename ", tmp));
  return sync_dir ? FsyncPath(fs::path(path).parent_path().string(), true) : absl::OkStatus();
}

StatusOr<std::string> ReadLocalFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(StrCat(path, " does not exist"));
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

struct Identity {
  uint64_t dev = 0;
  uint64_t ino = 0;
  int64_t btime_ns = 0;  // birth time; 0 where the file system has none
  bool operator==(const Identity&) const = default;
};

struct FileStat {
  Identity id;
  uint64_t size = 0;
  bool regular = false;
  bool deleted = false;  // no name left (st_nlink == 0)
};

bool StatFd(int fd, const char* path, FileStat* out) {
  struct statx sx;
  int rc = fd >= 0 ? ::statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS | STATX_BTIME, &sx)
                   : ::statx(AT_FDCWD, path, 0, STATX_BASIC_STATS | STATX_BTIME, &sx);
  if (rc != 0) return false;
  out->id.dev = (static_cast<uint64_t>(sx.stx_dev_major) << 32) | sx.stx_dev_minor;
  out->id.ino = sx.stx_ino;
  out->id.btime_ns = (sx.stx_mask & STATX_BTIME) != 0
                         ? sx.stx_btime.tv_sec * 1000000000LL + sx.stx_btime.tv_nsec
                         : 0;
  out->size = sx.stx_size;
  out->regular = S_ISREG(sx.stx_mode);
  out->deleted = sx.stx_nlink == 0;
  return true;
}

// CRC of the first `len` bytes of `fd`, or nullopt when the file is shorter.
std::optional<uint32_t> Fingerprint(int fd, size_t len) {
  char buf[kFingerprintBytes];
  ssize_t n = ::pread(fd, buf, len, 0);
  if (n < 0 || static_cast<size_t>(n) < len) return std::nullopt;
  return crc32_gzip_refl(0, reinterpret_cast<const unsigned char*>(buf), len);
}

std::string SourceId(const Identity& id, uint32_t generation) {
  std::string key = fmt::format("{}:{}:{}:{}", id.dev, id.ino, id.btime_ns, generation);
  uint32_t a = crc32_gzip_refl(0, reinterpret_cast<const unsigned char*>(key.data()), key.size());
  uint32_t b = crc32_gzip_refl(0x9e3779b9, reinterpret_cast<const unsigned char*>(key.data()), key.size());
  return fmt::format("{:08x}{:08x}", a, b);
}

// A sealed spool segment: the bytes [start, end) of one file generation.
struct Segment {
  uint64_t start = 0;
  uint64_t end = 0;
  int64_t ingest_ms = 0;
  Clock::time_point sealed_at;
  std::string path;
};

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

}  // namespace

// ---------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------

struct Agent::Impl {
  // One generation of one file.
  struct Source {
    size_t flow = 0;
    std::string id;
    Identity ident;
    uint32_t generation = 0;
    uint32_t fp = 0;
    uint32_t fp_len = 0;
    std::string path;    // where it was last seen
    std::string prefix;  // lake file prefix
    int fd = -1;
    uint64_t size = 0;
    uint64_t read_pos = 0;        // bytes consumed from the file
    std::string pending;          // an incomplete record: [pending_start, read_pos)
    Clock::time_point pending_since;
    bool skipping = false;        // dropping the rest of an over-long record
    std::string unsealed;         // complete records [sealed_end, sealed_end + size)
    Clock::time_point first_unsealed;
    uint64_t sealed_end = 0;
    uint64_t committed = 0;
    std::vector<Segment> segments;
    Clock::time_point last_data = Clock::now();
    Clock::time_point eof_since{};
    uint64_t eof_pos = 0;
    bool listed = true;  // matched a glob at the last discovery
    bool closed = false; // no more reading (rotated away, drained, or superseded)
    bool intent_pending = false;  // a roll intent waits to be finished
    int64_t last_commit_ms = 0;
    std::string last_error;
    Clock::time_point retry_at;
    int failures = 0;

    std::string spool_dir(const std::string& state) const { return StrCat(state, "/spool/", id); }
  };

  lake::Storage* lake = nullptr;
  AgentOptions o;
  std::vector<std::unique_ptr<RE2>> multiline;  // per flow, may be null
  std::vector<std::unique_ptr<RE2>> include, exclude;  // per flow, may be null
  std::vector<std::unique_ptr<Source>> sources;
  nlohmann::json checkpoint;  // {"sources": {id: {...}}, "started": true}
  bool first_start = false;
  AgentStats stats;
  Clock::time_point next_discover;
  Clock::time_point next_status;

  Source* Find(const Identity& ident, size_t flow) {
    for (auto& s : sources) {
      if (!s->closed && s->flow == flow && s->ident == ident) return s.get();
    }
    return nullptr;
  }

  // --- state ------------------------------------------------------------------

  Status SaveCheckpoint() {
    nlohmann::json j = {{"started", true}, {"sources", nlohmann::json::object()}};
    for (const auto& s : sources) {
      j["sources"][s->id] = {{"flow", o.flows[s->flow].name}, {"path", s->path},
                             {"prefix", s->prefix}, {"dev", s->ident.dev}, {"ino", s->ident.ino},
                             {"btime_ns", s->ident.btime_ns}, {"generation", s->generation},
                             {"fp", s->fp}, {"fp_len", s->fp_len},
                             {"committed", s->committed}, {"last_commit_ms", s->last_commit_ms}};
    }
    checkpoint = j;
    return WriteFileAtomically(o.state_dir + "/checkpoints.json", j.dump(1));
  }

  Status WriteStatus() {
    nlohmann::json files = nlohmann::json::array();
    for (const FileStatus& f : Files()) {
      files.push_back({{"flow", f.flow}, {"source_id", f.source_id}, {"path", f.path},
                       {"size", f.size}, {"read", f.read}, {"committed", f.committed},
                       {"last_commit_ms", f.last_commit_ms}, {"last_error", f.last_error},
                       {"open", f.open}});
    }
    nlohmann::json j = {{"updated_ms", core::UnixMillis()}, {"pid", getpid()}, {"files", files},
                        {"spool_bytes", stats.spool_bytes}};
    return WriteFileAtomically(o.state_dir + "/status.json", j.dump(1));
  }

  std::vector<FileStatus> Files() const {
    std::vector<FileStatus> out;
    for (const auto& s : sources) {
      FileStatus f;
      f.flow = o.flows[s->flow].name;
      f.source_id = s->id;
      f.path = s->path;
      f.size = s->size;
      f.read = s->sealed_end + s->unsealed.size();
      f.committed = s->committed;
      f.last_commit_ms = s->last_commit_ms;
      f.last_error = s->last_error;
      f.open = s->fd >= 0;
      out.push_back(f);
    }
    return out;
  }

  // --- start-up recovery ------------------------------------------------------------

  Status Recover() {
    std::error_code ec;
    fs::create_directories(o.state_dir + "/spool", ec);
    if (ec) return absl::InternalError(StrCat("cannot create ", o.state_dir, "/spool: ", ec.message()));
    StatusOr<std::string> text = ReadLocalFile(o.state_dir + "/checkpoints.json");
    first_start = !text.ok();
    if (text.ok()) {
      try {
        checkpoint = nlohmann::json::parse(*text);
      } catch (const std::exception& e) {
        return absl::DataLossError(StrCat(o.state_dir, "/checkpoints.json is corrupt (", e.what(),
                                          "); restore it or remove the state directory to start over"));
      }
    }
    // Every known generation comes back, closed; Discover() reopens live ones.
    if (checkpoint.contains("sources")) {
      for (const auto& [id, e] : checkpoint["sources"].items()) {
        auto s = std::make_unique<Source>();
        std::string flow = e.value("flow", "");
        auto it = std::find_if(o.flows.begin(), o.flows.end(), [&](const FlowOptions& f) { return f.name == flow; });
        if (it == o.flows.end()) continue;  // a flow no longer configured
        s->flow = static_cast<size_t>(it - o.flows.begin());
        s->id = id;
        s->path = e.value("path", "");
        s->prefix = e.value("prefix", "");
        s->ident = {e.value("dev", uint64_t{0}), e.value("ino", uint64_t{0}), e.value("btime_ns", int64_t{0})};
        s->generation = e.value("generation", 0u);
        s->fp = e.value("fp", 0u);
        s->fp_len = e.value("fp_len", 0u);
        s->committed = e.value("committed", uint64_t{0});
        s->last_commit_ms = e.value("last_commit_ms", int64_t{0});
        s->sealed_end = s->committed;
        s->read_pos = s->committed;
        s->closed = true;
        sources.push_back(std::move(s));
      }
    }
    // Spool: drop unsealed temporaries, pick up sealed segments, finish rolls.
    for (auto& s : sources) RETURN_IF_ERROR(LoadSpool(s.get()));
    for (const auto& d : fs::directory_iterator(o.state_dir + "/spool", ec)) {
      std::string id = d.path().filename().string();
      bool known = std::any_of(sources.begin(), sources.end(), [&](const auto& s) { return s->id == id; });
      if (!known) fs::remove_all(d.path(), ec);  // never checkpointed: nothing was published
    }
    for (auto& s : sources) {
      if (!fs::exists(s->spool_dir(o.state_dir) + "/roll")) continue;
      s->intent_pending = true;
      Status r = FinishRoll(s.get());  // the lake may be down: then Turn() retries
      if (!r.ok()) {
        s->last_error = std::string(r.message());
        s->failures = 1;
        s->retry_at = Clock::now() + std::chrono::seconds(1);
      }
    }
    // Reopen the generations whose file is still there (also under a new name
    // in the same directory: a rotation that happened while we were down).
    for (auto& s : sources) Reattach(s.get());
    return absl::OkStatus();
  }

  Status LoadSpool(Source* s) {
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

  void Reattach(Source* s) {
    std::vector<std::string> candidates = {s->path};
    std::error_code ec;
    fs::path dir = fs::path(s->path).parent_path();
    for (const auto& d : fs::directory_iterator(dir, ec)) candidates.push_back(d.path().string());
    for (const std::string& p : candidates) {
      FileStat st;
      if (!StatFd(-1, p.c_str(), &st) || !st.regular || !(st.id == s->ident)) continue;
      int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) continue;
      if (!SameContent(s, fd, st.size)) {
        ::close(fd);
        continue;
      }
      s->fd = fd;
      s->path = p;
      s->size = st.size;
      s->closed = false;
      s->listed = false;  // Discover() says whether a glob still matches it
      return;
    }
  }

  // The generation's fingerprint still matches and the file did not shrink
  // below what was read (else it is another file or a truncated one).
  bool SameContent(const Source* s, int fd, uint64_t size) {
    if (size < s->read_pos) return false;
    if (s->fp_len == 0) return true;
    std::optional<uint32_t> fp = Fingerprint(fd, s->fp_len);
    return fp && *fp == s->fp;
  }

  // --- discovery ----------------------------------------------------------------------

  void Discover() {
    for (auto& s : sources) s->listed = false;
    for (size_t f = 0; f < o.flows.size(); ++f) {
      for (const std::string& pattern : o.flows[f].sources) {
        glob_t g{};
        if (::glob(pattern.c_str(), 0, nullptr, &g) == 0) {
          for (size_t i = 0; i < g.gl_pathc; ++i) Track(f, g.gl_pathv[i]);
        }
        ::globfree(&g);
      }
    }
  }

  void Track(size_t flow, const std::string& path) {
    FileStat st;
    if (!StatFd(-1, path.c_str(), &st) || !st.regular) return;  // symlinks are followed
    if (Source* s = Find(st.id, flow)) {
      s->listed = true;
      s->path = path;
      return;
    }
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    FileStat fst;
    if (!StatFd(fd, nullptr, &fst) || !(fst.id == st.id)) {  // replaced in between
      ::close(fd);
      return;
    }
    auto s = std::make_unique<Source>();
    s->flow = flow;
    s->ident = st.id;
    s->path = path;
    s->prefix = o.flows[flow].file_prefix.empty() ? fs::path(path).filename().string()
                                                  : o.flows[flow].file_prefix;
    // An older generation of the same inode: a new generation follows it.
    for (const auto& old : sources) {
      if (old->flow == flow && old->ident == st.id) s->generation = std::max(s->generation, old->generation + 1);
    }
    s->id = SourceId(s->ident, s->generation);
    s->fd = fd;
    s->size = fst.size;
    if (first_start && o.flows[flow].start_at_end) {
      s->read_pos = s->sealed_end = s->committed = fst.size;
    }
    s->last_data = Clock::now();
    sources.push_back(std::move(s));
  }

  // --- reading ------------------------------------------------------------------------

  // Appends complete lines to `unsealed`, cutting lines longer than the limit.
  void AppendLines(Source* s, std::string_view done) {
    size_t max = o.flows[s->flow].max_record_bytes;
    if (s->unsealed.empty()) {
      s->first_unsealed = Clock::now();
      // Sized once for a whole seal: growing by doubling would hold the old
      // and the new buffer at once (the agent's peak memory).
      s->unsealed.reserve(kSealBytes + kReadChunk);
    }
    size_t pos = 0;
    while (pos < done.size()) {
      size_t nl = done.find('\n', pos);
      size_t end = nl == std::string_view::npos ? done.size() : nl + 1;
      if (end - pos > max + 1) {
        s->unsealed.append(done.substr(pos, max));
        s->unsealed.push_back('\n');
        ++stats.truncated_records;
      } else {
        s->unsealed.append(done.substr(pos, end - pos));
      }
      ++stats.lines;
      pos = end;
    }
  }

  // Moves complete records from `pending` to `unsealed`. The source offset
  // of `pending`'s first byte is always read_pos - pending.size().
  void Frame(Source* s) {
    const FlowOptions& f = o.flows[s->flow];
    auto now = Clock::now();
    if (s->skipping) {  // the rest of an over-long line: consumed, not kept
      size_t nl = s->pending.find('\n');
      if (nl == std::string::npos) {
        s->pending.clear();
        return;
      }
      s->pending.erase(0, nl + 1);
      s->skipping = false;
      s->pending_since = now;
    }
    RE2* start = multiline[s->flow].get();
    size_t last_nl = s->pending.rfind('\n');
    size_t record_end = last_nl == std::string::npos ? 0 : last_nl + 1;
    if (start != nullptr && record_end > 0) {
      // The last record may still grow: it ends where the last line that
      // starts a record begins (unless it has been quiet for a while).
      size_t last_start = 0;
      size_t pos = 0;
      while (pos < record_end) {
        size_t nl = s->pending.find('\n', pos);
        std::string_view line(s->pending.data() + pos, nl - pos);
        if (pos > 0 && RE2::PartialMatch(line, *start)) last_start = pos;
        pos = nl + 1;
      }
      bool quiet = record_end == s->pending.size() &&
                   now - s->pending_since >= std::max(f.partial_timeout, std::chrono::milliseconds(1000));
      if (!quiet) record_end = last_start;
    }
    if (record_end > 0) {
      AppendLines(s, std::string_view(s->pending.data(), record_end));
      s->pending.erase(0, record_end);
      s->pending_since = now;
    }
    if (s->pending.empty()) {
      s->pending_since = now;
      return;
    }
    bool terminated = s->pending.back() == '\n';
    if (!terminated && s->pending.find('\n') == std::string::npos &&
        s->pending.size() > f.max_record_bytes) {
      // An unterminated line past the limit: keep its head, skip the rest.
      if (s->unsealed.empty()) s->first_unsealed = now;
      s->unsealed.append(s->pending, 0, f.max_record_bytes);
      s->unsealed.push_back('\n');
      ++stats.truncated_records;
      ++stats.lines;
      s->pending.clear();
      s->skipping = true;
    } else if (!terminated && start == nullptr && f.partial_timeout.count() > 0 &&
               now - s->pending_since >= f.partial_timeout) {
      ReleasePartial(s);  // waited long enough for its newline
      s->pending_since = now;
    }
  }

  // Moves an unterminated last line to the records, marked by the newline it
  // did not have (counted as partial): after the partial timeout, or when its
  // file generation ends (truncated, or rotated away and drained).
  void ReleasePartial(Source* s) {
    if (s->pending.empty()) return;
    if (s->unsealed.empty()) s->first_unsealed = Clock::now();
    s->unsealed.append(s->pending);
    s->unsealed.push_back('\n');
    ++stats.partial_records;
    ++stats.lines;
    s->pending.clear();
  }

  // Reads what the file gained; handles truncation in place.
  Status Read(Source* s) {
    if (s->fd < 0) return absl::OkStatus();
    FileStat st;
    if (!StatFd(s->fd, nullptr, &st)) return Errno(errno, StrCat("stat ", s->path));
    s->size = st.size;
    if (st.size < s->read_pos) {
      // copytruncate or truncation: this generation ends here; the file's
      // new content is a new generation read from byte 0. An unterminated
      // line read before the truncation will never end: it is released.
      ++stats.rotations;
      ReleasePartial(s);
      int fd = s->fd;
      s->fd = -1;
      s->closed = true;
      auto next = std::make_unique<Source>();
      next->flow = s->flow;
      next->ident = s->ident;
      next->generation = s->generation + 1;
      next->id = SourceId(next->ident, next->generation);
      next->path = s->path;
      next->prefix = s->prefix;
      next->fd = fd;
      next->size = st.size;
      next->listed = s->listed;
      sources.push_back(std::move(next));
      return absl::OkStatus();
    }
    if (s->fp_len < kFingerprintBytes && st.size > s->fp_len) {
      auto len = static_cast<uint32_t>(std::min<uint64_t>(st.size, kFingerprintBytes));
      if (std::optional<uint32_t> fp = Fingerprint(s->fd, len)) {
        s->fp = *fp;
        s->fp_len = len;
      }
    }
    // Back-pressure: what is read but not yet in the lake stays under the limit.
    uint64_t held = stats.spool_bytes + s->unsealed.size() + s->pending.size();
    uint64_t limit = o.flows[s->flow].max_spool_bytes;
    if (st.size == s->read_pos || held >= limit) {
      Frame(s);  // timeouts
      return absl::OkStatus();
    }
    size_t want = static_cast<size_t>(std::min<uint64_t>({st.size - s->read_pos, kReadChunk, limit - held}));
    size_t have = s->pending.size();
    s->pending.resize(have + want);
    ssize_t n = ::pread(s->fd, s->pending.data() + have, want, static_cast<off_t>(s->read_pos));
    if (n < 0) {
      s->pending.resize(have);
      return Errno(errno, StrCat("read ", s->path));
    }
    s->pending.resize(have + static_cast<size_t>(n));
    if (have == 0) s->pending_since = Clock::now();
    s->read_pos += static_cast<uint64_t>(n);
    bytes_read += static_cast<uint64_t>(n);
    s->last_data = Clock::now();
    Frame(s);
    return absl::OkStatus();
  }

  // --- sealing --------------------------------------------------------------------------

  Status Seal(Source* s) {
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
    RETURN_IF_ERROR(WriteFileAtomically(seg.path, s->unsealed, /*sync_dir=*/false));
    if (s->segments.empty() && s->sealed_end == s->committed && !checkpoint["sources"].contains(s->id)) {
      RETURN_IF_ERROR(SaveCheckpoint());  // the generation is known before its first roll
    }
    stats.bytes += s->unsealed.size();
    stats.spool_bytes += seg.end - seg.start;
    s->segments.push_back(seg);
    s->sealed_end = end;
    std::string().swap(s->unsealed);  // idle files hold no buffer
    return absl::OkStatus();
  }

  // --- rolling --------------------------------------------------------------------------

  bool RollDue(const Source* s, bool draining) const {
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

  // Decides the range of the next lake files (the roll intent), then
  // publishes it. Once written, an intent is finished (FinishRoll) before any
  // other roll of the file, whatever happens: its range names the files.
  Status Roll(Source* s) {
    std::string intent = fmt::format("{} {} 0\n", s->segments.front().start, s->segments.back().end);
    RETURN_IF_ERROR(WriteFileAtomically(s->spool_dir(o.state_dir) + "/roll", intent));
    s->intent_pending = true;
    return FinishRoll(s);
  }

  // Publishes the range named by the roll intent, then commits it. Each
  // attempt writes its lake temporaries under its own number (a writer of an
  // earlier attempt, killed mid-file, may still hold a lease on its own) and
  // removes those of earlier attempts.
  Status FinishRoll(Source* s) {
    std::string intent_path = s->spool_dir(o.state_dir) + "/roll";
    ASSIGN_OR_RETURN(std::string intent, ReadLocalFile(intent_path));
    std::vector<std::string_view> parts = Split(StripAsciiWhitespace(intent), ' ', true);
    int64_t first = 0, last = 0, attempt = 0;
    if (parts.size() != 3 || !ParseInt(parts[0], &first) || !ParseInt(parts[1], &last) ||
        !ParseInt(parts[2], &attempt)) {
      return absl::DataLossError(StrCat(intent_path, " is corrupt"));
    }
    ++attempt;
    RETURN_IF_ERROR(WriteFileAtomically(intent_path, fmt::format("{} {} {}\n", first, last, attempt)));
    std::vector<Segment> segs;
    for (const Segment& g : s->segments) {
      if (g.start >= static_cast<uint64_t>(first) && g.end <= static_cast<uint64_t>(last)) segs.push_back(g);
    }
    const FlowOptions& f = o.flows[s->flow];
    std::string name = fmt::format("{}.{}.{}-{}{}{}", s->prefix, s->id, first, last, f.file_suffix,
                                   lake::CodecExtension(f.codec));
    RE2* include_re = include[s->flow].get();
    RE2* exclude_re = exclude[s->flow].get();
    bool keep = true;
    bool decided = false;
    // One lake file per target directory; records keep their order.
    struct Out {
      std::string tmp, final_path;
      std::unique_ptr<lake::WritableFile> file;
      bool exists = false;
    };
    std::map<std::string, Out> outs;
    uint64_t bytes = 0;
    // JSON records: the record being assembled and where it goes.
    struct Pending {
      Out* out = nullptr;
      std::string text;
      int64_t time_ms = 0;
      int64_t ingest_ms = 0;
      bool has_time = false;
    } rec;
    auto emit = [&]() -> Status {
      if (rec.out == nullptr) return absl::OkStatus();
      std::string_view text = rec.text;
      std::string_view level = rec.has_time ? core::LogLineLevel(text) : std::string_view();
      std::string_view message = text;
      if (rec.has_time) message.remove_prefix(std::min(text.size(), size_t{24} + level.size() + 1));
      nlohmann::json j = {{"ts", core::FormatIsoMillis(rec.time_ms)},       {"level", std::string(level)},
                          {"host", o.host},                    {"path", s->path},
                          {"ingest_ts", core::FormatIsoMillis(rec.ingest_ms)}, {"message", std::string(message)}};
      std::string out = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      out.push_back('\n');
      if (rec.out->file) RETURN_IF_ERROR(rec.out->file->Append(out));
      bytes += out.size();
      rec = Pending{};
      return absl::OkStatus();
    };
    int64_t dir_second = INT64_MIN;  // the template is expanded once per second of time
    std::string dir;
    for (const Segment& g : segs) {
      // Streamed in 1 MiB chunks: a roll never holds a whole segment in memory.
      std::ifstream in(g.path, std::ios::binary);
      if (!in) return absl::NotFoundError(StrCat("spool segment ", g.path, " is missing"));
      int64_t last_time = g.ingest_ms;
      Out* current = nullptr;
      std::string current_dir;
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
          std::string_view line(data.data() + pos, end - pos);
          int64_t line_time = core::ParseLogTime(line);
          int64_t t = f.use_event_time ? line_time : -1;
          if (t >= 0) last_time = t;  // lines without a time (tracebacks) follow the line before
          bool starts = line_time >= 0 || !decided;
          if (starts) {  // a new record: decide again
            decided = true;
            std::string_view text = line.substr(0, line.size() - (line.ends_with('\n') ? 1 : 0));
            keep = (f.levels.empty() ||
                    std::find(f.levels.begin(), f.levels.end(), core::LogLineLevel(line)) != f.levels.end()) &&
                   (include_re == nullptr || RE2::PartialMatch(text, *include_re)) &&
                   (exclude_re == nullptr || !RE2::PartialMatch(text, *exclude_re));
          }
          if (!keep) {
            ++stats.filtered_lines;
            pos = end;
            continue;
          }
          int64_t when = f.use_event_time ? last_time : g.ingest_ms;
          if (when / 1000 != dir_second) {
            dir_second = when / 1000;
            dir = ExpandTemplate(f.target_dir, when, o.host);
          }
          if (current == nullptr || dir != current_dir) {
            current_dir = dir;
            current = &outs[dir];
            if (!current->file && !current->exists) {
              ASSIGN_OR_RETURN(std::string d, lake::NormalizePath(dir));
              current->final_path = lake::JoinPath(d, name);
              current->tmp = lake::JoinPath(d, fmt::format(".{}.{}.tmp", name, attempt));
              for (int64_t a = 1; a < attempt; ++a) {  // an earlier attempt's leftovers
                Status gone = lake->Delete(lake::JoinPath(d, fmt::format(".{}.{}.tmp", name, a)), false);
                if (!gone.ok() && !absl::IsNotFound(gone)) return gone;
              }
              ASSIGN_OR_RETURN(bool exists, lake::Exists(lake, current->final_path));
              if (!exists && attempt > 1) {  // a replay: the file may since have been compacted
                ASSIGN_OR_RETURN(std::set<std::string> merged, Superseded(lake, d));
                exists = merged.contains(name);
              }
              current->exists = exists;  // published before a crash: keep it as it is
              if (!exists) {
                lake::CreateOptions co;
                co.overwrite = true;
                ASSIGN_OR_RETURN(std::unique_ptr<lake::WritableFile> raw, lake->Create(current->tmp, co));
                current->file = lake::NewCompressingFile(std::move(raw), f.codec);
              }
            }
          }
          if (f.json_records) {
            std::string_view bare = line.substr(0, line.size() - (line.ends_with('\n') ? 1 : 0));
            if (starts || rec.out == nullptr) {
              RETURN_IF_ERROR(emit());
              rec.out = current;
              rec.text.assign(bare);
              rec.has_time = line_time >= 0;
              rec.time_ms = rec.has_time ? line_time : g.ingest_ms;
              rec.ingest_ms = g.ingest_ms;
            } else {
              rec.text.push_back('\n');
              rec.text.append(bare);
            }
          } else {
            if (current->file) RETURN_IF_ERROR(current->file->Append(line));
            bytes += line.size();
          }
          pos = end;
        }
        data.erase(0, pos);
      }
    }
    RETURN_IF_ERROR(emit());
    for (auto& [out_dir, out] : outs) {
      if (!out.file) continue;
      RETURN_IF_ERROR(out.file->Close());
      Status r = lake->Rename(out.tmp, out.final_path);
      if (absl::IsAlreadyExists(r)) {
        (void)lake->Delete(out.tmp, false);
      } else {
        RETURN_IF_ERROR(r);
      }
      ++stats.published_files;
    }
    stats.published_bytes += bytes;
    // Commit, then forget the spool.
    s->committed = static_cast<uint64_t>(last);
    s->last_commit_ms = core::UnixMillis();
    s->last_error.clear();
    s->failures = 0;
    RETURN_IF_ERROR(SaveCheckpoint());
    std::error_code ec;
    for (const Segment& g : segs) {
      fs::remove(g.path, ec);
      stats.spool_bytes -= std::min<uint64_t>(stats.spool_bytes, g.end - g.start);
    }
    fs::remove(intent_path, ec);
    s->intent_pending = false;
    std::erase_if(s->segments, [&](const Segment& g) { return g.end <= static_cast<uint64_t>(last); });
    return absl::OkStatus();
  }

  // --- the loop -------------------------------------------------------------------------

  uint64_t bytes_read = 0;  // by all turns, to tell busy turns from idle ones

  Status Turn(bool draining) {
    auto now = Clock::now();
    if (!draining && now >= next_discover) {
      Discover();
      first_start = false;  // files appearing from now on are read from their start
      next_discover = now + kDiscoverEvery;
    }
    size_t n = sources.size();  // Read() may add generations
    // Memory: the records held between seals, over all files, stay under kSealBytes.
    size_t held = 0;
    for (size_t i = 0; i < n; ++i) held += sources[i]->unsealed.size();
    for (size_t i = 0; i < n; ++i) {
      Source* s = sources[i].get();
      size_t before = s->unsealed.size();
      if (!draining) {
        Status r = Read(s);
        if (!r.ok()) s->last_error = std::string(r.message());
      }
      held += s->unsealed.size() - before;
      const FlowOptions& f = o.flows[s->flow];
      if (!s->unsealed.empty() && (draining || now - s->first_unsealed >= f.seal_interval ||
                                   held >= kSealBytes)) {
        held -= s->unsealed.size();
        RETURN_IF_ERROR(Seal(s));
      }
      // A file renamed or deleted away, drained: let it go.
      if (!draining && s->fd >= 0 && !s->listed && s->size == s->read_pos) {
        if (s->eof_since == Clock::time_point{} || s->read_pos != s->eof_pos) {
          s->eof_since = now;
          s->eof_pos = s->read_pos;
        } else if (now - s->eof_since >= kRotateWait) {
          ::close(s->fd);
          s->fd = -1;
          s->closed = true;
          ++stats.rotations;
          ReleasePartial(s);  // its unterminated last line will never end
          RETURN_IF_ERROR(Seal(s));
        }
      }
      if (RollDue(s, draining)) {
        Status r = s->intent_pending ? FinishRoll(s) : Roll(s);
        if (!r.ok()) {
          // The lake is unavailable: keep the spool, retry with backoff
          // (1 s, 2 s, 4 s, then every 8 s: one cheap request).
          s->last_error = std::string(r.message());
          s->failures = std::min(s->failures + 1, 4);
          s->retry_at = now + std::chrono::milliseconds(500) * (1 << s->failures);
          if (draining) return r;
        }
      }
    }
    // Forget generations that are closed and fully published.
    size_t before = sources.size();
    std::erase_if(sources, [](const auto& s) {
      return s->closed && s->fd < 0 && s->segments.empty() && s->unsealed.empty();
    });
    if (sources.size() != before) RETURN_IF_ERROR(SaveCheckpoint());
    if (now >= next_status) {
      (void)WriteStatus();
      next_status = now + kStatusEvery;
    }
    return absl::OkStatus();
  }
};

// ---------------------------------------------------------------------------

Agent::Agent(std::unique_ptr<Impl> impl) : impl_(std::move(impl)), stats_(impl_->stats) {}

Agent::~Agent() {
  for (auto& s : impl_->sources) {
    if (s->fd >= 0) ::close(s->fd);
  }
}

StatusOr<std::unique_ptr<Agent>> Agent::Open(lake::Storage* lake, AgentOptions options) {
  if (options.flows.empty()) return absl::InvalidArgumentError("the agent has no flow to run");
  auto impl = std::make_unique<Impl>();
  impl->lake = lake;
  if (options.host.empty()) {
    char host[256] = {};
    ::gethostname(host, sizeof(host) - 1);
    options.host = host;
  }
  for (const FlowOptions& f : options.flows) {
    if (f.sources.empty()) {
      return absl::InvalidArgumentError(StrCat("flow ", f.name, " has no source: give --source GLOB"));
    }
    if (f.roll_bytes == 0 || f.roll_interval.count() <= 0) {
      return absl::InvalidArgumentError(StrCat("flow ", f.name, ": the roll size and interval must be positive"));
    }
    auto compile = [&](const std::string& pattern, const char* what,
                       std::vector<std::unique_ptr<RE2>>* into) -> Status {
      if (pattern.empty()) {
        into->push_back(nullptr);
        return absl::OkStatus();
      }
      auto re = std::make_unique<RE2>(pattern);
      if (!re->ok()) {
        return absl::InvalidArgumentError(
            StrCat("flow ", f.name, ": ", what, " pattern \"", pattern, "\": ", re->error()));
      }
      into->push_back(std::move(re));
      return absl::OkStatus();
    };
    RETURN_IF_ERROR(compile(f.multiline_start, "multiline start", &impl->multiline));
    RETURN_IF_ERROR(compile(f.include, "include", &impl->include));
    RETURN_IF_ERROR(compile(f.exclude, "exclude", &impl->exclude));
  }
  impl->o = std::move(options);
  RETURN_IF_ERROR(impl->Recover());
  return std::unique_ptr<Agent>(new Agent(std::move(impl)));
}

Status Agent::Step() { return impl_->Turn(false); }

Status Agent::Drain() {
  RETURN_IF_ERROR(impl_->Turn(false));  // read what is there
  RETURN_IF_ERROR(impl_->Turn(true));
  return impl_->WriteStatus();
}

Status Agent::Run(const std::function<bool()>& stop) {
  while (!stop()) {
    uint64_t before = impl_->bytes_read;
    RETURN_IF_ERROR(Step());
    // Busy: go on at once. Idle: poll the files again in 10 ms.
    if (impl_->bytes_read == before) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return Drain();
}

std::vector<FileStatus> Agent::Files() const { return impl_->Files(); }

bool Agent::CaughtUp() const {
  return std::all_of(impl_->sources.begin(), impl_->sources.end(),
                     [](const auto& s) { return s->fd < 0 || s->read_pos >= s->size; });
}

StatusOr<std::vector<FileStatus>> ReadStatus(const std::string& state_dir) {
  ASSIGN_OR_RETURN(std::string text, ReadLocalFile(state_dir + "/status.json"));
  std::vector<FileStatus> out;
  try {
    auto j = nlohmann::json::parse(text);
    for (const auto& f : j["files"]) {
      FileStatus s;
      s.flow = f.value("flow", "");
      s.source_id = f.value("source_id", "");
      s.path = f.value("path", "");
      s.size = f.value("size", uint64_t{0});
      s.read = f.value("read", uint64_t{0});
      s.committed = f.value("committed", uint64_t{0});
      s.last_commit_ms = f.value("last_commit_ms", int64_t{0});
      s.last_error = f.value("last_error", "");
      s.open = f.value("open", false);
      out.push_back(s);
    }
  } catch (const std::exception& e) {
    return absl::DataLossError(StrCat(state_dir, "/status.json: ", e.what()));
  }
  return out;
}

}  // namespace comptoir::agent
