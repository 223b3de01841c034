// Tailing: file identity, discovery by glob, reattaching after a restart and
// reading what a file gained (truncation starts a new generation).
#include <fcntl.h>
#include <glob.h>
#include <isa-l/crc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "agent_impl.h"
#include "comptoir/core/strings.h"
#include "fmt/format.h"

namespace comptoir::agent {

namespace fs = std::filesystem;

bool StatFd(int fd, const char* path, FileStat* out) {
  struct statx sx;
  int rc = fd >= 0 ? ::statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS | STATX_BTIME, &sx)
                   : ::statx(AT_FDCWD, path, 0, STATX_BASIC_STATS | STATX_BTIME, &sx);
  if (rc != 0) return false;
  out->id.dev = (static_cast<uint64_t>(sx.stx_dev_major) << 32) | sx.stx_dev_minor;
  out->id.ino = sx.stx_ino;
  out->id.btime_ns =
      (sx.stx_mask & STATX_BTIME) != 0 ? sx.stx_btime.tv_sec * 1000000000LL + sx.stx_btime.tv_nsec : 0;
  out->size = sx.stx_size;
  out->regular = S_ISREG(sx.stx_mode);
  out->deleted = sx.stx_nlink == 0;
  return true;
}

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

Source* Agent::Impl::Find(const Identity& ident, size_t flow) {
  for (auto& s : sources) {
    if (!s->closed && s->flow == flow && s->ident == ident) return s.get();
  }
  return nullptr;
}

void Agent::Impl::Reattach(Source* s) {
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
bool Agent::Impl::SameContent(const Source* s, int fd, uint64_t size) {
  if (size < s->read_pos) return false;
  if (s->fp_len == 0) return true;
  std::optional<uint32_t> fp = Fingerprint(fd, s->fp_len);
  return fp && *fp == s->fp;
}

void Agent::Impl::Discover() {
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

void Agent::Impl::Track(size_t flow, const std::string& path) {
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
  s->prefix = o.flows[flow].file_prefix.empty() ? fs::path(path).filename().string() : o.flows[flow].file_prefix;
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

Status Agent::Impl::Read(Source* s) {
  if (s->fd < 0) return absl::OkStatus();
  FileStat st;
  if (!StatFd(s->fd, nullptr, &st)) return ErrnoToStatus(errno, StrCat("stat ", s->path));
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
    return ErrnoToStatus(errno, StrCat("read ", s->path));
  }
  s->pending.resize(have + static_cast<size_t>(n));
  if (have == 0) s->pending_since = Clock::now();
  s->read_pos += static_cast<uint64_t>(n);
  bytes_read += static_cast<uint64_t>(n);
  s->last_data = Clock::now();
  Frame(s);
  return absl::OkStatus();
}

}  // namespace comptoir::agent
