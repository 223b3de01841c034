#include "comptoir/bus/embedded_log.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <isa-l/crc.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "fmt/format.h"
#include "nlohmann/json.hpp"
#include "comptoir/core/files.h"
#include "comptoir/core/time.h"

namespace comptoir::bus {
namespace fs = std::filesystem;
namespace {

constexpr size_t kHeader = 4 + 4 + 8 + 8 + 4;  // length, crc, offset, timestamp, key length
constexpr uint32_t kMaxRecord = 64u << 20;
constexpr uint64_t kIndexEvery = 64 << 10;

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
uint32_t Crc(const char* p, size_t n) {
  return crc32_gzip_refl(0, reinterpret_cast<const unsigned char*>(p), n);
}

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

// Decodes the record at `pos` of `data` (which holds the file from `pos`).
// Returns the record size, 0 when incomplete, or -1 when corrupt.
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

struct ScanResult {
  int64_t next_offset;     // offset after the last valid record
  uint64_t valid_bytes;    // length of the valid prefix
  std::string index;       // rebuilt sparse index
};

// Reads a whole segment and validates it record by record.
StatusOr<ScanResult> ScanSegment(const std::string& path, int64_t base) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(StrCat("segment ", path, " is missing"));
  std::string data((std::istreambuf_iterator<char>(in)), {});
  ScanResult r{base, 0, {}};
  uint64_t last_index = 0;
  Record rec;
  while (r.valid_bytes < data.size()) {
    int64_t n = Decode(std::string_view(data).substr(r.valid_bytes), &rec);
    if (n <= 0 || rec.offset != r.next_offset) break;  // torn or foreign tail
    if (r.valid_bytes == 0 || r.valid_bytes - last_index >= kIndexEvery) {
      Put<uint32_t>(&r.index, static_cast<uint32_t>(rec.offset - base));
      Put<uint32_t>(&r.index, static_cast<uint32_t>(r.valid_bytes));
      last_index = r.valid_bytes;
    }
    r.valid_bytes += static_cast<uint64_t>(n);
    ++r.next_offset;
  }
  return r;
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


std::string PartitionDir(const std::string& dir, const std::string& topic, int p) {
  return StrCat(dir, "/", topic, "/", p);
}

Status ValidName(std::string_view what, const std::string& name) {
  if (name.empty() || name.size() > 200 || name[0] == '.' ||
      name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") !=
          std::string::npos) {
    return absl::InvalidArgumentError(
        StrCat(what, " \"", name, "\" may use letters, digits, '.', '_' and '-' only"));
  }
  return absl::OkStatus();
}

class LogWriter final : public PartitionWriter {
 public:
  LogWriter(std::string dir, TopicConfig config, LogOptions options, int lock_fd)
      : dir_(std::move(dir)), config_(config), options_(options), lock_fd_(lock_fd) {}
  ~LogWriter() override {
    (void)Flush();
    if (fd_ >= 0) ::close(fd_);
    ::close(lock_fd_);  // releases the flock
  }

  Status Recover() {
    std::vector<int64_t> segs = Segments(dir_);
    if (segs.empty()) return OpenSegment(0);
    base_ = segs.back();
    std::string path = Path(base_, ".log");
    ASSIGN_OR_RETURN(ScanResult scan, ScanSegment(path, base_));
    fd_ = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd_ < 0) return Errno(StrCat("open ", path));
    struct stat st {};
    ::fstat(fd_, &st);
    if (static_cast<uint64_t>(st.st_size) != scan.valid_bytes) {
      // A torn tail from a crash: cut it off, never hand it to a reader.
      if (::ftruncate(fd_, static_cast<off_t>(scan.valid_bytes)) != 0) return Errno("truncate");
      ::fdatasync(fd_);
      truncated_bytes_ = static_cast<uint64_t>(st.st_size) - scan.valid_bytes;
    }
    ::lseek(fd_, 0, SEEK_END);
    size_ = scan.valid_bytes;
    next_ = scan.next_offset;
    last_index_ = size_;
    return core::WriteFileAtomically(Path(base_, ".index"), scan.index);
  }

  StatusOr<int64_t> Append(std::string_view key, std::string_view value,
                           int64_t timestamp_ms) override {
    uint64_t len = kHeader - 4 + key.size() + value.size();
    if (len > kMaxRecord) {
      return absl::InvalidArgumentError(StrCat("record of ", len, " bytes exceeds the ",
                                               kMaxRecord, "-byte limit"));
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
      if (::fdatasync(fd_) != 0) return Errno("fsync log segment");
      last_sync_ = now;
    }
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
  uint64_t truncated_bytes() const { return truncated_bytes_; }

 private:
  std::string Path(int64_t base, const char* ext) const {
    return StrCat(dir_, "/", SegmentName(base, ext));
  }
  Status OpenSegment(int64_t base) {
    base_ = base;
    std::string path = Path(base, ".log");
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd_ < 0) return Errno(StrCat("create ", path));
    size_ = 0;
    last_index_ = 0;
    next_ = base;
    // Make the new segment's name durable before records depend on it.
    int dfd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      ::fsync(dfd);
      ::close(dfd);
    }
    return absl::OkStatus();
  }
  Status Roll() {
    RETURN_IF_ERROR(Flush());
    ::fdatasync(fd_);
    ::close(fd_);
    fd_ = -1;
    int64_t next = next_;
    RETURN_IF_ERROR(OpenSegment(next));
    return Retention(dir_, config_);
  }

 public:
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
  std::string dir_;
  TopicConfig config_;
  LogOptions options_;
  int lock_fd_;
  int fd_ = -1;
  int64_t base_ = 0;
  uint64_t size_ = 0;  // bytes in the active segment on disk
  int64_t next_ = 0;
  uint64_t last_index_ = 0;
  std::string buf_;
  std::string index_buf_;
  std::chrono::steady_clock::time_point last_sync_{};
  uint64_t truncated_bytes_ = 0;
};

class LogReader final : public PartitionReader {
 public:
  LogReader(std::string dir, std::string topic, int partition)
      : dir_(std::move(dir)), topic_(std::move(topic)), partition_(partition) {}
  ~LogReader() override {
    if (fd_ >= 0) ::close(fd_);
  }

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
    // The sparse index gets close; records are scanned from there.
    std::ifstream idx(StrCat(dir_, "/", SegmentName(base, ".index")), std::ios::binary);
    std::string index((std::istreambuf_iterator<char>(idx)), {});
    struct stat st {};
    ::fstat(fd_, &st);
    for (size_t i = 0; i + 8 <= index.size(); i += 8) {
      int64_t rel = Get<uint32_t>(index.data() + i);
      uint64_t pos = Get<uint32_t>(index.data() + i + 4);
      if (base + rel > offset || pos >= static_cast<uint64_t>(st.st_size)) break;
      file_pos_ = pos;
      position_ = base + rel;
      buf_.clear();
      buf_pos_ = 0;
    }
    Record skipped;
    while (position_ < offset) {
      ASSIGN_OR_RETURN(bool got, Next(&skipped));
      if (!got) break;
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
      if (Fill(4)) {
        uint32_t len = Get<uint32_t>(buf_.data() + buf_pos_);
        if (len > kMaxRecord) return Torn();
        if (Fill(4 + static_cast<size_t>(len))) {
          int64_t size = Decode(std::string_view(buf_).substr(buf_pos_, 4 + len), r);
          if (size > 0 && r->offset == position_) {
            if (r->topic != topic_) r->topic = topic_;
            r->partition = partition_;
            file_pos_ += static_cast<uint64_t>(size);
            buf_pos_ += static_cast<size_t>(size);
            ++position_;
            return true;
          }
          // A record being written right now can look torn for a moment.
          if (attempt < 50) {
            buf_.clear();
            buf_pos_ = 0;
            std::this_thread::sleep_for(std::chrono::microseconds(100));
            continue;
          }
          return Torn();
        }
      }
      // End of this segment: move on if the writer rolled to the next one.
      std::vector<int64_t> segs = Segments(dir_);
      auto it = std::upper_bound(segs.begin(), segs.end(), base_);
      if (it != segs.end() && *it == position_) {
        RETURN_IF_ERROR(OpenSegment(*it));
        continue;
      }
      // At the tail: forget buffered bytes, a new writer may truncate a torn tail.
      buf_.clear();
      buf_pos_ = 0;
      return false;
    }
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
    ssize_t got = ::pread(fd_, buf_.data() + have, want - have,
                          static_cast<off_t>(file_pos_ + have));
    buf_.resize(have + static_cast<size_t>(std::max<ssize_t>(got, 0)));
    return buf_.size() >= n;
  }

  // Bad bytes at the end of the newest segment are a crashed writer's torn
  // tail (the next writer truncates it) or a write in flight: no record yet.
  // In an older, rolled segment they are real corruption.
  StatusOr<bool> Torn() {
    std::vector<int64_t> segs = Segments(dir_);
    if (!segs.empty() && segs.back() == base_) {
      buf_.clear();
      buf_pos_ = 0;
      return false;
    }
    return Corrupt();
  }
  Status Corrupt() {
    return absl::DataLossError(StrCat("corrupt record in ", dir_, "/", SegmentName(base_, ".log"),
                                      " at byte ", file_pos_, " (offset ", position_, ")"));
  }

  std::string dir_;
  std::string topic_;
  int partition_;
  int fd_ = -1;
  int64_t base_ = 0;
  uint64_t file_pos_ = 0;
  int64_t position_ = 0;
  std::string buf_;     // file bytes from file_pos_ - buf_pos_
  size_t buf_pos_ = 0;  // where file_pos_ is in buf_
};

}  // namespace

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
    ASSIGN_OR_RETURN(size_t got, ReadInto(out.data() + n, out.size() - n,
                                          n == 0 ? wait : std::chrono::milliseconds(0)));
    if (got == 0) break;
    n += got;
  }
  out.resize(n);
  return out;
}

StatusOr<std::unique_ptr<EmbeddedLog>> EmbeddedLog::Open(const std::string& dir,
                                                         LogOptions options) {
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
  std::ifstream in(StrCat(dir_, "/", topic, "/topic.json"));
  if (!in) {
    return absl::NotFoundError(StrCat("topic ", topic, " does not exist in log://", dir_,
                                      " (create it first)"));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  nlohmann::json j = nlohmann::json::parse(ss.str(), nullptr, false);
  if (j.is_discarded()) return absl::DataLossError(StrCat("topic ", topic, ": corrupt topic.json"));
  TopicConfig c;
  c.partitions = j.value("partitions", 1);
  c.segment_bytes = j.value("segment_bytes", c.segment_bytes);
  c.retention_bytes = j.value("retention_bytes", c.retention_bytes);
  c.retention_ms = j.value("retention_ms", c.retention_ms);
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

StatusOr<std::unique_ptr<PartitionWriter>> EmbeddedLog::OpenWriter(const std::string& topic,
                                                                   int partition) {
  ASSIGN_OR_RETURN(TopicConfig config, DescribeTopic(topic));
  if (partition < 0 || partition >= config.partitions) {
    return absl::InvalidArgumentError(StrCat("topic ", topic, " has no partition ", partition));
  }
  std::string pdir = PartitionDir(dir_, topic, partition);
  std::string lock = pdir + "/.writer";
  int fd = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Errno(StrCat("open ", lock));
  auto until = std::chrono::steady_clock::now() + options_.writer_lock_timeout;
  while (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (std::chrono::steady_clock::now() > until) {
      ::close(fd);
      return absl::UnavailableError(StrCat("partition ", partition, " of ", topic,
                                           " has another writer (", lock, " is locked)"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  auto w = std::make_unique<LogWriter>(pdir, config, options_, fd);
  RETURN_IF_ERROR(w->Recover());
  return std::unique_ptr<PartitionWriter>(std::move(w));
}

StatusOr<std::unique_ptr<PartitionReader>> EmbeddedLog::OpenReader(const std::string& topic,
                                                                   int partition) {
  ASSIGN_OR_RETURN(TopicConfig config, DescribeTopic(topic));
  if (partition < 0 || partition >= config.partitions) {
    return absl::InvalidArgumentError(StrCat("topic ", topic, " has no partition ", partition));
  }
  auto r = std::make_unique<LogReader>(PartitionDir(dir_, topic, partition), topic, partition);
  RETURN_IF_ERROR(r->Seek(0));
  return std::unique_ptr<PartitionReader>(std::move(r));
}

StatusOr<std::pair<int64_t, int64_t>> EmbeddedLog::OffsetRange(const std::string& topic,
                                                               int partition) const {
  ASSIGN_OR_RETURN(TopicConfig config, DescribeTopic(topic));
  if (partition < 0 || partition >= config.partitions) {
    return absl::InvalidArgumentError(StrCat("topic ", topic, " has no partition ", partition));
  }
  std::string pdir = PartitionDir(dir_, topic, partition);
  std::vector<int64_t> segs = Segments(pdir);
  if (segs.empty()) return std::make_pair<int64_t, int64_t>(0, 0);
  ASSIGN_OR_RETURN(ScanResult last, ScanSegment(StrCat(pdir, "/", SegmentName(segs.back(), ".log")),
                                                segs.back()));
  return std::make_pair(segs.front(), last.next_offset);
}

Status EmbeddedLog::CommitOffset(const std::string& topic, const std::string& group,
                                 int partition, int64_t next_offset) {
  RETURN_IF_ERROR(ValidName("group", group));
  std::string gdir = StrCat(dir_, "/", topic, "/groups/", group);
  std::error_code ec;
  fs::create_directories(gdir, ec);
  if (ec) return ErrnoToStatus(ec.value(), StrCat("create ", gdir));
  return core::WriteFileAtomically(StrCat(gdir, "/", partition), std::to_string(next_offset));
}

StatusOr<std::optional<int64_t>> EmbeddedLog::CommittedOffset(const std::string& topic,
                                                              const std::string& group,
                                                              int partition) const {
  RETURN_IF_ERROR(ValidName("group", group));
  std::ifstream in(StrCat(dir_, "/", topic, "/groups/", group, "/", partition));
  if (!in) return std::optional<int64_t>();
  std::string text((std::istreambuf_iterator<char>(in)), {});
  int64_t v = 0;
  if (!ParseInt(StripAsciiWhitespace(text), &v)) {
    return absl::DataLossError(StrCat("group ", group, " offset file for ", topic, "/", partition,
                                      " is corrupt"));
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
