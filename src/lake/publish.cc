#include "fmt/format.h"
#include "comptoir/lake/publish.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>
#include <random>
#include <set>

#include "nlohmann/json.hpp"
#include "spdlog/spdlog.h"

namespace comptoir::lake {
namespace {

constexpr char kTemporary[] = "_temporary";
constexpr char kManifest[] = "_COMMITTING";
constexpr char kSuccess[] = "_SUCCESS";

std::string HostName() {
  char buf[256] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0) return "localhost";
  std::string h = buf;
  for (char& c : h) {
    if (c == '-' || c == '/') c = '_';
  }
  return h;
}

// Attempt names are "<host>-<pid>-<random>".
std::string NewAttemptName() {
  std::random_device rd;
  return fmt::format("{}-{}-{:08x}", HostName(), getpid(), rd());
}

// Attempts of this process that have not finished (for liveness checks).
std::mutex g_active_mu;
std::set<std::string>& ActiveAttempts() {
  static auto* s = new std::set<std::string>();
  return *s;
}

bool AttemptIsAlive(std::string_view name) {
  std::vector<std::string_view> parts = Split(name, '-');
  if (parts.size() != 3 || parts[0] != HostName()) return false;
  int pid = 0;
  if (!ParseInt(parts[1], &pid) || pid <= 0) return false;
  if (pid == getpid()) {
    std::lock_guard<std::mutex> lock(g_active_mu);
    return ActiveAttempts().contains(std::string(name));
  }
  return kill(pid, 0) == 0 || errno == EPERM;
}

void SetActive(const std::string& staging, bool active) {
  std::lock_guard<std::mutex> lock(g_active_mu);
  std::string name(BaseName(staging));
  if (active) {
    ActiveAttempts().insert(name);
  } else {
    ActiveAttempts().erase(name);
  }
}

Status IgnoreNotFound(const Status& s) { return absl::IsNotFound(s) ? absl::OkStatus() : s; }

// Deletes `dir` if it exists and is empty.
Status RemoveIfEmpty(Storage* fs, const std::string& dir) {
  StatusOr<std::vector<FileInfo>> l = fs->List(dir);
  if (absl::IsNotFound(l.status())) return absl::OkStatus();
  RETURN_IF_ERROR(l.status());
  if (!l->empty()) return absl::OkStatus();
  return IgnoreNotFound(fs->Delete(dir, false));
}


// After `rel` (a path below `target`) was deleted: removes the directories
// between it and `target` that it leaves empty.
Status RemoveEmptyParents(Storage* fs, const std::string& target, const std::string& rel) {
  for (std::string dir = ParentPath(JoinPath(target, rel)); dir.size() > target.size(); dir = ParentPath(dir)) {
    RETURN_IF_ERROR(RemoveIfEmpty(fs, dir));
  }
  return absl::OkStatus();
}

// A hidden directory of a dataset (`_rejects`, `_quality`): its files are
// published one by one and survive a replacement of the dataset's data.
bool IsMetadataDir(const FileInfo& e) { return e.is_dir && IsHiddenName(e.name) && e.name != kTemporary; }

// "a/b" relative paths of the files under `dir`, depth first.
Status ListFiles(Storage* fs, const std::string& dir, const std::string& prefix, std::vector<std::string>* out) {
  ASSIGN_OR_RETURN(std::vector<FileInfo> entries, fs->List(dir));
  for (const FileInfo& e : entries) {
    std::string rel = prefix.empty() ? e.name : StrCat(prefix, "/", e.name);
    if (e.is_dir) {
      RETURN_IF_ERROR(ListFiles(fs, e.path, rel, out));
    } else {
      out->push_back(std::move(rel));
    }
  }
  return absl::OkStatus();
}

// Rolls back a commit that wrote `manifest` but never reached its end.
Status RollBack(Storage* fs, const std::string& target, const std::string& attempt_dir) {
  ASSIGN_OR_RETURN(std::string text, ReadFileToString(fs, JoinPath(attempt_dir, kManifest)));
  nlohmann::json m = nlohmann::json::parse(text, nullptr, false);
  if (m.is_discarded() || !m.contains("new") || !m.contains("old")) {
    return absl::DataLossError(StrCat("corrupt commit manifest in ", attempt_dir,
                                            "; inspect it, then delete ", attempt_dir));
  }
  std::vector<std::string> news = m["new"].get<std::vector<std::string>>();
  std::vector<std::string> olds = m["old"].get<std::vector<std::string>>();
  news.emplace_back(kSuccess);
  const std::string old_dir = JoinPath(attempt_dir, "old");
  for (const std::string& n : news) {
    // target/n is ours once it left staging, unless an old file of that name
    // was never moved aside (then target/n is still the old one).
    ASSIGN_OR_RETURN(bool staged, Exists(fs, JoinPath(attempt_dir, n)));
    if (staged) continue;
    if (std::find(olds.begin(), olds.end(), n) != olds.end()) {
      ASSIGN_OR_RETURN(bool moved_aside, Exists(fs, JoinPath(old_dir, n)));
      if (!moved_aside) continue;
    }
    RETURN_IF_ERROR(IgnoreNotFound(fs->Delete(JoinPath(target, n), true)));
    RETURN_IF_ERROR(RemoveEmptyParents(fs, target, n));
  }
  for (const std::string& o : olds) {
    std::string saved = JoinPath(old_dir, o);
    ASSIGN_OR_RETURN(bool kept, Exists(fs, saved));
    if (kept) RETURN_IF_ERROR(fs->Rename(saved, JoinPath(target, o)));
  }
  spdlog::warn("rolled back an interrupted commit into {} (attempt {})", target,
               BaseName(attempt_dir));
  return absl::OkStatus();
}

// Finishes a commit on an object store whose manifest was written: the
// manifest is the commit point there, so the commit is completed, never undone.
Status RollForward(Storage* fs, const std::string& target, const std::string& attempt_dir) {
  ASSIGN_OR_RETURN(std::string text, ReadFileToString(fs, JoinPath(attempt_dir, kManifest)));
  nlohmann::json m = nlohmann::json::parse(text, nullptr, false);
  if (m.is_discarded() || !m.contains("new") || !m.contains("old") || !m.contains("uploads")) {
    return absl::DataLossError(StrCat("corrupt commit manifest in ", attempt_dir,
                                      "; inspect it, then delete ", attempt_dir));
  }
  std::vector<std::string> news = m["new"].get<std::vector<std::string>>();
  RETURN_IF_ERROR(IgnoreNotFound(fs->Delete(JoinPath(target, kSuccess), false)));
  for (const nlohmann::json& token : m["uploads"]) RETURN_IF_ERROR(fs->CompleteDeferred(token.get<std::string>()));
  for (const std::string& o : m["old"].get<std::vector<std::string>>()) {
    if (o == kSuccess || std::find(news.begin(), news.end(), o) != news.end()) continue;  // replaced in place
    RETURN_IF_ERROR(IgnoreNotFound(fs->Delete(JoinPath(target, o), true)));
  }
  return WriteStringToFile(fs, JoinPath(target, kSuccess), "", {.overwrite = true});
}

// Object stores: aborts the unfinished uploads of files of `target` (data
// files and its hidden metadata directories, not other writers' staging
// names) once no attempt is left to own them.
Status AbortOrphanUploads(Storage* fs, const std::string& target) {
  ASSIGN_OR_RETURN(std::vector<std::string> uploads, fs->ListDeferred(target));
  int aborted = 0;
  for (const std::string& token : uploads) {
    nlohmann::json t = nlohmann::json::parse(token, nullptr, false);
    std::string path = t.is_discarded() ? "" : t.value("path", "");
    if (!path.starts_with(target + "/")) continue;
    bool staging = false;
    for (std::string_view part : Split(std::string_view(path).substr(target.size() + 1), '/')) {
      staging = staging || part == kTemporary || part.starts_with('.');
    }
    if (staging) continue;
    RETURN_IF_ERROR(fs->AbortDeferred(token));
    ++aborted;
  }
  if (aborted > 0) spdlog::info("aborted {} unfinished upload(s) left under {}", aborted, target);
  return absl::OkStatus();
}

}  // namespace

int PartNumber(std::string_view name) {
  if (!ConsumePrefix(&name, "part-")) return -1;
  size_t dash = name.find('-');
  if (dash == std::string_view::npos) return -1;
  name.remove_prefix(dash + 1);
  name = name.substr(0, name.find('.'));
  int n = -1;
  return ParseInt(name, &n) ? n : -1;
}

StatusOr<bool> CommitInProgress(Storage* fs, const std::string& target) {
  StatusOr<std::vector<FileInfo>> attempts = fs->List(JoinPath(target, kTemporary));
  if (absl::IsNotFound(attempts.status())) return false;
  RETURN_IF_ERROR(attempts.status());
  for (const FileInfo& a : *attempts) {
    ASSIGN_OR_RETURN(bool committing, Exists(fs, JoinPath(a.path, kManifest)));
    if (committing) return true;
  }
  return false;
}

StatusOr<int> RecoverTarget(Storage* fs, const std::string& target) {
  const bool object_store = fs->capabilities().object_store;
  std::string tmp = JoinPath(target, kTemporary);
  StatusOr<std::vector<FileInfo>> attempts = fs->List(tmp);
  if (absl::IsNotFound(attempts.status())) attempts = std::vector<FileInfo>();
  RETURN_IF_ERROR(attempts.status());
  int cleaned = 0, alive = 0;
  for (const FileInfo& a : *attempts) {
    if (AttemptIsAlive(a.name)) {
      ++alive;
      continue;
    }
    ASSIGN_OR_RETURN(bool committing, Exists(fs, JoinPath(a.path, kManifest)));
    if (committing) RETURN_IF_ERROR(object_store ? RollForward(fs, target, a.path) : RollBack(fs, target, a.path));
    if (committing && object_store) spdlog::warn("completed an interrupted commit into {} (attempt {})", target, a.name);
    RETURN_IF_ERROR(IgnoreNotFound(fs->Delete(a.path, true)));
    ++cleaned;
  }
  if (cleaned > 0) {
    spdlog::info("cleaned {} interrupted attempt(s) under {}", cleaned, tmp);
    RETURN_IF_ERROR(RemoveIfEmpty(fs, tmp));
  }
  if (object_store && alive == 0) RETURN_IF_ERROR(AbortOrphanUploads(fs, target));
  return cleaned;
}

Publication::Publication(Storage* fs, std::string target, PublishMode mode)
    : fs_(fs), target_(std::move(target)), mode_(mode) {}

Publication::~Publication() { Abort(); }

StatusOr<std::unique_ptr<Publication>> Publication::Begin(Storage* fs, const std::string& target,
                                                          PublishMode mode) {
  ASSIGN_OR_RETURN(std::string t, NormalizePath(target));
  std::unique_ptr<Publication> p(new Publication(fs, t, mode));
  StatusOr<FileInfo> st = fs->Stat(t);
  if (st.ok() && !st->is_dir) {
    return absl::FailedPreconditionError(StrCat("target ", t, " in ", fs->Uri(),
                                                      " is a file, not a directory"));
  }
  if (!st.ok() && !absl::IsNotFound(st.status())) return st.status();
  StatusOr<std::vector<FileInfo>> listed = absl::NotFoundError(t);
  if (st.ok()) {
    RETURN_IF_ERROR(RecoverTarget(fs, t).status());
    listed = fs->List(t);  // NotFound when recovery emptied it (an object store keeps no empty directory)
    if (!listed.ok() && !absl::IsNotFound(listed.status())) return listed.status();
  }
  if (listed.ok()) {
    std::vector<FileInfo>& entries = *listed;
    for (FileInfo& e : entries) {
      if (e.name == kTemporary) continue;
      if (!IsHiddenName(e.name)) p->existing_.push_back(e);
    }
    bool has_data = std::any_of(entries.begin(), entries.end(),
                                [](const FileInfo& e) { return e.name != kTemporary && !IsMetadataDir(e); });
    if (mode == PublishMode::kCreate && has_data) {
      return absl::AlreadyExistsError(
          StrCat("target directory ", t, " already exists in ", fs->Uri(),
                       "; use --delete-target-dir to replace it or --append to add to it"));
    }
    ASSIGN_OR_RETURN(bool busy, Exists(fs, JoinPath(t, kTemporary)));
    if (busy) {
      ASSIGN_OR_RETURN(std::vector<FileInfo> others, fs->List(JoinPath(t, kTemporary)));
      if (!others.empty()) {
        return absl::FailedPreconditionError(
            StrCat("another writer (attempt ", others.front().name, ") is publishing into ",
                         t, "; wait for it to finish or stop it"));
      }
    }
  } else {
    p->created_target_ = true;
    if (fs->capabilities().object_store) RETURN_IF_ERROR(AbortOrphanUploads(fs, t));
  }
  p->staging_ = JoinPath(JoinPath(t, kTemporary), NewAttemptName());
  SetActive(p->staging_, true);
  RETURN_IF_ERROR(fs->MakeDirs(p->staging_));
  return p;
}

// A deferred upload of a Publication on an object store: Close() hands its
// token to the publication.
class DeferredFile final : public WritableFile {
 public:
  DeferredFile(Publication* p, std::string name, std::unique_ptr<WritableFile> file)
      : p_(p), name_(std::move(name)), file_(std::move(file)) {}
  Status Append(std::string_view data) override { return file_->Append(data); }
  Status Close() override {
    RETURN_IF_ERROR(file_->Close());
    std::lock_guard<std::mutex> lock(p_->deferred_mu_);
    p_->deferred_[name_] = file_->DeferredToken();
    return absl::OkStatus();
  }
  uint64_t Size() const override { return file_->Size(); }

 private:
  Publication* p_;
  std::string name_;
  std::unique_ptr<WritableFile> file_;
};

StatusOr<std::unique_ptr<WritableFile>> Publication::Create(const std::string& name,
                                                            const CreateOptions& options) {
  std::vector<std::string_view> parts = Split(name, '/');
  bool bad = name.empty() || name == kManifest || parts.front() == "old" || parts.front() == kTemporary ||
             (parts.size() > 1 && !IsHiddenName(parts.front()));
  for (std::string_view part : parts) bad = bad || part.empty() || part == "." || part == "..";
  if (bad) return absl::InvalidArgumentError(StrCat("bad staged file name \"", name, "\""));
  if (fs_->capabilities().object_store) {
    CreateOptions o = options;
    o.deferred = true;
    o.overwrite = true;  // invisible until the commit, which checks the target
    ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> f, fs_->Create(JoinPath(target_, name), o));
    return std::unique_ptr<WritableFile>(new DeferredFile(this, name, std::move(f)));
  }
  return fs_->Create(JoinPath(staging_, name), options);
}

Status Publication::Commit() {
  if (done_) return absl::FailedPreconditionError("publication already finished");
  const bool object_store = fs_->capabilities().object_store;
  std::vector<std::string> news;
  nlohmann::json uploads = nlohmann::json::array();
  if (object_store) {
    std::lock_guard<std::mutex> lock(deferred_mu_);
    for (const auto& [name, token] : deferred_) {
      news.push_back(name);
      uploads.push_back(token);
    }
  } else {
    RETURN_IF_ERROR(ListFiles(fs_, staging_, "", &news));
  }
  std::erase(news, std::string(kSuccess));
  ASSIGN_OR_RETURN(std::vector<FileInfo> current, fs_->List(target_));
  std::vector<std::string> olds;
  for (const FileInfo& e : current) {
    if (e.name == kTemporary || IsMetadataDir(e)) continue;
    bool collides = std::find(news.begin(), news.end(), e.name) != news.end();
    if (mode_ == PublishMode::kReplace || collides || e.name == kSuccess) {
      if (mode_ == PublishMode::kAppend && collides && !IsHiddenName(e.name)) {
        return absl::AlreadyExistsError(
            StrCat(JoinPath(target_, e.name), " appeared while appending; nothing published"));
      }
      if (mode_ == PublishMode::kCreate && e.name != kSuccess) {
        return absl::AlreadyExistsError(StrCat(
            "target ", target_, " received ", e.name, " from another writer; nothing published"));
      }
      olds.push_back(e.name);
    }
  }
  for (const std::string& n : news) {  // files replaced inside the metadata directories
    if (n.find('/') == std::string::npos) continue;
    ASSIGN_OR_RETURN(bool replaces, Exists(fs_, JoinPath(target_, n)));
    if (replaces) olds.push_back(n);
  }
  std::vector<std::string> removed;  // files of RemoveAtCommit() paths
  for (const std::string& r : removals_) {
    StatusOr<FileInfo> st = fs_->Stat(JoinPath(target_, r));
    if (absl::IsNotFound(st.status())) continue;
    RETURN_IF_ERROR(st.status());
    if (st->is_dir) {
      RETURN_IF_ERROR(ListFiles(fs_, st->path, r, &removed));
    } else {
      removed.push_back(r);
    }
  }
  for (const std::string& r : removed) {
    if (std::find(olds.begin(), olds.end(), r) == olds.end()) olds.push_back(r);
  }
  nlohmann::json manifest = {{"new", news}, {"old", olds}};
  if (object_store) manifest["uploads"] = uploads;
  RETURN_IF_ERROR(WriteStringToFile(fs_, JoinPath(staging_, kManifest), manifest.dump()));
  if (object_store) {  // the manifest is the commit point: only forward from here
    Status s = RollForward(fs_, target_, staging_);
    done_ = true;
    SetActive(staging_, false);
    if (!s.ok()) {
      return Annotate(s, StrCat("publishing ", target_, " was interrupted after its commit point; the next "
                                "writer to it completes the commit"));
    }
    Status cleanup = fs_->Delete(staging_, true);
    if (cleanup.ok()) cleanup = RemoveIfEmpty(fs_, ParentPath(staging_));
    if (!cleanup.ok()) {
      spdlog::warn("published {}, but could not remove {}: {}", target_, staging_, cleanup.ToString());
    }
    return absl::OkStatus();
  }
  Status s = [&]() -> Status {
    std::string old_dir = JoinPath(staging_, "old");
    for (const std::string& o : olds) {
      RETURN_IF_ERROR(fs_->Rename(JoinPath(target_, o), JoinPath(old_dir, o)));
    }
    for (const std::string& n : news) {
      RETURN_IF_ERROR(fs_->Rename(JoinPath(staging_, n), JoinPath(target_, n)));
    }
    RETURN_IF_ERROR(WriteStringToFile(fs_, JoinPath(target_, kSuccess), ""));
    return fs_->Delete(JoinPath(staging_, kManifest), false);  // the commit point
  }();
  if (!s.ok()) {
    Status rb = RollBack(fs_, target_, staging_);
    if (!rb.ok()) {
      spdlog::error("could not roll back {}: {}; the next run will retry", target_, rb.ToString());
      done_ = true;  // leave the attempt (and its manifest) for recovery
      SetActive(staging_, false);
      return s;
    }
    Abort();
    return s;
  }
  done_ = true;
  SetActive(staging_, false);
  Status cleanup = absl::OkStatus();
  for (const std::string& r : removed) {
    if (cleanup.ok()) cleanup = RemoveEmptyParents(fs_, target_, r);
  }
  if (cleanup.ok()) cleanup = fs_->Delete(staging_, true);
  if (cleanup.ok()) cleanup = RemoveIfEmpty(fs_, ParentPath(staging_));
  if (!cleanup.ok()) {
    spdlog::warn("published {}, but could not remove {}: {}", target_, staging_,
                 cleanup.ToString());
  }
  return absl::OkStatus();
}

void Publication::Abort() {
  if (done_ || staging_.empty()) return;
  done_ = true;
  SetActive(staging_, false);
  Status s = absl::OkStatus();
  {
    std::lock_guard<std::mutex> lock(deferred_mu_);
    for (const auto& [name, token] : deferred_) {
      if (s.ok()) s = fs_->AbortDeferred(token);
    }
  }
  if (s.ok()) s = IgnoreNotFound(fs_->Delete(staging_, true));
  if (s.ok()) s = RemoveIfEmpty(fs_, ParentPath(staging_));
  if (s.ok() && created_target_) s = RemoveIfEmpty(fs_, target_);
  if (!s.ok()) {
    spdlog::warn("could not remove staging files under {}: {}; the next run will", staging_,
                 s.ToString());
  }
}

Status PublishStagedFile(Storage* fs, const std::string& staging_path, const std::string& final_path) {
  Status s = fs->Rename(staging_path, final_path);
  if (absl::IsAlreadyExists(s)) return fs->Delete(staging_path, false);
  return s;
}

}  // namespace comptoir::lake
