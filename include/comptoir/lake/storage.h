// The lake's storage interface: an HDFS-like namespace of directories and
// files, addressed by absolute paths ("/user/sqoop/sales/part-m-00000").
//
// Backends are chosen by URI scheme (file://, mem://, webhdfs://, s3://) from a
// registry filled by RegisterBuiltinStorages(). Callers never downcast: what a
// backend can do is described by Capabilities.
//
// Paths: absolute, '/'-separated, no "." or ".." components; NormalizePath()
// checks and cleans them. Errors use the codes of comptoir/core/status.h:
// NotFound for a missing path, AlreadyExists when a create or rename target is
// taken, Unavailable for transient failures, ResourceExhausted when the disk
// is full.
//
// Thread safety: a Storage may be used from several threads at once; each
// WritableFile / ReadableFile is used by one thread at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "comptoir/core/config.h"
#include "comptoir/core/status.h"

namespace comptoir::lake {

struct FileInfo {
  std::string path;  // absolute lake path
  std::string name;  // last component
  bool is_dir = false;
  uint64_t size = 0;
  int64_t mtime_ms = 0;  // milliseconds since the Unix epoch
};

struct CreateOptions {
  bool overwrite = false;     // replace an existing file instead of AlreadyExists
  int replication = 0;        // HDFS replication; 0 = the server's default
  uint64_t block_size = 0;    // HDFS block size in bytes; 0 = default
  int permission = -1;        // octal mode such as 0644; -1 = default
  // Object stores only (Capabilities::object_store): Close() uploads the data
  // but does not make the file visible; WritableFile::DeferredToken() names
  // the upload for Storage::CompleteDeferred() (the publish protocol's commit).
  bool deferred = false;
};

struct Capabilities {
  bool atomic_rename = true;    // Rename() is atomic and fails when the target exists
  bool supports_append = true;  // OpenForAppend() works
  bool durable = true;          // data survives a process crash once Close() returned
  // An object store (s3://): a file appears whole when its writer's Close()
  // returns (never partially), Rename() is a copy then a delete, and files can
  // be written as deferred uploads that become visible only when completed.
  bool object_store = false;
};

// A file being written. Data becomes durable only after Close() returns OK.
// Destroying an unclosed file abandons it: its content is unspecified and the
// caller (e.g. the publish protocol) removes it.
class WritableFile {
 public:
  virtual ~WritableFile() = default;
  virtual Status Append(std::string_view data) = 0;
  virtual Status Close() = 0;
  // Bytes accepted by Append() so far.
  virtual uint64_t Size() const = 0;
  // After Close() of a file created with CreateOptions::deferred: the token
  // that completes or aborts its upload (empty otherwise).
  virtual std::string DeferredToken() const { return {}; }
};

// A file being read sequentially.
class ReadableFile {
 public:
  virtual ~ReadableFile() = default;
  // Reads up to `n` bytes into `buf`; returns 0 at the end of the file.
  virtual StatusOr<size_t> Read(char* buf, size_t n) = 0;
};

class Storage {
 public:
  virtual ~Storage() = default;

  // The URI this storage was opened with, for messages ("file:///tmp/lake").
  virtual std::string Uri() const = 0;
  virtual Capabilities capabilities() const = 0;

  virtual StatusOr<FileInfo> Stat(const std::string& path) = 0;
  // Entries of directory `dir`, sorted by name. NotFound if missing,
  // FailedPrecondition if `dir` is a file.
  virtual StatusOr<std::vector<FileInfo>> List(const std::string& dir) = 0;
  // Creates `dir` and its missing parents; OK if it already exists.
  virtual Status MakeDirs(const std::string& dir) = 0;
  // Creates `path` (and missing parent directories).
  virtual StatusOr<std::unique_ptr<WritableFile>> Create(const std::string& path,
                                                         const CreateOptions& options) = 0;
  // Appends to an existing file.
  virtual StatusOr<std::unique_ptr<WritableFile>> OpenForAppend(const std::string& path) = 0;
  // Opens `path` for reading from byte `offset`, at most `length` bytes.
  virtual StatusOr<std::unique_ptr<ReadableFile>> Open(const std::string& path,
                                                       uint64_t offset = 0,
                                                       uint64_t length = UINT64_MAX) = 0;
  // Moves `src` (file or directory) to `dst`. AlreadyExists if `dst` exists;
  // the parent of `dst` is created when missing.
  virtual Status Rename(const std::string& src, const std::string& dst) = 0;
  // Deletes a file, or a directory (non-empty only with `recursive`).
  // NotFound if missing.
  virtual Status Delete(const std::string& path, bool recursive) = 0;

  // Object stores (Capabilities::object_store) only; the others answer
  // Unimplemented. Makes the file of a closed deferred upload visible (it
  // replaces any file of that name at once). NotFound when the upload is gone:
  // completed already or aborted.
  virtual Status CompleteDeferred(std::string_view token);
  // Drops a deferred upload (or an unfinished one) without a trace.
  virtual Status AbortDeferred(std::string_view token);
  // Uploads begun under `dir` (recursively) and neither completed nor
  // aborted, as tokens AbortDeferred() accepts.
  virtual StatusOr<std::vector<std::string>> ListDeferred(const std::string& dir);
};

// Forwards every call to another Storage; subclass it to intercept a few.
class StorageWrapper : public Storage {
 public:
  explicit StorageWrapper(Storage* target) : target_(target) {}
  std::string Uri() const override { return target_->Uri(); }
  Capabilities capabilities() const override { return target_->capabilities(); }
  StatusOr<FileInfo> Stat(const std::string& path) override { return target_->Stat(path); }
  StatusOr<std::vector<FileInfo>> List(const std::string& dir) override {
    return target_->List(dir);
  }
  Status MakeDirs(const std::string& dir) override { return target_->MakeDirs(dir); }
  StatusOr<std::unique_ptr<WritableFile>> Create(const std::string& path,
                                                 const CreateOptions& options) override {
    return target_->Create(path, options);
  }
  StatusOr<std::unique_ptr<WritableFile>> OpenForAppend(const std::string& path) override {
    return target_->OpenForAppend(path);
  }
  StatusOr<std::unique_ptr<ReadableFile>> Open(const std::string& path, uint64_t offset,
                                               uint64_t length) override {
    return target_->Open(path, offset, length);
  }
  Status Rename(const std::string& src, const std::string& dst) override {
    return target_->Rename(src, dst);
  }
  Status Delete(const std::string& path, bool recursive) override {
    return target_->Delete(path, recursive);
  }
  Status CompleteDeferred(std::string_view token) override { return target_->CompleteDeferred(token); }
  Status AbortDeferred(std::string_view token) override { return target_->AbortDeferred(token); }
  StatusOr<std::vector<std::string>> ListDeferred(const std::string& dir) override {
    return target_->ListDeferred(dir);
  }

 protected:
  Storage* target() const { return target_; }

 private:
  Storage* target_;
};

// --- Paths -------------------------------------------------------------------

// Checks that `path` is absolute and clean; removes duplicate and trailing
// slashes. InvalidArgument names the path otherwise.
StatusOr<std::string> NormalizePath(std::string_view path);
// "/a/b" + "c" -> "/a/b/c"
std::string JoinPath(std::string_view dir, std::string_view name);
// "/a/b/c" -> "/a/b"; "/a" -> "/"
std::string ParentPath(std::string_view path);
// "/a/b/c" -> "c"
std::string_view BaseName(std::string_view path);
// Hadoop convention: names starting with '_' or '.' are hidden from readers.
bool IsHiddenName(std::string_view name);

// Reads a whole (small) file.
StatusOr<std::string> ReadFileToString(Storage* fs, const std::string& path);
// Writes a whole (small) file and closes it.
Status WriteStringToFile(Storage* fs, const std::string& path, std::string_view data,
                         const CreateOptions& options = {});
// True if `path` exists.
StatusOr<bool> Exists(Storage* fs, const std::string& path);

// --- Registry ------------------------------------------------------------------

using StorageFactory =
    std::function<StatusOr<std::unique_ptr<Storage>>(std::string_view uri_text)>;

void RegisterStorage(std::string scheme, StorageFactory factory);
// Registers file://, mem:// and s3://. Call once from main() (and test mains).
void RegisterBuiltinStorages();
// Opens a lake by URI. A text without "scheme://" is a local directory
// (relative paths are made absolute), i.e. file://.
StatusOr<std::unique_ptr<Storage>> OpenStorage(std::string_view uri_or_dir);
// The lake a command uses: `uri_or_dir` (its --lake flag) when not empty,
// else the configuration's `lake`. A webhdfs:// lake whose URI names no user
// acts as the configuration's hdfs.user (when set).
StatusOr<std::unique_ptr<Storage>> OpenConfiguredLake(const core::Config& config, std::string_view uri_or_dir);

// Backends, also usable directly.
std::unique_ptr<Storage> NewLocalStorage(std::string root_dir);
// Named in-memory filesystems shared within the process: two opens of
// "mem://x" see the same files.
std::unique_ptr<Storage> NewMemStorage(std::string name);

}  // namespace comptoir::lake
