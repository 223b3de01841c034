#include "comptoir/bus/client.h"

#include <filesystem>
#include <thread>

#include "comptoir/core/uri.h"
#include "fmt/format.h"

namespace comptoir::bus {
namespace {

struct Target {
  std::string log_dir;  // log:///dir
  std::string brokers;  // kafka://h:p,h:p -> "h:p,h:p"
  BusOptions options;
};

StatusOr<Target> ParseBusUri(const std::string& uri, const BusOptions& bus) {
  ASSIGN_OR_RETURN(core::Uri u, core::ParseUri(uri));
  Target t;
  t.options = bus;
  if (u.scheme == "kafka") {
    if (u.hosts.empty()) {
      return absl::InvalidArgumentError(
          StrCat("bus URI \"", uri, "\" names no broker: use kafka://host:port[,host:port]"));
    }
    for (const core::HostPort& h : u.hosts) {
      if (!t.brokers.empty()) t.brokers += ',';
      t.brokers += StrCat(h.host, ":", h.port.value_or(9092));
    }
    // kafka://b:9092?compression.type=zstd passes properties too.
    for (const auto& [k, v] : u.query) t.options.kafka_properties[k] = v;
    return t;
  }
  if (u.scheme != "log" || !u.hosts.empty() || u.path.empty()) {
    return absl::InvalidArgumentError(
        StrCat("bus URI \"", uri, "\" must be log:///absolute/dir or kafka://host:port"));
  }
  t.log_dir = u.path;
  return t;
}

// Partitions reach the disk in batches: a record waits at most `linger` for
// others to share its write and fdatasync.
constexpr auto kLinger = std::chrono::milliseconds(2);

class LogProducer final : public Producer {
 public:
  LogProducer(std::unique_ptr<EmbeddedLog> log, std::string topic, int partitions)
      : log_(std::move(log)), topic_(std::move(topic)), writers_(static_cast<size_t>(partitions)) {}
  Status Send(std::string_view key, std::string_view value, int64_t ts) override {
    int p = PartitionForKey(key, static_cast<int>(writers_.size()));
    auto& w = writers_[static_cast<size_t>(p)];
    if (!w) {
      ASSIGN_OR_RETURN(w, log_->OpenWriter(topic_, p));
    }
    if (pending_ == 0) oldest_ = std::chrono::steady_clock::now();
    ++pending_;
    RETURN_IF_ERROR(w->Append(key, value, ts).status());
    return pending_ >= 5000 ? Flush() : absl::OkStatus();
  }
  Status Poll() override {
    if (pending_ > 0 && std::chrono::steady_clock::now() - oldest_ >= kLinger) return Flush();
    return absl::OkStatus();
  }
  Status Flush() override {
    for (auto& w : writers_) {
      if (w) RETURN_IF_ERROR(w->Flush());
    }
    pending_ = 0;
    return absl::OkStatus();
  }
  int partitions() const override { return static_cast<int>(writers_.size()); }

 private:
  std::unique_ptr<EmbeddedLog> log_;
  std::string topic_;
  std::vector<std::unique_ptr<PartitionWriter>> writers_;
  size_t pending_ = 0;
  std::chrono::steady_clock::time_point oldest_;
};

class LogConsumer final : public Consumer {
 public:
  LogConsumer(std::unique_ptr<EmbeddedLog> log, std::string topic, ConsumerOptions o)
      : log_(std::move(log)), topic_(std::move(topic)), o_(std::move(o)) {}

  Status Init(int partitions) {
    for (int p = 0; p < partitions; ++p) {
      ASSIGN_OR_RETURN(auto r, log_->OpenReader(topic_, p));
      std::optional<int64_t> committed;
      if (auto it = o_.start_offsets.find(p); it != o_.start_offsets.end()) {
        committed = it->second;
      } else if (!o_.group.empty()) {
        ASSIGN_OR_RETURN(committed, log_->CommittedOffset(topic_, o_.group, p));
      }
      if (committed && o_.group.size() > 0 && !o_.start_offsets.contains(p)) {
        ASSIGN_OR_RETURN(auto range, log_->OffsetRange(topic_, p));
        if (*committed > range.second) {
          return absl::FailedPreconditionError(fmt::format(
              "group {} committed offset {} for partition {} of {}, beyond its end {}: the log was recreated or "
              "replaced. Delete {}/{}/groups/{}/{} to read the partition again from --from-beginning or the end",
              o_.group, *committed, p, topic_, range.second, log_->dir(), topic_, o_.group, p));
        }
      }
      if (committed) {
        RETURN_IF_ERROR(r->Seek(*committed));
      } else if (o_.start == StartAt::kEnd) {
        ASSIGN_OR_RETURN(auto range, log_->OffsetRange(topic_, p));
        RETURN_IF_ERROR(r->Seek(range.second));
      } else if (o_.start == StartAt::kTime) {
        RETURN_IF_ERROR(r->SeekToTime(o_.start_time_ms));
      }
      readers_.push_back(std::move(r));
    }
    return absl::OkStatus();
  }

  StatusOr<std::span<const Record>> PollView(size_t max, std::chrono::milliseconds wait) override {
    if (slots_.size() < max) slots_.resize(max);
    size_t n = 0;
    auto deadline = std::chrono::steady_clock::now() + wait;
    while (true) {
      for (size_t i = 0; i < readers_.size() && n < max; ++i) {
        auto& r = readers_[(next_ + i) % readers_.size()];
        ASSIGN_OR_RETURN(size_t got, r->ReadInto(slots_.data() + n, max - n, std::chrono::milliseconds(0)));
        n += got;
      }
      next_ = (next_ + 1) % std::max<size_t>(readers_.size(), 1);
      if (n > 0 || std::chrono::steady_clock::now() >= deadline) {
        return std::span<const Record>(slots_.data(), n);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  Status Commit() override {
    std::map<int, int64_t> next;
    for (size_t p = 0; p < readers_.size(); ++p) next[static_cast<int>(p)] = readers_[p]->Position();
    return CommitOffsets(next);
  }

  Status CommitOffsets(const std::map<int, int64_t>& next) override {
    if (o_.group.empty()) return absl::OkStatus();
    for (const auto& [p, offset] : next) {
      RETURN_IF_ERROR(log_->CommitOffset(topic_, o_.group, p, offset));
    }
    return absl::OkStatus();
  }

  int64_t Lost() const override {
    int64_t n = 0;
    for (const auto& r : readers_) n += r->Lost();
    return n;
  }

  StatusOr<int64_t> Lag() override {
    int64_t lag = 0;
    for (size_t p = 0; p < readers_.size(); ++p) {
      ASSIGN_OR_RETURN(auto range, log_->OffsetRange(topic_, static_cast<int>(p)));
      lag += std::max<int64_t>(0, range.second - readers_[p]->Position());
    }
    return lag;
  }

 private:
  std::unique_ptr<EmbeddedLog> log_;
  std::string topic_;
  ConsumerOptions o_;
  std::vector<std::unique_ptr<PartitionReader>> readers_;
  std::vector<Record> slots_;  // PollView()'s reused records
  size_t next_ = 0;
};

class LogAdmin final : public Admin {
 public:
  explicit LogAdmin(std::unique_ptr<EmbeddedLog> log) : log_(std::move(log)) {}
  Status CreateTopic(const std::string& topic, int partitions, int /*replication*/) override {
    TopicConfig c;
    c.partitions = partitions;
    return log_->CreateTopic(topic, c);
  }
  StatusOr<ClusterInfo> Cluster() override {
    ClusterInfo info;
    info.brokers.push_back(StrCat("embedded log ", log_->dir()));
    return info;
  }
  StatusOr<std::vector<std::string>> ListTopics() override { return log_->ListTopics(); }
  StatusOr<int> Partitions(const std::string& topic) override {
    ASSIGN_OR_RETURN(TopicConfig c, log_->DescribeTopic(topic));
    return c.partitions;
  }
  StatusOr<std::vector<PartitionState>> Describe(const std::string& topic,
                                                 const std::string& group) override {
    ASSIGN_OR_RETURN(int n, Partitions(topic));
    std::vector<PartitionState> out;
    for (int p = 0; p < n; ++p) {
      PartitionState s;
      s.partition = p;
      ASSIGN_OR_RETURN(PartitionInfo info, log_->Inspect(topic, p));
      s.start = info.start;
      s.end = info.end;
      s.damage = std::move(info.damage);
      if (!group.empty()) {
        ASSIGN_OR_RETURN(s.committed, log_->CommittedOffset(topic, group, p));
      }
      out.push_back(s);
    }
    return out;
  }
  EmbeddedLog* log() { return log_.get(); }

 private:
  std::unique_ptr<EmbeddedLog> log_;
};

}  // namespace

StatusOr<std::unique_ptr<Admin>> OpenAdmin(const std::string& uri, const BusOptions& bus) {
  ASSIGN_OR_RETURN(Target t, ParseBusUri(uri, bus));
  if (!t.brokers.empty()) return OpenKafkaAdmin(t.brokers, t.options);
  ASSIGN_OR_RETURN(std::unique_ptr<EmbeddedLog> log, EmbeddedLog::Open(t.log_dir, t.options.log));
  return std::unique_ptr<Admin>(new LogAdmin(std::move(log)));
}

StatusOr<std::unique_ptr<Producer>> OpenProducer(const std::string& uri, const std::string& topic,
                                                 int partitions_if_new, const BusOptions& bus) {
  ASSIGN_OR_RETURN(Target t, ParseBusUri(uri, bus));
  ASSIGN_OR_RETURN(std::unique_ptr<Admin> admin, OpenAdmin(uri, bus));
  StatusOr<int> n = admin->Partitions(topic);
  if (absl::IsNotFound(n.status())) {
    Status s = admin->CreateTopic(topic, partitions_if_new, 1);
    if (!s.ok() && !absl::IsAlreadyExists(s)) return s;
    n = admin->Partitions(topic);
  }
  RETURN_IF_ERROR(n.status());
  if (!t.brokers.empty()) return OpenKafkaProducer(t.brokers, topic, t.options);
  ASSIGN_OR_RETURN(std::unique_ptr<EmbeddedLog> log, EmbeddedLog::Open(t.log_dir, t.options.log));
  return std::unique_ptr<Producer>(new LogProducer(std::move(log), topic, *n));
}

StatusOr<std::unique_ptr<Consumer>> OpenConsumer(const std::string& uri, const std::string& topic,
                                                 const ConsumerOptions& options,
                                                 const BusOptions& bus) {
  ASSIGN_OR_RETURN(Target t, ParseBusUri(uri, bus));
  if (!t.brokers.empty()) return OpenKafkaConsumer(t.brokers, topic, options, t.options);
  ASSIGN_OR_RETURN(std::unique_ptr<EmbeddedLog> log, EmbeddedLog::Open(t.log_dir, t.options.log));
  ASSIGN_OR_RETURN(TopicConfig c, log->DescribeTopic(topic));
  auto consumer = std::make_unique<LogConsumer>(std::move(log), topic, options);
  RETURN_IF_ERROR(consumer->Init(c.partitions));
  return std::unique_ptr<Consumer>(std::move(consumer));
}

std::string ConfiguredBusUri(const core::Config& config, std::string_view flag) {
  std::string text = flag.empty() ? config.GetString("bus.uri") : std::string(flag);
  if (text.empty() || text == "none" || text.find("://") != std::string::npos) return text;
  return "log://" + std::filesystem::absolute(text).lexically_normal().string();
}

BusOptions ConfiguredBusOptions(const core::Config& config) {
  BusOptions o;
  o.kafka_properties = config.GetTable("bus.kafka");
  o.log.on_damage = config.GetString("bus.on_damage") == "fail" ? DamagePolicy::kFail : DamagePolicy::kSkip;
  return o;
}

int64_t PartitionState::lost() const {
  int64_t n = 0;
  for (const DamagedRange& d : damage) n += d.records();
  return n;
}

}  // namespace comptoir::bus
