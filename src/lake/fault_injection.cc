#include "comptoir/lake/fault_injection.h"

namespace comptoir::lake {
namespace {

class FaultyWritableFile final : public WritableFile {
 public:
  FaultyWritableFile(FaultInjectionStorage* owner, std::unique_ptr<WritableFile> file)
      : owner_(owner), file_(std::move(file)) {}
  Status Append(std::string_view data) override {
    RETURN_IF_ERROR(owner_->Hit(FaultOp::kAppend));
    return file_->Append(data);
  }
  Status Close() override {
    RETURN_IF_ERROR(owner_->Hit(FaultOp::kClose));
    return file_->Close();
  }
  uint64_t Size() const override { return file_->Size(); }

 private:
  FaultInjectionStorage* owner_;
  std::unique_ptr<WritableFile> file_;
};

int Index(FaultOp op) { return static_cast<int>(op); }

}  // namespace

void FaultInjectionStorage::FailAt(FaultOp op, int nth, Status error) {
  std::lock_guard<std::mutex> lock(mu_);
  rules_[Index(op)] = Rule{counts_[Index(op)] + nth, std::move(error)};
}

void FaultInjectionStorage::FailAlways(FaultOp op, Status error) {
  std::lock_guard<std::mutex> lock(mu_);
  rules_[Index(op)] = Rule{0, std::move(error)};
}

void FaultInjectionStorage::Clear() {
  std::lock_guard<std::mutex> lock(mu_);
  rules_ = {};
}

int FaultInjectionStorage::Count(FaultOp op) const {
  std::lock_guard<std::mutex> lock(mu_);
  return counts_[Index(op)];
}

Status FaultInjectionStorage::Hit(FaultOp op) {
  std::lock_guard<std::mutex> lock(mu_);
  int n = ++counts_[Index(op)];
  const std::optional<Rule>& r = rules_[Index(op)];
  if (r && (r->fire_at == 0 || r->fire_at == n)) return r->error;
  return absl::OkStatus();
}

StatusOr<FileInfo> FaultInjectionStorage::Stat(const std::string& path) {
  RETURN_IF_ERROR(Hit(FaultOp::kStat));
  return target()->Stat(path);
}
StatusOr<std::vector<FileInfo>> FaultInjectionStorage::List(const std::string& dir) {
  RETURN_IF_ERROR(Hit(FaultOp::kList));
  return target()->List(dir);
}
Status FaultInjectionStorage::MakeDirs(const std::string& dir) {
  RETURN_IF_ERROR(Hit(FaultOp::kMakeDirs));
  return target()->MakeDirs(dir);
}
StatusOr<std::unique_ptr<WritableFile>> FaultInjectionStorage::Create(
    const std::string& path, const CreateOptions& options) {
  RETURN_IF_ERROR(Hit(FaultOp::kCreate));
  ASSIGN_OR_RETURN(auto f, target()->Create(path, options));
  return std::unique_ptr<WritableFile>(new FaultyWritableFile(this, std::move(f)));
}
StatusOr<std::unique_ptr<WritableFile>> FaultInjectionStorage::OpenForAppend(
    const std::string& path) {
  RETURN_IF_ERROR(Hit(FaultOp::kCreate));
  ASSIGN_OR_RETURN(auto f, target()->OpenForAppend(path));
  return std::unique_ptr<WritableFile>(new FaultyWritableFile(this, std::move(f)));
}
StatusOr<std::unique_ptr<ReadableFile>> FaultInjectionStorage::Open(const std::string& path,
                                                                    uint64_t offset,
                                                                    uint64_t length) {
  RETURN_IF_ERROR(Hit(FaultOp::kOpen));
  return target()->Open(path, offset, length);
}
Status FaultInjectionStorage::Rename(const std::string& src, const std::string& dst) {
  RETURN_IF_ERROR(Hit(FaultOp::kRename));
  return target()->Rename(src, dst);
}
Status FaultInjectionStorage::Delete(const std::string& path, bool recursive) {
  RETURN_IF_ERROR(Hit(FaultOp::kDelete));
  return target()->Delete(path, recursive);
}

}  // namespace comptoir::lake
