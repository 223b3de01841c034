#include "comptoir/bus/client.h"

#include <thread>

#include "comptoir/core/uri.h"

namespace comptoir::bus {
namespace {

StatusOr<std::unique_ptr<EmbeddedLog>> OpenLog(const std::string& uri) {
  ASSIGN_OR_RETURN(core::Uri u, core::ParseUri(uri));
  if (u.scheme == "kafka") {
    return absl::UnimplementedError(StrCat(
        "the Kafka backend (", uri, ") is not built yet; use an embedded log: log:///dir"));
  }
  if (u.scheme != "log" || !u.hosts.empty() || u.path.empty()) {
    return absl::InvalidArgumentError(
        StrCat("bus URI \"", uri, "\" must be log:///absolute/dir (or kafka://host:port)"));
  }
  return EmbeddedLog::Open(u.path);
}

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
    return w->Append(key, value, ts).status();
  }
  Status Flush() override {
    for (auto& w : writers_) {
      if (w) RETURN_IF_ERROR(w->Flush());
    }
    return absl::OkStatus();
  }
  int partitions() const override { return static_cast<int>(writers_.size()); }

 private:
  std::unique_ptr<EmbeddedLog> log_;
  std::string topic_;
  std::vector<std::unique_ptr<PartitionWriter>> writers_;
};

class LogConsumer final : public Consumer {
 public:
  LogConsumer(std::unique_ptr<EmbeddedLog> log, std::string topic, ConsumerOptions o)
      : log_(std::move(log)), topic_(std::move(topic)), o_(std::move(o)) {}

  Status Init(int partitions) {
    for (int p = 0; p < partitions; ++p) {
      ASSIGN_OR_RETURN(auto r, log_->OpenReader(topic_, p));
      std::optional<int64_t> committed;
      if (!o_.group.empty()) {
        ASSIGN_OR_RETURN(committed, log_->CommittedOffset(topic_, o_.group, p));
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

  StatusOr<std::vector<Record>> Poll(size_t max, std::chrono::milliseconds wait) override {
    std::vector<Record> out;
    auto deadline = std::chrono::steady_clock::now() + wait;
    while (true) {
      for (size_t i = 0; i < readers_.size() && out.size() < max; ++i) {
        auto& r = readers_[(next_ + i) % readers_.size()];
        ASSIGN_OR_RETURN(std::vector<Record> got,
                         r->Read(max - out.size(), std::chrono::milliseconds(0)));
        for (Record& rec : got) out.push_back(std::move(rec));
      }
      next_ = (next_ + 1) % std::max<size_t>(readers_.size(), 1);
      if (!out.empty() || std::chrono::steady_clock::now() >= deadline) return out;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  Status Commit() override {
    if (o_.group.empty()) return absl::OkStatus();
    for (size_t p = 0; p < readers_.size(); ++p) {
      RETURN_IF_ERROR(log_->CommitOffset(topic_, o_.group, static_cast<int>(p),
                                         readers_[p]->Position()));
    }
    return absl::OkStatus();
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
  size_t next_ = 0;
};

}  // namespace

StatusOr<std::unique_ptr<Producer>> OpenProducer(const std::string& uri, const std::string& topic,
                                                 int partitions_if_new) {
  ASSIGN_OR_RETURN(std::unique_ptr<EmbeddedLog> log, OpenLog(uri));
  StatusOr<TopicConfig> c = log->DescribeTopic(topic);
  if (absl::IsNotFound(c.status())) {
    TopicConfig nc;
    nc.partitions = partitions_if_new;
    Status s = log->CreateTopic(topic, nc);
    if (!s.ok() && !absl::IsAlreadyExists(s)) return s;
    c = log->DescribeTopic(topic);
  }
  RETURN_IF_ERROR(c.status());
  return std::unique_ptr<Producer>(new LogProducer(std::move(log), topic, c->partitions));
}

StatusOr<std::unique_ptr<Consumer>> OpenConsumer(const std::string& uri, const std::string& topic,
                                                 const ConsumerOptions& options) {
  ASSIGN_OR_RETURN(std::unique_ptr<EmbeddedLog> log, OpenLog(uri));
  ASSIGN_OR_RETURN(TopicConfig c, log->DescribeTopic(topic));
  auto consumer = std::make_unique<LogConsumer>(std::move(log), topic, options);
  RETURN_IF_ERROR(consumer->Init(c.partitions));
  return std::unique_ptr<Consumer>(std::move(consumer));
}

}  // namespace comptoir::bus
