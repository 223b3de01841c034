// The Kafka backend of the bus (client.h) over librdkafka's C API.
//
// Producer: idempotent (enable.idempotence, hence acks=all and ordered
// retries without duplicates), Java-compatible key partitioning
// (murmur2_random), lz4 compression and a short linger by default; every
// property can be overridden from [bus.kafka]. Delivery reports are counted;
// the first failure is returned by Poll()/Flush(). A record failed locally
// while a broker restarted is sent again, once: directly when librdkafka says
// it never left this process, and otherwise only after reading its partition
// shows it is not there (so a retry never duplicates what a broker kept).
//
// Consumer: no auto-commit and no auto offset store; Commit() commits, in
// one synchronous request, the next offsets of the records Poll() returned.
#include <librdkafka/rdkafka.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "comptoir/bus/client.h"

#include "kafka_errors.h"
#include "comptoir/core/log.h"
#include "fmt/format.h"

namespace comptoir::bus {
namespace {

constexpr int kMetadataTimeoutMs = 10000;
constexpr int kRequestTimeoutMs = 15000;

struct KafkaDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
using KafkaHandle = std::unique_ptr<rd_kafka_t, KafkaDeleter>;

struct ListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const {
    rd_kafka_topic_partition_list_destroy(l);
  }
};
using PartitionList = std::unique_ptr<rd_kafka_topic_partition_list_t, ListDeleter>;

// Maps a librdkafka error code to a Status code (the message says the rest).
// Routes librdkafka's own log lines to Comptoir's logger.
void LogCallback(const rd_kafka_t* /*rk*/, int level, const char* fac, const char* buf) {
  // [bus.kafka] holds producer and consumer properties together: each client
  // ignores the other's, which is expected, not worth a warning.
  if (level <= 4 && std::string_view(fac) != "CONFWARN") {
    spdlog::warn("kafka {}: {}", fac, buf);
  } else {
    spdlog::debug("kafka {}: {}", fac, buf);
  }
}

class Conf {
 public:
  Conf() : conf_(rd_kafka_conf_new()) { rd_kafka_conf_set_log_cb(conf_, LogCallback); }
  ~Conf() {
    if (conf_ != nullptr) rd_kafka_conf_destroy(conf_);
  }
  Conf(const Conf&) = delete;
  Conf& operator=(const Conf&) = delete;

  Status Set(const std::string& name, const std::string& value) {
    char err[512];
    if (rd_kafka_conf_set(conf_, name.c_str(), value.c_str(), err, sizeof(err)) !=
        RD_KAFKA_CONF_OK) {
      return absl::InvalidArgumentError(StrCat("Kafka property ", name, "=\"", value, "\": ", err));
    }
    return absl::OkStatus();
  }
  Status SetAll(const std::map<std::string, std::string>& props) {
    for (const auto& [k, v] : props) RETURN_IF_ERROR(Set(k, v));
    return absl::OkStatus();
  }
  rd_kafka_conf_t* get() { return conf_; }

  // Creates the client; the handle takes the configuration over.
  StatusOr<KafkaHandle> Create(rd_kafka_type_t type, const std::string& brokers) {
    char err[512];
    rd_kafka_t* rk = rd_kafka_new(type, conf_, err, sizeof(err));
    if (rk == nullptr) {
      return absl::InvalidArgumentError(StrCat("cannot create a Kafka client for ", brokers, ": ", err));
    }
    conf_ = nullptr;
    return KafkaHandle(rk);
  }

 private:
  rd_kafka_conf_t* conf_;
};

// Common properties of every client, then the user's.
Status Configure(Conf* conf, const std::string& brokers, const BusOptions& bus,
                 const std::map<std::string, std::string>& defaults) {
  RETURN_IF_ERROR(conf->Set("bootstrap.servers", brokers));
  RETURN_IF_ERROR(conf->Set("client.id", "comptoir"));
  RETURN_IF_ERROR(conf->Set("log.connection.close", "false"));
  RETURN_IF_ERROR(conf->SetAll(defaults));
  return conf->SetAll(bus.kafka_properties);
}

// Partition count of `topic` (NotFound when the cluster does not have it).
StatusOr<int> TopicPartitions(rd_kafka_t* rk, const std::string& topic,
                              const std::string& brokers) {
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, kMetadataTimeoutMs);
  rd_kafka_topic_destroy(rkt);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return KafkaError(err, StrCat("metadata of topic ", topic, " from ", brokers));
  }
  int n = 0;
  rd_kafka_resp_err_t topic_err = RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
  if (md->topic_cnt == 1) {
    topic_err = md->topics[0].err;
    n = md->topics[0].partition_cnt;
  }
  rd_kafka_metadata_destroy(md);
  if (topic_err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
    return absl::NotFoundError(StrCat("topic ", topic, " does not exist on kafka://", brokers,
                                      "; create it with `comptoir bus create ", topic, "`"));
  }
  if (topic_err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return KafkaError(topic_err, StrCat("metadata of topic ", topic, " from ", brokers));
  }
  return n;
}

// ---------------------------------------------------------------------------

class KafkaProducer final : public Producer {
 public:
  static StatusOr<std::unique_ptr<Producer>> Open(const std::string& brokers,
                                                  const std::string& topic, const BusOptions& bus) {
    auto p = std::unique_ptr<KafkaProducer>(new KafkaProducer(brokers, topic, bus));
    Conf conf;
    RETURN_IF_ERROR(Configure(&conf, brokers, bus,
                              {{"enable.idempotence", "true"},
                               {"acks", "all"},
                               {"partitioner", "murmur2_random"},
                               {"compression.type", "lz4"},
                               {"linger.ms", "5"},
                               {"batch.size", "1000000"},
                               {"queue.buffering.max.messages", "1000000"},
                               {"queue.buffering.max.kbytes", "262144"}}));
    rd_kafka_conf_set_opaque(conf.get(), p.get());
    rd_kafka_conf_set_dr_msg_cb(conf.get(), &KafkaProducer::OnDelivery);
    ASSIGN_OR_RETURN(p->rk_, conf.Create(RD_KAFKA_PRODUCER, brokers));
    ASSIGN_OR_RETURN(p->partitions_, TopicPartitions(p->rk_.get(), topic, brokers));
    p->rkt_ = rd_kafka_topic_new(p->rk_.get(), topic.c_str(), nullptr);
    p->acked_.resize(static_cast<size_t>(p->partitions_));
    for (int i = 0; i < p->partitions_; ++i) {
      int64_t lo = 0, hi = 0;
      if (rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
              p->rk_.get(), topic.c_str(), i, &lo, &hi, kRequestTimeoutMs)) {
        return KafkaError(err, StrCat("end offset of ", topic, "/", i, " on kafka://", brokers));
      }
      p->acked_[static_cast<size_t>(i)].push_back({INT64_MIN, hi - 1});
    }
    return std::unique_ptr<Producer>(std::move(p));
  }

  ~KafkaProducer() override {
    closing_ = true;
    if (rkt_ != nullptr) rd_kafka_topic_destroy(rkt_);
  }

  Status Send(std::string_view key, std::string_view value, int64_t timestamp_ms) override {
    std::chrono::steady_clock::time_point unknown_since{};
    while (true) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wold-style-cast"  // librdkafka's RD_KAFKA_V_* macros
      rd_kafka_resp_err_t err = rd_kafka_producev(
          rk_.get(), RD_KAFKA_V_RKT(rkt_),
          RD_KAFKA_V_KEY(const_cast<char*>(key.data()), key.size()),
          RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_TIMESTAMP(timestamp_ms),
          RD_KAFKA_V_OPAQUE(EnqueueMark()), RD_KAFKA_V_END);
#pragma GCC diagnostic pop
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;
      // A restarting broker briefly reports the topic as unknown: wait for
      // the metadata to come back, as for the records already queued.
      if (err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC || err == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION) {
        auto now = std::chrono::steady_clock::now();
        if (unknown_since == std::chrono::steady_clock::time_point{}) unknown_since = now;
        if (now - unknown_since < kRetryFor) {
          rd_kafka_poll(rk_.get(), 100);
          RETURN_IF_ERROR(Failures());
          continue;
        }
      }
      if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        return KafkaError(err, StrCat("send to topic ", topic_, " on kafka://", brokers_));
      }
      rd_kafka_poll(rk_.get(), 1);  // the local queue is full: wait for deliveries
      RETURN_IF_ERROR(Failures());
    }
    return Failures();
  }

  Status Poll() override {
    rd_kafka_poll(rk_.get(), 0);
    return Failures();
  }

  Status Flush() override {
    // Undelivered messages fail by themselves after message.timeout.ms, so
    // this ends; it waits through broker outages shorter than that.
    while (rd_kafka_outq_len(rk_.get()) > 0 || !retry_.empty()) {
      rd_kafka_flush(rk_.get(), 200);
      RETURN_IF_ERROR(Failures());
    }
    return Failures();
  }

  int partitions() const override { return partitions_; }

 private:
  KafkaProducer(std::string brokers, std::string topic, BusOptions bus)
      : brokers_(std::move(brokers)), topic_(std::move(topic)), bus_(std::move(bus)) {}

  // A record that failed locally while a broker restarted: its topic was
  // briefly reported without partitions, or the partition's queue was dropped
  // with the record in it.
  struct Retry {
    std::string key, value;
    int32_t partition;
    int64_t timestamp_ms;
    int64_t enqueued_ms;  // NowMs() when it was handed to librdkafka
    std::chrono::steady_clock::time_point first_failure;
    bool maybe_sent;  // it may have reached a broker: look before sending again
  };
  // An offset acknowledged at a time: a record handed to librdkafka later can
  // only be stored after it.
  struct Ack {
    int64_t at_ms;
    int64_t offset;
  };
  static constexpr auto kRetryFor = std::chrono::minutes(2);
  static constexpr auto kLookEvery = std::chrono::seconds(2);
  static constexpr int64_t kAckSampleMs = 1000;
  static constexpr int64_t kAckHistoryMs = 15 * 60 * 1000;  // beyond message.timeout.ms + kRetryFor

  static int64_t NowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  static void* EnqueueMark() { return reinterpret_cast<void*>(static_cast<intptr_t>(NowMs())); }

  static void OnDelivery(rd_kafka_t* /*rk*/, const rd_kafka_message_t* m, void* opaque) {
    auto* self = static_cast<KafkaProducer*>(opaque);
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      self->NoteAck(m->partition, m->offset);
      return;
    }
    if (m->err == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION || m->err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC ||
        (m->err == RD_KAFKA_RESP_ERR__DESTROY && !self->closing_)) {
      rd_kafka_timestamp_type_t type;
      self->retry_.push_back({std::string(static_cast<const char*>(m->key), m->key_len),
                              std::string(static_cast<const char*>(m->payload), m->len), m->partition,
                              rd_kafka_message_timestamp(m, &type),
                              static_cast<int64_t>(reinterpret_cast<intptr_t>(m->_private)),
                              std::chrono::steady_clock::now(),
                              rd_kafka_message_status(m) != RD_KAFKA_MSG_STATUS_NOT_PERSISTED});
      return;
    }
    if (self->failed_++ == 0) self->first_error_ = m->err;
  }

  // Keeps one acknowledged offset per partition and second, for 15 minutes.
  void NoteAck(int32_t partition, int64_t offset) {
    if (partition < 0 || static_cast<size_t>(partition) >= acked_.size()) return;
    std::deque<Ack>& acks = acked_[static_cast<size_t>(partition)];
    int64_t now = NowMs();
    if (acks.back().at_ms + kAckSampleMs > now || offset <= acks.back().offset) return;
    acks.push_back({now, offset});
    while (acks.size() > 1 && acks[1].at_ms < now - kAckHistoryMs) acks.pop_front();
  }

  // The first offset a record handed to librdkafka at `enqueued_ms` can have
  // in `partition`: after every offset acknowledged before that time (the
  // partition's end when this producer started if none is remembered).
  int64_t FirstPossibleOffset(int32_t partition, int64_t enqueued_ms) const {
    if (partition < 0 || static_cast<size_t>(partition) >= acked_.size()) return 0;
    const std::deque<Ack>& acks = acked_[static_cast<size_t>(partition)];
    int64_t first = acks.front().offset + 1;
    for (const Ack& a : acks) {
      if (a.at_ms >= enqueued_ms) break;
      first = a.offset + 1;
    }
    return first;
  }

  // Drops from retry_ the records that may have been sent and are found in
  // their partition (they count as delivered), reading each partition from
  // the first offset such a record can have to the partition's end. Until the
  // topic can be read again, they wait for the next look, every kLookEvery.
  void DropThoseAlreadyInTopic() {
    auto now = std::chrono::steady_clock::now();
    std::map<int32_t, int64_t> from;  // partition -> first offset to read
    std::set<std::string> wanted;
    for (const Retry& r : retry_) {
      if (!r.maybe_sent) continue;
      int64_t first = FirstPossibleOffset(r.partition, r.enqueued_ms);
      auto [it, added] = from.emplace(r.partition, first);
      if (!added) it->second = std::min(it->second, first);
      wanted.insert(StrCat(r.partition, ":", r.key, ":", r.value));
    }
    if (wanted.empty() || now - last_look_ < kLookEvery) return;
    last_look_ = now;
    size_t looked_for = wanted.size();
    std::set<std::string> found;
    Status s = TopicPartitions(rk_.get(), topic_, brokers_).status();
    if (s.ok()) s = ReadPartitions(from, &wanted, &found);
    if (!s.ok()) {
      spdlog::warn("cannot yet check whether {} record(s) reached topic {} before a broker "
                   "restart (checking again): {}", looked_for, topic_, s.ToString());
      return;
    }
    std::erase_if(retry_, [&](Retry& r) {
      if (!r.maybe_sent) return false;
      r.maybe_sent = false;  // looked: not there means it can be sent again
      return found.count(StrCat(r.partition, ":", r.key, ":", r.value)) > 0;
    });
    spdlog::info("after a broker restart, {} record(s) of topic {} were found delivered and {} "
                 "are sent again", found.size(), topic_, wanted.size());
  }

  // Moves the records of `wanted` ("partition:key:value") met in the
  // partitions of `from` (from that offset to the partition's current end) to
  // `found`.
  Status ReadPartitions(const std::map<int32_t, int64_t>& from, std::set<std::string>* wanted,
                        std::set<std::string>* found) {
    std::map<int32_t, int64_t> end;  // partition -> its end when the look began
    PartitionList assign(rd_kafka_topic_partition_list_new(static_cast<int>(from.size())));
    for (const auto& [p, first] : from) {
      int64_t lo = 0, hi = 0;
      if (rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
              rk_.get(), topic_.c_str(), p, &lo, &hi, kRequestTimeoutMs)) {
        return KafkaError(err, StrCat("end offset of ", topic_, "/", p));
      }
      int64_t start = std::max(first, lo);
      if (start >= hi) continue;  // nothing stored since
      end[p] = hi;
      rd_kafka_topic_partition_list_add(assign.get(), topic_.c_str(), p)->offset = start;
    }
    if (end.empty()) return absl::OkStatus();

    Conf conf;
    RETURN_IF_ERROR(Configure(&conf, brokers_, bus_,
                              {{"group.id", fmt::format("comptoir-look-{}", getpid())},
                               {"enable.auto.commit", "false"},
                               {"enable.partition.eof", "false"}}));
    ASSIGN_OR_RETURN(KafkaHandle c, conf.Create(RD_KAFKA_CONSUMER, brokers_));
    rd_kafka_poll_set_consumer(c.get());
    if (rd_kafka_resp_err_t err = rd_kafka_assign(c.get(), assign.get())) {
      return KafkaError(err, StrCat("assign partitions of ", topic_));
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    Status status = absl::OkStatus();
    while (!end.empty() && !wanted->empty() && status.ok()) {
      if (std::chrono::steady_clock::now() > deadline) {
        status = absl::DeadlineExceededError("reading the partitions took over 30 s");
        break;
      }
      rd_kafka_message_t* m = rd_kafka_consumer_poll(c.get(), 200);
      if (m == nullptr) continue;
      if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        status = KafkaError(m->err, StrCat("read ", topic_, " (", rd_kafka_message_errstr(m), ")"));
      } else {
        auto it = wanted->find(StrCat(
            m->partition, ":",
            std::string_view(m->key != nullptr ? static_cast<const char*>(m->key) : "", m->key_len), ":",
            std::string_view(static_cast<const char*>(m->payload), m->len)));
        if (it != wanted->end()) found->insert(wanted->extract(it));
        if (m->offset + 1 >= end[m->partition]) end.erase(m->partition);
      }
      rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(c.get());
    return status;
  }

  // Sends the records of retry_ again, to the partition they were meant for
  // (so a key's records stay in order); past kRetryFor they count as failed.
  void Resend() {
    if (retry_.empty()) return;
    DropThoseAlreadyInTopic();
    std::vector<Retry> again;
    again.swap(retry_);
    auto now = std::chrono::steady_clock::now();
    for (Retry& r : again) {
      if (now - r.first_failure > kRetryFor) {
        if (failed_++ == 0) first_error_ = RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION;
        continue;
      }
      if (r.maybe_sent) {  // not looked for yet
        retry_.push_back(std::move(r));
        continue;
      }
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wold-style-cast"  // librdkafka's RD_KAFKA_V_* macros
      rd_kafka_resp_err_t err = rd_kafka_producev(
          rk_.get(), RD_KAFKA_V_RKT(rkt_), RD_KAFKA_V_PARTITION(r.partition),
          RD_KAFKA_V_KEY(r.key.data(), r.key.size()), RD_KAFKA_V_VALUE(r.value.data(), r.value.size()),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_TIMESTAMP(r.timestamp_ms),
          RD_KAFKA_V_OPAQUE(EnqueueMark()), RD_KAFKA_V_END);
#pragma GCC diagnostic pop
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR) retry_.push_back(std::move(r));
    }
  }

  Status Failures() {
    Resend();
    char fatal[512];
    if (rd_kafka_resp_err_t f = rd_kafka_fatal_error(rk_.get(), fatal, sizeof(fatal))) {
      return absl::InternalError(StrCat("Kafka producer to ", brokers_, " failed fatally (",
                                        rd_kafka_err2name(f), "): ", fatal));
    }
    if (failed_ == 0) return absl::OkStatus();
    return KafkaError(first_error_, StrCat(failed_, " record(s) could not be delivered to topic ",
                                           topic_, " on kafka://", brokers_));
  }

  std::string brokers_;
  std::string topic_;
  BusOptions bus_;
  KafkaHandle rk_;
  rd_kafka_topic_t* rkt_ = nullptr;
  int partitions_ = 0;
  std::chrono::steady_clock::time_point last_look_{};
  std::vector<std::deque<Ack>> acked_;  // per partition, oldest first; never empty
  uint64_t failed_ = 0;
  rd_kafka_resp_err_t first_error_ = RD_KAFKA_RESP_ERR_NO_ERROR;
  std::vector<Retry> retry_;
  bool closing_ = false;  // our own destroy fails what is left: not a retry
};

// ---------------------------------------------------------------------------

class KafkaConsumer final : public Consumer {
 public:
  static StatusOr<std::unique_ptr<Consumer>> Open(const std::string& brokers,
                                                  const std::string& topic,
                                                  const ConsumerOptions& o, const BusOptions& bus) {
    auto c = std::unique_ptr<KafkaConsumer>(new KafkaConsumer(brokers, topic, o));
    Conf conf;
    std::map<std::string, std::string> defaults = {
        {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"},
        {"enable.partition.eof", "false"},
        {"auto.offset.reset", o.start == StartAt::kEnd ? "latest" : "earliest"},
        {"fetch.wait.max.ms", "10"},
        {"queued.min.messages", "200000"}};
    // librdkafka needs a group even to assign partitions; a consumer without
    // one gets a private name and never commits.
    defaults["group.id"] = o.group.empty() ? fmt::format("comptoir-anonymous-{}-{:x}", getpid(),
                                                         std::random_device()())
                                           : o.group;
    RETURN_IF_ERROR(Configure(&conf, brokers, bus, defaults));
    rd_kafka_conf_set_opaque(conf.get(), c.get());
    if (!o.group.empty() && o.balanced) {
      rd_kafka_conf_set_rebalance_cb(conf.get(), &KafkaConsumer::OnRebalance);
    }
    ASSIGN_OR_RETURN(c->rk_, conf.Create(RD_KAFKA_CONSUMER, brokers));
    rd_kafka_poll_set_consumer(c->rk_.get());
    ASSIGN_OR_RETURN(int n, TopicPartitions(c->rk_.get(), topic, brokers));
    if (!o.group.empty() && o.balanced) {
      PartitionList sub(rd_kafka_topic_partition_list_new(1));
      rd_kafka_topic_partition_list_add(sub.get(), topic.c_str(), RD_KAFKA_PARTITION_UA);
      if (rd_kafka_resp_err_t err = rd_kafka_subscribe(c->rk_.get(), sub.get())) {
        return KafkaError(err, StrCat("subscribe to ", topic));
      }
    } else {
      PartitionList all(rd_kafka_topic_partition_list_new(n));
      for (int p = 0; p < n; ++p) rd_kafka_topic_partition_list_add(all.get(), topic.c_str(), p);
      RETURN_IF_ERROR(c->ChooseStarts(all.get()));
      for (const auto& [p, off] : o.start_offsets) c->next_[p] = off;
      if (rd_kafka_resp_err_t err = rd_kafka_assign(c->rk_.get(), all.get())) {
        return KafkaError(err, StrCat("assign the partitions of ", topic));
      }
    }
    return std::unique_ptr<Consumer>(std::move(c));
  }

  ~KafkaConsumer() override {
    if (rk_) rd_kafka_consumer_close(rk_.get());
  }

  StatusOr<std::span<const Record>> PollView(size_t max, std::chrono::milliseconds wait) override {
    if (slots_.size() < max) slots_.resize(max);
    size_t n = 0;
    auto deadline = std::chrono::steady_clock::now() + wait;
    while (n < max) {
      int timeout = 0;
      if (n == 0) {
        timeout = static_cast<int>(std::max<int64_t>(
            0, std::chrono::duration_cast<std::chrono::milliseconds>(
                   deadline - std::chrono::steady_clock::now())
                   .count()));
      }
      rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_.get(), timeout);
      if (m == nullptr) {
        if (n == 0 && timeout > 0) continue;  // woken up early without a message
        break;
      }
      RETURN_IF_ERROR(pending_error_);
      if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        Status s = m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF
                       ? absl::OkStatus()
                       : KafkaError(m->err, StrCat("consume ", topic_, " from ", brokers_, " (",
                                                    rd_kafka_message_errstr(m), ")"));
        rd_kafka_message_destroy(m);
        // Transient errors (a broker restarting) are retried by librdkafka.
        if (absl::IsUnavailable(s)) {
          spdlog::warn("{}", std::string(s.message()));
          continue;
        }
        RETURN_IF_ERROR(s);
        continue;
      }
      Record& r = slots_[n++];
      if (r.topic != topic_) r.topic = topic_;
      r.partition = m->partition;
      r.offset = m->offset;
      rd_kafka_timestamp_type_t tstype;
      r.timestamp_ms = rd_kafka_message_timestamp(m, &tstype);
      r.key.assign(m->key != nullptr ? static_cast<const char*>(m->key) : "", m->key_len);
      r.value.assign(m->payload != nullptr ? static_cast<const char*>(m->payload) : "", m->len);
      next_[m->partition] = m->offset + 1;
      rd_kafka_message_destroy(m);
    }
    return std::span<const Record>(slots_.data(), n);
  }

  Status Commit() override { return CommitOffsets(next_); }

  Status CommitOffsets(const std::map<int, int64_t>& next) override {
    if (o_.group.empty() || next.empty()) return absl::OkStatus();
    PartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(next.size())));
    for (const auto& [p, off] : next) {
      if (committed_[p] == off) continue;
      rd_kafka_topic_partition_list_add(list.get(), topic_.c_str(), p)->offset = off;
    }
    if (list->cnt == 0) return absl::OkStatus();
    if (rd_kafka_resp_err_t err = rd_kafka_commit(rk_.get(), list.get(), 0)) {
      return KafkaError(err, StrCat("commit the offsets of group ", o_.group, " on ", topic_));
    }
    for (int i = 0; i < list->cnt; ++i) {
      if (list->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return KafkaError(list->elems[i].err,
                          StrCat("commit partition ", list->elems[i].partition, " of ", topic_));
      }
      committed_[list->elems[i].partition] = list->elems[i].offset;
    }
    return absl::OkStatus();
  }

  StatusOr<int64_t> Lag() override {
    rd_kafka_topic_partition_list_t* raw = nullptr;
    if (rd_kafka_resp_err_t err = rd_kafka_assignment(rk_.get(), &raw)) {
      return KafkaError(err, "read the assignment");
    }
    PartitionList assigned(raw);
    if (rd_kafka_resp_err_t err = rd_kafka_position(rk_.get(), assigned.get())) {
      return KafkaError(err, "read the positions");
    }
    int64_t lag = 0;
    for (int i = 0; i < assigned->cnt; ++i) {
      const auto& tp = assigned->elems[i];
      // The end offsets the last fetches brought (no round trip, so a broker
      // that is down cannot stall the caller); ask the broker only for a
      // partition not fetched yet, briefly.
      int64_t lo = -1, hi = -1;
      rd_kafka_get_watermark_offsets(rk_.get(), tp.topic, tp.partition, &lo, &hi);
      if (hi < 0) {
        if (rd_kafka_resp_err_t err =
                rd_kafka_query_watermark_offsets(rk_.get(), tp.topic, tp.partition, &lo, &hi, 2000)) {
          return KafkaError(err, StrCat("end offset of ", tp.topic, "/", tp.partition));
        }
      }
      if (lo < 0) lo = 0;
      int64_t pos = tp.offset >= 0 ? tp.offset : lo;
      if (auto it = next_.find(tp.partition); it != next_.end()) pos = it->second;
      lag += std::max<int64_t>(0, hi - pos);
    }
    return lag;
  }

 private:
  KafkaConsumer(std::string brokers, std::string topic, ConsumerOptions o)
      : brokers_(std::move(brokers)), topic_(std::move(topic)), o_(std::move(o)) {}

  // Sets each partition's start: an explicit offset, else the group's
  // committed offset (INVALID lets librdkafka fetch it), else `start`.
  Status ChooseStarts(rd_kafka_topic_partition_list_t* parts) {
    std::vector<int> need_time;
    for (int i = 0; i < parts->cnt; ++i) {
      auto& tp = parts->elems[i];
      if (auto it = o_.start_offsets.find(tp.partition); it != o_.start_offsets.end()) {
        tp.offset = it->second;
      } else if (o_.start == StartAt::kTime) {
        need_time.push_back(i);
      } else if (o_.group.empty()) {
        tp.offset = o_.start == StartAt::kEnd ? RD_KAFKA_OFFSET_END : RD_KAFKA_OFFSET_BEGINNING;
      } else {
        tp.offset = RD_KAFKA_OFFSET_INVALID;
      }
    }
    if (need_time.empty()) return absl::OkStatus();
    PartitionList q(rd_kafka_topic_partition_list_new(static_cast<int>(need_time.size())));
    for (int i : need_time) {
      rd_kafka_topic_partition_list_add(q.get(), topic_.c_str(), parts->elems[i].partition);
    }
    if (!o_.group.empty()) {
      if (rd_kafka_resp_err_t err = rd_kafka_committed(rk_.get(), q.get(), kRequestTimeoutMs)) {
        return KafkaError(err, StrCat("committed offsets of group ", o_.group));
      }
    }
    PartitionList times(rd_kafka_topic_partition_list_new(q->cnt));
    for (int i = 0; i < q->cnt; ++i) {
      if (q->elems[i].offset < 0) {
        rd_kafka_topic_partition_list_add(times.get(), topic_.c_str(), q->elems[i].partition)
            ->offset = o_.start_time_ms;
      }
    }
    if (times->cnt > 0) {
      if (rd_kafka_resp_err_t err =
              rd_kafka_offsets_for_times(rk_.get(), times.get(), kRequestTimeoutMs)) {
        return KafkaError(err, "find the offsets for --from-time");
      }
    }
    for (int i : need_time) {
      auto& tp = parts->elems[i];
      tp.offset = RD_KAFKA_OFFSET_INVALID;  // the committed one
      for (int j = 0; j < times->cnt; ++j) {
        if (times->elems[j].partition == tp.partition) {
          // -1: no record at or after the time: start at the end.
          tp.offset = times->elems[j].offset >= 0 ? times->elems[j].offset : RD_KAFKA_OFFSET_END;
        }
      }
    }
    return absl::OkStatus();
  }

  static void OnRebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                          rd_kafka_topic_partition_list_t* parts, void* opaque) {
    auto* self = static_cast<KafkaConsumer*>(opaque);
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
      Status s = self->ChooseStarts(parts);
      if (!s.ok()) self->pending_error_ = s;
      rd_kafka_assign(rk, parts);
    } else {
      for (int i = 0; i < parts->cnt; ++i) {
        self->next_.erase(parts->elems[i].partition);
        self->committed_.erase(parts->elems[i].partition);
      }
      rd_kafka_assign(rk, nullptr);
    }
  }

  std::string brokers_;
  std::string topic_;
  ConsumerOptions o_;
  KafkaHandle rk_;
  std::map<int, int64_t> next_;       // partition -> next offset after what Poll() returned
  std::map<int, int64_t> committed_;  // what Commit() last stored
  Status pending_error_;
  std::vector<Record> slots_;  // PollView()'s reused records
};

// ---------------------------------------------------------------------------

class KafkaAdmin final : public Admin {
 public:
  static StatusOr<std::unique_ptr<Admin>> Open(const std::string& brokers, const BusOptions& bus) {
    auto a = std::unique_ptr<KafkaAdmin>(new KafkaAdmin(brokers, bus));
    Conf conf;
    RETURN_IF_ERROR(Configure(&conf, brokers, bus, {}));
    ASSIGN_OR_RETURN(a->rk_, conf.Create(RD_KAFKA_PRODUCER, brokers));
    return std::unique_ptr<Admin>(std::move(a));
  }

  Status CreateTopic(const std::string& topic, int partitions, int replication) override {
    char err[512];
    rd_kafka_NewTopic_t* nt =
        rd_kafka_NewTopic_new(topic.c_str(), partitions, replication, err, sizeof(err));
    if (nt == nullptr) return absl::InvalidArgumentError(StrCat("topic ", topic, ": ", err));
    rd_kafka_queue_t* q = rd_kafka_queue_new(rk_.get());
    rd_kafka_AdminOptions_t* opts = rd_kafka_AdminOptions_new(rk_.get(), RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_operation_timeout(opts, kRequestTimeoutMs, err, sizeof(err));
    rd_kafka_CreateTopics(rk_.get(), &nt, 1, opts, q);
    rd_kafka_event_t* ev = rd_kafka_queue_poll(q, kRequestTimeoutMs + 5000);
    Status s;
    if (ev == nullptr) {
      s = absl::DeadlineExceededError(StrCat("creating topic ", topic, " on ", brokers_, " timed out"));
    } else if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      s = KafkaError(rd_kafka_event_error(ev), StrCat("create topic ", topic, " on ", brokers_));
    } else {
      size_t cnt = 0;
      const rd_kafka_topic_result_t** res =
          rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &cnt);
      for (size_t i = 0; i < cnt; ++i) {
        if (rd_kafka_resp_err_t e = rd_kafka_topic_result_error(res[i])) {
          const char* why = rd_kafka_topic_result_error_string(res[i]);
          s = KafkaError(e, StrCat("create topic ", topic, " on ", brokers_,
                                   why != nullptr ? StrCat(" (", why, ")") : ""));
        }
      }
    }
    if (ev != nullptr) rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(opts);
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy(nt);
    if (!s.ok()) return s;
    // The metadata may lag behind the controller: wait until the topic is visible.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kRequestTimeoutMs);
    while (true) {
      StatusOr<int> n = Partitions(topic);
      if (n.ok() && *n == partitions) return absl::OkStatus();
      if (std::chrono::steady_clock::now() > deadline) {
        return absl::DeadlineExceededError(StrCat("topic ", topic, " was created on ", brokers_,
                                                  " but its metadata did not appear"));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

  StatusOr<ClusterInfo> Cluster() override {
    const rd_kafka_metadata_t* md = nullptr;
    if (rd_kafka_resp_err_t err = rd_kafka_metadata(rk_.get(), 0, nullptr, &md, kMetadataTimeoutMs)) {
      return KafkaError(err, StrCat("read the metadata of ", brokers_));
    }
    ClusterInfo info;
    for (int i = 0; i < md->broker_cnt; ++i) {
      info.brokers.push_back(StrCat(md->brokers[i].id, " ", md->brokers[i].host, ":", md->brokers[i].port));
    }
    rd_kafka_metadata_destroy(md);
    info.controller = rd_kafka_controllerid(rk_.get(), kMetadataTimeoutMs);
    return info;
  }

  StatusOr<std::vector<std::string>> ListTopics() override {
    const rd_kafka_metadata_t* md = nullptr;
    if (rd_kafka_resp_err_t err = rd_kafka_metadata(rk_.get(), 1, nullptr, &md, kMetadataTimeoutMs)) {
      return KafkaError(err, StrCat("list the topics of ", brokers_));
    }
    std::vector<std::string> out;
    for (int i = 0; i < md->topic_cnt; ++i) {
      std::string name = md->topics[i].topic;
      if (!name.starts_with("__")) out.push_back(name);  // not Kafka's internal topics
    }
    rd_kafka_metadata_destroy(md);
    std::sort(out.begin(), out.end());
    return out;
  }

  StatusOr<int> Partitions(const std::string& topic) override {
    return TopicPartitions(rk_.get(), topic, brokers_);
  }

  StatusOr<std::vector<PartitionState>> Describe(const std::string& topic,
                                                 const std::string& group) override {
    ASSIGN_OR_RETURN(int n, Partitions(topic));
    std::vector<PartitionState> out(static_cast<size_t>(n));
    for (int p = 0; p < n; ++p) {
      out[static_cast<size_t>(p)].partition = p;
      if (rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
              rk_.get(), topic.c_str(), p, &out[static_cast<size_t>(p)].start,
              &out[static_cast<size_t>(p)].end, kRequestTimeoutMs)) {
        return KafkaError(err, StrCat("offsets of ", topic, "/", p, " on ", brokers_));
      }
    }
    if (group.empty()) return out;
    // The group's committed offsets, read by a client of that group that
    // never joins it.
    Conf conf;
    RETURN_IF_ERROR(Configure(&conf, brokers_, bus_, {{"group.id", group}}));
    ASSIGN_OR_RETURN(KafkaHandle c, conf.Create(RD_KAFKA_CONSUMER, brokers_));
    PartitionList list(rd_kafka_topic_partition_list_new(n));
    for (int p = 0; p < n; ++p) rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), p);
    rd_kafka_resp_err_t err = rd_kafka_committed(c.get(), list.get(), kRequestTimeoutMs);
    rd_kafka_consumer_close(c.get());
    if (err) return KafkaError(err, StrCat("committed offsets of group ", group));
    for (int i = 0; i < list->cnt; ++i) {
      if (list->elems[i].offset >= 0) {
        out[static_cast<size_t>(list->elems[i].partition)].committed = list->elems[i].offset;
      }
    }
    return out;
  }

 private:
  KafkaAdmin(std::string brokers, BusOptions bus) : brokers_(std::move(brokers)), bus_(std::move(bus)) {}
  std::string brokers_;
  BusOptions bus_;
  KafkaHandle rk_;
};

}  // namespace

StatusOr<std::unique_ptr<Admin>> OpenKafkaAdmin(const std::string& brokers, const BusOptions& bus) {
  return KafkaAdmin::Open(brokers, bus);
}

StatusOr<std::unique_ptr<Producer>> OpenKafkaProducer(const std::string& brokers,
                                                      const std::string& topic,
                                                      const BusOptions& bus) {
  return KafkaProducer::Open(brokers, topic, bus);
}

StatusOr<std::unique_ptr<Consumer>> OpenKafkaConsumer(const std::string& brokers,
                                                      const std::string& topic,
                                                      const ConsumerOptions& options,
                                                      const BusOptions& bus) {
  return KafkaConsumer::Open(brokers, topic, options, bus);
}

}  // namespace comptoir::bus
