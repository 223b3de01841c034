#include "comptoir/core/progress.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>

#include "comptoir/core/strings.h"
#include "comptoir/core/time.h"
#include "fmt/format.h"

namespace comptoir::core {

std::string HumanBytes(double bytes) {
  const char* units[] = {"B", "KB", "MB", "GB", "TB"};
  int u = 0;
  while (bytes >= 1000 && u < 4) {
    bytes /= 1000;
    ++u;
  }
  return u == 0 ? fmt::format("{:.0f} {}", bytes, units[u])
                : fmt::format("{:.1f} {}", bytes, units[u]);
}

std::string WithThousands(uint64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

bool Progress::StderrIsTty() { return isatty(STDERR_FILENO) == 1; }

Progress::Progress(std::string label, uint64_t total_items, std::string unit, bool quiet)
    : label_(std::move(label)),
      unit_(std::move(unit)),
      total_(total_items),
      active_(!quiet && StderrIsTty()),
      start_(NowSeconds()) {
  if (active_) thread_ = std::thread([this] { Loop(); });
}

Progress::~Progress() { Finish(); }

void Progress::Finish() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return;
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
    Draw(true);
  }
}

void Progress::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    cv_.wait_for(lock, std::chrono::milliseconds(200));
    if (!stop_) Draw(false);
  }
}

void Progress::Draw(bool final_draw) {
  if (final_draw) {
    std::fputs("\r\033[K", stderr);
    std::fflush(stderr);
    return;
  }
  double elapsed = NowSeconds() - start_;
  uint64_t done = items_.load();
  uint64_t total = total_.load();
  double mbps = elapsed > 0 ? static_cast<double>(bytes_.load()) / 1e6 / elapsed : 0;
  std::string bar;
  std::string tail;
  if (total > 0) {
    double frac = std::min(1.0, static_cast<double>(done) / static_cast<double>(total));
    int width = 24;
    int fill = static_cast<int>(frac * width);
    bar = StrCat("[", std::string(fill, '#'), std::string(width - fill, '.'), "] ",
                       fmt::format("{:3.0f}% ", frac * 100));
    if (done > 0 && frac < 1) {
      double eta = elapsed * (1 - frac) / frac;
      tail = fmt::format(" ETA {:.0f}s", eta);
    }
  }
  std::string rate = bytes_.load() > 0 ? fmt::format("  {:.1f} MB/s", mbps)
                                        : fmt::format("  {:.0f} {}/s", done / std::max(elapsed, 1e-3), unit_);
  std::string line =
      StrCat("\r\033[K", label_, " ", bar, WithThousands(done), " ", unit_, rate, tail);
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
}

}  // namespace comptoir::core
