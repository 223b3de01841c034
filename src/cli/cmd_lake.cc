// comptoir lake ls|cat|put|get|rm|mkdir|du: hdfs dfs-style access to any lake.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <functional>
#include <iostream>

#include "common.h"
#include "comptoir/core/progress.h"
#include "comptoir/core/retry.h"
#include "comptoir/core/signals.h"
#include "comptoir/core/time.h"
#include "comptoir/lake/compression.h"
#include "fmt/format.h"

namespace comptoir::cli {
namespace {

void PrintEntry(const lake::FileInfo& f) {
  std::cout << fmt::format("{} {:>14} {} {}\n", f.is_dir ? 'd' : '-', f.is_dir ? 0 : f.size,
                           core::FormatLocalMinute(f.mtime_ms), f.path);
}

Status Ls(lake::Storage* fs, const std::string& path, bool recursive) {
  ASSIGN_OR_RETURN(lake::FileInfo st, fs->Stat(path));
  if (!st.is_dir) {
    PrintEntry(st);
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(std::vector<lake::FileInfo> entries, fs->List(path));
  for (const lake::FileInfo& e : entries) {
    PrintEntry(e);
    if (recursive && e.is_dir) RETURN_IF_ERROR(Ls(fs, e.path, true));
  }
  return absl::OkStatus();
}

StatusOr<uint64_t> Du(lake::Storage* fs, const lake::FileInfo& f) {
  if (!f.is_dir) return f.size;
  ASSIGN_OR_RETURN(std::vector<lake::FileInfo> entries, fs->List(f.path));
  uint64_t total = 0;
  for (const lake::FileInfo& e : entries) {
    ASSIGN_OR_RETURN(uint64_t n, Du(fs, e));
    total += n;
  }
  return total;
}

Status WriteAllFd(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoToStatus(errno, "write");
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

// Streams a lake file to `fd`; `decompress` decodes .gz/.zst by name.
Status CopyOut(lake::Storage* fs, const std::string& path, int fd, bool decompress,
               core::Progress* progress) {
  ASSIGN_OR_RETURN(auto in, fs->Open(path));
  if (decompress) in = lake::NewDecompressingFile(std::move(in), lake::CodecForName(path));
  std::vector<char> buf(1 << 20);
  while (true) {
    ASSIGN_OR_RETURN(size_t n, in->Read(buf.data(), buf.size()));
    if (n == 0) return absl::OkStatus();
    RETURN_IF_ERROR(WriteAllFd(fd, std::string_view(buf.data(), n)));
    if (progress != nullptr) progress->Add(n, n);
  }
}

Status Cat(lake::Storage* fs, const std::string& path) {
  ASSIGN_OR_RETURN(lake::FileInfo st, fs->Stat(path));
  if (!st.is_dir) return CopyOut(fs, path, STDOUT_FILENO, true, nullptr);
  // A dataset directory: its visible files in name order, like `hdfs dfs -cat dir/*`.
  ASSIGN_OR_RETURN(std::vector<lake::FileInfo> entries, fs->List(path));
  for (const lake::FileInfo& e : entries) {
    if (!e.is_dir && !lake::IsHiddenName(e.name)) {
      RETURN_IF_ERROR(CopyOut(fs, e.path, STDOUT_FILENO, true, nullptr));
    }
  }
  return absl::OkStatus();
}

Status Put(lake::Storage* fs, const std::string& local, const std::string& path, bool overwrite,
           bool quiet) {
  int fd = local == "-" ? STDIN_FILENO : ::open(local.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoToStatus(errno, StrCat("open ", local));
  struct stat st {};
  uint64_t total = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? static_cast<uint64_t>(st.st_size) : 0;
  // Upload to a hidden temporary name, then rename: readers never see half a
  // file. An object store shows an object only once it is whole: upload in place.
  const bool in_place = fs->capabilities().object_store;
  std::string tmp = in_place ? path : lake::JoinPath(lake::ParentPath(path), StrCat("._COPYING_.", lake::BaseName(path)));
  Status s = [&]() -> Status {
    ASSIGN_OR_RETURN(bool exists, lake::Exists(fs, path));
    if (exists && !overwrite) {
      return absl::AlreadyExistsError(StrCat(path, " already exists; use -f to overwrite"));
    }
    if (in_place) {  // what a killed put of this file left on the server goes first
      ASSIGN_OR_RETURN(std::vector<std::string> left, fs->ListDeferred(lake::ParentPath(path)));
      for (const std::string& token : left) {
        nlohmann::json t = nlohmann::json::parse(token, nullptr, false);
        if (t.is_object() && t.value("path", "") == path) RETURN_IF_ERROR(fs->AbortDeferred(token));
      }
    }
    core::Progress progress("put", total, "bytes", quiet);
    std::vector<char> buf(1 << 20);
    auto upload = [&]() -> Status {
      lake::CreateOptions opts;
      opts.overwrite = true;
      ASSIGN_OR_RETURN(auto out, fs->Create(tmp, opts));
      while (true) {
        ssize_t n = ::read(fd, buf.data(), buf.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return ErrnoToStatus(errno, StrCat("read ", local));
        if (n == 0) break;
        RETURN_IF_ERROR(out->Append(std::string_view(buf.data(), static_cast<size_t>(n))));
        progress.Add(static_cast<uint64_t>(n), static_cast<uint64_t>(n));
        RETURN_IF_ERROR(core::CheckCancelled("put"));
      }
      return out->Close();
    };
    if (fd == STDIN_FILENO || !S_ISREG(st.st_mode)) {
      RETURN_IF_ERROR(upload());  // a stream cannot be read twice
    } else {
      // A local file can be re-read: a transient failure (a DataNode restarting)
      // restarts the upload from the beginning, within the retry deadline.
      RETURN_IF_ERROR(core::Retry(core::RetryOptions{}, [&]() -> Status {
        if (::lseek(fd, 0, SEEK_SET) != 0) return ErrnoToStatus(errno, StrCat("seek ", local));
        return upload();
      }));
    }
    if (in_place) return absl::OkStatus();
    if (exists) RETURN_IF_ERROR(fs->Delete(path, false));
    return fs->Rename(tmp, path);
  }();
  if (fd != STDIN_FILENO) ::close(fd);
  if (!s.ok() && !in_place) (void)fs->Delete(tmp, false);
  return s;
}

Status Get(lake::Storage* fs, const std::string& path, const std::string& local, bool quiet) {
  ASSIGN_OR_RETURN(lake::FileInfo st, fs->Stat(path));
  if (st.is_dir) return absl::InvalidArgumentError(StrCat(path, " is a directory"));
  std::string tmp = local + ".comptoir-tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoToStatus(errno, StrCat("create ", tmp));
  core::Progress progress("get", st.size, "bytes", quiet);
  Status s = CopyOut(fs, path, fd, false, &progress);
  if (s.ok() && ::fsync(fd) != 0) s = ErrnoToStatus(errno, StrCat("fsync ", tmp));
  ::close(fd);
  if (s.ok() && ::rename(tmp.c_str(), local.c_str()) != 0) {
    s = ErrnoToStatus(errno, StrCat("rename to ", local));
  }
  if (!s.ok()) ::unlink(tmp.c_str());
  return s;
}


struct LakeFlags {
  std::string lake;
  std::string path = "/";
  std::string local;
  bool recursive = false;
  bool force = false;
  bool summary = false;
};

Status RunDu(lake::Storage* fs, const LakeFlags& f) {
  ASSIGN_OR_RETURN(lake::FileInfo st, fs->Stat(f.path));
  if (f.summary || !st.is_dir) {
    ASSIGN_OR_RETURN(uint64_t n, Du(fs, st));
    std::cout << fmt::format("{:>14}  {}\n", n, st.path);
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(std::vector<lake::FileInfo> entries, fs->List(f.path));
  for (const lake::FileInfo& e : entries) {
    ASSIGN_OR_RETURN(uint64_t n, Du(fs, e));
    std::cout << fmt::format("{:>14}  {}\n", n, e.path);
  }
  return absl::OkStatus();
}

void DefineLake(Command& cmd) {
  auto f = std::make_shared<LakeFlags>();
  cmd.RequireSub();
  cmd.Option("--lake", &f->lake, "Lake URI or directory (default: config `lake`, i.e. ./lake)");
  const Globals* g = &cmd.globals();
  // Each subcommand: its flags, then its work on the opened lake.
  auto sub = [&](std::string_view name, std::string_view help, const std::function<void(Command&)>& flags,
                 std::function<Status(lake::Storage*)> work) {
    Command c = cmd.Sub(name, help);
    flags(c);
    c.Action([f, g, work = std::move(work)]() -> Status {
      ASSIGN_OR_RETURN(std::unique_ptr<lake::Storage> fs, lake::OpenConfiguredLake(g->config, f->lake));
      return work(fs.get());
    });
  };
  sub("ls", "List a directory (or show one file)",
      [&](Command& c) {
        c.Option("path", &f->path, "Lake path (default /)");
        c.Flag("-R,--recursive", &f->recursive, "List subdirectories too");
      },
      [f](lake::Storage* fs) { return Ls(fs, f->path, f->recursive); });
  sub("cat", "Print a file, or a dataset's visible files in order (.gz/.zst decoded)",
      [&](Command& c) { c.Option("path", &f->path, "Lake path").Required(); },
      [f](lake::Storage* fs) { return Cat(fs, f->path); });
  sub("put", "Upload a local file (- for stdin), atomically",
      [&](Command& c) {
        c.Option("local", &f->local, "Local file or -").Required();
        c.Option("path", &f->path, "Lake path").Required();
        c.Flag("-f,--force", &f->force, "Overwrite an existing file");
      },
      [f, g](lake::Storage* fs) { return Put(fs, f->local, f->path, f->force, g->quiet); });
  sub("get", "Download a file, atomically",
      [&](Command& c) {
        c.Option("path", &f->path, "Lake path").Required();
        c.Option("local", &f->local, "Local file").Required();
      },
      [f, g](lake::Storage* fs) { return Get(fs, f->path, f->local, g->quiet); });
  sub("rm", "Delete a file, or a directory with -r",
      [&](Command& c) {
        c.Option("path", &f->path, "Lake path").Required();
        c.Flag("-r,-R,--recursive", &f->recursive, "Delete a directory and its content");
      },
      [f](lake::Storage* fs) { return fs->Delete(f->path, f->recursive); });
  sub("mkdir", "Create a directory and its parents", [&](Command& c) { c.Option("path", &f->path, "Lake path").Required(); },
      [f](lake::Storage* fs) { return fs->MakeDirs(f->path); });
  sub("du", "Bytes used by each entry (or the total with -s)",
      [&](Command& c) {
        c.Option("path", &f->path, "Lake path (default /)");
        c.Flag("-s,--summary", &f->summary, "One total for the path");
      },
      [f](lake::Storage* fs) { return RunDu(fs, *f); });
}

}  // namespace

std::vector<CommandDef> LakeCommands() {
  return {{{.name = "lake",
            .help = "Browse and manage the lake like `hdfs dfs` (ls, cat, put, get, rm, mkdir, du)"},
           DefineLake}};
}

}  // namespace comptoir::cli
