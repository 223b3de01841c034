// The agent's state files: checkpoints.json (each file generation's identity
// and committed offset; written at every commit), status.json (what `agent
// status` and the coordination registry show; every second), and recovery at
// start-up. A damaged state file is a DataLoss error naming the file and what
// is wrong; the agent never starts over on a guess (that would publish lines
// twice or skip them).
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "agent_impl.h"
#include "comptoir/core/files.h"
#include "comptoir/core/strings.h"
#include "comptoir/core/time.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"

namespace comptoir::agent {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string TypeName(const json& j) { return j.is_null() ? "null" : std::string(j.type_name()); }

// Typed reading of a state file: every problem names the file and the field.
class Reader {
 public:
  Reader(std::string path, std::string remedy) : path_(std::move(path)), remedy_(std::move(remedy)) {}
  Status Damaged(std::string_view what) const {
    return absl::DataLossError(fmt::format("{} is damaged: {}; {}", path_, what, remedy_));
  }
  StatusOr<json> Parse(std::string_view text) const {
    json j = json::parse(text, nullptr, false);
    if (j.is_discarded()) return Damaged(text.empty() ? "it is empty" : "it is not valid JSON");
    if (!j.is_object()) return Damaged(fmt::format("it holds {} instead of an object", TypeName(j)));
    return j;
  }
  template <typename T>
  Status Get(const json& o, std::string_view key, T* out, std::string_view in) const {
    auto it = o.find(key);
    if (it == o.end() || it->is_null()) return absl::OkStatus();
    bool ok = false;
    if constexpr (std::is_same_v<T, std::string>) {
      ok = it->is_string();
    } else if constexpr (std::is_same_v<T, bool>) {
      ok = it->is_boolean();
    } else if constexpr (std::is_unsigned_v<T>) {
      ok = it->is_number_unsigned();
    } else {
      ok = it->is_number_integer();
    }
    if (!ok) return Damaged(fmt::format("\"{}{}\" must be {}, not {}", in, key, Want<T>(), TypeName(*it)));
    *out = it->get<T>();
    return absl::OkStatus();
  }

 private:
  template <typename T>
  static std::string_view Want() {
    if constexpr (std::is_same_v<T, std::string>) return "a string";
    if constexpr (std::is_same_v<T, bool>) return "true or false";
    if constexpr (std::is_unsigned_v<T>) return "a non-negative integer";
    return "an integer";
  }
  std::string path_;
  std::string remedy_;
};

}  // namespace

Status Agent::Impl::SaveCheckpoint() {
  json j = {{"started", true}, {"sources", json::object()}};
  checkpointed_.clear();
  for (const auto& s : sources) {
    j["sources"][s->id] = {{"flow", o.flows[s->flow].name},
                           {"path", s->path},
                           {"prefix", s->prefix},
                           {"dev", s->ident.dev},
                           {"ino", s->ident.ino},
                           {"btime_ns", s->ident.btime_ns},
                           {"generation", s->generation},
                           {"fp", s->fp},
                           {"fp_len", s->fp_len},
                           {"committed", s->committed},
                           {"last_commit_ms", s->last_commit_ms}};
    checkpointed_.push_back(s->id);
  }
  std::sort(checkpointed_.begin(), checkpointed_.end());
  return core::WriteFileAtomically(o.state_dir + "/checkpoints.json",
                                    j.dump(1, ' ', false, json::error_handler_t::replace));
}

bool Agent::Impl::Checkpointed(const std::string& id) const {
  return std::binary_search(checkpointed_.begin(), checkpointed_.end(), id);
}

Status Agent::Impl::WriteStatus() {
  json files = json::array();
  for (const FileStatus& f : Files()) {
    files.push_back({{"flow", f.flow},
                     {"source_id", f.source_id},
                     {"path", f.path},
                     {"size", f.size},
                     {"read", f.read},
                     {"committed", f.committed},
                     {"last_commit_ms", f.last_commit_ms},
                     {"last_error", f.last_error},
                     {"open", f.open}});
  }
  json j = {{"updated_ms", core::UnixMillis()}, {"pid", getpid()}, {"files", files}, {"spool_bytes", stats.spool_bytes}};
  return core::WriteFileAtomically(o.state_dir + "/status.json", j.dump(1, ' ', false, json::error_handler_t::replace));
}

std::vector<FileStatus> Agent::Impl::Files() const {
  std::vector<FileStatus> out;
  for (const auto& s : sources) {
    FileStatus f;
    f.flow = o.flows[s->flow].name;
    f.source_id = s->id;
    f.path = s->path;
    f.size = s->size;
    f.read = s->sealed_end + s->unsealed.size();
    f.committed = s->committed;
    f.last_commit_ms = s->last_commit_ms;
    f.last_error = s->last_error;
    f.open = s->fd >= 0;
    out.push_back(f);
  }
  return out;
}

Status Agent::Impl::Recover() {
  std::error_code ec;
  fs::create_directories(o.state_dir + "/spool", ec);
  if (ec) return absl::InternalError(StrCat("cannot create ", o.state_dir, "/spool: ", ec.message()));
  std::string path = o.state_dir + "/checkpoints.json";
  StatusOr<std::string> text = core::ReadFile(path);
  if (!text.ok() && !absl::IsNotFound(text.status())) return text.status();
  first_start = !text.ok();
  if (text.ok()) {
    Reader r(path, StrCat("restore it from a backup; removing ", o.state_dir,
                          " starts over (its files are then read again from their start)"));
    ASSIGN_OR_RETURN(json j, r.Parse(*text));
    json all = j.contains("sources") ? j["sources"] : json::object();
    if (!all.is_object()) return r.Damaged(fmt::format("\"sources\" must be an object, not {}", TypeName(all)));
    // Every known generation comes back, closed; Discover() reopens live ones.
    for (const auto& [id, e] : all.items()) {
      std::string in = fmt::format("sources.{}.", id);
      if (!e.is_object()) return r.Damaged(fmt::format("\"sources.{}\" must be an object, not {}", id, TypeName(e)));
      auto s = std::make_unique<Source>();
      std::string flow;
      RETURN_IF_ERROR(r.Get(e, "flow", &flow, in));
      auto it = std::find_if(o.flows.begin(), o.flows.end(), [&](const FlowOptions& f) { return f.name == flow; });
      if (it == o.flows.end()) continue;  // a flow no longer configured
      s->flow = static_cast<size_t>(it - o.flows.begin());
      s->id = id;
      RETURN_IF_ERROR(r.Get(e, "path", &s->path, in));
      RETURN_IF_ERROR(r.Get(e, "prefix", &s->prefix, in));
      RETURN_IF_ERROR(r.Get(e, "dev", &s->ident.dev, in));
      RETURN_IF_ERROR(r.Get(e, "ino", &s->ident.ino, in));
      RETURN_IF_ERROR(r.Get(e, "btime_ns", &s->ident.btime_ns, in));
      RETURN_IF_ERROR(r.Get(e, "generation", &s->generation, in));
      RETURN_IF_ERROR(r.Get(e, "fp", &s->fp, in));
      RETURN_IF_ERROR(r.Get(e, "fp_len", &s->fp_len, in));
      RETURN_IF_ERROR(r.Get(e, "committed", &s->committed, in));
      RETURN_IF_ERROR(r.Get(e, "last_commit_ms", &s->last_commit_ms, in));
      s->sealed_end = s->committed;
      s->read_pos = s->committed;
      s->closed = true;
      checkpointed_.push_back(id);
      sources.push_back(std::move(s));
    }
    std::sort(checkpointed_.begin(), checkpointed_.end());
  }
  // Spool: drop unsealed temporaries, pick up sealed segments, finish rolls.
  for (auto& s : sources) RETURN_IF_ERROR(LoadSpool(s.get()));
  for (const auto& d : fs::directory_iterator(o.state_dir + "/spool", ec)) {
    std::string id = d.path().filename().string();
    bool known = std::any_of(sources.begin(), sources.end(), [&](const auto& s) { return s->id == id; });
    if (!known) fs::remove_all(d.path(), ec);  // never checkpointed: nothing was published
  }
  for (auto& s : sources) {
    if (!fs::exists(s->spool_dir(o.state_dir) + "/roll")) continue;
    s->intent_pending = true;
    Status r = FinishRoll(s.get());  // the lake may be down: then Turn() retries
    if (absl::IsDataLoss(r)) return r;  // a damaged intent: retrying cannot help
    if (!r.ok()) {
      s->last_error = std::string(r.message());
      s->failures = 1;
      s->retry_at = Clock::now() + std::chrono::seconds(1);
    }
  }
  // Reopen the generations whose file is still there (also under a new name
  // in the same directory: a rotation that happened while we were down).
  for (auto& s : sources) Reattach(s.get());
  return absl::OkStatus();
}

StatusOr<std::vector<FileStatus>> ReadStatus(const std::string& state_dir) {
  std::string path = state_dir + "/status.json";
  ASSIGN_OR_RETURN(std::string text, core::ReadFile(path));
  Reader r(path, "the agent rewrites it every second while it runs");
  ASSIGN_OR_RETURN(json j, r.Parse(text));
  auto files = j.find("files");
  if (files == j.end()) return std::vector<FileStatus>();
  if (!files->is_array()) return r.Damaged(fmt::format("\"files\" must be an array, not {}", TypeName(*files)));
  std::vector<FileStatus> out;
  for (size_t i = 0; i < files->size(); ++i) {
    const json& f = (*files)[i];
    std::string in = fmt::format("files[{}].", i);
    if (!f.is_object()) return r.Damaged(fmt::format("\"files[{}]\" must be an object, not {}", i, TypeName(f)));
    FileStatus s;
    RETURN_IF_ERROR(r.Get(f, "flow", &s.flow, in));
    RETURN_IF_ERROR(r.Get(f, "source_id", &s.source_id, in));
    RETURN_IF_ERROR(r.Get(f, "path", &s.path, in));
    RETURN_IF_ERROR(r.Get(f, "size", &s.size, in));
    RETURN_IF_ERROR(r.Get(f, "read", &s.read, in));
    RETURN_IF_ERROR(r.Get(f, "committed", &s.committed, in));
    RETURN_IF_ERROR(r.Get(f, "last_commit_ms", &s.last_commit_ms, in));
    RETURN_IF_ERROR(r.Get(f, "last_error", &s.last_error, in));
    RETURN_IF_ERROR(r.Get(f, "open", &s.open, in));
    out.push_back(s);
  }
  return out;
}

}  // namespace comptoir::agent
