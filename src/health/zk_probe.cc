// The Kafka brokers and topics registered in ZooKeeper (/brokers/ids,
// /brokers/topics), as the reference design's health tab listed them.
#include <zookeeper/zookeeper.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "comptoir/core/status.h"
#include "fmt/format.h"

namespace comptoir::health {
namespace {

struct Connected {
  std::mutex mu;
  std::condition_variable cv;
  bool up = false;
};

void OnSession(zhandle_t*, int type, int state, const char*, void* ctx) {
  auto* c = static_cast<Connected*>(ctx);
  if (type == ZOO_SESSION_EVENT && state == ZOO_CONNECTED_STATE) {
    std::lock_guard<std::mutex> l(c->mu);
    c->up = true;
    c->cv.notify_all();
  }
}

std::vector<std::string> Children(zhandle_t* zh, const char* path) {
  std::vector<std::string> out;
  String_vector v{};
  if (zoo_get_children(zh, path, 0, &v) != ZOK) return out;
  for (int i = 0; i < v.count; ++i) out.emplace_back(v.data[i]);
  deallocate_String_vector(&v);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

StatusOr<std::pair<std::vector<std::string>, std::vector<std::string>>> KafkaInZooKeeper(
    const std::string& hosts, std::chrono::milliseconds timeout) {
  zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
  auto c = std::make_unique<Connected>();
  zhandle_t* zh = zookeeper_init(hosts.c_str(), OnSession, static_cast<int>(timeout.count()), nullptr, c.get(), 0);
  if (zh == nullptr) return absl::InvalidArgumentError(fmt::format("bad ZooKeeper address {}", hosts));
  {
    std::unique_lock<std::mutex> l(c->mu);
    if (!c->cv.wait_for(l, timeout, [&] { return c->up; })) {
      zookeeper_close(zh);
      return absl::UnavailableError(fmt::format("ZooKeeper {} did not accept a session", hosts));
    }
  }
  auto out = std::make_pair(Children(zh, "/brokers/ids"), Children(zh, "/brokers/topics"));
  zookeeper_close(zh);
  return out;
}

}  // namespace comptoir::health
