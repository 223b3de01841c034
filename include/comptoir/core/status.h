// Status helpers shared by every component.
//
// Comptoir reports errors across module boundaries with absl::Status and
// absl::StatusOr<T>. The canonical code tells the caller what to do next:
//   kUnavailable / kDeadlineExceeded  -> transient, the retry layer may retry;
//   kInvalidArgument / kNotFound / kAlreadyExists / kPermissionDenied /
//   kFailedPrecondition / kUnimplemented -> permanent, fix the input;
//   kAborted                          -> the user or a signal cancelled the work;
//   kResourceExhausted                -> disk full, quota; permanent for this run;
//   kDataLoss                         -> corrupt input detected.
// Debian 12's abseil predates absl's own status macros, hence the two below.
#pragma once

#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "comptoir/core/strings.h"

namespace comptoir {

using absl::Status;
using absl::StatusOr;

// Returns true for errors worth retrying (the server or network may recover).
inline bool IsRetryable(const Status& s) {
  return absl::IsUnavailable(s) || absl::IsDeadlineExceeded(s);
}

// Returns `s` with `context + ": "` put in front of its message, same code.
Status Annotate(const Status& s, std::string_view context);

// Maps an errno value (from a failed system call on `what`) to a Status whose
// message names the operation and the path.
Status ErrnoToStatus(int err, std::string_view what);

}  // namespace comptoir

#define COMPTOIR_CONCAT_INNER_(a, b) a##b
#define COMPTOIR_CONCAT_(a, b) COMPTOIR_CONCAT_INNER_(a, b)

// Returns from the current function when `expr` yields a non-OK Status.
#define RETURN_IF_ERROR(expr)                              \
  do {                                                     \
    ::absl::Status comptoir_status_ = (expr);              \
    if (!comptoir_status_.ok()) return comptoir_status_;   \
  } while (false)

#define COMPTOIR_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                    \
  if (!tmp.ok()) return tmp.status();                   \
  lhs = std::move(tmp).value()

// `ASSIGN_OR_RETURN(auto x, MakeX());` declares x from an OK StatusOr or
// returns its error.
#define ASSIGN_OR_RETURN(lhs, expr) \
  COMPTOIR_ASSIGN_OR_RETURN_IMPL_(COMPTOIR_CONCAT_(comptoir_statusor_, __LINE__), lhs, expr)
