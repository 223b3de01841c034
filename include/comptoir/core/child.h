// The start of a child process between fork() and exec(), for the
// supervisor's components and spark-submit.
#pragma once

#include <sys/types.h>

namespace comptoir::core {

// In the child, right after fork(): its own process group, `death_signal`
// when the parent dies (exits at once if it already has), stdin from
// /dev/null, stdout and stderr to `log_fd` (when >= 0), no blocked signals,
// SIGPIPE by default. Only async-signal-safe calls.
void PrepareChild(pid_t parent, int death_signal, int log_fd);

}  // namespace comptoir::core
