// Cooperative cancellation on Ctrl-C (SIGINT) and SIGTERM.
//
// InstallSignalHandlers() makes the first signal set a flag that long-running
// loops poll with Cancelled(); they then return kAborted and their normal
// error path removes temporary files. A second signal ends the process at
// once with status 130 (temporary files are then cleaned by the next run).
#pragma once

#include "comptoir/core/status.h"

namespace comptoir::core {

void InstallSignalHandlers();

// True once SIGINT or SIGTERM arrived (or RequestCancel() was called).
bool Cancelled();

// For tests and for internal stop requests.
void RequestCancel();
void ResetCancel();

// kAborted "interrupted" when Cancelled(), else OK. `what` names the work.
Status CheckCancelled(std::string_view what);

}  // namespace comptoir::core
