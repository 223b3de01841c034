#include "comptoir/bus/embedded_log.h"

#include <fcntl.h>
#include <isa-l/crc.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <set>
#include <thread>

#include "comptoir/core/files.h"
#include "comptoir/core/time.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"
#include "spdlog/spdlog.h"

namespace comptoir::bus {
namespace fs = std::filesystem;
namespace {

constexpr size_t kHeader = 4 + 4 + 8 + 8 + 4;  // length, crc, offset, timestamp, key length
constexpr uint32_t kMaxRecord = 64u << 20;
constexpr uint64_t kIndexEvery = 64 << 10;
constexpr char kHwmFile[] = "hwm";
constexpr char kDamageFile[] = "damage.jsonl";

template <typename T>
void Put(std::string* out, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));  // the machines are little-endian (x86-64, arm64)
  out->append(b, sizeof(T));
}
template <typename T>
T Get(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

// The zlib/gzip CRC-32 (same values as zlib's crc32()), computed by ISA-L
// with carry-less multiplication: about 10x zlib's speed.
uint32_t Crc(const char* p, size_t n) { return crc32_gzip_refl(0, reinterpret_cast<const unsigned char*>(p), n); }

std::string SegmentName(int64_t base, const char* ext) { return fmt::format("{:020d}{}", base, ext); }

// Bases of the segments in a partition directory, ascending.
std::vector<int64_t> Segments(const std::string& dir) {
  std::vector<int64_t> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    std::string n = e.path().filename().string();
    int64_t base = 0;
    if (n.size() == 24 && n.ends_with(".log") && ParseInt(std::string_view(n).substr(0, 20), &base)) {
      out.push_back(base);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

Status Errno(std::string_view what) { return ErrnoToStatus(errno, what); }

// Decodes the record at the start of `data`. Returns the record size, 0 when
// incomplete, or -1 when corrupt.
int64_t Decode(std::string_view data, Record* r) {
  if (data.size() < kHeader) return 0;
  uint32_t len = Get<uint32_t>(data.data());
  if (len < kHeader - 4 || len > kMaxRecord) return -1;
  if (data.size() < 4 + static_cast<size_t>(len)) return 0;
  uint32_t crc = Get<uint32_t>(data.data() + 4);
  if (Crc(data.data() + 8, len - 4) != crc) return -1;
  uint32_t klen = Get<uint32_t>(data.data() + 24);
  if (kHeader + klen > 4 + static_cast<size_t>(len)) return -1;
  if (r != nullptr) {
    r->offset = Get<int64_t>(data.data() + 8);
    r->timestamp_ms = Get<int64_t>(data.data() + 16);
    r->key.assign(data.data() + kHeader, klen);
    r->value.assign(data.data() + kHeader + klen, 4 + len - kHeader - klen);
  }
  return 4 + static_cast<int64_t>(len);
}

// The first position at or after `from` where a whole, valid record starts
// whose offset is above `after` (records are resynchronised on after damage:
// the header's length and offset must be plausible and the CRC must check
// out). npos when there is none.
size_t Resync(std::string_view data, size_t from, int64_t after) {
  for (size_t p = from; p + kHeader <= data.size(); ++p) {
    uint32_t len = Get<uint32_t>(data.data() + p);
    if (len < kHeader - 4 || len > kMaxRecord || p + 4 + len > data.size()) continue;
    int64_t offset = Get<int64_t>(data.data() + p + 8);
    if (offset <= after || offset - after > (int64_t{1} << 40)) continue;
    if (Decode(data.substr(p), nullptr) > 0) return p;
  }
  return std::string_view::npos;
}

// A segment's records, validated one by one.
struct ScanResult {
  int64_t next_offset = 0;  // after the last valid record
  uint64_t valid_end = 0;   // byte after the last valid record
  uint64_t tail_bytes = 0;  // bad bytes after it, with no valid record behind them
  std::vector<DamagedRange> damage;  // bad bytes with valid records behind them
  std::string index;                 // rebuilt sparse index
};

ScanResult ScanSegment(std::string_view data, int64_t base, const std::string& name) {
  ScanResult r;
  r.next_offset = base;
  uint64_t pos = 0, last_index = 0;
  Record rec;
  while (pos < data.size()) {
    int64_t n = Decode(data.substr(pos), &rec);
    if (n > 0 && rec.offset >= r.next_offset) {
      if (rec.offset > r.next_offset) {  // whole records missing, no bad byte
        r.damage.push_back({"lost", r.next_offset, rec.offset - 1, name, pos, 0, core::UnixMillis()});
      }
      if (pos == 0 || pos - last_index >= kIndexEvery) {
        Put<uint32_t>(&r.index, static_cast<uint32_t>(rec.offset - base));
        Put<uint32_t>(&r.index, static_cast<uint32_t>(pos));
        last_index = pos;
      }
      pos += static_cast<uint64_t>(n);
      r.valid_end = pos;
      r.next_offset = rec.offset + 1;
      continue;
    }
    size_t q = Resync(data, pos + 1, r.next_offset - 1);
    if (q == std::string_view::npos) {
      r.tail_bytes = data.size() - pos;
      break;
    }
    int64_t resumed = Get<int64_t>(data.data() + q + 8);
    r.damage.push_back({"damaged", r.next_offset, resumed - 1, name, pos, q - pos, core::UnixMillis()});
    r.next_offset = resumed;
    pos = q;
  }
  return r;
}

StatusOr<std::string> ReadSegment(const std::string& path) {
  StatusOr<std::string> data = core::ReadFile(path);
  if (absl::IsNotFound(data.status())) return absl::NotFoundError(StrCat("segment ", path, " is missing"));
  return data;
}

// <p>/hwm: the next offset to be written, as 20 digits and a newline.
// nullopt when there is none (a partition of an older version) or it does not
// parse (it is then rebuilt from the segments and the groups' offsets).
std::optional<int64_t> ReadHwm(const std::string& dir) {
  StatusOr<std::string> text = core::ReadFile(StrCat(dir, "/", kHwmFile));
  int64_t v = 0;
  if (!text.ok() || !ParseInt(StripAsciiWhitespace(*text), &v) || v < 0) return std::nullopt;
  return v;
}

// The highest offset any group committed for this partition (a lower bound
// of what was once written).
int64_t MaxCommitted(const std::string& topic_dir, int partition) {
  int64_t most = 0;
  std::error_code ec;
  for (const auto& g : fs::directory_iterator(topic_dir + "/groups", ec)) {
    StatusOr<std::string> text = core::ReadFile(StrCat(g.path().string(), "/", partition));
    int64_t v = 0;
    if (text.ok() && ParseInt(StripAsciiWhitespace(*text), &v)) most = std::max(most, v);
  }
  return most;
}

// <p>/damage.jsonl: one JSON object a line, appended (O_APPEND: a line is
// written whole), never rewritten. Readers and writers of any process append.
void RecordDamage(const std::string& dir, const DamagedRange& d, std::string_view who) {
  nlohmann::json j = {{"kind", d.kind},   {"first", d.first},   {"last", d.last},   {"segment", d.segment},
                      {"byte", d.byte},   {"bytes", d.bytes},   {"at_ms", d.at_ms}, {"found_by", who}};
  std::string line = j.dump() + "\n";
  int fd = ::open(StrCat(dir, "/", kDamageFile).c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd >= 0) {
    (void)!::write(fd, line.data(), line.size());
    ::close(fd);
  }
}

// The ranges recorded so far, without duplicates (the same range found by
// several readers), oldest first. Damaged lines of the file itself are
// skipped: it is a report, not state the log depends on.
std::vector<DamagedRange> ReadDamage(const std::string& dir) {
  std::vector<DamagedRange> out;
  StatusOr<std::string> text = core::ReadFile(StrCat(dir, "/", kDamageFile));
  if (!text.ok()) return out;
  std::set<std::tuple<std::string, int64_t, int64_t>> seen;
  for (std::string_view line : Split(*text, '\n', true)) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_object()) continue;
    DamagedRange d;
    try {
      d.kind = j.value("kind", "");
      d.first = j.value("first", int64_t{0});
      d.last = j.value("last", int64_t{-1});
      d.segment = j.value("segment", "");
      d.byte = j.value("byte", uint64_t{0});
      d.bytes = j.value("bytes", uint64_t{0});
      d.at_ms = j.value("at_ms", int64_t{0});
    } catch (const nlohmann::json::exception&) {
      continue;
    }
    if (seen.insert({d.kind, d.first, d.last}).second) out.push_back(d);
  }
  return out;
}

std::string PartitionDir(const std::string& dir, const std::string& topic, int p) {
  return StrCat(dir, "/", topic, "/", p);
}

Status ValidName(std::string_view what, const std::string& name) {
  if (name.empty() || name.size() > 200 || name[0] == '.' ||
      name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") !=
          std::string::npos) {
    return absl::InvalidArgumentError(StrCat(what, " \"", name, "\" may use letters, digits, '.', '_' and '-' only"));
  }
  return absl::OkStatus();
}

Status WriteAll(int fd, std::string_view data, std::string_view what) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Errno(what);
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

class LogWriter final : public PartitionWriter {
 public:
  LogWriter(std::string dir, std::string topic, int partition, TopicConfig config, LogOptions options, int lock_fd)
      : dir_(std::move(dir)), topic_(std::move(topic)), partition_(partition), config_(config), options_(options),
        lock_fd_(lock_fd) {}
  ~LogWriter() override {
    (void)Flush();
    if (fd_ >= 0) ::close(fd_);
    if (hwm_fd_ >= 0) {
      Sync(hwm_fd_);
      ::close(hwm_fd_);
    }
    ::close(lock_fd_);  // releases the flock
  }

  // Not split: the recovery decision (torn tail, damage kept, lost tail, a
  // new segment at the high-water mark) reads best as one sequence.
  Status Recover() {
    std::string where = fmt::format("partition {} of {}", partition_, topic_);
    std::optional<int64_t> hwm = ReadHwm(dir_);
    if (!hwm && fs::exists(StrCat(dir_, "/", kHwmFile))) {
      spdlog::warn("{}: {}/{} is damaged; rebuilt from the segments and the groups' committed offsets", where, dir_,
                   kHwmFile);
    }
    // An offset a group committed was written once, even if a power cut (with
    // FsyncPolicy::kInterval) or a damaged disk lost it since: never reused.
    int64_t committed = MaxCommitted(fs::path(dir_).parent_path().string(), partition_);
    if (committed > hwm.value_or(0)) hwm = committed;
    std::vector<int64_t> segs = Segments(dir_);
    if (segs.empty()) {
      if (hwm && *hwm > 0) {  // every segment deleted: nothing reads back below hwm
        Report({"lost", 0, *hwm - 1, "", 0, 0, core::UnixMillis()});
      }
      RETURN_IF_ERROR(OpenSegment(hwm.value_or(0)));
      return WriteHwm(true);
    }
    base_ = segs.back();
    std::string name = SegmentName(base_, ".log");
    ASSIGN_OR_RETURN(std::string data, ReadSegment(Path(base_, ".log")));
    ScanResult scan = ScanSegment(data, base_, name);
    for (const DamagedRange& d : scan.damage) Report(d);
    const int64_t acked = hwm.value_or(scan.next_offset);
    bool new_segment = false;
    if (scan.tail_bytes > 0 && acked > scan.next_offset) {
      // Acknowledged records that no longer read back: damage, kept as it is.
      Report({"lost", scan.next_offset, acked - 1, name, scan.valid_end, scan.tail_bytes, core::UnixMillis()});
      new_segment = true;
    } else if (scan.tail_bytes > 0) {
      // An unfinished write of a crash: nothing acknowledged is lost.
      spdlog::warn("{}: cut a torn tail of {} bytes at byte {} of {} (an unfinished write, nothing acknowledged)",
                   where, scan.tail_bytes, scan.valid_end, name);
      Report({"torn_tail", scan.next_offset, scan.next_offset - 1, name, scan.valid_end, scan.tail_bytes,
              core::UnixMillis()});
      int fd = ::open(Path(base_, ".log").c_str(), O_WRONLY | O_CLOEXEC);
      if (fd < 0) return Errno(StrCat("open ", Path(base_, ".log")));
      int rc = ::ftruncate(fd, static_cast<off_t>(scan.valid_end));
      Sync(fd);
      ::close(fd);
      if (rc != 0) return Errno("truncate a torn tail");
    } else if (acked > scan.next_offset) {
      // Records missing at the end without a bad byte (a cut file).
      Report({"lost", scan.next_offset, acked - 1, name, scan.valid_end, 0, core::UnixMillis()});
      new_segment = true;
    }
    if (new_segment) {
      RETURN_IF_ERROR(OpenSegment(acked));
      return WriteHwm(true);
    }
    fd_ = ::open(Path(base_, ".log").c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd_ < 0) return Errno(StrCat("open ", Path(base_, ".log")));
    size_ = scan.valid_end;
    next_ = std::max(scan.next_offset, acked);
    last_index_ = size_;
    RETURN_IF_ERROR(core::WriteFileAtomically(Path(base_, ".index"), scan.index, /*sync_dir=*/false));
    return WriteHwm(true);
  }

  StatusOr<int64_t> Append(std::string_view key, std::string_view value, int64_t timestamp_ms) override {
    uint64_t len = kHeader - 4 + key.size() + value.size();
    if (len > kMaxRecord) {
      return absl::InvalidArgumentError(StrCat("record of ", len, " bytes exceeds the ", kMaxRecord, "-byte limit"));
    }
    if (size_ + buf_.size() + 4 + len > config_.segment_bytes && size_ + buf_.size() > 0) {
      RETURN_IF_ERROR(Roll());
    }
    int64_t offset = next_++;
    size_t start = buf_.size();
    Put<uint32_t>(&buf_, static_cast<uint32_t>(len));
    Put<uint32_t>(&buf_, 0);  // crc, below
    Put<int64_t>(&buf_, offset);
    Put<int64_t>(&buf_, timestamp_ms > 0 ? timestamp_ms : core::UnixMillis());
    Put<uint32_t>(&buf_, static_cast<uint32_t>(key.size()));
    buf_.append(key);
    buf_.append(value);
    uint32_t crc = Crc(buf_.data() + start + 8, buf_.size() - start - 8);
    std::memcpy(buf_.data() + start + 4, &crc, 4);
    uint64_t pos = size_ + start;
    if (pos == 0 || pos - last_index_ >= kIndexEvery) {
      Put<uint32_t>(&index_buf_, static_cast<uint32_t>(offset - base_));
      Put<uint32_t>(&index_buf_, static_cast<uint32_t>(pos));
      last_index_ = pos;
    }
    return offset;
  }

  Status Flush() override {
    if (buf_.empty()) return absl::OkStatus();
    RETURN_IF_ERROR(WriteAll(fd_, buf_, StrCat("append to ", Path(base_, ".log"))));
    size_ += buf_.size();
    buf_.clear();
    auto now = std::chrono::steady_clock::now();
    if (options_.fsync == FsyncPolicy::kEveryBatch || now - last_sync_ >= options_.fsync_interval) {
      if (Sync(fd_) != 0) return Errno("fsync log segment");
      last_sync_ = now;
    }
    // The high-water mark follows every acknowledged batch (in place, without
    // a sync of its own: it is synced at rolls and closes; after a power cut
    // the segment itself, synced above, tells the same).
    RETURN_IF_ERROR(WriteHwm(false));
    if (!index_buf_.empty()) {
      std::string ipath = Path(base_, ".index");
      int ifd = ::open(ipath.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      if (ifd >= 0) {
        (void)WriteAll(ifd, index_buf_, "index");  // rebuildable: no fsync needed
        ::close(ifd);
      }
      index_buf_.clear();
    }
    return absl::OkStatus();
  }

  int64_t EndOffset() const override { return next_; }

  static Status Retention(const std::string& dir, const TopicConfig& config) {
    std::vector<int64_t> segs = Segments(dir);
    if (segs.size() <= 1) return absl::OkStatus();
    uint64_t total = 0;
    std::vector<uint64_t> sizes;
    std::vector<int64_t> mtimes;
    for (int64_t b : segs) {
      struct stat st {};
      ::stat(StrCat(dir, "/", SegmentName(b, ".log")).c_str(), &st);
      sizes.push_back(static_cast<uint64_t>(st.st_size));
      mtimes.push_back(static_cast<int64_t>(st.st_mtim.tv_sec) * 1000);
      total += static_cast<uint64_t>(st.st_size);
    }
    int64_t now = core::UnixMillis();
    for (size_t i = 0; i + 1 < segs.size(); ++i) {  // never the active segment
      bool too_big = config.retention_bytes > 0 && total > config.retention_bytes;
      bool too_old = config.retention_ms > 0 && mtimes[i] < now - config.retention_ms;
      if (!too_big && !too_old) break;
      fs::remove(StrCat(dir, "/", SegmentName(segs[i], ".log")));
      fs::remove(StrCat(dir, "/", SegmentName(segs[i], ".index")));
      total -= sizes[i];
    }
    return absl::OkStatus();
  }

 private:
  std::string Path(int64_t base, const char* ext) const { return StrCat(dir_, "/", SegmentName(base, ext)); }

  int Sync(int fd) const { return options_.sync_for_tests ? options_.sync_for_tests(fd) : ::fdatasync(fd); }

  void Report(const DamagedRange& d) {
    RecordDamage(dir_, d, "writer");
    if (d.kind != "torn_tail") {
      spdlog::error("partition {} of {}: {} (kept as it is; readers skip it and report it)", partition_, topic_,
                    d.Describe());
    }
  }

  Status WriteHwm(bool sync) {
    if (hwm_fd_ < 0) {
      std::string path = StrCat(dir_, "/", kHwmFile);
      hwm_fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
      if (hwm_fd_ < 0) return Errno(StrCat("open ", path));
    }
    std::string text = fmt::format("{:020d}\n", next_);
    if (::pwrite(hwm_fd_, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) {
      return Errno(StrCat("write ", dir_, "/", kHwmFile));
    }
    if (sync && Sync(hwm_fd_) != 0) return Errno(StrCat("sync ", dir_, "/", kHwmFile));
    return absl::OkStatus();
  }

  Status OpenSegment(int64_t base) {
    if (fd_ >= 0) ::close(fd_);
    base_ = base;
    std::string path = Path(base, ".log");
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd_ < 0) return Errno(StrCat("create ", path));
    size_ = 0;
    last_index_ = 0;
    next_ = base;
    // Make the new segment's name durable before records depend on it.
    return core::SyncDir(dir_);
  }

  Status Roll() {
    RETURN_IF_ERROR(Flush());
    Sync(fd_);
    int64_t next = next_;
    RETURN_IF_ERROR(OpenSegment(next));
    RETURN_IF_ERROR(WriteHwm(true));
    return Retention(dir_, config_);
  }

  std::string dir_;
  std::string topic_;
  int partition_;
  TopicConfig config_;
  LogOptions options_;
  int lock_fd_;
  int fd_ = -1;
  int hwm_fd_ = -1;
  int64_t base_ = 0;
  uint64_t size_ = 0;  // bytes in the active segment on disk
  int64_t next_ = 0;
  uint64_t last_index_ = 0;
  std::string buf_;
  std::string index_buf_;
  std::chrono::steady_clock::time_point last_sync_{};
};

class LogReader final : public PartitionReader {
 public:
  LogReader(std::string dir, std::string topic, int partition, DamagePolicy policy)
      : dir_(std::move(dir)), topic_(std::move(topic)), partition_(partition), policy_(policy) {}
  ~LogReader() override { Close(); }

  Status Seek(int64_t offset) override {
    std::vector<int64_t> segs = Segments(dir_);
    if (segs.empty()) {
      Close();
      position_ = std::max<int64_t>(offset, 0);
      return absl::OkStatus();
    }
    if (offset < segs.front()) offset = segs.front();  // retention removed older records
    int64_t base = segs.front();
    for (int64_t b : segs) {
      if (b <= offset) base = b;
    }
    RETURN_IF_ERROR(OpenSegment(base));
    SeekWithIndex(offset);
    Record skipped;
    while (position_ < offset) {
      ASSIGN_OR_RETURN(bool got, Next(&skipped));
      if (!got) break;
      if (skipped.offset >= offset) {  // lost records jumped past `offset`: this one is the caller's
        file_pos_ -= last_size_;
        position_ = skipped.offset;
        buf_.clear();
        buf_pos_ = 0;
        break;
      }
    }
    position_ = std::max(position_, offset);
    return absl::OkStatus();
  }

  Status SeekToTime(int64_t timestamp_ms) override {
    std::vector<int64_t> segs = Segments(dir_);
    RETURN_IF_ERROR(Seek(segs.empty() ? 0 : segs.front()));
    Record probe;
    while (true) {
      int64_t before_pos = position_;
      uint64_t before_file = file_pos_;
      int64_t before_base = base_;
      ASSIGN_OR_RETURN(bool got, Next(&probe));
      if (!got) return absl::OkStatus();  // at the end
      if (probe.timestamp_ms >= timestamp_ms) {
        if (base_ != before_base) RETURN_IF_ERROR(OpenSegment(before_base));
        file_pos_ = before_file;
        position_ = before_pos;
        buf_.clear();
        buf_pos_ = 0;
        return absl::OkStatus();
      }
    }
  }

  StatusOr<size_t> ReadInto(Record* slots, size_t max, std::chrono::milliseconds wait) override {
    size_t n = 0;
    auto deadline = std::chrono::steady_clock::now() + wait;
    auto sleep = std::chrono::microseconds(200);
    while (n < max) {
      ASSIGN_OR_RETURN(bool got, Next(&slots[n]));
      if (got) {
        ++n;
        continue;
      }
      if (n > 0 || std::chrono::steady_clock::now() >= deadline) break;
      std::this_thread::sleep_for(sleep);  // follow the writer: a few ms at most
      sleep = std::min(sleep * 2, std::chrono::microseconds(2000));
    }
    return n;
  }

  int64_t Position() const override { return position_; }
  int64_t Lost() const override { return lost_; }

 private:
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  Status OpenSegment(int64_t base) {
    Close();
    std::string path = StrCat(dir_, "/", SegmentName(base, ".log"));
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) return Errno(StrCat("open ", path));
    base_ = base;
    file_pos_ = 0;
    position_ = base;
    buf_.clear();
    buf_pos_ = 0;
    return absl::OkStatus();
  }

  // Gets close to `offset` with the sparse index. The index is only a hint:
  // an entry whose record does not read back with its offset (a damaged or
  // stale index) is not used.
  void SeekWithIndex(int64_t offset) {
    StatusOr<std::string> index = core::ReadFile(StrCat(dir_, "/", SegmentName(base_, ".index")));
    if (!index.ok()) return;
    struct stat st {};
    ::fstat(fd_, &st);
    for (size_t i = 0; i + 8 <= index->size(); i += 8) {
      int64_t at = base_ + Get<uint32_t>(index->data() + i);
      uint64_t pos = Get<uint32_t>(index->data() + i + 4);
      if (at > offset || pos >= static_cast<uint64_t>(st.st_size)) break;
      char head[kHeader];
      if (::pread(fd_, head, kHeader, static_cast<off_t>(pos)) != static_cast<ssize_t>(kHeader) ||
          Get<int64_t>(head + 8) != at) {
        break;
      }
      file_pos_ = pos;
      position_ = at;
      buf_.clear();
      buf_pos_ = 0;
    }
  }

  // Fills `r` with the record at the current position; false when none is
  // complete yet. `r`'s buffers are reused.
  StatusOr<bool> Next(Record* r) {
    if (fd_ < 0) {
      std::vector<int64_t> segs = Segments(dir_);
      if (segs.empty()) return false;
      RETURN_IF_ERROR(Seek(std::max(position_, segs.front())));
      if (fd_ < 0) return false;
    }
    for (int attempt = 0;; ++attempt) {
      // Records come from a read-ahead buffer: one pread per ~1 MB, not per record.
      bool bad = false;
      if (Fill(4)) {
        uint32_t len = Get<uint32_t>(buf_.data() + buf_pos_);
        if (len < kHeader - 4 || len > kMaxRecord) {
          bad = true;
        } else if (Fill(4 + static_cast<size_t>(len))) {
          int64_t size = Decode(std::string_view(buf_).substr(buf_pos_, 4 + len), r);
          if (size > 0 && r->offset == position_) {
            if (r->topic != topic_) r->topic = topic_;
            r->partition = partition_;
            file_pos_ += static_cast<uint64_t>(size);
            buf_pos_ += static_cast<size_t>(size);
            last_size_ = static_cast<uint64_t>(size);
            ++position_;
            return true;
          }
          bad = true;
        } else {
          // The record claims more bytes than the file has: a write in
          // flight, or a damaged length with valid records behind it.
          ASSIGN_OR_RETURN(Past past, PastDamage(/*sure=*/true));
          if (past == Past::kMoved) continue;
        }
      }
      if (bad) {
        ASSIGN_OR_RETURN(Past past, PastDamage(/*sure=*/attempt >= 50));
        if (past == Past::kMoved) continue;
        if (past == Past::kRetry) {
          // Bad bytes at the very end of the newest segment: a record being
          // written right now can look torn for a moment.
          buf_.clear();
          buf_pos_ = 0;
          std::this_thread::sleep_for(std::chrono::microseconds(100));
          continue;
        }
        return false;  // a write in flight, or a torn tail the next writer cuts
      }
      // The end of what this segment holds: move on if the writer rolled.
      std::vector<int64_t> segs = Segments(dir_);
      auto it = std::upper_bound(segs.begin(), segs.end(), base_);
      if (it != segs.end()) {
        if (buf_.size() > buf_pos_) {  // a cut record: the rest of this segment is lost
          ASSIGN_OR_RETURN(Past past, PastDamage(/*sure=*/true));
          if (past == Past::kMoved) continue;
        }
        if (*it > position_) {  // records between this segment's end and the next one's base are gone
          RETURN_IF_ERROR(Damaged({"lost", position_, *it - 1, SegmentName(base_, ".log"), file_pos_, 0,
                                   core::UnixMillis()}));
        }
        RETURN_IF_ERROR(OpenSegment(*it));
        continue;
      }
      // At the tail: forget buffered bytes, a new writer may truncate a torn tail.
      buf_.clear();
      buf_pos_ = 0;
      return false;
    }
  }

  // Bad bytes at the current position. When valid records follow them, the
  // writer moved on to a newer segment, or its high-water mark says they
  // were acknowledged, they are damage: reported, then skipped or an error
  // (policy): kMoved. Otherwise they may be a write in flight: kRetry until
  // `sure`, then kWait.
  enum class Past { kMoved, kRetry, kWait };
  StatusOr<Past> PastDamage(bool sure) {
    // The high-water mark first: what it counts was wholly in the file before
    // the bytes below are read.
    std::optional<int64_t> hwm = ReadHwm(dir_);
    std::string rest;
    std::string name = SegmentName(base_, ".log");
    struct stat st {};
    ::fstat(fd_, &st);
    rest.resize(static_cast<size_t>(std::max<off_t>(st.st_size - static_cast<off_t>(file_pos_), 0)));
    ssize_t got = ::pread(fd_, rest.data(), rest.size(), static_cast<off_t>(file_pos_));
    rest.resize(static_cast<size_t>(std::max<ssize_t>(got, 0)));
    size_t q = Resync(rest, 0, position_ - 1);
    if (q != std::string::npos) {
      int64_t resumed = Get<int64_t>(rest.data() + q + 8);
      if (resumed > position_) {  // (equal: bad bytes already reported, skipped now)
        RETURN_IF_ERROR(
            Damaged({q == 0 ? "lost" : "damaged", position_, resumed - 1, name, file_pos_, q, core::UnixMillis()}));
      }
      file_pos_ += q;
      position_ = resumed;
      buf_.clear();
      buf_pos_ = 0;
      return Past::kMoved;
    }
    std::vector<int64_t> segs = Segments(dir_);
    if (!segs.empty() && segs.back() != base_) {  // the writer moved on: the rest of this segment is lost
      int64_t next_base = *std::upper_bound(segs.begin(), segs.end(), base_);
      if (next_base > position_) {
        RETURN_IF_ERROR(Damaged({"lost", position_, next_base - 1, name, file_pos_, rest.size(), core::UnixMillis()}));
      }
      RETURN_IF_ERROR(OpenSegment(next_base));
      position_ = std::max(position_, next_base);
      return Past::kMoved;
    }
    if (!sure) return Past::kRetry;
    if (hwm && *hwm > position_) {
      // Acknowledged, and unreadable. The writer's next records will follow
      // the bad bytes; they are found by resynchronising once written.
      RETURN_IF_ERROR(Damaged({"lost", position_, *hwm - 1, name, file_pos_, rest.size(), core::UnixMillis()}));
      position_ = *hwm;
    }
    return Past::kWait;
  }

  Status Damaged(const DamagedRange& d) {
    RecordDamage(dir_, d, "reader");
    std::string what = fmt::format("partition {} of {}: {}", partition_, topic_, d.Describe());
    if (policy_ == DamagePolicy::kFail) {
      return absl::DataLossError(StrCat(what, "; they cannot be read back (bus.on_damage = \"fail\"; set it to "
                                              "\"skip\" to read past them)"));
    }
    lost_ += d.records();
    spdlog::error("{}; skipped ({} records lost so far by this reader)", what, lost_);
    return absl::OkStatus();
  }

  // Makes sure `n` bytes from file_pos_ are buffered; false when the file
  // does not hold them (yet).
  bool Fill(size_t n) {
    if (buf_.size() - buf_pos_ >= n) return true;
    buf_.erase(0, buf_pos_);
    buf_pos_ = 0;
    size_t want = std::max(n, size_t{1} << 20);
    size_t have = buf_.size();
    buf_.resize(want);
    ssize_t got = ::pread(fd_, buf_.data() + have, want - have, static_cast<off_t>(file_pos_ + have));
    buf_.resize(have + static_cast<size_t>(std::max<ssize_t>(got, 0)));
    return buf_.size() >= n;
  }

  std::string dir_;
  std::string topic_;
  int partition_;
  DamagePolicy policy_;
  int fd_ = -1;
  int64_t base_ = 0;
  uint64_t file_pos_ = 0;
  int64_t position_ = 0;
  int64_t lost_ = 0;
  uint64_t last_size_ = 0;  // of the record Next() returned last
  std::string buf_;     // file bytes from file_pos_ - buf_pos_
  size_t buf_pos_ = 0;  // where file_pos_ is in buf_
};

}  // namespace

std::string DamagedRange::Describe() const {
  std::string where = segment.empty() ? std::string("a deleted segment")
                      : bytes > 0    ? fmt::format("{} bad bytes at byte {} of {}", bytes, byte, segment)
                                     : fmt::format("missing from {} (at byte {})", segment, byte);
  if (kind == "torn_tail") return fmt::format("a torn tail cut at offset {}: {}", first, where);
  return fmt::format("offsets {}-{} ({} records) {}: {}", first, last, records(),
                     kind == "lost" ? "lost" : "damaged", where);
}

int64_t PartitionInfo::lost() const {
  int64_t n = 0;
  for (const DamagedRange& d : damage) n += d.records();
  return n;
}

int32_t Murmur2(std::string_view key) {
  const uint32_t m = 0x5bd1e995;
  const int r = 24;
  uint32_t h = 0x9747b28cU ^ static_cast<uint32_t>(key.size());
  size_t len4 = key.size() / 4;
  for (size_t i = 0; i < len4; ++i) {
    size_t i4 = i * 4;
    uint32_t k = (static_cast<uint32_t>(static_cast<uint8_t>(key[i4 + 0]))) |
                 (static_cast<uint32_t>(static_cast<uint8_t>(key[i4 + 1])) << 8) |
                 (static_cast<uint32_t>(static_cast<uint8_t>(key[i4 + 2])) << 16) |
                 (static_cast<uint32_t>(static_cast<uint8_t>(key[i4 + 3])) << 24);
    k *= m;
    k ^= k >> r;
    k *= m;
    h *= m;
    h ^= k;
  }
  size_t rest = key.size() % 4;
  size_t tail = key.size() & ~size_t{3};
  if (rest == 3) h ^= static_cast<uint32_t>(static_cast<uint8_t>(key[tail + 2])) << 16;
  if (rest >= 2) h ^= static_cast<uint32_t>(static_cast<uint8_t>(key[tail + 1])) << 8;
  if (rest >= 1) {
    h ^= static_cast<uint32_t>(static_cast<uint8_t>(key[tail]));
    h *= m;
  }
  h ^= h >> 13;
  h *= m;
  h ^= h >> 15;
  return static_cast<int32_t>(h);
}

int PartitionForKey(std::string_view key, int partitions) {
  uint32_t positive = static_cast<uint32_t>(Murmur2(key)) & 0x7fffffffU;
  return static_cast<int>(positive % static_cast<uint32_t>(partitions));
}

StatusOr<std::vector<Record>> PartitionReader::Read(size_t max, std::chrono::milliseconds wait) {
  std::vector<Record> out(std::min<size_t>(max, 4096));
  size_t n = 0;
  while (n < max) {
    if (out.size() < n + 1) out.resize(std::min(max, out.size() * 2));
    ASSIGN_OR_RETURN(size_t got,
                     ReadInto(out.data() + n, out.size() - n, n == 0 ? wait : std::chrono::milliseconds(0)));
    if (got == 0) break;
    n += got;
  }
  out.resize(n);
  return out;
}

StatusOr<std::unique_ptr<EmbeddedLog>> EmbeddedLog::Open(const std::string& dir, LogOptions options) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return ErrnoToStatus(ec.value(), StrCat("create bus directory ", dir));
  return std::unique_ptr<EmbeddedLog>(new EmbeddedLog(fs::absolute(dir).string(), options));
}

Status EmbeddedLog::CreateTopic(const std::string& topic, const TopicConfig& config) {
  RETURN_IF_ERROR(ValidName("topic", topic));
  if (config.partitions < 1 || config.partitions > 10000) {
    return absl::InvalidArgumentError(StrCat("topic ", topic, ": partitions must be 1 to 10000"));
  }
  std::string tdir = StrCat(dir_, "/", topic);
  if (fs::exists(tdir + "/topic.json")) {
    return absl::AlreadyExistsError(StrCat("topic ", topic, " already exists in log://", dir_));
  }
  std::error_code ec;
  for (int p = 0; p < config.partitions; ++p) fs::create_directories(PartitionDir(dir_, topic, p), ec);
  if (ec) return ErrnoToStatus(ec.value(), StrCat("create topic ", topic));
  nlohmann::json j = {{"partitions", config.partitions},
                      {"segment_bytes", config.segment_bytes},
                      {"retention_bytes", config.retention_bytes},
                      {"retention_ms", config.retention_ms}};
  return core::WriteFileAtomically(tdir + "/topic.json", j.dump(2));
}

StatusOr<TopicConfig> EmbeddedLog::DescribeTopic(const std::string& topic) const {
  RETURN_IF_ERROR(ValidName("topic", topic));
  std::string path = StrCat(dir_, "/", topic, "/topic.json");
  StatusOr<std::string> text = core::ReadFile(path);
  if (absl::IsNotFound(text.status())) {
    return absl::NotFoundError(StrCat("topic ", topic, " does not exist in log://", dir_, " (create it first)"));
  }
  if (!text.ok()) return text.status();
  auto damaged = [&](std::string_view what) {
    return absl::DataLossError(fmt::format(
        "{} is damaged: {}; restore it (it holds the topic's partition count and retention; {{\"partitions\": N}} is "
        "enough)",
        path, what));
  };
  nlohmann::json j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_discarded()) return damaged(text->empty() ? "it is empty" : "it is not valid JSON");
  if (!j.is_object()) return damaged("it is not a JSON object");
  TopicConfig c;
  auto get = [&](const char* key, auto* out) -> Status {
    auto it = j.find(key);
    if (it == j.end()) return absl::OkStatus();
    if (!it->is_number_integer() || (it->is_number_unsigned() == false && it->template get<int64_t>() < 0)) {
      return damaged(fmt::format("\"{}\" must be a non-negative integer", key));
    }
    *out = it->template get<std::remove_pointer_t<decltype(out)>>();
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(get("partitions", &c.partitions));
  RETURN_IF_ERROR(get("segment_bytes", &c.segment_bytes));
  RETURN_IF_ERROR(get("retention_bytes", &c.retention_bytes));
  RETURN_IF_ERROR(get("retention_ms", &c.retention_ms));
  if (c.partitions < 1 || c.partitions > 10000) return damaged("\"partitions\" must be 1 to 10000");
  if (c.segment_bytes < 1024) return damaged("\"segment_bytes\" must be at least 1024");
  return c;
}

StatusOr<std::vector<std::string>> EmbeddedLog::ListTopics() const {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir_, ec)) {
    if (fs::exists(e.path() / "topic.json")) out.push_back(e.path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

StatusOr<std::unique_ptr<PartitionWriter>> EmbeddedLog::OpenWriter(const std::string& topic, int partition) {
  ASSIGN_OR_RETURN(TopicConfig config, DescribeTopic(topic));
  if (partition < 0 || partition >= config.partitions) {
    return absl::InvalidArgumentError(StrCat("topic ", topic, " has no partition ", partition));
  }
  std::string pdir = PartitionDir(dir_, topic, partition);
  std::error_code ec;
  fs::create_directories(pdir, ec);
  std::string lock = pdir + "/.writer";
  int fd = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Errno(StrCat("open ", lock));
  auto until = std::chrono::steady_clock::now() + options_.writer_lock_timeout;
  while (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (std::chrono::steady_clock::now() > until) {
      ::close(fd);
      return absl::UnavailableError(
          StrCat("partition ", partition, " of ", topic, " has another writer (", lock, " is locked)"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  auto w = std::make_unique<LogWriter>(pdir, topic, partition, config, options_, fd);
  RETURN_IF_ERROR(w->Recover());
  return std::unique_ptr<PartitionWriter>(std::move(w));
}

StatusOr<std::unique_ptr<PartitionReader>> EmbeddedLog::OpenReader(const std::string& topic, int partition) {
  ASSIGN_OR_RETURN(TopicConfig config, DescribeTopic(topic));
  if (partition < 0 || partition >= config.partitions) {
    return absl::InvalidArgumentError(StrCat("topic ", topic, " has no partition ", partition));
  }
  auto r = std::make_unique<LogReader>(PartitionDir(dir_, topic, partition), topic, partition, options_.on_damage);
  RETURN_IF_ERROR(r->Seek(0));
  return std::unique_ptr<PartitionReader>(std::move(r));
}

StatusOr<std::pair<int64_t, int64_t>> EmbeddedLog::OffsetRange(const std::string& topic, int partition) const {
  ASSIGN_OR_RETURN(TopicConfig config, DescribeTopic(topic));
  if (partition < 0 || partition >= config.partitions) {
    return absl::InvalidArgumentError(StrCat("topic ", topic, " has no partition ", partition));
  }
  std::string pdir = PartitionDir(dir_, topic, partition);
  std::vector<int64_t> segs = Segments(pdir);
  std::optional<int64_t> hwm = ReadHwm(pdir);
  if (segs.empty()) return std::make_pair(hwm.value_or(0), hwm.value_or(0));
  if (hwm) return std::make_pair(segs.front(), std::max(*hwm, segs.back()));
  // A partition of an older version (no high-water mark): the newest segment says.
  std::string name = SegmentName(segs.back(), ".log");
  ASSIGN_OR_RETURN(std::string data, ReadSegment(StrCat(pdir, "/", name)));
  return std::make_pair(segs.front(), ScanSegment(data, segs.back(), name).next_offset);
}

StatusOr<PartitionInfo> EmbeddedLog::Inspect(const std::string& topic, int partition) const {
  PartitionInfo info;
  ASSIGN_OR_RETURN(auto range, OffsetRange(topic, partition));
  info.start = range.first;
  info.end = range.second;
  info.damage = ReadDamage(PartitionDir(dir_, topic, partition));
  return info;
}

Status EmbeddedLog::CommitOffset(const std::string& topic, const std::string& group, int partition,
                                 int64_t next_offset) {
  RETURN_IF_ERROR(ValidName("group", group));
  std::string gdir = StrCat(dir_, "/", topic, "/groups/", group);
  std::error_code ec;
  fs::create_directories(gdir, ec);
  if (ec) return ErrnoToStatus(ec.value(), StrCat("create ", gdir));
  // The newline ends the record: a file cut short (a damaged disk, an editor)
  // then reads as damage instead of as a smaller, wrong offset.
  return core::WriteFileAtomically(StrCat(gdir, "/", partition), StrCat(next_offset, "\n"));
}

StatusOr<std::optional<int64_t>> EmbeddedLog::CommittedOffset(const std::string& topic, const std::string& group,
                                                              int partition) const {
  RETURN_IF_ERROR(ValidName("group", group));
  std::string path = StrCat(dir_, "/", topic, "/groups/", group, "/", partition);
  StatusOr<std::string> text = core::ReadFile(path);
  if (absl::IsNotFound(text.status())) return std::optional<int64_t>();
  if (!text.ok()) return text.status();
  int64_t v = 0;
  if (!text->ends_with('\n') || !ParseInt(StripAsciiWhitespace(*text), &v) || v < 0) {
    return absl::DataLossError(StrCat("group ", group, " offset file for ", topic, "/", partition, " is damaged (",
                                      path, "): it must hold the next offset to read and a newline; delete it to "
                                            "read the partition again from --from-beginning or the end, or write "
                                            "the offset into it (echo N > ",
                                      path, ")"));
  }
  return std::optional<int64_t>(v);
}

Status EmbeddedLog::EnforceRetention(const std::string& topic) {
  ASSIGN_OR_RETURN(TopicConfig config, DescribeTopic(topic));
  for (int p = 0; p < config.partitions; ++p) {
    RETURN_IF_ERROR(LogWriter::Retention(PartitionDir(dir_, topic, p), config));
  }
  return absl::OkStatus();
}

}  // namespace comptoir::bus
