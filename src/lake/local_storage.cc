// file:// backend: a local directory laid out like HDFS. Data is fsync'ed on
// Close() and directories after renames, so a published file survives a
// crash of the process or the machine.
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>

#include "comptoir/lake/storage.h"

namespace comptoir::lake {
namespace {

constexpr size_t kWriteBuffer = 1 << 18;
constexpr uint64_t kSyncEvery = 8 << 20;

Status FsyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoToStatus(errno, StrCat("open directory ", dir));
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return ErrnoToStatus(err, StrCat("fsync directory ", dir));
  return absl::OkStatus();
}

class LocalWritableFile final : public WritableFile {
 public:
  LocalWritableFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {
    buf_.reserve(kWriteBuffer);
  }
  ~LocalWritableFile() override {
    if (fd_ >= 0) ::close(fd_);
  }

  Status Append(std::string_view data) override {
    if (fd_ < 0) return absl::FailedPreconditionError(StrCat(path_, " is closed"));
    size_ += data.size();
    if (buf_.size() + data.size() < kWriteBuffer) {
      buf_.append(data);
      return absl::OkStatus();
    }
    RETURN_IF_ERROR(Flush());
    if (data.size() >= kWriteBuffer) return WriteAll(data);
    buf_.append(data);
    return absl::OkStatus();
  }

  Status Close() override {
    if (fd_ < 0) return absl::OkStatus();
    Status s = Flush();
    if (s.ok() && ::fsync(fd_) != 0) s = ErrnoToStatus(errno, StrCat("fsync ", path_));
    if (::close(fd_) != 0 && s.ok()) s = ErrnoToStatus(errno, StrCat("close ", path_));
    fd_ = -1;
    return s;
  }

  uint64_t Size() const override { return size_; }

 private:
  Status Flush() {
    Status s = WriteAll(buf_);
    buf_.clear();
    // Start writeback every few MB so Close()'s fsync finds little left to do
    // and disk writes overlap the work that produces the data.
    if (s.ok() && size_ - synced_ >= kSyncEvery) {
      sync_file_range(fd_, static_cast<off_t>(synced_), static_cast<off_t>(size_ - synced_),
                      SYNC_FILE_RANGE_WRITE);
      synced_ = size_;
    }
    return s;
  }
  Status WriteAll(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::write(fd_, data.data(), data.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoToStatus(errno, StrCat("write ", path_));
      }
      data.remove_prefix(static_cast<size_t>(n));
    }
    return absl::OkStatus();
  }

  int fd_;
  std::string path_;
  std::string buf_;
  uint64_t size_ = 0;
  uint64_t synced_ = 0;  // bytes handed to writeback so far
};

class LocalReadableFile final : public ReadableFile {
 public:
  LocalReadableFile(int fd, std::string path, uint64_t remaining)
      : fd_(fd), path_(std::move(path)), remaining_(remaining) {}
  ~LocalReadableFile() override { ::close(fd_); }

  StatusOr<size_t> Read(char* buf, size_t n) override {
    n = static_cast<size_t>(std::min<uint64_t>(n, remaining_));
    if (n == 0) return 0;
    while (true) {
      ssize_t r = ::read(fd_, buf, n);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) return ErrnoToStatus(errno, StrCat("read ", path_));
      remaining_ -= static_cast<uint64_t>(r);
      return static_cast<size_t>(r);
    }
  }

 private:
  int fd_;
  std::string path_;
  uint64_t remaining_;
};

class LocalStorage final : public Storage {
 public:
  explicit LocalStorage(std::string root) : root_(std::move(root)) {
    while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
  }

  std::string Uri() const override { return "file://" + root_; }
  Capabilities capabilities() const override { return {}; }

  StatusOr<FileInfo> Stat(const std::string& path) override {
    ASSIGN_OR_RETURN(std::string p, NormalizePath(path));
    return StatLocal(p);
  }

  StatusOr<std::vector<FileInfo>> List(const std::string& dir) override {
    ASSIGN_OR_RETURN(std::string p, NormalizePath(dir));
    std::string local = Local(p);
    DIR* d = ::opendir(local.c_str());
    if (d == nullptr) {
      if (errno == ENOTDIR) {
        return absl::FailedPreconditionError(StrCat(p, " is a file, not a directory"));
      }
      return ErrnoToStatus(errno, StrCat("list ", p));
    }
    std::vector<FileInfo> out;
    while (dirent* e = ::readdir(d)) {
      std::string_view name = e->d_name;
      if (name == "." || name == "..") continue;
      StatusOr<FileInfo> fi = StatLocal(JoinPath(p, name));
      if (fi.ok()) out.push_back(*std::move(fi));  // a file removed meanwhile is skipped
    }
    ::closedir(d);
    std::sort(out.begin(), out.end(),
              [](const FileInfo& a, const FileInfo& b) { return a.name < b.name; });
    return out;
  }

  Status MakeDirs(const std::string& dir) override {
    ASSIGN_OR_RETURN(std::string p, NormalizePath(dir));
    std::error_code ec;
    std::filesystem::create_directories(Local(p), ec);
    if (ec) return ErrnoToStatus(ec.value(), StrCat("mkdir ", p, " in ", Uri()));
    return absl::OkStatus();
  }

  StatusOr<std::unique_ptr<WritableFile>> Create(const std::string& path,
                                                 const CreateOptions& options) override {
    ASSIGN_OR_RETURN(std::string p, NormalizePath(path));
    RETURN_IF_ERROR(MakeDirs(ParentPath(p)));
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (options.overwrite ? O_TRUNC : O_EXCL);
    mode_t mode = options.permission >= 0 ? static_cast<mode_t>(options.permission) : 0644;
    int fd = ::open(Local(p).c_str(), flags, mode);
    if (fd < 0) return ErrnoToStatus(errno, StrCat("create ", p));
    return std::unique_ptr<WritableFile>(new LocalWritableFile(fd, p));
  }

  StatusOr<std::unique_ptr<WritableFile>> OpenForAppend(const std::string& path) override {
    ASSIGN_OR_RETURN(std::string p, NormalizePath(path));
    int fd = ::open(Local(p).c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0) return ErrnoToStatus(errno, StrCat("append to ", p));
    return std::unique_ptr<WritableFile>(new LocalWritableFile(fd, p));
  }

  StatusOr<std::unique_ptr<ReadableFile>> Open(const std::string& path, uint64_t offset,
                                               uint64_t length) override {
    ASSIGN_OR_RETURN(std::string p, NormalizePath(path));
    int fd = ::open(Local(p).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ErrnoToStatus(errno, StrCat("open ", p));
    struct stat st {};
    if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
      ::close(fd);
      return absl::FailedPreconditionError(StrCat(p, " is a directory"));
    }
    if (offset > 0 && ::lseek(fd, static_cast<off_t>(offset), SEEK_SET) < 0) {
      int err = errno;
      ::close(fd);
      return ErrnoToStatus(err, StrCat("seek ", p));
    }
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    return std::unique_ptr<ReadableFile>(new LocalReadableFile(fd, p, length));
  }

  Status Rename(const std::string& src, const std::string& dst) override {
    ASSIGN_OR_RETURN(std::string s, NormalizePath(src));
    ASSIGN_OR_RETURN(std::string d, NormalizePath(dst));
    RETURN_IF_ERROR(MakeDirs(ParentPath(d)));
    if (::renameat2(AT_FDCWD, Local(s).c_str(), AT_FDCWD, Local(d).c_str(), RENAME_NOREPLACE) !=
        0) {
      return ErrnoToStatus(errno, StrCat("rename ", s, " to ", d));
    }
    RETURN_IF_ERROR(FsyncDir(Local(ParentPath(d))));
    if (ParentPath(s) != ParentPath(d)) RETURN_IF_ERROR(FsyncDir(Local(ParentPath(s))));
    return absl::OkStatus();
  }

  Status Delete(const std::string& path, bool recursive) override {
    ASSIGN_OR_RETURN(std::string p, NormalizePath(path));
    if (p == "/") return absl::InvalidArgumentError("refusing to delete the lake's root");
    ASSIGN_OR_RETURN(FileInfo fi, StatLocal(p));
    std::string local = Local(p);
    if (!fi.is_dir) {
      if (::unlink(local.c_str()) != 0) return ErrnoToStatus(errno, StrCat("delete ", p));
      return absl::OkStatus();
    }
    if (!recursive) {
      if (::rmdir(local.c_str()) != 0) {
        if (errno == ENOTEMPTY || errno == EEXIST) {
          return absl::FailedPreconditionError(
              StrCat("directory ", p, " is not empty (delete it recursively)"));
        }
        return ErrnoToStatus(errno, StrCat("delete ", p));
      }
      return absl::OkStatus();
    }
    std::error_code ec;
    std::filesystem::remove_all(local, ec);
    if (ec) return ErrnoToStatus(ec.value(), StrCat("delete ", p));
    return absl::OkStatus();
  }

 private:
  std::string Local(const std::string& lake_path) const {
    return lake_path == "/" ? root_ : root_ + lake_path;
  }

  StatusOr<FileInfo> StatLocal(const std::string& p) {
    struct stat st {};
    if (::stat(Local(p).c_str(), &st) != 0) {
      if (errno == ENOENT || errno == ENOTDIR) {
        return absl::NotFoundError(StrCat(p, " does not exist in ", Uri()));
      }
      return ErrnoToStatus(errno, StrCat("stat ", p));
    }
    FileInfo fi;
    fi.path = p;
    fi.name = std::string(BaseName(p));
    fi.is_dir = S_ISDIR(st.st_mode);
    fi.size = fi.is_dir ? 0 : static_cast<uint64_t>(st.st_size);
    fi.mtime_ms = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1000000;
    return fi;
  }

  std::string root_;
};

}  // namespace

std::unique_ptr<Storage> NewLocalStorage(std::string root_dir) {
  return std::make_unique<LocalStorage>(std::move(root_dir));
}

}  // namespace comptoir::lake
