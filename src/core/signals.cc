#include "comptoir/core/signals.h"

#include <unistd.h>

#include <atomic>
#include <csignal>

namespace comptoir::core {
namespace {

std::atomic<int> g_signals{0};

extern "C" void OnSignal(int /*sig*/) {
  if (g_signals.fetch_add(1) >= 1) {
    constexpr char kMsg[] = "\ncomptoir: interrupted twice, exiting now\n";
    (void)!write(STDERR_FILENO, kMsg, sizeof(kMsg) - 1);
    _exit(130);
  }
}

}  // namespace

void InstallSignalHandlers() {
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);  // broken pipes become EPIPE errors, not deaths
  signal(SIGXFSZ, SIG_IGN);  // a file size limit becomes an EFBIG error, not a death
}

bool Cancelled() { return g_signals.load(std::memory_order_relaxed) > 0; }
void RequestCancel() { g_signals.store(1); }
void ResetCancel() { g_signals.store(0); }

Status CheckCancelled(std::string_view what) {
  if (!Cancelled()) return absl::OkStatus();
  return absl::AbortedError(StrCat(what, " interrupted by a signal; nothing was published"));
}

}  // namespace comptoir::core
