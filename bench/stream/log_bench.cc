// Embedded log throughput: append ~200-byte events with an fsync per batch,
// then read them back. Prints events/s and MB/s.
//   build/release/bench/stream/log_bench [events] [batch]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "comptoir/bus/embedded_log.h"

int main(int argc, char** argv) {
  using comptoir::bus::EmbeddedLog;
  int64_t events = argc > 1 ? std::atoll(argv[1]) : 2000000;
  int64_t batch = argc > 2 ? std::atoll(argv[2]) : 5000;
  std::string dir = (std::filesystem::temp_directory_path() / "comptoir-log-bench").string();
  std::filesystem::remove_all(dir);
  auto log = EmbeddedLog::Open(dir).value();
  comptoir::bus::TopicConfig c;
  c.segment_bytes = 256ull << 20;
  if (!log->CreateTopic("transactions", c).ok()) return 1;
  auto w = log->OpenWriter("transactions", 0).value();
  std::string value =
      R"({"event_id":"p1-0000000001","ts":"2026-11-27T21:48:14.123Z","order_number":10100,)"
      R"("order_line":1,"customer":"Land of Toys Inc.","country":"USA","amount":"2871.00"})";
  value.resize(200, ' ');
  auto t0 = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < events; ++i) {
    if (!w->Append("10100", value, 0).ok()) return 2;
    if ((i + 1) % batch == 0 && !w->Flush().ok()) return 3;
  }
  if (!w->Flush().ok()) return 3;
  double append_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  auto r = log->OpenReader("transactions", 0).value();
  t0 = std::chrono::steady_clock::now();
  int64_t read = 0;
  while (read < events) {
    auto b = r->Read(10000, std::chrono::milliseconds(10));
    if (!b.ok() || b->empty()) return 4;
    read += static_cast<int64_t>(b->size());
  }
  double read_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  double mb = static_cast<double>(events) * 220 / 1e6;  // value + key + header
  std::printf("| embedded log append (fsync every %lld events) | %lld | %.2f | %.0f | %.1f |\n",
              static_cast<long long>(batch), static_cast<long long>(events), append_s,
              events / append_s, mb / append_s);
  std::printf("| embedded log read | %lld | %.2f | %.0f | %.1f |\n", static_cast<long long>(events),
              read_s, events / read_s, mb / read_s);
  std::filesystem::remove_all(dir);
  return 0;
}
