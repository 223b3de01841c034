// comptoir lake ls|cat|put|get|rm|mkdir|du: hdfs dfs-style access to any lake.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ctime>
#include <functional>
#include <iostream>

#include "common.h"
#include "comptoir/core/progress.h"
#include "comptoir/core/retry.h"
#include "comptoir/core/signals.h"
#include "comptoir/lake/compression.h"
#include "fmt/format.h"

namespace comptoir::cli {
namespace {

std::string Time(int64_t ms) {
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm {};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M", &tm);
  return buf;
}

void PrintEntry(const lake::FileInfo& f) {
  std::cout << fmt::format("{} {:>14} {} {}\n", f.is_dir ? 'd' : '-', f.is_dir ? 0 : f.size,
                           Time(f.mtime_ms), f.path);
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
  // Upload to a hidden temporary name, then rename: readers never see half a file.
  std::string tmp = lake::JoinPath(lake::ParentPath(path), StrCat("._COPYING_.", lake::BaseName(path)));
  Status s = [&]() -> Status {
    ASSIGN_OR_RETURN(bool exists, lake::Exists(fs, path));
    if (exists && !overwrite) {
      return absl::AlreadyExistsError(StrCat(path, " already exists; use -f to overwrite"));
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
    if (exists) RETURN_IF_ERROR(fs->Delete(path, false));
    return fs->Rename(tmp, path);
  }();
  if (fd != STDIN_FILENO) ::close(fd);
  if (!s.ok()) (void)fs->Delete(tmp, false);
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

}  // namespace

void AddLakeCommands(CLI::App* app, Globals* g, int* result) {
  CLI::App* lake_cmd = app->add_subcommand(
      "lake", "Browse and manage the lake like `hdfs dfs` (ls, cat, put, get, rm, mkdir, du)");
  lake_cmd->require_subcommand(1);
  auto lake_uri = std::make_shared<std::string>();
  lake_cmd->add_option("--lake", *lake_uri,
                       "Lake URI or directory (default: config `lake`, i.e. ./lake)");
  auto open = [g, lake_uri]() -> StatusOr<std::unique_ptr<lake::Storage>> {
    return OpenLake(lake_uri->empty() ? g->config.GetString("lake") : *lake_uri);
  };
  auto run = [result](std::string_view name, const std::function<Status()>& f) {
    Status s = f();
    *result = s.ok() ? 0 : Fail(StrCat("lake ", name), s);
  };

  auto path = std::make_shared<std::string>("/");
  auto recursive = std::make_shared<bool>(false);
  CLI::App* ls = lake_cmd->add_subcommand("ls", "List a directory (or show one file)");
  ls->add_option("path", *path, "Lake path (default /)");
  ls->add_flag("-R,--recursive", *recursive, "List subdirectories too");
  ls->callback([=] {
    run("ls", [&]() -> Status {
      ASSIGN_OR_RETURN(auto fs, open());
      return Ls(fs.get(), *path, *recursive);
    });
  });

  auto cat_path = std::make_shared<std::string>();
  CLI::App* cat = lake_cmd->add_subcommand(
      "cat", "Print a file, or a dataset's visible files in order (.gz/.zst decoded)");
  cat->add_option("path", *cat_path, "Lake path")->required();
  cat->callback([=] {
    run("cat", [&]() -> Status {
      ASSIGN_OR_RETURN(auto fs, open());
      return Cat(fs.get(), *cat_path);
    });
  });

  auto local = std::make_shared<std::string>();
  auto dest = std::make_shared<std::string>();
  auto force = std::make_shared<bool>(false);
  CLI::App* put = lake_cmd->add_subcommand("put", "Upload a local file (- for stdin), atomically");
  put->add_option("local", *local, "Local file or -")->required();
  put->add_option("path", *dest, "Lake path")->required();
  put->add_flag("-f,--force", *force, "Overwrite an existing file");
  put->callback([=] {
    run("put", [&]() -> Status {
      ASSIGN_OR_RETURN(auto fs, open());
      return Put(fs.get(), *local, *dest, *force, g->quiet);
    });
  });

  auto src = std::make_shared<std::string>();
  auto local_out = std::make_shared<std::string>();
  CLI::App* get = lake_cmd->add_subcommand("get", "Download a file, atomically");
  get->add_option("path", *src, "Lake path")->required();
  get->add_option("local", *local_out, "Local file")->required();
  get->callback([=] {
    run("get", [&]() -> Status {
      ASSIGN_OR_RETURN(auto fs, open());
      return Get(fs.get(), *src, *local_out, g->quiet);
    });
  });

  auto rm_path = std::make_shared<std::string>();
  auto rm_rec = std::make_shared<bool>(false);
  CLI::App* rm = lake_cmd->add_subcommand("rm", "Delete a file, or a directory with -r");
  rm->add_option("path", *rm_path, "Lake path")->required();
  rm->add_flag("-r,-R,--recursive", *rm_rec, "Delete a directory and its content");
  rm->callback([=] {
    run("rm", [&]() -> Status {
      ASSIGN_OR_RETURN(auto fs, open());
      return fs->Delete(*rm_path, *rm_rec);
    });
  });

  auto mk_path = std::make_shared<std::string>();
  CLI::App* mkdir = lake_cmd->add_subcommand("mkdir", "Create a directory and its parents");
  mkdir->add_option("path", *mk_path, "Lake path")->required();
  mkdir->callback([=] {
    run("mkdir", [&]() -> Status {
      ASSIGN_OR_RETURN(auto fs, open());
      return fs->MakeDirs(*mk_path);
    });
  });

  auto du_path = std::make_shared<std::string>("/");
  auto du_sum = std::make_shared<bool>(false);
  CLI::App* du = lake_cmd->add_subcommand("du", "Bytes used by each entry (or the total with -s)");
  du->add_option("path", *du_path, "Lake path (default /)");
  du->add_flag("-s,--summary", *du_sum, "One total for the path");
  du->callback([=] {
    run("du", [&]() -> Status {
      ASSIGN_OR_RETURN(auto fs, open());
      ASSIGN_OR_RETURN(lake::FileInfo st, fs->Stat(*du_path));
      if (*du_sum || !st.is_dir) {
        ASSIGN_OR_RETURN(uint64_t n, Du(fs.get(), st));
        std::cout << fmt::format("{:>14}  {}\n", n, st.path);
        return absl::OkStatus();
      }
      ASSIGN_OR_RETURN(std::vector<lake::FileInfo> entries, fs->List(*du_path));
      for (const lake::FileInfo& e : entries) {
        ASSIGN_OR_RETURN(uint64_t n, Du(fs.get(), e));
        std::cout << fmt::format("{:>14}  {}\n", n, e.path);
      }
      return absl::OkStatus();
    });
  });
}

}  // namespace comptoir::cli
