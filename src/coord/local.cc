// local:///dir: one machine's coordination with flock(2) and files.
//
//   <dir>/locks/<name>             flock held by the lock's owner; holds the holder's name
//   <dir>/kv/<key>                 "<version>\n<value>", replaced atomically under <dir>/kv/.lock
//   <dir>/members/<group>/<id>     flock held by the member; "<size>\n<payload>"
// The kernel drops a dead process's flocks: locks and registrations are leases.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include "comptoir/core/strings.h"
#include "coord_internal.h"
#include "fmt/format.h"

namespace comptoir::coord {
namespace {

namespace fs = std::filesystem;

Status Errno(const std::string& what) { return absl::InternalError(fmt::format("{}: {}", what, strerror(errno))); }

std::string ReadFd(int fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  off_t off = 0;
  while ((n = pread(fd, buf, sizeof(buf), off)) > 0) out.append(buf, static_cast<size_t>(n)), off += n;
  return out;
}

Status WriteFd(int fd, const std::string& data) {
  if (ftruncate(fd, 0) != 0) return Errno("truncate");
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = pwrite(fd, data.data() + done, data.size() - done, static_cast<off_t>(done));
    if (n < 0) return Errno("write");
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

class LocalLock : public Lock {
 public:
  explicit LocalLock(int fd) : fd_(fd) {}
  ~LocalLock() override {
    (void)ftruncate(fd_, 0);
    close(fd_);  // drops the flock
  }
  bool lost() const override { return false; }

 private:
  int fd_;
};

class LocalRegistration : public Registration {
 public:
  LocalRegistration(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~LocalRegistration() override {
    unlink(path_.c_str());
    close(fd_);
  }
  Status Update(const std::string& payload) override { return WriteFd(fd_, fmt::format("{}\n{}", payload.size(), payload)); }

 private:
  int fd_;
  std::string path_;
};

class LocalCoordinator : public Coordinator {
 public:
  explicit LocalCoordinator(std::string dir) : dir_(std::move(dir)) {}
  ~LocalCoordinator() override {
    stop_ = true;
    if (poller_.joinable()) poller_.join();
  }

  Status Init() {
    std::error_code ec;
    for (const char* sub : {"locks", "kv", "members"}) {
      fs::create_directories(fs::path(dir_) / sub, ec);
      if (ec) return absl::InternalError(fmt::format("create {}/{}: {}", dir_, sub, ec.message()));
    }
    return absl::OkStatus();
  }

  std::string Uri() const override { return "local://" + dir_; }

  StatusOr<std::unique_ptr<Lock>> Acquire(const std::string& name, const std::string& holder,
                                          std::chrono::milliseconds wait) override {
    ASSIGN_OR_RETURN(std::string file, internal::NodeName(name));
    std::string path = fmt::format("{}/locks/{}", dir_, file);
    int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return Errno("open " + path);
    auto deadline = std::chrono::steady_clock::now() + wait;
    while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
      if (errno != EWOULDBLOCK || std::chrono::steady_clock::now() >= deadline) {
        std::string by = ReadFd(fd);
        close(fd);
        return absl::FailedPreconditionError(
            fmt::format("lock {} is held by {}", name, by.empty() ? std::string("another process") : by));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    Status w = WriteFd(fd, holder);
    if (!w.ok()) {
      close(fd);
      return w;
    }
    return std::unique_ptr<Lock>(new LocalLock(fd));
  }

  StatusOr<Versioned> Get(const std::string& key) override {
    ASSIGN_OR_RETURN(std::string file, internal::NodeName(key));
    std::string path = fmt::format("{}/kv/{}", dir_, file);
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT) return absl::NotFoundError(fmt::format("no value for {}", key));
      return Errno("open " + path);
    }
    std::string text = ReadFd(fd);
    close(fd);
    auto [version, value] = SplitOnce(text, '\n');
    Versioned v;
    if (!ParseInt(version, &v.version)) return absl::DataLossError(fmt::format("{}: corrupt value file", path));
    v.value = std::string(value);
    return v;
  }

  StatusOr<int64_t> CompareAndSet(const std::string& key, const std::string& value, int64_t expected) override {
    ASSIGN_OR_RETURN(std::string file, internal::NodeName(key));
    std::string guard = dir_ + "/kv/.lock";
    int g = open(guard.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (g < 0) return Errno("open " + guard);
    flock(g, LOCK_EX);
    auto release = [&] { close(g); };
    StatusOr<Versioned> cur = Get(key);
    int64_t have = cur.ok() ? cur->version : kNoVersion;
    if (!cur.ok() && !absl::IsNotFound(cur.status())) {
      release();
      return cur.status();
    }
    if (have != expected) {
      release();
      return absl::FailedPreconditionError(
          fmt::format("{} changed: version {} expected, {} found (someone else wrote it; read it again)", key,
                      expected, have));
    }
    std::string path = fmt::format("{}/kv/{}", dir_, file);
    std::string tmp = path + ".tmp";
    int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    Status s = fd < 0 ? Errno("open " + tmp) : WriteFd(fd, fmt::format("{}\n{}", have + 1, value));
    if (fd >= 0) {
      if (s.ok() && fdatasync(fd) != 0) s = Errno("sync " + tmp);
      close(fd);
    }
    if (s.ok() && rename(tmp.c_str(), path.c_str()) != 0) s = Errno("rename " + tmp);
    release();
    RETURN_IF_ERROR(s);
    return have + 1;
  }

  StatusOr<std::unique_ptr<Registration>> Register(const std::string& group, const std::string& id,
                                                   const std::string& payload) override {
    ASSIGN_OR_RETURN(std::string g, internal::NodeName(group));
    ASSIGN_OR_RETURN(std::string m, internal::NodeName(id));
    std::string dir = fmt::format("{}/members/{}", dir_, g);
    std::error_code ec;
    fs::create_directories(dir, ec);
    std::string path = dir + "/" + m;
    int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return Errno("open " + path);
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
      close(fd);
      return absl::AlreadyExistsError(fmt::format("{} is already a live member of {}", id, group));
    }
    auto r = std::make_unique<LocalRegistration>(fd, path);
    RETURN_IF_ERROR(r->Update(payload));
    return std::unique_ptr<Registration>(std::move(r));
  }

  StatusOr<std::vector<Member>> Members(const std::string& group) override {
    ASSIGN_OR_RETURN(std::string g, internal::NodeName(group));
    std::vector<Member> out;
    std::error_code ec;
    fs::path dir = fs::path(dir_) / "members" / g;
    if (!fs::exists(dir, ec)) return out;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      int fd = open(e.path().c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) continue;
      if (flock(fd, LOCK_SH | LOCK_NB) == 0) {  // nobody holds it: its owner died
        unlink(e.path().c_str());
        close(fd);
        continue;
      }
      std::string text;
      for (int attempt = 0; attempt < 5; ++attempt) {  // an Update() may be half written
        text = ReadFd(fd);
        auto [size, payload] = SplitOnce(text, '\n');
        size_t n = 0;
        if (ParseInt(size, &n) && n == payload.size()) {
          out.push_back({internal::DisplayName(e.path().filename().string()), std::string(payload)});
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
      close(fd);
    }
    std::sort(out.begin(), out.end(), [](const Member& a, const Member& b) { return a.id < b.id; });
    return out;
  }

  Status Watch(const std::string& key_or_group, bool group, std::function<void()> changed) override {
    ASSIGN_OR_RETURN(std::string name, internal::NodeName(key_or_group));
    std::string path = fmt::format("{}/{}/{}", dir_, group ? "members" : "kv", name);
    std::lock_guard<std::mutex> l(mu_);
    watches_.push_back({path, group, Signature(path, group), std::move(changed)});
    if (!poller_.joinable()) poller_ = std::thread([this] { Poll(); });
    return absl::OkStatus();
  }

 private:
  struct WatchEntry {
    std::string path;
    bool group;
    std::string signature;
    std::function<void()> changed;
  };

  static std::string Signature(const std::string& path, bool group) {
    std::string sig;
    auto add = [&sig](const std::string& p) {
      struct stat st {};
      if (stat(p.c_str(), &st) == 0) {
        sig += fmt::format("{}:{}.{}:{};", p, st.st_mtim.tv_sec, st.st_mtim.tv_nsec, st.st_size);
      }
    };
    if (!group) {
      add(path);
      return sig;
    }
    std::error_code ec;
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(path, ec)) names.push_back(e.path().string());
    std::sort(names.begin(), names.end());
    for (const auto& n : names) add(n);
    return sig;
  }

  void Poll() {
    while (!stop_) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      std::vector<std::function<void()>> fire;
      {
        std::lock_guard<std::mutex> l(mu_);
        for (WatchEntry& w : watches_) {
          std::string sig = Signature(w.path, w.group);
          if (sig != w.signature) {
            w.signature = sig;
            fire.push_back(w.changed);
          }
        }
      }
      for (auto& f : fire) f();
    }
  }

  std::string dir_;
  std::mutex mu_;
  std::vector<WatchEntry> watches_;
  std::thread poller_;
  std::atomic<bool> stop_{false};
};

}  // namespace

namespace internal {

StatusOr<std::string> NodeName(const std::string& name) {
  if (name.empty() || name.size() > 200) {
    return absl::InvalidArgumentError(fmt::format("'{}' is not a coordination name (1 to 200 characters)", name));
  }
  std::string out;
  for (char c : name) {
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.') {
      out.push_back(c);
    } else if (c == '/') {
      out += "%2F";
    } else {
      return absl::InvalidArgumentError(
          fmt::format("'{}' is not a coordination name: use letters, digits, '-', '_', '.', '/'", name));
    }
  }
  if (out == "." || out == "..") return absl::InvalidArgumentError(fmt::format("'{}' is not a coordination name", name));
  return out;
}

std::string DisplayName(const std::string& node) {
  std::string out;
  for (size_t i = 0; i < node.size(); ++i) {
    if (node.compare(i, 3, "%2F") == 0) {
      out.push_back('/');
      i += 2;
    } else {
      out.push_back(node[i]);
    }
  }
  return out;
}

StatusOr<std::unique_ptr<Coordinator>> OpenLocal(const std::string& dir) {
  auto c = std::make_unique<LocalCoordinator>(dir);
  RETURN_IF_ERROR(c->Init());
  return std::unique_ptr<Coordinator>(std::move(c));
}

}  // namespace internal
}  // namespace comptoir::coord
