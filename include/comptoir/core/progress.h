// A progress bar on stderr for long work (rows, bytes, rate, ETA).
//
// It draws only when stderr is a terminal and not quiet; otherwise it is
// silent and costs two relaxed atomic adds per Add(). Add() is thread-safe
// and cheap enough to call per batch from several worker threads; drawing
// happens on a private thread five times per second.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

namespace comptoir::core {

class Progress {
 public:
  // `total_items` 0 means unknown (no percentage or ETA).
  Progress(std::string label, uint64_t total_items, std::string unit, bool quiet);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void Add(uint64_t items, uint64_t bytes) {
    items_.fetch_add(items, std::memory_order_relaxed);
    bytes_.fetch_add(bytes, std::memory_order_relaxed);
  }
  void SetTotal(uint64_t total_items) { total_.store(total_items); }
  uint64_t items() const { return items_.load(); }
  uint64_t bytes() const { return bytes_.load(); }
  // Stops drawing and clears the line. Idempotent.
  void Finish();

  // True when stderr is a terminal (bars are drawn only then).
  static bool StderrIsTty();

 private:
  void Loop();
  void Draw(bool final_draw);

  std::string label_;
  std::string unit_;
  std::atomic<uint64_t> total_;
  std::atomic<uint64_t> items_{0};
  std::atomic<uint64_t> bytes_{0};
  bool active_;
  double start_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

// "1.5 MB", "312 B"
std::string HumanBytes(double bytes);
// "1,234,567"
std::string WithThousands(uint64_t n);

}  // namespace comptoir::core
