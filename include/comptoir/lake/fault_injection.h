// A Storage wrapper for tests that fails chosen operations on purpose.
//
//   FaultInjectionStorage fs(real.get());
//   fs.FailAt(FaultOp::kRename, 2, absl::UnavailableError("injected"));
//
// makes the second Rename() fail. Counting covers every call of that kind made
// through the wrapper, including Append() and Close() on its files.
#pragma once

#include <array>
#include <mutex>
#include <optional>

#include "comptoir/lake/storage.h"

namespace comptoir::lake {

enum class FaultOp { kStat, kList, kMakeDirs, kCreate, kAppend, kClose, kOpen, kRename, kDelete };
inline constexpr int kFaultOpCount = 9;

class FaultInjectionStorage final : public StorageWrapper {
 public:
  explicit FaultInjectionStorage(Storage* target) : StorageWrapper(target) {}

  // The `nth` call (1-based, counted from now) of `op` returns `error`.
  void FailAt(FaultOp op, int nth, Status error);
  // Every call of `op` from now on fails with `error`.
  void FailAlways(FaultOp op, Status error);
  void Clear();
  // Calls of `op` seen so far.
  int Count(FaultOp op) const;

  StatusOr<FileInfo> Stat(const std::string& path) override;
  StatusOr<std::vector<FileInfo>> List(const std::string& dir) override;
  Status MakeDirs(const std::string& dir) override;
  StatusOr<std::unique_ptr<WritableFile>> Create(const std::string& path,
                                                 const CreateOptions& options) override;
  StatusOr<std::unique_ptr<WritableFile>> OpenForAppend(const std::string& path) override;
  StatusOr<std::unique_ptr<ReadableFile>> Open(const std::string& path, uint64_t offset,
                                               uint64_t length) override;
  Status Rename(const std::string& src, const std::string& dst) override;
  Status Delete(const std::string& path, bool recursive) override;

  // Used by the wrapped files; returns the injected error for this call or OK.
  Status Hit(FaultOp op);

 private:
  struct Rule {
    int fire_at = 0;  // absolute call number; 0 = always
    Status error;
  };
  mutable std::mutex mu_;
  std::array<int, kFaultOpCount> counts_{};
  std::array<std::optional<Rule>, kFaultOpCount> rules_{};
};

}  // namespace comptoir::lake
