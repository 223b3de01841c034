// The atomic publish protocol for datasets in the lake (Hadoop's
// FileOutputCommitter idea, made restartable).
//
// A writer stages every file under <target>/_temporary/<attempt>/ and calls
// Commit(), which:
//   1. writes a manifest <attempt>/_COMMITTING naming the files it will move;
//   2. moves aside what the new files replace (all of the old dataset in
//      kReplace mode; same-named files and _SUCCESS otherwise) into
//      <attempt>/old/;
//   3. renames the new files into <target>/;
//   4. writes <target>/_SUCCESS (always last);
//   5. deletes the manifest: this is the commit point;
//   6. deletes the attempt directory.
// Readers skip names starting with '_' or '.' and may wait for _SUCCESS.
// Hidden directories of the dataset (`_rejects/<run>/`, `_quality/`) hold
// its quality record: their files are published by the same commit, one by
// one (a staged `_quality/history.jsonl` replaces the old one), and a
// kReplace keeps them.
// Any failure or crash before step 5 leaves the target as it was: Abort()
// removes the attempt, and a later Begin() (or RecoverTarget()) rolls an
// interrupted commit back using the manifest. Attempts of live processes on
// this host are never touched.
//
// On an object store (Capabilities::object_store: s3://), which has no
// rename, the same promise is kept without moving data: Create() starts a
// deferred multipart upload straight to the file's final name (invisible to
// listings and reads until completed), and Commit():
//   1. writes the manifest <attempt>/_COMMITTING naming the new files, their
//      upload tokens and the old files they replace: the commit point;
//   2. deletes <target>/_SUCCESS;
//   3. completes every upload (each file appears whole, replacing a file of
//      the same name at once);
//   4. deletes the old files that no new file replaced;
//   5. writes <target>/_SUCCESS (always last), then deletes the attempt.
// A failure or crash before step 1 leaves the target as it was and the
// uploads are aborted (by Abort(), or by the next Begin()/RecoverTarget(),
// which also aborts any upload under the target no live attempt owns); after
// step 1 the next Begin()/RecoverTarget() completes steps 2-5 from the
// manifest (roll forward), so the result is the new dataset, exactly once.
//
// Thread safety: Create() may be called from several threads; Commit() and
// Abort() from one thread after every file was closed.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "comptoir/lake/storage.h"

namespace comptoir::lake {

enum class PublishMode {
  kCreate,   // the target must hold no dataset (Sqoop's default)
  kReplace,  // the new dataset replaces the old one (--delete-target-dir, merges)
  kAppend,   // new files are added next to the old ones (--append)
};

class Publication {
 public:
  // Recovers interrupted attempts, checks the mode against the target's
  // current state and creates the staging directory. kCreate on a target that
  // holds files returns AlreadyExists naming the target and the flags to use.
  static StatusOr<std::unique_ptr<Publication>> Begin(Storage* fs, const std::string& target,
                                                      PublishMode mode);
  ~Publication();  // Abort()s unless committed
  Publication(const Publication&) = delete;
  Publication& operator=(const Publication&) = delete;

  const std::string& target() const { return target_; }
  const std::string& staging_dir() const { return staging_; }
  // Visible files of the target when Begin() ran (for kAppend numbering).
  const std::vector<FileInfo>& existing() const { return existing_; }

  // Creates staging file `name`: a plain file name ("part-m-00000") or a
  // path under a hidden directory ("_rejects/<run>/part-m-00000").
  StatusOr<std::unique_ptr<WritableFile>> Create(const std::string& name,
                                                 const CreateOptions& options = {});
  // Removes `path` (relative to the target: a file, or a directory under a
  // hidden directory, e.g. "_rejects/<run>") by the same commit: it stays
  // visible until the commit point and comes back if the commit rolls back.
  void RemoveAtCommit(const std::string& path) { removals_.push_back(path); }
  Status Commit();
  // Removes the staging files. Idempotent; errors are logged, not returned,
  // because it runs on error paths.
  void Abort();

 private:
  Publication(Storage* fs, std::string target, PublishMode mode);

  Storage* fs_;
  std::string target_;
  std::string staging_;
  PublishMode mode_;
  bool created_target_ = false;
  bool done_ = false;
  std::vector<FileInfo> existing_;
  std::vector<std::string> removals_;
  // Object stores: closed deferred uploads (file name -> token).
  std::mutex deferred_mu_;
  std::map<std::string, std::string> deferred_;

  friend class DeferredFile;
};

// True while a commit into `target` is between its commit point and its end
// (a manifest <target>/_temporary/<attempt>/_COMMITTING exists): the files
// then visible are a mix of the old and the new dataset, and _SUCCESS is
// missing. Readers that do not wait for _SUCCESS keep what they had instead.
StatusOr<bool> CommitInProgress(Storage* fs, const std::string& target);

// Rolls back or removes every interrupted attempt under <target>/_temporary
// that belongs to no live process. Returns how many attempts it cleaned.
StatusOr<int> RecoverTarget(Storage* fs, const std::string& target);

// Publishes one closed file written under a staging name (hidden, e.g.
// "<dir>/_temporary/x" or "<dir>/.x.tmp") by renaming it to `final_path`;
// the rename is the commit point. Idempotent: when `final_path` already
// exists (a retry after a crash between the rename and the writer's own
// bookkeeping), the staged copy is dropped and the call succeeds, so the
// file is published exactly once. The agent's rolls, the log compaction and
// the stream archiver publish through here.
Status PublishStagedFile(Storage* fs, const std::string& staging_path, const std::string& final_path);

// "part-m-00007" -> 7, "part-m-00012.gz" -> 12; -1 for other names.
int PartNumber(std::string_view name);

}  // namespace comptoir::lake
