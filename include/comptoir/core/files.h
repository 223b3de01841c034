// Local state files (job files, checkpoints, offsets, pid and state files):
// written whole and atomically, read whole. Lake files go through
// lake::Storage and the publish protocol instead (lake/publish.h).
#pragma once

#include <string>
#include <string_view>

#include "comptoir/core/status.h"

namespace comptoir::core {

// Replaces `path` with `data` atomically and durably: a temporary file beside
// it, fdatasync, rename, and (with `sync_dir`) an fsync of the directory so
// that the rename survives a power cut. Creates the parent directory when
// missing. A crash leaves the old file or the new one, never a mix; a failed
// write leaves the old file and removes the temporary.
Status WriteFileAtomically(const std::string& path, std::string_view data, bool sync_dir = true);

// The whole file. NotFound when it does not exist; other errors from errno.
StatusOr<std::string> ReadFile(const std::string& path);

// fsync of a directory (after creating, renaming or removing a file in it).
Status SyncDir(const std::string& dir);

}  // namespace comptoir::core
