// Replay: re-checks the rejects of one run after a rule or data fix.
#pragma once

#include <span>
#include <string>

#include "comptoir/core/status.h"
#include "comptoir/lake/storage.h"
#include "comptoir/quality/history.h"
#include "comptoir/quality/rules.h"

namespace comptoir::quality {

// Checks every record of `<dataset>/_rejects/<run>/` against `rules` as they
// are now (those of `dataset`). By one commit: the records that pass (or only
// warn) are appended to the dataset as a new part, those still rejected go
// to a new run's `_rejects/` (their `_source` keeps where they first came
// from), and `_rejects/<run>/` is removed, so each record is in exactly one
// place; the new run is recorded in the history (writer "replay"). A record
// failing a `fail` rule publishes nothing (IsQualityFailed). `unique` rules
// see only the replayed records, not the dataset's rows.
StatusOr<RunRecord> Replay(lake::Storage* lake, const std::string& dataset, const std::string& run,
                           std::span<const Rule> rules);

}  // namespace comptoir::quality
