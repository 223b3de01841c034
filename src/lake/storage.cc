#include "comptoir/lake/storage.h"

#include <filesystem>
#include <map>
#include <mutex>

#include "comptoir/core/uri.h"
#include "comptoir/lake/s3.h"

namespace comptoir::lake {

Status Storage::CompleteDeferred(std::string_view) {
  return absl::UnimplementedError(StrCat(Uri(), " has no deferred uploads (not an object store)"));
}

Status Storage::AbortDeferred(std::string_view) {
  return absl::UnimplementedError(StrCat(Uri(), " has no deferred uploads (not an object store)"));
}

StatusOr<std::vector<std::string>> Storage::ListDeferred(const std::string&) {
  return std::vector<std::string>();
}

StatusOr<std::string> NormalizePath(std::string_view path) {
  if (path.empty() || path[0] != '/') {
    return absl::InvalidArgumentError(
        StrCat("lake path \"", path, "\" must be absolute, e.g. /user/sqoop/sales"));
  }
  std::string out;
  for (std::string_view part : Split(path, '/', true)) {
    if (part == "." || part == "..") {
      return absl::InvalidArgumentError(
          StrCat("lake path \"", path, "\" must not contain \".\" or \"..\""));
    }
    if (part.find('\0') != std::string_view::npos) {
      return absl::InvalidArgumentError("lake path contains a NUL byte");
    }
    StrAppend(&out, "/", part);
  }
  return out.empty() ? std::string("/") : out;
}

std::string JoinPath(std::string_view dir, std::string_view name) {
  if (dir.empty() || dir == "/") return StrCat("/", name);
  return StrCat(dir, "/", name);
}

std::string ParentPath(std::string_view path) {
  size_t slash = path.rfind('/');
  if (slash == 0 || slash == std::string_view::npos) return "/";
  return std::string(path.substr(0, slash));
}

std::string_view BaseName(std::string_view path) {
  size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

bool IsHiddenName(std::string_view name) {
  return !name.empty() && (name[0] == '_' || name[0] == '.');
}

StatusOr<std::string> ReadFileToString(Storage* fs, const std::string& path) {
  ASSIGN_OR_RETURN(auto file, fs->Open(path));
  std::string out;
  char buf[65536];
  while (true) {
    ASSIGN_OR_RETURN(size_t n, file->Read(buf, sizeof(buf)));
    if (n == 0) break;
    out.append(buf, n);
  }
  return out;
}

Status WriteStringToFile(Storage* fs, const std::string& path, std::string_view data,
                         const CreateOptions& options) {
  ASSIGN_OR_RETURN(auto file, fs->Create(path, options));
  RETURN_IF_ERROR(file->Append(data));
  return file->Close();
}

StatusOr<bool> Exists(Storage* fs, const std::string& path) {
  StatusOr<FileInfo> st = fs->Stat(path);
  if (st.ok()) return true;
  if (absl::IsNotFound(st.status())) return false;
  return st.status();
}

namespace {

std::mutex& RegistryMutex() {
  static std::mutex mu;
  return mu;
}
std::map<std::string, StorageFactory>& Registry() {
  static auto* r = new std::map<std::string, StorageFactory>();
  return *r;
}

}  // namespace

void RegisterStorage(std::string scheme, StorageFactory factory) {
  std::lock_guard<std::mutex> lock(RegistryMutex());
  Registry()[std::move(scheme)] = std::move(factory);
}

void RegisterBuiltinStorages() {
  RegisterStorage("file", [](std::string_view text) -> StatusOr<std::unique_ptr<Storage>> {
    ASSIGN_OR_RETURN(core::Uri uri, core::ParseUri(text));
    if (!uri.hosts.empty() && uri.host() != "localhost") {
      return absl::InvalidArgumentError(StrCat(
          "file URI \"", text, "\" names host \"", uri.host(), "\"; use file:///absolute/dir"));
    }
    if (uri.path.empty()) return absl::InvalidArgumentError("file:// URI needs a directory");
    return NewLocalStorage(uri.path);
  });
  RegisterStorage("mem", [](std::string_view text) -> StatusOr<std::unique_ptr<Storage>> {
    ASSIGN_OR_RETURN(core::Uri uri, core::ParseUri(text));
    return NewMemStorage(uri.host() + uri.path);
  });
  RegisterS3Storage();
}

StatusOr<std::unique_ptr<Storage>> OpenStorage(std::string_view uri_or_dir) {
  if (uri_or_dir.empty()) return absl::InvalidArgumentError("empty lake URI");
  if (!(uri_or_dir.find("://") != std::string_view::npos)) {
    std::error_code ec;
    std::filesystem::path abs = std::filesystem::absolute(std::string(uri_or_dir), ec);
    if (ec) return ErrnoToStatus(ec.value(), StrCat("lake directory ", uri_or_dir));
    return NewLocalStorage(abs.lexically_normal().string());
  }
  std::string scheme(uri_or_dir.substr(0, uri_or_dir.find(':')));
  StorageFactory factory;
  {
    std::lock_guard<std::mutex> lock(RegistryMutex());
    auto it = Registry().find(scheme);
    if (it == Registry().end()) {
      std::string known;
      for (const auto& [k, v] : Registry()) StrAppend(&known, known.empty() ? "" : ", ", k);
      return absl::InvalidArgumentError(StrCat("unknown lake scheme \"", scheme, "\" in \"",
                                                     uri_or_dir, "\"; known: ", known));
    }
    factory = it->second;
  }
  return factory(uri_or_dir);
}

StatusOr<std::unique_ptr<Storage>> OpenConfiguredLake(const core::Config& config, std::string_view uri_or_dir) {
  std::string uri(uri_or_dir.empty() ? config.GetString("lake") : std::string(uri_or_dir));
  if (uri.starts_with("s3://")) {  // [lake.s3] settings apply
    ASSIGN_OR_RETURN(S3Options o, ResolveS3Options(uri, &config));
    return NewS3Storage(std::move(o));
  }
  std::string user = config.GetString("hdfs.user");
  if (uri.starts_with("webhdfs://") && !user.empty() && uri.find("user=") == std::string::npos &&
      uri.find('@') == std::string::npos) {
    StrAppend(&uri, uri.find('?') == std::string::npos ? "?" : "&", "user=", user);
  }
  return OpenStorage(uri);
}

}  // namespace comptoir::lake
