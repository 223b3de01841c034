// mem:// backend for tests: a namespace kept in process memory. Files become
// visible at Create() (like HDFS) and their content grows with Append().
#include <chrono>
#include <map>
#include <memory>
#include <mutex>

#include "comptoir/core/time.h"
#include "comptoir/lake/storage.h"

namespace comptoir::lake {
namespace {

struct Node {
  bool is_dir = false;
  std::shared_ptr<std::string> data;
  int64_t mtime_ms = 0;
};

struct MemFs {
  std::mutex mu;
  std::map<std::string, Node> nodes;  // path -> node; "/" always present
  MemFs() { nodes["/"] = Node{true, nullptr, core::UnixMillis()}; }
};

class MemWritableFile final : public WritableFile {
 public:
  MemWritableFile(std::shared_ptr<MemFs> fs, std::shared_ptr<std::string> data)
      : fs_(std::move(fs)), data_(std::move(data)) {}
  Status Append(std::string_view d) override {
    if (closed_) return absl::FailedPreconditionError("file is closed");
    std::lock_guard<std::mutex> lock(fs_->mu);
    data_->append(d);
    size_ += d.size();
    return absl::OkStatus();
  }
  Status Close() override {
    closed_ = true;
    return absl::OkStatus();
  }
  uint64_t Size() const override { return size_; }

 private:
  std::shared_ptr<MemFs> fs_;
  std::shared_ptr<std::string> data_;
  uint64_t size_ = 0;
  bool closed_ = false;
};

class MemReadableFile final : public ReadableFile {
 public:
  MemReadableFile(std::string snapshot) : data_(std::move(snapshot)) {}
  StatusOr<size_t> Read(char* buf, size_t n) override {
    size_t k = std::min(n, data_.size() - pos_);
    std::copy_n(data_.data() + pos_, k, buf);
    pos_ += k;
    return k;
  }

 private:
  std::string data_;
  size_t pos_ = 0;
};

class MemStorage final : public Storage {
 public:
  MemStorage(std::string name, std::shared_ptr<MemFs> fs)
      : name_(std::move(name)), fs_(std::move(fs)) {}

  std::string Uri() const override { return "mem://" + name_; }
  Capabilities capabilities() const override { return {true, true, false}; }

  StatusOr<FileInfo> Stat(const std::string& path) override {
    ASSIGN_OR_RETURN(std::string p, NormalizePath(path));
    std::lock_guard<std::mutex> lock(fs_->mu);
    return StatLocked(p);
  }

  StatusOr<std::vector<FileInfo>> List(const std::string& dir) override {
    ASSIGN_OR_RETURN(std::string p, NormalizePath(dir));
    std::lock_guard<std::mutex> lock(fs_->mu);
    ASSIGN_OR_RETURN(FileInfo self, StatLocked(p));
    if (!self.is_dir) {
      return absl::FailedPreconditionError(StrCat(p, " is a file, not a directory"));
    }
    std::string prefix = p == "/" ? "/" : p + "/";
    std::vector<FileInfo> out;
    for (auto it = fs_->nodes.lower_bound(prefix);
         it != fs_->nodes.end() && it->first.starts_with(prefix); ++it) {
      std::string_view rest = std::string_view(it->first).substr(prefix.size());
      if (rest.empty() || rest.find('/') != std::string_view::npos) continue;
      out.push_back(Info(it->first, it->second));
    }
    return out;  // std::map keeps names sorted within one directory
  }

  Status MakeDirs(const std::string& dir) override {
    ASSIGN_OR_RETURN(std::string p, NormalizePath(dir));
    std::lock_guard<std::mutex> lock(fs_->mu);
    return MakeDirsLocked(p);
  }

  StatusOr<std::unique_ptr<WritableFile>> Create(const std::string& path,
                                                 const CreateOptions& options) override {
    ASSIGN_OR_RETURN(std::string p, NormalizePath(path));
    std::lock_guard<std::mutex> lock(fs_->mu);
    RETURN_IF_ERROR(MakeDirsLocked(ParentPath(p)));
    auto it = fs_->nodes.find(p);
    if (it != fs_->nodes.end()) {
      if (it->second.is_dir) return absl::AlreadyExistsError(StrCat(p, " is a directory"));
      if (!options.overwrite) return absl::AlreadyExistsError(StrCat(p, " already exists"));
    }
    auto data = std::make_shared<std::string>();
    fs_->nodes[p] = Node{false, data, core::UnixMillis()};
    return std::unique_ptr<WritableFile>(new MemWritableFile(fs_, data));
  }

  StatusOr<std::unique_ptr<WritableFile>> OpenForAppend(const std::string& path) override {
    ASSIGN_OR_RETURN(std::string p, NormalizePath(path));
    std::lock_guard<std::mutex> lock(fs_->mu);
    auto it = fs_->nodes.find(p);
    if (it == fs_->nodes.end()) return absl::NotFoundError(StrCat(p, " does not exist"));
    if (it->second.is_dir) return absl::FailedPreconditionError(StrCat(p, " is a directory"));
    return std::unique_ptr<WritableFile>(new MemWritableFile(fs_, it->second.data));
  }

  StatusOr<std::unique_ptr<ReadableFile>> Open(const std::string& path, uint64_t offset,
                                               uint64_t length) override {
    ASSIGN_OR_RETURN(std::string p, NormalizePath(path));
    std::lock_guard<std::mutex> lock(fs_->mu);
    auto it = fs_->nodes.find(p);
    if (it == fs_->nodes.end()) return absl::NotFoundError(StrCat(p, " does not exist"));
    if (it->second.is_dir) return absl::FailedPreconditionError(StrCat(p, " is a directory"));
    const std::string& d = *it->second.data;
    size_t off = static_cast<size_t>(std::min<uint64_t>(offset, d.size()));
    size_t len = static_cast<size_t>(std::min<uint64_t>(length, d.size() - off));
    return std::unique_ptr<ReadableFile>(new MemReadableFile(d.substr(off, len)));
  }

  Status Rename(const std::string& src, const std::string& dst) override {
    ASSIGN_OR_RETURN(std::string s, NormalizePath(src));
    ASSIGN_OR_RETURN(std::string d, NormalizePath(dst));
    std::lock_guard<std::mutex> lock(fs_->mu);
    if (!fs_->nodes.contains(s)) return absl::NotFoundError(StrCat(s, " does not exist"));
    if (fs_->nodes.contains(d)) return absl::AlreadyExistsError(StrCat(d, " already exists"));
    if (d.starts_with(s + "/")) {
      return absl::InvalidArgumentError(StrCat("cannot move ", s, " into itself"));
    }
    RETURN_IF_ERROR(MakeDirsLocked(ParentPath(d)));
    std::vector<std::pair<std::string, Node>> moved;
    for (auto it = fs_->nodes.begin(); it != fs_->nodes.end();) {
      if (it->first == s || it->first.starts_with(s + "/")) {
        moved.emplace_back(d + it->first.substr(s.size()), it->second);
        it = fs_->nodes.erase(it);
      } else {
        ++it;
      }
    }
    for (auto& [k, v] : moved) fs_->nodes[k] = std::move(v);
    return absl::OkStatus();
  }

  Status Delete(const std::string& path, bool recursive) override {
    ASSIGN_OR_RETURN(std::string p, NormalizePath(path));
    if (p == "/") return absl::InvalidArgumentError("refusing to delete the lake's root");
    std::lock_guard<std::mutex> lock(fs_->mu);
    auto it = fs_->nodes.find(p);
    if (it == fs_->nodes.end()) return absl::NotFoundError(StrCat(p, " does not exist"));
    std::string prefix = p + "/";
    auto child = fs_->nodes.lower_bound(prefix);
    bool has_children = child != fs_->nodes.end() && child->first.starts_with(prefix);
    if (has_children && !recursive) {
      return absl::FailedPreconditionError(
          StrCat("directory ", p, " is not empty (delete it recursively)"));
    }
    for (auto i = fs_->nodes.begin(); i != fs_->nodes.end();) {
      i = (i->first == p || i->first.starts_with(prefix)) ? fs_->nodes.erase(i)
                                                                 : std::next(i);
    }
    return absl::OkStatus();
  }

 private:
  static FileInfo Info(const std::string& path, const Node& n) {
    FileInfo fi;
    fi.path = path;
    fi.name = std::string(BaseName(path));
    fi.is_dir = n.is_dir;
    fi.size = n.is_dir ? 0 : n.data->size();
    fi.mtime_ms = n.mtime_ms;
    return fi;
  }
  StatusOr<FileInfo> StatLocked(const std::string& p) {
    auto it = fs_->nodes.find(p);
    if (it == fs_->nodes.end()) {
      return absl::NotFoundError(StrCat(p, " does not exist in ", Uri()));
    }
    return Info(p, it->second);
  }
  Status MakeDirsLocked(const std::string& p) {
    std::string cur;
    for (std::string_view part : Split(p, '/', true)) {
      StrAppend(&cur, "/", part);
      auto it = fs_->nodes.find(cur);
      if (it == fs_->nodes.end()) {
        fs_->nodes[cur] = Node{true, nullptr, core::UnixMillis()};
      } else if (!it->second.is_dir) {
        return absl::AlreadyExistsError(StrCat(cur, " is a file, not a directory"));
      }
    }
    return absl::OkStatus();
  }

  std::string name_;
  std::shared_ptr<MemFs> fs_;
};

}  // namespace

std::unique_ptr<Storage> NewMemStorage(std::string name) {
  static std::mutex mu;
  static auto* filesystems = new std::map<std::string, std::shared_ptr<MemFs>>();
  std::lock_guard<std::mutex> lock(mu);
  std::shared_ptr<MemFs>& fs = (*filesystems)[name];
  if (!fs) fs = std::make_shared<MemFs>();
  return std::make_unique<MemStorage>(std::move(name), fs);
}

}  // namespace comptoir::lake
