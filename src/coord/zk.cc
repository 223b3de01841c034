// zk://host:port[,host:port]/chroot: coordination on a ZooKeeper ensemble
// (libzookeeper-mt).
//
//   <chroot>/locks/<name>            ephemeral node holding the holder's name
//   <chroot>/kv/<key>                persistent node; its version is ZooKeeper's
//   <chroot>/members/<group>/<id>    ephemeral node holding the payload
// Watches and session expiry are handled on a worker thread of ours, never on
// the client's completion thread (which must not make synchronous calls).
#include <zookeeper/zookeeper.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <optional>
#include <mutex>
#include <shared_mutex>
#include <thread>

#include "comptoir/core/strings.h"
#include "coord_internal.h"
#include "zk_errors.h"
#include "fmt/format.h"

namespace comptoir::coord {
namespace {

using internal::ZkError;

class ZkCoordinator;

class ZkLock : public Lock {
 public:
  ZkLock(ZkCoordinator* c, std::string path, std::shared_ptr<std::atomic<bool>> lost)
      : c_(c), path_(std::move(path)), lost_(std::move(lost)) {}
  ~ZkLock() override;
  bool lost() const override { return lost_->load(); }

 private:
  ZkCoordinator* c_;
  std::string path_;
  std::shared_ptr<std::atomic<bool>> lost_;
};

class ZkRegistration : public Registration {
 public:
  ZkRegistration(ZkCoordinator* c, std::string path) : c_(c), path_(std::move(path)) {}
  ~ZkRegistration() override;
  Status Update(const std::string& payload) override;

 private:
  ZkCoordinator* c_;
  std::string path_;
};

class ZkCoordinator : public Coordinator {
 public:
  ZkCoordinator(std::string uri, std::string hosts, std::string chroot, std::chrono::milliseconds timeout)
      : uri_(std::move(uri)), hosts_(std::move(hosts)), chroot_(std::move(chroot)), timeout_(timeout) {}

  ~ZkCoordinator() override {
    {
      std::lock_guard<std::mutex> l(task_mu_);
      stop_ = true;
    }
    task_cv_.notify_all();
    if (worker_.joinable()) worker_.join();
    std::unique_lock<std::shared_mutex> l(handle_mu_);
    if (zh_) zookeeper_close(zh_);
  }

  Status Init() {
    zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
    worker_ = std::thread([this] { Work(); });
    std::unique_lock<std::shared_mutex> l(handle_mu_);
    return Connect();
  }

  std::string Uri() const override { return uri_; }

  StatusOr<std::unique_ptr<Lock>> Acquire(const std::string& name, const std::string& holder,
                                          std::chrono::milliseconds wait) override {
    ASSIGN_OR_RETURN(std::string node, internal::NodeName(name));
    std::string path = chroot_ + "/locks/" + node;
    auto deadline = std::chrono::steady_clock::now() + wait;
    std::shared_lock<std::shared_mutex> l(handle_mu_);
    RETURN_IF_ERROR(EnsurePath(chroot_ + "/locks"));
    while (true) {
      int rc = zoo_create(zh_, path.c_str(), holder.data(), static_cast<int>(holder.size()), &ZOO_OPEN_ACL_UNSAFE,
                          ZOO_EPHEMERAL, nullptr, 0);
      if (rc == ZOK) {
        auto lost = std::make_shared<std::atomic<bool>>(false);
        std::lock_guard<std::mutex> g(state_mu_);
        lock_flags_.push_back(lost);
        return std::unique_ptr<Lock>(new ZkLock(this, path, lost));
      }
      if (rc != ZNODEEXISTS) return ZkError(rc, "create " + path);
      if (std::chrono::steady_clock::now() >= deadline) {
        std::string by = GetLocked(path).value_or("another process");
        return absl::FailedPreconditionError(fmt::format("lock {} is held by {}", name, by));
      }
      l.unlock();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      l.lock();
    }
  }

  StatusOr<Versioned> Get(const std::string& key) override {
    ASSIGN_OR_RETURN(std::string node, internal::NodeName(key));
    std::string path = chroot_ + "/kv/" + node;
    std::shared_lock<std::shared_mutex> l(handle_mu_);
    Stat st{};
    int rc = zoo_exists(zh_, path.c_str(), 0, &st);
    if (rc == ZNONODE) return absl::NotFoundError(fmt::format("no value for {}", key));
    if (rc != ZOK) return ZkError(rc, "exists " + path);
    std::string buf(static_cast<size_t>(st.dataLength) + 1, '\0');
    int len = static_cast<int>(buf.size());
    rc = zoo_get(zh_, path.c_str(), 0, buf.data(), &len, &st);
    if (rc == ZNONODE) return absl::NotFoundError(fmt::format("no value for {}", key));
    if (rc != ZOK) return ZkError(rc, "get " + path);
    return Versioned{buf.substr(0, static_cast<size_t>(std::max(len, 0))), st.version};
  }

  StatusOr<int64_t> CompareAndSet(const std::string& key, const std::string& value, int64_t expected) override {
    ASSIGN_OR_RETURN(std::string node, internal::NodeName(key));
    std::string path = chroot_ + "/kv/" + node;
    std::shared_lock<std::shared_mutex> l(handle_mu_);
    auto conflict = [&] {
      return absl::FailedPreconditionError(fmt::format(
          "{} changed: version {} expected (someone else wrote it; read it again)", key, expected));
    };
    if (expected == kNoVersion) {
      RETURN_IF_ERROR(EnsurePath(chroot_ + "/kv"));
      int rc = zoo_create(zh_, path.c_str(), value.data(), static_cast<int>(value.size()), &ZOO_OPEN_ACL_UNSAFE, 0,
                          nullptr, 0);
      if (rc == ZNODEEXISTS) return conflict();
      if (rc != ZOK) return ZkError(rc, "create " + path);
      return 0;
    }
    Stat st{};
    int rc = zoo_set2(zh_, path.c_str(), value.data(), static_cast<int>(value.size()), static_cast<int>(expected), &st);
    if (rc == ZBADVERSION || rc == ZNONODE) return conflict();
    if (rc != ZOK) return ZkError(rc, "set " + path);
    return st.version;
  }

  StatusOr<std::unique_ptr<Registration>> Register(const std::string& group, const std::string& id,
                                                   const std::string& payload) override {
    ASSIGN_OR_RETURN(std::string g, internal::NodeName(group));
    ASSIGN_OR_RETURN(std::string m, internal::NodeName(id));
    std::string path = chroot_ + "/members/" + g + "/" + m;
    std::shared_lock<std::shared_mutex> l(handle_mu_);
    RETURN_IF_ERROR(EnsurePath(chroot_ + "/members/" + g));
    int rc = zoo_create(zh_, path.c_str(), payload.data(), static_cast<int>(payload.size()), &ZOO_OPEN_ACL_UNSAFE,
                        ZOO_EPHEMERAL, nullptr, 0);
    if (rc == ZNODEEXISTS) return absl::AlreadyExistsError(fmt::format("{} is already a live member of {}", id, group));
    if (rc != ZOK) return ZkError(rc, "create " + path);
    std::lock_guard<std::mutex> g2(state_mu_);
    registrations_[path] = payload;
    return std::unique_ptr<Registration>(new ZkRegistration(this, path));
  }

  StatusOr<std::vector<Member>> Members(const std::string& group) override {
    ASSIGN_OR_RETURN(std::string g, internal::NodeName(group));
    std::string path = chroot_ + "/members/" + g;
    std::shared_lock<std::shared_mutex> l(handle_mu_);
    String_vector children{};
    int rc = zoo_get_children(zh_, path.c_str(), 0, &children);
    std::vector<Member> out;
    if (rc == ZNONODE) return out;
    if (rc != ZOK) return ZkError(rc, "children of " + path);
    for (int i = 0; i < children.count; ++i) {
      std::string child = children.data[i];
      std::optional<std::string> payload = GetLocked(path + "/" + child);
      if (payload) out.push_back({internal::DisplayName(child), *payload});
    }
    deallocate_String_vector(&children);
    std::sort(out.begin(), out.end(), [](const Member& a, const Member& b) { return a.id < b.id; });
    return out;
  }

  Status Watch(const std::string& key_or_group, bool group, std::function<void()> changed) override {
    ASSIGN_OR_RETURN(std::string node, internal::NodeName(key_or_group));
    auto w = std::make_shared<WatchEntry>();
    w->self = this;
    w->group = group;
    w->path = chroot_ + (group ? "/members/" : "/kv/") + node;
    w->changed = std::move(changed);
    std::shared_lock<std::shared_mutex> l(handle_mu_);
    if (group) RETURN_IF_ERROR(EnsurePath(w->path));
    {
      std::lock_guard<std::mutex> g(state_mu_);
      watches_.push_back(w);
    }
    Arm(w.get());
    return absl::OkStatus();
  }

  // Used by locks and registrations.
  void Delete(const std::string& path) {
    std::shared_lock<std::shared_mutex> l(handle_mu_);
    (void)zoo_delete(zh_, path.c_str(), -1);
    std::lock_guard<std::mutex> g(state_mu_);
    registrations_.erase(path);
  }
  Status SetPayload(const std::string& path, const std::string& payload) {
    std::shared_lock<std::shared_mutex> l(handle_mu_);
    int rc = zoo_set(zh_, path.c_str(), payload.data(), static_cast<int>(payload.size()), -1);
    if (rc != ZOK) return ZkError(rc, "set " + path);
    std::lock_guard<std::mutex> g(state_mu_);
    registrations_[path] = payload;
    return absl::OkStatus();
  }

 private:
  struct WatchEntry {
    ZkCoordinator* self;
    bool group;
    std::string path;
    std::function<void()> changed;
  };

  // Needs handle_mu_ held (exclusive).
  Status Connect() {
    {
      std::lock_guard<std::mutex> l(state_mu_);
      connected_ = false;
    }
    zh_ = zookeeper_init(hosts_.c_str(), &ZkCoordinator::OnSession, static_cast<int>(timeout_.count()), nullptr,
                         this, 0);
    if (zh_ == nullptr) return absl::InvalidArgumentError(fmt::format("ZooKeeper: bad address {}", hosts_));
    std::unique_lock<std::mutex> l(state_mu_);
    if (!state_cv_.wait_for(l, timeout_, [this] { return connected_; })) {
      return absl::UnavailableError(fmt::format("ZooKeeper at {} not reachable within {} s (is it running? "
                                                "`scripts/stack start zookeeper` starts one)",
                                                hosts_, timeout_.count() / 1000.0));
    }
    return absl::OkStatus();
  }

  static void OnSession(zhandle_t*, int type, int state, const char*, void* ctx) {
    auto* self = static_cast<ZkCoordinator*>(ctx);
    if (type != ZOO_SESSION_EVENT) return;
    if (state == ZOO_CONNECTED_STATE) {
      std::lock_guard<std::mutex> l(self->state_mu_);
      self->connected_ = true;
      self->state_cv_.notify_all();
    } else if (state == ZOO_EXPIRED_SESSION_STATE) {
      self->Post([self] { self->Reconnect(); });
    }
  }

  static void OnWatch(zhandle_t*, int type, int, const char*, void* ctx) {
    if (type == ZOO_SESSION_EVENT) return;
    auto* w = static_cast<WatchEntry*>(ctx);
    w->self->Post([w] {
      {
        std::shared_lock<std::shared_mutex> l(w->self->handle_mu_);
        w->self->Arm(w);
      }
      w->changed();
    });
  }

  // Sets the watches of `w` again (one-shot in ZooKeeper). Needs handle_mu_ held (shared).
  void Arm(WatchEntry* w) {
    Stat st{};
    if (!w->group) {
      (void)zoo_wexists(zh_, w->path.c_str(), &ZkCoordinator::OnWatch, w, &st);
      return;
    }
    String_vector children{};
    if (zoo_wget_children(zh_, w->path.c_str(), &ZkCoordinator::OnWatch, w, &children) != ZOK) return;
    for (int i = 0; i < children.count; ++i) {
      std::string child = w->path + "/" + children.data[i];
      (void)zoo_wexists(zh_, child.c_str(), &ZkCoordinator::OnWatch, w, &st);
    }
    deallocate_String_vector(&children);
  }

  void Post(std::function<void()> task) {
    {
      std::lock_guard<std::mutex> l(task_mu_);
      tasks_.push_back(std::move(task));
    }
    task_cv_.notify_one();
  }

  void Work() {
    while (true) {
      std::function<void()> task;
      {
        std::unique_lock<std::mutex> l(task_mu_);
        task_cv_.wait(l, [this] { return stop_ || !tasks_.empty(); });
        if (stop_) return;
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
    }
  }

  // A new session after the old one expired: locks are lost, registrations
  // and watches come back.
  void Reconnect() {
    std::unique_lock<std::shared_mutex> l(handle_mu_);
    if (zh_) zookeeper_close(zh_);
    zh_ = nullptr;
    while (!Connect().ok()) {
      if (zh_) zookeeper_close(zh_);
      zh_ = nullptr;
      std::lock_guard<std::mutex> t(task_mu_);
      if (stop_) return;
    }
    std::map<std::string, std::string> regs;
    std::vector<std::shared_ptr<WatchEntry>> watches;
    {
      std::lock_guard<std::mutex> g(state_mu_);
      for (auto& f : lock_flags_) f->store(true);
      lock_flags_.clear();
      regs = registrations_;
      watches = watches_;
    }
    for (const auto& [path, payload] : regs) {
      (void)EnsurePath(path.substr(0, path.rfind('/')));
      (void)zoo_create(zh_, path.c_str(), payload.data(), static_cast<int>(payload.size()), &ZOO_OPEN_ACL_UNSAFE,
                       ZOO_EPHEMERAL, nullptr, 0);
    }
    for (auto& w : watches) Arm(w.get());
  }

  // Creates `path` and its parents (persistent, empty). Needs handle_mu_ held.
  Status EnsurePath(const std::string& path) {
    size_t pos = 0;
    while (pos != std::string::npos) {
      pos = path.find('/', pos + 1);
      std::string prefix = path.substr(0, pos);
      if (prefix.empty()) continue;
      int rc = zoo_create(zh_, prefix.c_str(), nullptr, -1, &ZOO_OPEN_ACL_UNSAFE, 0, nullptr, 0);
      if (rc != ZOK && rc != ZNODEEXISTS) return ZkError(rc, "create " + prefix);
    }
    return absl::OkStatus();
  }

  // A node's data; nullopt when it is gone. Needs handle_mu_ held.
  std::optional<std::string> GetLocked(const std::string& path) {
    std::string buf(64 << 10, '\0');
    int len = static_cast<int>(buf.size());
    Stat st{};
    if (zoo_get(zh_, path.c_str(), 0, buf.data(), &len, &st) != ZOK) return std::nullopt;
    return buf.substr(0, static_cast<size_t>(std::max(len, 0)));
  }

  std::string uri_, hosts_, chroot_;
  std::chrono::milliseconds timeout_;
  std::shared_mutex handle_mu_;
  zhandle_t* zh_ = nullptr;
  std::mutex state_mu_;
  std::condition_variable state_cv_;
  bool connected_ = false;
  std::vector<std::shared_ptr<std::atomic<bool>>> lock_flags_;
  std::map<std::string, std::string> registrations_;
  std::vector<std::shared_ptr<WatchEntry>> watches_;
  std::mutex task_mu_;
  std::condition_variable task_cv_;
  std::deque<std::function<void()>> tasks_;
  bool stop_ = false;
  std::thread worker_;
};

ZkLock::~ZkLock() {
  if (!lost_->load()) c_->Delete(path_);
}
ZkRegistration::~ZkRegistration() { c_->Delete(path_); }
Status ZkRegistration::Update(const std::string& payload) { return c_->SetPayload(path_, payload); }

}  // namespace

namespace internal {

StatusOr<std::unique_ptr<Coordinator>> OpenZooKeeper(const std::string& uri, const std::string& rest,
                                                     std::chrono::milliseconds timeout) {
  size_t slash = rest.find('/');
  std::string hosts = rest.substr(0, slash);
  std::string chroot = slash == std::string::npos ? "" : rest.substr(slash);
  while (chroot.ends_with('/')) chroot.pop_back();
  if (hosts.empty()) return absl::InvalidArgumentError(fmt::format("{}: no ZooKeeper host (zk://host:port/chroot)", uri));
  auto c = std::make_unique<ZkCoordinator>(uri, hosts, chroot, timeout);
  RETURN_IF_ERROR(c->Init());
  return std::unique_ptr<Coordinator>(std::move(c));
}

}  // namespace internal
}  // namespace comptoir::coord
