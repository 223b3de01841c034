#include <curl/curl.h>
#include <pwd.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <thread>

#include "byte_pipe.h"
#include "comptoir/core/uri.h"
#include "fmt/format.h"
#include "comptoir/lake/webhdfs.h"
#include "nlohmann/json.hpp"

namespace comptoir::lake {
namespace {

std::string DefaultUser() {
  if (const char* u = std::getenv("HADOOP_USER_NAME"); u != nullptr && *u != '\0') return u;
  if (passwd* pw = getpwuid(getuid()); pw != nullptr) return pw->pw_name;
  return "comptoir";
}

std::string UrlEncode(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '/' || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
using CurlHandle = std::unique_ptr<CURL, CurlDeleter>;

struct Response {
  long status = 0;
  std::string body;
};

size_t AppendBody(char* p, size_t size, size_t n, void* userdata) {
  static_cast<std::string*>(userdata)->append(p, size * n);
  return size * n;
}

class WebHdfsStorage;

// Streams Append()ed bytes to the DataNode in one PUT (create) or POST (append).
class WebHdfsWritableFile final : public WritableFile {
 public:
  WebHdfsWritableFile(const WebHdfsStorage* fs, std::string path, std::string location,
                      bool append);
  ~WebHdfsWritableFile() override {
    if (thread_.joinable()) {
      pipe_.Abort(absl::AbortedError("file abandoned"));
      thread_.join();
    }
  }
  Status Append(std::string_view data) override {
    if (done_) return absl::FailedPreconditionError(StrCat(path_, " is closed"));
    size_ += data.size();
    Status s = pipe_.Write(data);
    if (!s.ok()) return Annotate(result_or(s), StrCat("write ", path_));
    return absl::OkStatus();
  }
  Status Close() override {
    if (done_) return result_;
    done_ = true;
    pipe_.CloseWrite();
    thread_.join();
    return result_;
  }
  uint64_t Size() const override { return size_; }

 private:
  Status result_or(const Status& fallback) {
    if (thread_.joinable()) {
      thread_.join();
      done_ = true;
    }
    return result_.ok() ? fallback : result_;
  }
  void Run(const WebHdfsStorage* fs);

  std::string path_;
  std::string location_;
  bool append_;
  BytePipe pipe_;
  std::thread thread_;
  Status result_;
  bool done_ = false;
  uint64_t size_ = 0;
};

class WebHdfsStorage final : public Storage {
 public:
  explicit WebHdfsStorage(WebHdfsOptions o) : o_(std::move(o)) {}

  std::string Uri() const override { return fmt::format("webhdfs://{}:{}", o_.host, o_.port); }
  Capabilities capabilities() const override { return {true, true, true}; }

  StatusOr<FileInfo> Stat(const std::string& path) override {
    ASSIGN_OR_RETURN(std::string p, NormalizePath(path));
    ASSIGN_OR_RETURN(nlohmann::json j, Json("GET", p, "GETFILESTATUS", "", true, StrCat("stat ", p)));
    return Info(j["FileStatus"], p, true);
  }

  StatusOr<std::vector<FileInfo>> List(const std::string& dir) override {
    ASSIGN_OR_RETURN(std::string p, NormalizePath(dir));
    ASSIGN_OR_RETURN(nlohmann::json j, Json("GET", p, "LISTSTATUS", "", true, StrCat("list ", p)));
    std::vector<FileInfo> out;
    for (const nlohmann::json& f : j["FileStatuses"]["FileStatus"]) {
      std::string suffix = f.value("pathSuffix", "");
      if (suffix.empty()) {
        return absl::FailedPreconditionError(StrCat(p, " is a file, not a directory"));
      }
      out.push_back(Info(f, JoinPath(p, suffix), false));
    }
    std::sort(out.begin(), out.end(),
              [](const FileInfo& a, const FileInfo& b) { return a.name < b.name; });
    return out;
  }

  Status MakeDirs(const std::string& dir) override {
    ASSIGN_OR_RETURN(std::string p, NormalizePath(dir));
    ASSIGN_OR_RETURN(nlohmann::json j, Json("PUT", p, "MKDIRS", "", true, StrCat("mkdir ", p)));
    if (!j.value("boolean", false)) {
      return absl::AlreadyExistsError(StrCat("mkdir ", p, ": a file is in the way"));
    }
    return absl::OkStatus();
  }

  StatusOr<std::unique_ptr<WritableFile>> Create(const std::string& path,
                                                 const CreateOptions& options) override {
    ASSIGN_OR_RETURN(std::string p, NormalizePath(path));
    if (!options.overwrite) {
      // HDFS checks only when the data arrives; tell the caller now.
      StatusOr<FileInfo> st = Stat(p);
      if (st.ok()) return absl::AlreadyExistsError(StrCat("create ", p, ": already exists"));
      if (!absl::IsNotFound(st.status())) return st.status();
    }
    std::string params = StrCat("&overwrite=", options.overwrite ? "true" : "false");
    if (options.replication > 0) StrAppend(&params, "&replication=", options.replication);
    if (options.block_size > 0) StrAppend(&params, "&blocksize=", options.block_size);
    if (options.permission >= 0) StrAppend(&params, fmt::format("&permission={:o}", options.permission));
    ASSIGN_OR_RETURN(std::string location,
                     Location("PUT", p, "CREATE", params, StrCat("create ", p)));
    return std::unique_ptr<WritableFile>(new WebHdfsWritableFile(this, p, location, false));
  }

  StatusOr<std::unique_ptr<WritableFile>> OpenForAppend(const std::string& path) override {
    ASSIGN_OR_RETURN(std::string p, NormalizePath(path));
    ASSIGN_OR_RETURN(std::string location, Location("POST", p, "APPEND", "", StrCat("append ", p)));
    return std::unique_ptr<WritableFile>(new WebHdfsWritableFile(this, p, location, true));
  }

  StatusOr<std::unique_ptr<ReadableFile>> Open(const std::string& path, uint64_t offset,
                                               uint64_t length) override {
    ASSIGN_OR_RETURN(std::string p, NormalizePath(path));
    std::string params = StrCat("&offset=", offset);
    if (length != UINT64_MAX) StrAppend(&params, "&length=", length);
    ASSIGN_OR_RETURN(std::string location, Location("GET", p, "OPEN", params, StrCat("open ", p)));
    return std::unique_ptr<ReadableFile>(new PipeReadableFile([this, p, location](BytePipe* pipe) -> Status {
      CurlHandle c(curl_easy_init());
      Setup(c.get(), location);
      curl_easy_setopt(c.get(), CURLOPT_WRITEFUNCTION, PipeWriteCallback);
      curl_easy_setopt(c.get(), CURLOPT_WRITEDATA, pipe);
      CURLcode rc = curl_easy_perform(c.get());
      long status = 0;
      curl_easy_getinfo(c.get(), CURLINFO_RESPONSE_CODE, &status);
      if (rc == CURLE_OK && status == 200) return absl::OkStatus();
      return WebHdfsErrorToStatus(rc, status, "", StrCat("read ", p, " in ", Uri()));
    }));
  }

  Status Rename(const std::string& src, const std::string& dst) override {
    ASSIGN_OR_RETURN(std::string s, NormalizePath(src));
    ASSIGN_OR_RETURN(std::string d, NormalizePath(dst));
    RETURN_IF_ERROR(MakeDirs(ParentPath(d)));
    // Not retried: a repeated rename could report the first one's success as failure.
    ASSIGN_OR_RETURN(nlohmann::json j, Json("PUT", s, "RENAME", StrCat("&destination=", UrlEncode(d)),
                                            false, StrCat("rename ", s, " to ", d)));
    if (j.value("boolean", false)) return absl::OkStatus();
    // HDFS answers false without saying why; find out.
    ASSIGN_OR_RETURN(bool src_exists, Exists(this, s));
    if (!src_exists) return absl::NotFoundError(StrCat("rename ", s, ": it does not exist"));
    ASSIGN_OR_RETURN(bool dst_exists, Exists(this, d));
    if (dst_exists) return absl::AlreadyExistsError(StrCat("rename ", s, " to ", d, ": target exists"));
    return absl::InternalError(StrCat("rename ", s, " to ", d, ": refused by the NameNode"));
  }

  Status Delete(const std::string& path, bool recursive) override {
    ASSIGN_OR_RETURN(std::string p, NormalizePath(path));
    if (p == "/") return absl::InvalidArgumentError("refusing to delete the lake's root");
    ASSIGN_OR_RETURN(nlohmann::json j,
                     Json("DELETE", p, "DELETE", StrCat("&recursive=", recursive ? "true" : "false"),
                          false, StrCat("delete ", p)));
    if (!j.value("boolean", false)) {
      return absl::NotFoundError(StrCat(p, " does not exist in ", Uri()));
    }
    return absl::OkStatus();
  }

  // --- HTTP ------------------------------------------------------------------

  std::string Url(const std::string& path, std::string_view op, std::string_view params) const {
    std::string url = fmt::format("http://{}:{}/webhdfs/v1{}?op={}", o_.host, o_.port,
                                  UrlEncode(path), op);
    if (!o_.delegation.empty()) {
      StrAppend(&url, "&delegation=", UrlEncode(o_.delegation));
    } else if (!o_.kerberos) {
      StrAppend(&url, "&user.name=", UrlEncode(o_.user));
    }
    url += params;
    return url;
  }

  void Setup(CURL* c, const std::string& url) const {
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, o_.connect_timeout_ms);
    // A stalled transfer (no byte for 60 s) is an error, not a hang.
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
    if (o_.kerberos) {
      curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_NEGOTIATE);
      curl_easy_setopt(c, CURLOPT_USERPWD, ":");
    }
  }

  // One small request to the NameNode.
  Status Call(const std::string& method, const std::string& url, Response* r,
              std::string_view what) const {
    CurlHandle c(curl_easy_init());
    Setup(c.get(), url);
    curl_easy_setopt(c.get(), CURLOPT_CUSTOMREQUEST, method.c_str());
    curl_easy_setopt(c.get(), CURLOPT_TIMEOUT_MS, 120000L);
    curl_easy_setopt(c.get(), CURLOPT_WRITEFUNCTION, AppendBody);
    curl_easy_setopt(c.get(), CURLOPT_WRITEDATA, &r->body);
    if (method == "PUT" || method == "POST") {
      curl_easy_setopt(c.get(), CURLOPT_POSTFIELDS, "");
      curl_easy_setopt(c.get(), CURLOPT_POSTFIELDSIZE, 0L);
      curl_easy_setopt(c.get(), CURLOPT_CUSTOMREQUEST, method.c_str());
    }
    CURLcode rc = curl_easy_perform(c.get());
    curl_easy_getinfo(c.get(), CURLINFO_RESPONSE_CODE, &r->status);
    if (rc != CURLE_OK || r->status < 200 || r->status >= 300) {
      return WebHdfsErrorToStatus(rc, r->status, r->body, StrCat(what, " in ", Uri()));
    }
    return absl::OkStatus();
  }

  StatusOr<nlohmann::json> Json(const std::string& method, const std::string& path,
                                std::string_view op, std::string_view params, bool retry,
                                std::string_view what) const {
    Response r;
    std::string url = Url(path, op, params);
    auto once = [&]() -> Status {
      r = Response();
      return Call(method, url, &r, what);
    };
    RETURN_IF_ERROR(retry ? core::Retry(o_.retry, once) : once());
    nlohmann::json j = nlohmann::json::parse(r.body, nullptr, false);
    if (j.is_discarded()) {
      return absl::UnavailableError(StrCat(what, ": the NameNode answered with no JSON"));
    }
    return j;
  }

  // Step one of CREATE/APPEND/OPEN: where the DataNode is.
  StatusOr<std::string> Location(const std::string& method, const std::string& path,
                                 std::string_view op, std::string_view params,
                                 std::string_view what) const {
    ASSIGN_OR_RETURN(nlohmann::json j,
                     Json(method, path, op, StrCat(params, "&noredirect=true"), true, what));
    std::string loc = j.value("Location", "");
    if (loc.empty()) return absl::InternalError(StrCat(what, ": no DataNode location"));
    return loc;
  }

  const WebHdfsOptions& options() const { return o_; }

 private:
  static FileInfo Info(const nlohmann::json& f, const std::string& path, bool self) {
    FileInfo fi;
    fi.path = path;
    fi.name = self ? std::string(BaseName(path)) : f.value("pathSuffix", "");
    fi.is_dir = f.value("type", "") == "DIRECTORY";
    fi.size = fi.is_dir ? 0 : f.value("length", uint64_t{0});
    fi.mtime_ms = f.value("modificationTime", int64_t{0});
    return fi;
  }

  WebHdfsOptions o_;
};

size_t ReadFromPipe(char* buf, size_t size, size_t n, void* userdata) {
  auto* pipe = static_cast<BytePipe*>(userdata);
  size_t got = pipe->Read(buf, size * n);
  if (got == 0 && pipe->aborted()) return CURL_READFUNC_ABORT;
  return got;
}


WebHdfsWritableFile::WebHdfsWritableFile(const WebHdfsStorage* fs, std::string path,
                                         std::string location, bool append)
    : path_(std::move(path)), location_(std::move(location)), append_(append) {
  thread_ = std::thread([this, fs] { Run(fs); });
}

void WebHdfsWritableFile::Run(const WebHdfsStorage* fs) {
  CurlHandle c(curl_easy_init());
  fs->Setup(c.get(), location_);
  std::string body;
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/octet-stream");
  headers = curl_slist_append(headers, "Expect:");
  curl_easy_setopt(c.get(), CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c.get(), CURLOPT_UPLOAD, 1L);  // chunked: the size is not known up front
  curl_easy_setopt(c.get(), CURLOPT_CUSTOMREQUEST, append_ ? "POST" : "PUT");
  curl_easy_setopt(c.get(), CURLOPT_READFUNCTION, ReadFromPipe);
  curl_easy_setopt(c.get(), CURLOPT_READDATA, &pipe_);
  curl_easy_setopt(c.get(), CURLOPT_WRITEFUNCTION, AppendBody);
  curl_easy_setopt(c.get(), CURLOPT_WRITEDATA, &body);
  CURLcode rc = curl_easy_perform(c.get());
  long status = 0;
  curl_easy_getinfo(c.get(), CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  long want = append_ ? 200 : 201;
  if (rc != CURLE_OK || status != want) {
    result_ = WebHdfsErrorToStatus(rc, status, body,
                                   StrCat(append_ ? "append to " : "write ", path_, " in ", fs->Uri()));
  }
  pipe_.Abort(result_.ok() ? absl::FailedPreconditionError("transfer finished") : result_);
}

}  // namespace

Status WebHdfsErrorToStatus(int curl_code, long http_status, std::string_view body,
                            std::string_view context) {
  // A DataNode that refuses a write answers before it has read the data, so
  // the transfer also fails to send: its answer says why.
  bool answered = http_status >= 400 && body.find("RemoteException") != std::string_view::npos;
  if (curl_code != 0 && !answered) {
    std::string what = curl_easy_strerror(static_cast<CURLcode>(curl_code));
    switch (curl_code) {
      case CURLE_URL_MALFORMAT:
      case CURLE_UNSUPPORTED_PROTOCOL:
        return absl::InvalidArgumentError(StrCat(context, ": ", what));
      case CURLE_ABORTED_BY_CALLBACK:
        return absl::AbortedError(StrCat(context, ": ", what));
      default:  // refused, reset, timed out, DNS, partial transfer: the cluster may recover
        return absl::UnavailableError(StrCat(context, ": ", what,
                                             " (is the NameNode/DataNode running and reachable?)"));
    }
  }
  std::string exception, message;
  nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_discarded() && j.contains("RemoteException")) {
    exception = j["RemoteException"].value("exception", "");
    message = j["RemoteException"].value("message", "");
  }
  std::string text = StrCat(context, ": ", message.empty() ? StrCat("HTTP ", http_status) : message);
  if (exception == "FileNotFoundException") return absl::NotFoundError(text);
  // AlreadyBeingCreated: another client is writing that file now (it holds the lease).
  if (exception == "FileAlreadyExistsException" || exception == "AlreadyBeingCreatedException") {
    return absl::AlreadyExistsError(text);
  }
  if (exception == "AccessControlException" || exception == "SecurityException") {
    return absl::PermissionDeniedError(text);
  }
  // No DataNode available yet (one restarting or re-registering) is transient.
  bool no_datanode = message.find("Failed to find datanode") != std::string::npos ||
                     message.find("could only be written to 0") != std::string::npos;
  if (exception == "SafeModeException" || exception == "RetriableException" ||
      exception == "StandbyException" || no_datanode) {
    return absl::UnavailableError(text);
  }
  if (exception == "ParentNotDirectoryException" ||
      exception == "PathIsNotEmptyDirectoryException" ||
      (exception == "IOException" && message.find("non empty") != std::string::npos)) {
    return absl::FailedPreconditionError(text);
  }
  if (exception == "DSQuotaExceededException" || exception == "NSQuotaExceededException") {
    return absl::ResourceExhaustedError(text);
  }
  if (exception == "IllegalArgumentException" || exception == "InvalidPathException") {
    return absl::InvalidArgumentError(text);
  }
  if (http_status == 404) return absl::NotFoundError(text);
  if (http_status == 403) return absl::PermissionDeniedError(text);
  if (http_status == 401) return absl::UnauthenticatedError(text);
  if (http_status == 409) return absl::AlreadyExistsError(text);
  if (http_status == 400) return absl::InvalidArgumentError(text);
  if (http_status >= 500 || http_status == 0 || http_status == 429) {
    return absl::UnavailableError(text);
  }
  return absl::InternalError(text);
}

StatusOr<WebHdfsOptions> ParseWebHdfsUri(std::string_view text) {
  ASSIGN_OR_RETURN(core::Uri uri, core::ParseUri(text));
  if (uri.scheme != "webhdfs" || uri.hosts.size() != 1) {
    return absl::InvalidArgumentError(
        StrCat("WebHDFS URI \"", text, "\" must look like webhdfs://namenode:9870"));
  }
  WebHdfsOptions o;
  o.host = uri.host();
  o.port = uri.port().value_or(9870);
  auto q = [&](const char* k) {
    auto it = uri.query.find(k);
    return it == uri.query.end() ? std::string() : it->second;
  };
  o.user = !uri.user.empty() ? uri.user : q("user");
  if (o.user.empty()) o.user = DefaultUser();
  o.delegation = q("delegation");
  o.kerberos = q("auth") == "kerberos";
  // Retries of NameNode calls stop after 10 s unless the URI says otherwise.
  o.retry.deadline = std::chrono::milliseconds(10000);
  if (std::string d = q("retry_deadline_ms"); !d.empty()) {
    int64_t ms = 0;
    if (!ParseInt(d, &ms) || ms < 0) {
      return absl::InvalidArgumentError(StrCat("retry_deadline_ms=\"", d, "\" is not a number"));
    }
    o.retry.deadline = std::chrono::milliseconds(ms);
  }
  return o;
}

std::unique_ptr<Storage> NewWebHdfsStorage(WebHdfsOptions options) {
  return std::make_unique<WebHdfsStorage>(std::move(options));
}

void RegisterWebHdfsStorage() {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  RegisterStorage("webhdfs", [](std::string_view text) -> StatusOr<std::unique_ptr<Storage>> {
    ASSIGN_OR_RETURN(WebHdfsOptions o, ParseWebHdfsUri(text));
    return NewWebHdfsStorage(std::move(o));
  });
}

}  // namespace comptoir::lake
