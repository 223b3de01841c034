// Produce -> consume latency through the bus, paced.
//
//   latency_bench BUS_URI TOPIC [RATE=10000] [SECONDS=10] [VALUE_BYTES=200] [kafka.property=value...]
//
// A producer sends RATE events per second for SECONDS (the same pacing and
// flushing rule as `comptoir produce`: a record is made durable at once when
// the next one is more than 5 ms away, else it shares the producer's batch);
// a consumer in the same process reads them. Each value carries its send time
// (steady clock, ns); the latency is receive time - send time. Prints one
// line: events, p50, p99, p99.9 and max in milliseconds. The first second
// (connections, the idempotent producer's id, the consumer's first fetch) is
// a warm-up and not counted.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "comptoir/bus/client.h"

using namespace std::chrono;
using comptoir::bus::Consumer;
using comptoir::bus::Producer;

namespace {

int64_t NowNs() { return duration_cast<nanoseconds>(steady_clock::now().time_since_epoch()).count(); }

int Die(const comptoir::Status& s, const char* what) {
  std::fprintf(stderr, "latency_bench: %s: %s\n", what, std::string(s.message()).c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: latency_bench BUS_URI TOPIC [RATE] [SECONDS] [VALUE_BYTES]\n");
    return 2;
  }
  std::string uri = argv[1], topic = argv[2];
  double rate = argc > 3 ? std::stod(argv[3]) : 10000;
  double seconds = argc > 4 ? std::stod(argv[4]) : 10;
  size_t value_bytes = argc > 5 ? std::stoul(argv[5]) : 200;
  auto total = static_cast<int64_t>(rate * seconds);

  comptoir::bus::BusOptions bus;
  for (int i = 6; i < argc; ++i) {
    std::string kv = argv[i];
    bus.kafka_properties[kv.substr(0, kv.find('='))] = kv.substr(kv.find('=') + 1);
  }
  auto producer = comptoir::bus::OpenProducer(uri, topic, 3, bus);
  if (!producer.ok()) return Die(producer.status(), "open producer");
  comptoir::bus::ConsumerOptions co;
  co.start = comptoir::bus::StartAt::kEnd;
  auto consumer = comptoir::bus::OpenConsumer(uri, topic, co, bus);
  if (!consumer.ok()) return Die(consumer.status(), "open consumer");
  // Let the consumer settle on the end offsets before the clock starts.
  (void)(*consumer)->Poll(1, milliseconds(500));

  auto warmup = duration<double>(1.0);
  auto warm_events = static_cast<int64_t>(rate);
  std::vector<double> lat_ms;
  lat_ms.reserve(static_cast<size_t>(total));
  std::thread reader([&] {
    auto deadline = steady_clock::now() + duration<double>(seconds + 30);
    while (static_cast<int64_t>(lat_ms.size()) < total && steady_clock::now() < deadline + warmup) {
      auto batch = (*consumer)->PollView(10000, milliseconds(100));
      if (!batch.ok()) {
        Die(batch.status(), "poll");
        return;
      }
      int64_t now = NowNs();
      for (const auto& r : *batch) {
        if (r.value[0] == 'w') continue;  // warm-up
        int64_t sent = std::stoll(r.value.substr(0, r.value.find(' ')));
        lat_ms.push_back(static_cast<double>(now - sent) / 1e6);
      }
    }
  });

  std::string pad(value_bytes > 24 ? value_bytes - 24 : 0, 'x');
  auto t0 = steady_clock::now();
  for (int64_t i = 0; i < total + warm_events; ++i) {
    std::string value = (i < warm_events ? "w" : "") + std::to_string(NowNs()) + " " + pad;
    int64_t wall_ms = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
    auto s = (*producer)->Send(std::to_string(i % 1000), value, wall_ms);
    if (!s.ok()) return Die(s, "send");
    auto due = t0 + duration_cast<steady_clock::duration>(duration<double>((i + 1) / rate));
    s = due - steady_clock::now() > milliseconds(5) ? (*producer)->Flush() : (*producer)->Poll();
    if (!s.ok()) return Die(s, "flush");
    std::this_thread::sleep_until(due);
  }
  auto s = (*producer)->Flush();
  if (!s.ok()) return Die(s, "flush");
  reader.join();
  if (lat_ms.empty()) {
    std::fprintf(stderr, "latency_bench: nothing received\n");
    return 1;
  }
  std::sort(lat_ms.begin(), lat_ms.end());
  auto pct = [&](double p) {
    return lat_ms[std::min(lat_ms.size() - 1, static_cast<size_t>(p * static_cast<double>(lat_ms.size())))];
  };
  std::printf("events %zu/%lld rate %.0f/s p50 %.2f ms p99 %.2f ms p99.9 %.2f ms max %.2f ms\n",
              lat_ms.size(), static_cast<long long>(total), rate, pct(0.50), pct(0.99), pct(0.999),
              lat_ms.back());
  return static_cast<int64_t>(lat_ms.size()) == total ? 0 : 1;
}
