#include <curl/curl.h>
#include <expat.h>
#include <openssl/evp.h>

#include <algorithm>
#include <deque>
#include <optional>
#include <atomic>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include "byte_pipe.h"
#include "comptoir/core/uri.h"
#include "comptoir/lake/s3.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"

namespace comptoir::lake {
namespace {

constexpr char kEmptySha256[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr size_t kDeleteBatch = 1000;  // DeleteObjects' limit per request

// --- Small pieces ------------------------------------------------------------

std::string Digest(const EVP_MD* md, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(data.data(), data.size(), out, &n, md, nullptr);
  return std::string(reinterpret_cast<char*>(out), n);
}

std::string Hex(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) out += fmt::format("{:02x}", c);
  return out;
}

std::string Base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

// RFC 3986 percent-encoding as SigV4 wants it; '/' kept in keys only.
std::string Encode(std::string_view s, bool keep_slash) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/')) {
      out.push_back(static_cast<char>(c));
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

std::string XmlEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

// "2026-12-06T21:58:23.000Z" (listings) or "Sun, 06 Dec 2026 21:58:23 GMT"
// (Last-Modified) -> ms since the epoch; 0 when unreadable.
int64_t ParseTimeMs(const std::string& text) {
  std::tm tm{};
  const char* end = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (end == nullptr) end = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S", &tm);
  if (end == nullptr) return 0;
  int64_t ms = static_cast<int64_t>(timegm(&tm)) * 1000;
  if (*end == '.') ms += std::strtol(end + 1, nullptr, 10) % 1000;
  return ms;
}

// --- XML answers (libexpat) ----------------------------------------------------

struct XmlNode {
  std::string name;
  std::string text;
  std::vector<XmlNode> children;

  const XmlNode* Child(std::string_view n) const {
    for (const XmlNode& c : children) {
      if (c.name == n) return &c;
    }
    return nullptr;
  }
  std::string Text(std::string_view n) const {
    const XmlNode* c = Child(n);
    return c == nullptr ? std::string() : c->text;
  }
  std::vector<const XmlNode*> All(std::string_view n) const {
    std::vector<const XmlNode*> out;
    for (const XmlNode& c : children) {
      if (c.name == n) out.push_back(&c);
    }
    return out;
  }
};

struct XmlBuilder {
  XmlNode root;
  std::vector<XmlNode*> stack{&root};
};

StatusOr<XmlNode> ParseXml(std::string_view text, std::string_view what) {
  XmlBuilder b;
  XML_Parser p = XML_ParserCreate("UTF-8");
  XML_SetUserData(p, &b);
  XML_SetElementHandler(
      p,
      [](void* ud, const XML_Char* name, const XML_Char**) {
        auto* builder = static_cast<XmlBuilder*>(ud);
        builder->stack.back()->children.push_back(XmlNode{name, {}, {}});
        builder->stack.push_back(&builder->stack.back()->children.back());
      },
      [](void* ud, const XML_Char*) { static_cast<XmlBuilder*>(ud)->stack.pop_back(); });
  XML_SetCharacterDataHandler(p, [](void* ud, const XML_Char* s, int len) {
    static_cast<XmlBuilder*>(ud)->stack.back()->text.append(s, static_cast<size_t>(len));
  });
  bool ok = XML_Parse(p, text.data(), static_cast<int>(text.size()), 1) == XML_STATUS_OK;
  std::string err = ok ? "" : XML_ErrorString(XML_GetErrorCode(p));
  XML_ParserFree(p);
  if (!ok || b.root.children.empty()) {
    return absl::UnavailableError(StrCat(what, ": the S3 server's answer is not XML (", err, ")"));
  }
  return std::move(b.root.children.front());
}

// --- HTTP ----------------------------------------------------------------------

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
using CurlHandle = std::unique_ptr<CURL, CurlDeleter>;

struct Request {
  std::string method = "GET";
  std::string key = {};  // object key; empty: the bucket
  std::vector<std::pair<std::string, std::string>> query = {};
  std::vector<std::string> headers = {};
  std::string_view body = {};
  bool has_body = false;
};

using KeyList = std::vector<std::pair<std::string, uint64_t>>;  // keys with their sizes

struct Response {
  long status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
};

size_t AppendBody(char* p, size_t size, size_t n, void* userdata) {
  static_cast<std::string*>(userdata)->append(p, size * n);
  return size * n;
}

size_t StoreHeader(char* p, size_t size, size_t n, void* userdata) {
  auto* h = static_cast<std::map<std::string, std::string>*>(userdata);
  std::string_view line(p, size * n);
  if (line.starts_with("HTTP/")) h->clear();  // a new answer (after 100 Continue)
  size_t colon = line.find(':');
  if (colon != std::string_view::npos) {
    std::string name(line.substr(0, colon));
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string_view v = line.substr(colon + 1);
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    while (!v.empty() && (v.back() == '\r' || v.back() == '\n' || v.back() == ' ')) v.remove_suffix(1);
    (*h)[name] = std::string(v);
  }
  return size * n;
}

struct BodyCursor {
  std::string_view rest;
};

size_t ReadBody(char* buf, size_t size, size_t n, void* userdata) {
  auto* c = static_cast<BodyCursor*>(userdata);
  size_t k = std::min(size * n, c->rest.size());
  std::copy_n(c->rest.data(), k, buf);
  c->rest.remove_prefix(k);
  return k;
}

bool IsConnectFailure(int code) {
  return code == CURLE_COULDNT_CONNECT || code == CURLE_COULDNT_RESOLVE_HOST ||
         code == CURLE_COULDNT_RESOLVE_PROXY;
}

std::string Token(const std::string& path, const std::string& key, const std::string& upload_id,
                  const std::vector<std::string>& etags, uint64_t size) {
  return nlohmann::json{{"path", path}, {"key", key}, {"upload_id", upload_id}, {"parts", etags}, {"size", size}}
      .dump();
}

class S3Storage;

// Buffers Append()ed bytes into parts: one PUT for a small file, else a
// multipart upload with at most `parallel` parts in flight.
class S3WritableFile final : public WritableFile {
 public:
  // `exclusive`: the file must not exist when it appears (If-None-Match: *).
  S3WritableFile(S3Storage* fs, std::string path, std::string key, bool deferred, bool exclusive)
      : fs_(fs), path_(std::move(path)), key_(std::move(key)), deferred_(deferred), exclusive_(exclusive) {}
  ~S3WritableFile() override;
  Status Append(std::string_view data) override;
  Status Close() override;
  uint64_t Size() const override { return size_; }
  std::string DeferredToken() const override { return token_; }

 private:
  Status SendPart(std::string data);
  Status Drain(size_t keep);  // waits until at most `keep` parts are in flight

  S3Storage* fs_;
  std::string path_;
  std::string key_;
  bool deferred_;
  bool exclusive_;
  std::string buffer_;
  std::string upload_id_;
  std::deque<std::string> etags_;  // a deque: the part threads hold references into it
  std::deque<std::future<Status>> inflight_;
  uint64_t size_ = 0;
  bool closed_ = false;
  Status error_;
  std::string token_;
};

class EmptyReadableFile final : public ReadableFile {
 public:
  StatusOr<size_t> Read(char*, size_t) override { return size_t{0}; }
};

class S3Storage final : public Storage {
 public:
  explicit S3Storage(S3Options o) : o_(std::move(o)) {
    std::string ep = o_.endpoint;
    while (ep.ends_with('/')) ep.pop_back();
    size_t scheme_end = ep.find("://");
    std::string scheme = scheme_end == std::string::npos ? "https" : ep.substr(0, scheme_end);
    std::string host = scheme_end == std::string::npos ? ep : ep.substr(scheme_end + 3);
    base_ = o_.path_style ? StrCat(scheme, "://", host, "/", Encode(o_.bucket, false))
                          : StrCat(scheme, "://", o_.bucket, ".", host);
    sigv4_ = StrCat("aws:amz:", o_.region, ":s3");
  }

  std::string Uri() const override {
    return o_.prefix.empty() ? StrCat("s3://", o_.bucket) : StrCat("s3://", o_.bucket, "/", o_.prefix);
  }
  Capabilities capabilities() const override {
    Capabilities c;
    c.atomic_rename = false;
    c.supports_append = false;
    c.object_store = true;
    return c;
  }

  StatusOr<FileInfo> Stat(const std::string& path) override {
    ASSIGN_OR_RETURN(std::string p, NormalizePath(path));
    FileInfo dir{p, std::string(BaseName(p)), true, 0, 0};
    if (p == "/") {  // the bucket (and credentials) answer, or say why not
      RETURN_IF_ERROR(ListPage(DirKey(p), "/", "", 1, "stat /").status());
      dir.name = "";
      return dir;
    }
    ASSIGN_OR_RETURN(std::optional<FileInfo> file, Head(p));
    if (file.has_value()) return *file;
    ASSIGN_OR_RETURN(XmlNode page, ListPage(DirKey(p), "/", "", 1, StrCat("stat ", p)));
    if (page.Child("Contents") != nullptr || page.Child("CommonPrefixes") != nullptr) return dir;
    return absl::NotFoundError(StrCat(p, " does not exist in ", Uri()));
  }

  StatusOr<std::vector<FileInfo>> List(const std::string& dir) override {
    ASSIGN_OR_RETURN(std::string p, NormalizePath(dir));
    const std::string prefix = DirKey(p);
    std::vector<FileInfo> out;
    bool marker = false;
    std::string token;
    do {
      ASSIGN_OR_RETURN(XmlNode page, ListPage(prefix, "/", token, 1000, StrCat("list ", p)));
      for (const XmlNode* c : page.All("Contents")) {
        std::string key = c->Text("Key");
        if (key == prefix) {
          marker = true;
          continue;
        }
        std::string name = key.substr(prefix.size());
        out.push_back({JoinPath(p, name), name, false, std::stoull("0" + c->Text("Size")),
                       ParseTimeMs(c->Text("LastModified"))});
      }
      for (const XmlNode* c : page.All("CommonPrefixes")) {
        std::string name = c->Text("Prefix").substr(prefix.size());
        if (name.ends_with('/')) name.pop_back();
        if (name.empty()) continue;  // "dir//": not a lake name
        out.push_back({JoinPath(p, name), name, true, 0, 0});
      }
      token = page.Text("IsTruncated") == "true" ? page.Text("NextContinuationToken") : "";
    } while (!token.empty());
    if (out.empty() && !marker && p != "/") {
      ASSIGN_OR_RETURN(std::optional<FileInfo> file, Head(p));
      if (file.has_value()) return absl::FailedPreconditionError(StrCat(p, " is a file, not a directory"));
      return absl::NotFoundError(StrCat(p, " does not exist in ", Uri()));
    }
    std::sort(out.begin(), out.end(), [](const FileInfo& a, const FileInfo& b) { return a.name < b.name; });
    return out;
  }

  Status MakeDirs(const std::string& dir) override {
    ASSIGN_OR_RETURN(std::string p, NormalizePath(dir));
    if (p == "/") return absl::OkStatus();
    ASSIGN_OR_RETURN(std::optional<FileInfo> file, Head(p));
    if (file.has_value()) return absl::AlreadyExistsError(StrCat("mkdir ", p, ": a file is in the way"));
    Request r{.method = "PUT", .key = DirKey(p), .has_body = true};
    return Send(r, nullptr, StrCat("mkdir ", p));
  }

  StatusOr<std::unique_ptr<WritableFile>> Create(const std::string& path, const CreateOptions& options) override {
    ASSIGN_OR_RETURN(std::string p, NormalizePath(path));
    if (p == "/") return absl::InvalidArgumentError("cannot create the lake's root as a file");
    if (!options.overwrite) {
      ASSIGN_OR_RETURN(std::optional<FileInfo> file, Head(p));
      if (file.has_value()) return absl::AlreadyExistsError(StrCat("create ", p, ": already exists"));
    }
    return std::unique_ptr<WritableFile>(new S3WritableFile(this, p, Key(p), options.deferred, !options.overwrite && !options.deferred));
  }

  StatusOr<std::unique_ptr<WritableFile>> OpenForAppend(const std::string& path) override {
    return absl::UnimplementedError(
        StrCat("append to ", path, ": objects in ", Uri(), " cannot be appended to; write a new file"));
  }

  StatusOr<std::unique_ptr<ReadableFile>> Open(const std::string& path, uint64_t offset, uint64_t length) override {
    ASSIGN_OR_RETURN(std::string p, NormalizePath(path));
    ASSIGN_OR_RETURN(std::optional<FileInfo> file, Head(p));
    if (!file.has_value()) {
      ASSIGN_OR_RETURN(FileInfo st, Stat(p));
      if (st.is_dir) return absl::FailedPreconditionError(StrCat("open ", p, ": it is a directory"));
      return absl::NotFoundError(StrCat(p, " does not exist in ", Uri()));
    }
    if (length == 0 || offset >= file->size) return std::unique_ptr<ReadableFile>(new EmptyReadableFile());
    uint64_t last = length >= file->size - offset ? file->size - 1 : offset + length - 1;
    return std::unique_ptr<ReadableFile>(new PipeReadableFile(
        [this, p, key = Key(p), offset, last](BytePipe* pipe) { return Get(key, p, offset, last, pipe); }));
  }

  Status Rename(const std::string& src, const std::string& dst) override {
    ASSIGN_OR_RETURN(std::string s, NormalizePath(src));
    ASSIGN_OR_RETURN(std::string d, NormalizePath(dst));
    const std::string what = StrCat("rename ", s, " to ", d);
    StatusOr<FileInfo> from = Stat(s);
    if (absl::IsNotFound(from.status())) return absl::NotFoundError(StrCat(what, ": ", s, " does not exist"));
    RETURN_IF_ERROR(from.status());
    ASSIGN_OR_RETURN(bool taken, Exists(this, d));
    if (taken) return absl::AlreadyExistsError(StrCat(what, ": target exists"));
    if (!from->is_dir) {
      RETURN_IF_ERROR(Copy(Key(s), Key(d), from->size, what));
      return DeleteKeys({Key(s)}, what);
    }
    ASSIGN_OR_RETURN(KeyList keys, AllKeys(DirKey(s), what));
    std::vector<std::string> done;
    for (const auto& [key, size] : keys) {
      RETURN_IF_ERROR(Copy(key, DirKey(d) + key.substr(DirKey(s).size()), size, what));
      done.push_back(key);
    }
    return DeleteKeys(done, what);
  }

  Status Delete(const std::string& path, bool recursive) override {
    ASSIGN_OR_RETURN(std::string p, NormalizePath(path));
    if (p == "/") return absl::InvalidArgumentError("refusing to delete the lake's root");
    const std::string what = StrCat("delete ", p);
    ASSIGN_OR_RETURN(std::optional<FileInfo> file, Head(p));
    if (file.has_value()) return DeleteKeys({Key(p)}, what);
    ASSIGN_OR_RETURN(KeyList keys, AllKeys(DirKey(p), what));
    if (keys.empty()) return absl::NotFoundError(StrCat(p, " does not exist in ", Uri()));
    if (!recursive && (keys.size() > 1 || keys[0].first != DirKey(p))) {
      return absl::FailedPreconditionError(StrCat(what, ": the directory is not empty"));
    }
    std::vector<std::string> names;
    for (auto& [k, size] : keys) names.push_back(std::move(k));
    RETURN_IF_ERROR(DeleteKeys(names, what));
    // A directory goes with the unfinished uploads under it (a killed `lake put`'s).
    ASSIGN_OR_RETURN(std::vector<std::string> uploads, ListDeferred(p));
    for (const std::string& token : uploads) RETURN_IF_ERROR(AbortDeferred(token));
    return absl::OkStatus();
  }

  Status CompleteDeferred(std::string_view token) override { return FinishUpload(token, false); }

  // Completes the multipart upload of `token`; `exclusive`: only if no file
  // of that name exists (AlreadyExists otherwise).
  Status FinishUpload(std::string_view token, bool exclusive) {
    nlohmann::json t = nlohmann::json::parse(token, nullptr, false);
    if (t.is_discarded() || !t.contains("upload_id") || !t.contains("parts")) {
      return absl::InvalidArgumentError(StrCat("not an upload token of ", Uri()));
    }
    std::string path = t.value("path", ""), key = t.value("key", ""), id = t.value("upload_id", "");
    std::string xml = "<CompleteMultipartUpload>";
    int n = 0;
    for (const auto& etag : t["parts"]) {
      StrAppend(&xml, "<Part><PartNumber>", ++n, "</PartNumber><ETag>", XmlEscape(etag.get<std::string>()),
                "</ETag></Part>");
    }
    xml += "</CompleteMultipartUpload>";
    Status s = CompleteUpload(key, id, xml, StrCat("publish ", path), exclusive);
    if (!absl::IsNotFound(s)) return s;
    // Completed already (a retry after a lost answer, or a commit resumed)?
    ASSIGN_OR_RETURN(std::optional<FileInfo> file, Head(path));
    if (file.has_value() && file->size == t.value("size", uint64_t{0})) return absl::OkStatus();
    return absl::NotFoundError(StrCat("publish ", path, ": its upload ", id, " is gone (aborted?) from ", Uri()));
  }

  Status AbortDeferred(std::string_view token) override {
    nlohmann::json t = nlohmann::json::parse(token, nullptr, false);
    if (t.is_discarded() || !t.contains("upload_id")) {
      return absl::InvalidArgumentError(StrCat("not an upload token of ", Uri()));
    }
    return AbortUpload(t.value("key", ""), t.value("upload_id", ""));
  }

  StatusOr<std::vector<std::string>> ListDeferred(const std::string& dir) override {
    ASSIGN_OR_RETURN(std::string p, NormalizePath(dir));
    std::vector<std::string> out;
    std::string key_marker, id_marker;
    while (true) {
      Request r{.key = "", .query = {{"uploads", ""}, {"prefix", DirKey(p)}}};
      if (!key_marker.empty()) {
        r.query.emplace_back("key-marker", key_marker);
        r.query.emplace_back("upload-id-marker", id_marker);
      }
      Response resp;
      RETURN_IF_ERROR(Send(r, &resp, StrCat("list the unfinished uploads under ", p)));
      ASSIGN_OR_RETURN(XmlNode x, ParseXml(resp.body, StrCat("list uploads under ", p)));
      for (const XmlNode* u : x.All("Upload")) {
        std::string key = u->Text("Key");
        out.push_back(Token(PathOf(key), key, u->Text("UploadId"), {}, 0));
      }
      if (x.Text("IsTruncated") != "true") break;
      key_marker = x.Text("NextKeyMarker");
      id_marker = x.Text("NextUploadIdMarker");
      if (key_marker.empty()) break;
    }
    return out;
  }

  // --- Requests used by the files --------------------------------------------

  // Sends `r`; on success fills `resp` (when given). Retried with backoff
  // unless `retry` is false.
  Status Send(const Request& r, Response* resp, std::string_view what, bool retry = true) {
    Response local;
    Response* out = resp != nullptr ? resp : &local;
    auto once = [&]() -> Status {
      *out = Response();
      return SendOnce(r, out, what);
    };
    return retry ? core::Retry(o_.retry, once) : once();
  }

  StatusOr<std::string> InitiateUpload(const std::string& key, const std::string& path) {
    Request r{.method = "POST", .key = key, .query = {{"uploads", ""}}, .has_body = true};
    Response resp;
    RETURN_IF_ERROR(Send(r, &resp, StrCat("write ", path)));
    ASSIGN_OR_RETURN(XmlNode x, ParseXml(resp.body, StrCat("write ", path)));
    std::string id = x.Text("UploadId");
    if (id.empty()) return absl::InternalError(StrCat("write ", path, ": the S3 server gave no upload id"));
    return id;
  }

  StatusOr<std::string> UploadPart(const std::string& key, const std::string& path, const std::string& id,
                                   int number, std::string_view data) {
    Request r{.method = "PUT", .key = key,
              .query = {{"partNumber", std::to_string(number)}, {"uploadId", id}}, .body = data, .has_body = true};
    Response resp;
    RETURN_IF_ERROR(Send(r, &resp, StrCat("write ", path, " (part ", number, ")")));
    auto it = resp.headers.find("etag");
    if (it == resp.headers.end()) {
      return absl::InternalError(StrCat("write ", path, ": the S3 server gave no ETag for part ", number));
    }
    return it->second;
  }

  Status CompleteUpload(const std::string& key, const std::string& id, const std::string& xml,
                        std::string_view what, bool exclusive) {
    Request r{.method = "POST", .key = key, .query = {{"uploadId", id}},
              .headers = {"Content-Type: application/xml"}, .body = xml, .has_body = true};
    if (exclusive) r.headers.push_back("If-None-Match: *");
    Response resp;
    RETURN_IF_ERROR(Send(r, &resp, what));
    // A 200 answer may still carry an error (S3 sends it while it works).
    if (resp.body.find("<Error>") != std::string::npos) {
      return S3ErrorToStatus(0, 500, resp.body, StrCat(what, " in ", Uri()), o_);
    }
    return absl::OkStatus();
  }

  Status AbortUpload(const std::string& key, const std::string& id) {
    Request r{.method = "DELETE", .key = key, .query = {{"uploadId", id}}};
    Status s = Send(r, nullptr, StrCat("abort the upload of ", PathOf(key)));
    return absl::IsNotFound(s) ? absl::OkStatus() : s;
  }

  Status PutObject(const std::string& key, const std::string& path, std::string_view data, bool exclusive) {
    Request r{.method = "PUT", .key = key, .body = data, .has_body = true};
    if (exclusive) r.headers.push_back("If-None-Match: *");
    return Send(r, nullptr, StrCat("write ", path));
  }

  Status Get(const std::string& key, const std::string& path, uint64_t first, uint64_t last, BytePipe* pipe) {
    Request r{.method = "GET", .key = key, .headers = {fmt::format("Range: bytes={}-{}", first, last)}};
    Response resp;
    return SendOnce(r, &resp, StrCat("read ", path), pipe);
  }

  const S3Options& options() const { return o_; }

 private:
  std::string Key(const std::string& p) const {  // p normalized, not "/"
    return o_.prefix.empty() ? p.substr(1) : StrCat(o_.prefix, p);
  }
  std::string DirKey(const std::string& p) const {  // the listing prefix of directory p
    if (p == "/") return o_.prefix.empty() ? "" : StrCat(o_.prefix, "/");
    return Key(p) + "/";
  }
  std::string PathOf(const std::string& key) const {
    std::string_view rest(key);
    if (!o_.prefix.empty()) rest.remove_prefix(std::min(rest.size(), o_.prefix.size() + 1));
    return StrCat("/", rest);
  }

  CurlHandle TakeHandle() {
    std::lock_guard<std::mutex> lock(pool_mu_);
    if (pool_.empty()) return CurlHandle(curl_easy_init());
    CurlHandle h = std::move(pool_.back());
    pool_.pop_back();
    curl_easy_reset(h.get());
    return h;
  }
  void GiveHandle(CurlHandle h) {
    std::lock_guard<std::mutex> lock(pool_mu_);
    if (pool_.size() < 16) pool_.push_back(std::move(h));
  }

  Status SendOnce(const Request& r, Response* out, std::string_view what, BytePipe* pipe = nullptr) {
    std::vector<std::pair<std::string, std::string>> q = r.query;
    std::sort(q.begin(), q.end());
    std::string url = base_;
    if (!r.key.empty() || o_.path_style) StrAppend(&url, "/", Encode(r.key, true));
    for (size_t i = 0; i < q.size(); ++i) {
      StrAppend(&url, i == 0 ? "?" : "&", Encode(q[i].first, false), "=", Encode(q[i].second, false));
    }
    CurlHandle c = TakeHandle();
    CURL* h = c.get();
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, o_.connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);  // a stalled transfer is an error, not a hang
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(h, CURLOPT_AWS_SIGV4, sigv4_.c_str());
    curl_easy_setopt(h, CURLOPT_USERNAME, o_.access_key_id.c_str());
    curl_easy_setopt(h, CURLOPT_PASSWORD, o_.secret_access_key.c_str());
    curl_slist* headers = nullptr;
    std::string hash = r.has_body && !r.body.empty() ? Hex(Digest(EVP_sha256(), r.body)) : kEmptySha256;
    headers = curl_slist_append(headers, StrCat("x-amz-content-sha256: ", hash).c_str());
    if (!o_.session_token.empty()) {
      headers = curl_slist_append(headers, StrCat("x-amz-security-token: ", o_.session_token).c_str());
    }
    headers = curl_slist_append(headers, "Expect:");
    for (const std::string& x : r.headers) headers = curl_slist_append(headers, x.c_str());
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    BodyCursor cursor{r.body};
    if (r.method == "HEAD") {
      curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (r.method == "PUT") {
      curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
      curl_easy_setopt(h, CURLOPT_READFUNCTION, ReadBody);
      curl_easy_setopt(h, CURLOPT_READDATA, &cursor);
      curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(r.body.size()));
    } else if (r.method == "POST") {
      curl_easy_setopt(h, CURLOPT_POST, 1L);
      curl_easy_setopt(h, CURLOPT_POSTFIELDS, r.body.data());
      curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(r.body.size()));
    } else if (r.method != "GET") {
      curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r.method.c_str());
    }
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, StoreHeader);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &out->headers);
    std::string error_body;
    if (pipe != nullptr) {
      curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, PipeWriteCallback);
      curl_easy_setopt(h, CURLOPT_WRITEDATA, pipe);
      curl_easy_setopt(h, CURLOPT_FAILONERROR, 1L);  // no error document into the data
    } else {
      curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, AppendBody);
      curl_easy_setopt(h, CURLOPT_WRITEDATA, &out->body);
      curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 600000L);
    }
    CURLcode rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
    curl_slist_free_all(headers);
    GiveHandle(std::move(c));
    if (rc == CURLE_OK && out->status >= 200 && out->status < 300) {
      reached_ = true;
      return absl::OkStatus();
    }
    if (pipe != nullptr && rc == CURLE_WRITE_ERROR && pipe->aborted()) {
      return absl::CancelledError("reader closed");
    }
    if (rc == CURLE_HTTP_RETURNED_ERROR) rc = CURLE_OK;  // FAILONERROR: the status says it
    if (rc == CURLE_OK) reached_ = true;
    Status s = S3ErrorToStatus(rc, out->status, out->body, StrCat(what, " in ", Uri()), o_);
    if (IsConnectFailure(rc) && !reached_) {
      // Never reached: a wrong endpoint or a stopped server; say so at once.
      return absl::FailedPreconditionError(s.message());
    }
    return s;
  }

  // HEAD: the file at `p`, or nothing when no object has that key.
  StatusOr<std::optional<FileInfo>> Head(const std::string& p) {
    Request r{.method = "HEAD", .key = Key(p)};
    Response resp;
    Status s = Send(r, &resp, StrCat("stat ", p));
    if (absl::IsNotFound(s)) return std::optional<FileInfo>();
    RETURN_IF_ERROR(s);
    FileInfo f{p, std::string(BaseName(p)), false, 0, 0};
    f.size = std::strtoull(resp.headers["content-length"].c_str(), nullptr, 10);
    f.mtime_ms = ParseTimeMs(resp.headers["last-modified"]);
    return std::optional<FileInfo>(f);
  }

  StatusOr<XmlNode> ListPage(const std::string& prefix, const std::string& delimiter, const std::string& token,
                             int max_keys, std::string_view what) {
    Request r{.query = {{"list-type", "2"}, {"max-keys", std::to_string(max_keys)}, {"prefix", prefix}}};
    if (!delimiter.empty()) r.query.emplace_back("delimiter", delimiter);
    if (!token.empty()) r.query.emplace_back("continuation-token", token);
    Response resp;
    RETURN_IF_ERROR(Send(r, &resp, what));
    return ParseXml(resp.body, what);
  }

  // Every key under `prefix` with its size.
  StatusOr<KeyList> AllKeys(const std::string& prefix, std::string_view what) {
    KeyList out;
    std::string token;
    do {
      ASSIGN_OR_RETURN(XmlNode page, ListPage(prefix, "", token, 1000, what));
      for (const XmlNode* c : page.All("Contents")) {
        out.emplace_back(c->Text("Key"), std::strtoull(c->Text("Size").c_str(), nullptr, 10));
      }
      token = page.Text("IsTruncated") == "true" ? page.Text("NextContinuationToken") : "";
    } while (!token.empty());
    return out;
  }

  // A server-side copy (one CopyObject) up to copy_limit (CopyObject's limit
  // is 5 GiB); a larger object streams through this process. UploadPartCopy
  // would avoid that, but its x-amz-copy-source-range header shares a prefix
  // with x-amz-copy-source, and libcurl 7.88 sorts such headers wrongly when
  // it signs them (the server answers SignatureDoesNotMatch).
  Status Copy(const std::string& from, const std::string& to, uint64_t size, std::string_view what) {
    if (size > o_.copy_limit) {
      ASSIGN_OR_RETURN(std::unique_ptr<ReadableFile> in, Open(PathOf(from), 0, UINT64_MAX));
      S3WritableFile out(this, PathOf(to), to, false, false);
      std::string buf(1 << 20, '\0');
      while (true) {
        ASSIGN_OR_RETURN(size_t n, in->Read(buf.data(), buf.size()));
        if (n == 0) break;
        RETURN_IF_ERROR(out.Append(std::string_view(buf.data(), n)));
      }
      return out.Close();
    }
    Request r{.method = "PUT", .key = to,
              .headers = {StrCat("x-amz-copy-source: /", Encode(o_.bucket, false), "/", Encode(from, true))},
              .has_body = true};
    Response resp;
    RETURN_IF_ERROR(Send(r, &resp, what));
    if (resp.body.find("<Error>") != std::string::npos) {
      return S3ErrorToStatus(0, 500, resp.body, StrCat(what, " in ", Uri()), o_);
    }
    return absl::OkStatus();
  }

  Status DeleteKeys(const std::vector<std::string>& keys, std::string_view what) {
    if (keys.size() == 1) {
      Request r{.method = "DELETE", .key = keys[0]};
      return Send(r, nullptr, what);
    }
    for (size_t i = 0; i < keys.size(); i += kDeleteBatch) {
      std::string xml = "<Delete><Quiet>true</Quiet>";
      for (size_t j = i; j < std::min(keys.size(), i + kDeleteBatch); ++j) {
        StrAppend(&xml, "<Object><Key>", XmlEscape(keys[j]), "</Key></Object>");
      }
      xml += "</Delete>";
      Request r{.method = "POST", .key = "", .query = {{"delete", ""}},
                .headers = {"Content-Type: application/xml",
                            StrCat("Content-MD5: ", Base64(Digest(EVP_md5(), xml)))},
                .body = xml, .has_body = true};
      Response resp;
      RETURN_IF_ERROR(Send(r, &resp, what));
      ASSIGN_OR_RETURN(XmlNode x, ParseXml(resp.body, what));
      if (const XmlNode* e = x.Child("Error"); e != nullptr) {
        return absl::InternalError(StrCat(what, ": ", e->Text("Key"), ": ", e->Text("Code"), " ", e->Text("Message")));
      }
    }
    return absl::OkStatus();
  }

  S3Options o_;
  std::string base_;
  std::string sigv4_;
  std::atomic<bool> reached_{false};
  std::mutex pool_mu_;
  std::vector<CurlHandle> pool_;
};

S3WritableFile::~S3WritableFile() {
  for (auto& f : inflight_) f.wait();
  if (!upload_id_.empty() && (!closed_ || !error_.ok())) (void)fs_->AbortUpload(key_, upload_id_);
}

Status S3WritableFile::Append(std::string_view data) {
  if (closed_) return absl::FailedPreconditionError(StrCat(path_, " is closed"));
  RETURN_IF_ERROR(error_);
  size_ += data.size();
  const size_t part = fs_->options().part_size;
  while (!data.empty()) {
    if (buffer_.capacity() < part) buffer_.reserve(part);
    size_t n = std::min(data.size(), part - buffer_.size());
    buffer_.append(data.substr(0, n));
    data.remove_prefix(n);
    if (buffer_.size() == part) {
      error_ = SendPart(std::move(buffer_));
      buffer_ = std::string();
      RETURN_IF_ERROR(error_);
    }
  }
  return absl::OkStatus();
}

Status S3WritableFile::SendPart(std::string data) {
  if (upload_id_.empty()) {
    ASSIGN_OR_RETURN(upload_id_, fs_->InitiateUpload(key_, path_));
  }
  RETURN_IF_ERROR(Drain(static_cast<size_t>(std::max(1, fs_->options().parallel)) - 1));
  int number = static_cast<int>(etags_.size()) + 1;
  std::string* etag = &etags_.emplace_back();
  inflight_.push_back(std::async(std::launch::async, [this, number, etag, data = std::move(data)]() -> Status {
    ASSIGN_OR_RETURN(*etag, fs_->UploadPart(key_, path_, upload_id_, number, data));
    return absl::OkStatus();
  }));
  return absl::OkStatus();
}

Status S3WritableFile::Drain(size_t keep) {
  Status first;
  while (inflight_.size() > keep) {
    Status s = inflight_.front().get();
    inflight_.pop_front();
    if (first.ok()) first = s;
  }
  return first;
}

Status S3WritableFile::Close() {
  if (closed_) return error_;
  closed_ = true;
  if (!error_.ok()) return error_;
  error_ = [&]() -> Status {
    if (upload_id_.empty() && !deferred_) return fs_->PutObject(key_, path_, buffer_, exclusive_);
    if (!buffer_.empty() || etags_.empty()) RETURN_IF_ERROR(SendPart(std::move(buffer_)));
    buffer_ = std::string();
    RETURN_IF_ERROR(Drain(0));
    token_ = Token(path_, key_, upload_id_, {etags_.begin(), etags_.end()}, size_);
    if (deferred_) return absl::OkStatus();
    RETURN_IF_ERROR(fs_->FinishUpload(token_, exclusive_));
    token_.clear();
    upload_id_.clear();
    return absl::OkStatus();
  }();
  if (!error_.ok()) token_.clear();
  return error_;
}

// --- Settings ----------------------------------------------------------------------

// One section of an INI file (~/.aws/credentials "[name]", ~/.aws/config
// "[profile name]" or "[default]").
std::map<std::string, std::string> IniSection(const std::string& file, const std::string& section) {
  std::map<std::string, std::string> out;
  std::ifstream in(file);
  std::string line;
  bool inside = false;
  while (std::getline(in, line)) {
    std::string_view l = StripAsciiWhitespace(line);
    if (l.empty() || l[0] == '#' || l[0] == ';') continue;
    if (l.front() == '[' && l.back() == ']') {
      inside = StripAsciiWhitespace(l.substr(1, l.size() - 2)) == section;
      continue;
    }
    size_t eq = l.find('=');
    if (inside && eq != std::string_view::npos) {
      out[std::string(StripAsciiWhitespace(l.substr(0, eq)))] = std::string(StripAsciiWhitespace(l.substr(eq + 1)));
    }
  }
  return out;
}

}  // namespace

Status S3ErrorToStatus(int curl_code, long http_status, std::string_view body, std::string_view context,
                       const S3Options& o) {
  if (curl_code != 0) {
    std::string what = curl_easy_strerror(static_cast<CURLcode>(curl_code));
    if (curl_code == CURLE_URL_MALFORMAT || curl_code == CURLE_UNSUPPORTED_PROTOCOL) {
      return absl::InvalidArgumentError(StrCat(context, ": ", what, " (check the endpoint)"));
    }
    return absl::UnavailableError(
        StrCat(context, ": ", what, " (is the S3 server at ", o.endpoint, " running and reachable?)"));
  }
  std::string code, message, region;
  if (StatusOr<XmlNode> x = ParseXml(body, context); x.ok() && x->name == "Error") {
    code = x->Text("Code");
    message = x->Text("Message");
    region = x->Text("Region");
  }
  const std::string text = StrCat(context, ": ", message.empty() ? StrCat("HTTP ", http_status) : message);
  const std::string creds = StrCat(" (credentials from ", o.credentials_from.empty() ? "nowhere" : o.credentials_from,
                                   "; set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, [lake.s3] or ~/.aws/credentials)");
  if (code == "NoSuchKey" || code == "NoSuchUpload") return absl::NotFoundError(text);
  if (code == "PreconditionFailed" || http_status == 412) {  // If-None-Match: * on a create
    return absl::AlreadyExistsError(StrCat(context, ": already exists"));
  }
  if (code == "NoSuchBucket") {
    return absl::FailedPreconditionError(StrCat(context, ": bucket \"", o.bucket, "\" does not exist at ", o.endpoint,
                                                "; create it (aws s3 mb s3://", o.bucket, ") or fix the lake URI"));
  }
  if (code == "InvalidAccessKeyId" || code == "XAdminUserNotFound") {  // the latter: versitygw
    return absl::UnauthenticatedError(StrCat(context, ": the S3 server does not know this access key", creds));
  }
  if (code == "SignatureDoesNotMatch") {
    return absl::UnauthenticatedError(
        StrCat(context, ": the secret key does not match the access key (or the region is wrong)", creds));
  }
  if (code == "AuthorizationHeaderMalformed" || code == "PermanentRedirect" || code == "IllegalLocationConstraintException" ||
      !region.empty()) {
    return absl::FailedPreconditionError(StrCat(context, ": the bucket is not in region ", o.region,
                                                region.empty() ? "" : StrCat(" but in ", region),
                                                "; set AWS_REGION or region in [lake.s3]"));
  }
  if (code == "AccessDenied" || code == "AllAccessDisabled") {
    return absl::PermissionDeniedError(StrCat(text, creds));
  }
  if (code == "SlowDown" || code == "InternalError" || code == "ServiceUnavailable" || code == "RequestTimeout" ||
      http_status >= 500 || http_status == 429 || http_status == 0) {
    return absl::UnavailableError(text);
  }
  if (http_status == 404) return absl::NotFoundError(text);
  if (http_status == 403) return absl::PermissionDeniedError(StrCat(text, creds));
  if (http_status == 301 || http_status == 307) {
    return absl::FailedPreconditionError(StrCat(context, ": the bucket is elsewhere (HTTP ", http_status,
                                                "); check the region and the endpoint"));
  }
  if (http_status == 400 && code.empty()) {
    return absl::InvalidArgumentError(StrCat(text, " (a wrong region or endpoint?)"));
  }
  if (http_status == 409) return absl::AlreadyExistsError(text);
  if (http_status == 400) return absl::InvalidArgumentError(StrCat(text, code.empty() ? "" : StrCat(" [", code, "]")));
  return absl::InternalError(StrCat(text, code.empty() ? "" : StrCat(" [", code, "]")));
}

StatusOr<S3Options> ResolveS3Options(std::string_view text, const core::Config* config,
                                     const std::function<const char*(const char*)>& getenv_fn) {
  auto env = [&](const char* name) -> std::string {
    const char* v = getenv_fn ? getenv_fn(name) : std::getenv(name);
    return v == nullptr ? std::string() : std::string(v);
  };
  if (!text.starts_with("s3://")) {
    return absl::InvalidArgumentError(StrCat("S3 lake URI \"", text, "\" must look like s3://bucket/prefix"));
  }
  std::string_view rest = text.substr(5);
  std::string_view query;
  if (size_t qm = rest.find('?'); qm != std::string_view::npos) {
    query = rest.substr(qm + 1);
    rest = rest.substr(0, qm);
  }
  S3Options o;
  size_t slash = rest.find('/');
  o.bucket = std::string(rest.substr(0, slash));
  if (slash != std::string_view::npos) {
    for (std::string_view part : Split(rest.substr(slash + 1), '/', true)) {
      StrAppend(&o.prefix, o.prefix.empty() ? "" : "/", part);
    }
  }
  if (o.bucket.empty() || o.bucket.find('@') != std::string::npos || o.bucket.find(':') != std::string::npos) {
    return absl::InvalidArgumentError(StrCat("S3 lake URI \"", text,
                                             "\" must look like s3://bucket/prefix (credentials never go in the URI)"));
  }
  std::map<std::string, std::string> q;
  for (std::string_view kv : Split(query, '&', true)) {
    size_t eq = kv.find('=');
    std::string k(kv.substr(0, eq));
    if (k == "access_key_id" || k == "secret_access_key" || k == "session_token") {
      return absl::InvalidArgumentError(
          "S3 credentials never go in the lake URI; use AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, [lake.s3] or "
          "~/.aws/credentials");
    }
    q[k] = eq == std::string_view::npos ? "" : std::string(kv.substr(eq + 1));
  }
  auto cfg = [&](const char* key) -> std::string {
    return config == nullptr ? std::string() : config->GetString(StrCat("lake.s3.", key));
  };
  auto first = [](std::initializer_list<std::string> vs) {
    for (const std::string& v : vs) {
      if (!v.empty()) return v;
    }
    return std::string();
  };
  std::string home = env("HOME");
  std::string profile = first({q["profile"], cfg("profile"), env("AWS_PROFILE"), "default"});
  std::string config_file = first({env("AWS_CONFIG_FILE"), home.empty() ? "" : home + "/.aws/config"});
  std::string creds_file = first({env("AWS_SHARED_CREDENTIALS_FILE"), home.empty() ? "" : home + "/.aws/credentials"});
  auto aws_config = IniSection(config_file, profile == "default" ? "default" : "profile " + profile);
  o.region = first({q["region"], cfg("region"), env("AWS_REGION"), env("AWS_DEFAULT_REGION"), aws_config["region"],
                    "us-east-1"});
  o.endpoint = first({q["endpoint"], cfg("endpoint"), env("AWS_ENDPOINT_URL_S3"), env("AWS_ENDPOINT_URL"),
                      aws_config["endpoint_url"]});
  bool aws = o.endpoint.empty();
  if (aws) o.endpoint = StrCat("https://s3.", o.region, ".amazonaws.com");
  std::string path_style = first({q["path_style"], cfg("path_style")});
  if (path_style.empty() || path_style == "auto") {
    o.path_style = !aws;
  } else if (path_style == "true" || path_style == "false") {
    o.path_style = path_style == "true";
  } else {
    return absl::InvalidArgumentError(StrCat("path_style=\"", path_style, "\" must be true, false or auto"));
  }
  if (std::string k = cfg("access_key_id"); !k.empty()) {
    o.access_key_id = k;
    o.secret_access_key = cfg("secret_access_key");
    o.session_token = cfg("session_token");
    o.credentials_from = "[lake.s3] in the configuration";
  } else if (std::string e = env("AWS_ACCESS_KEY_ID"); !e.empty()) {
    o.access_key_id = e;
    o.secret_access_key = env("AWS_SECRET_ACCESS_KEY");
    o.session_token = env("AWS_SESSION_TOKEN");
    o.credentials_from = "env AWS_ACCESS_KEY_ID";
  } else {
    auto c = IniSection(creds_file, profile);
    o.access_key_id = c["aws_access_key_id"];
    o.secret_access_key = c["aws_secret_access_key"];
    o.session_token = c["aws_session_token"];
    o.credentials_from = StrCat(creds_file, " [", profile, "]");
  }
  if (o.access_key_id.empty() || o.secret_access_key.empty()) {
    return absl::FailedPreconditionError(StrCat(
        "no S3 credentials for ", text, ": set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, access_key_id and "
        "secret_access_key in [lake.s3], or a profile in ", creds_file));
  }
  auto number = [&](const char* key, std::string value, int64_t lo, int64_t hi, int64_t* out) -> Status {
    if (value.empty()) return absl::OkStatus();
    if (!ParseInt(value, out) || *out < lo || *out > hi) {
      return absl::InvalidArgumentError(StrCat(key, "=\"", value, "\" must be a number from ", lo, " to ", hi));
    }
    return absl::OkStatus();
  };
  int64_t v = 60000;
  RETURN_IF_ERROR(number("retry_deadline_ms", first({q["retry_deadline_ms"], cfg("retry_deadline_ms")}), 0,
                         86400000, &v));
  o.retry.deadline = std::chrono::milliseconds(v);
  v = 8;
  RETURN_IF_ERROR(number("part_size_mb", first({q["part_size_mb"], cfg("part_size_mb")}), 5, 5120, &v));
  o.part_size = static_cast<size_t>(v) << 20;
  v = 5120;
  RETURN_IF_ERROR(number("copy_limit_mb", first({q["copy_limit_mb"], cfg("copy_limit_mb")}), 5, 5120, &v));
  o.copy_limit = static_cast<uint64_t>(v) << 20;
  v = 4;
  RETURN_IF_ERROR(number("parallel", first({q["parallel"], cfg("parallel")}), 1, 64, &v));
  o.parallel = static_cast<int>(v);
  return o;
}

std::unique_ptr<Storage> NewS3Storage(S3Options options) { return std::make_unique<S3Storage>(std::move(options)); }

void RegisterS3Storage() {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  RegisterStorage("s3", [](std::string_view text) -> StatusOr<std::unique_ptr<Storage>> {
    ASSIGN_OR_RETURN(S3Options o, ResolveS3Options(text, nullptr));
    return NewS3Storage(std::move(o));
  });
}

}  // namespace comptoir::lake
