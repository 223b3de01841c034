#include "comptoir/importer/jobs.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "comptoir/core/files.h"
#include "comptoir/core/names.h"
#include "comptoir/core/strings.h"
#include "comptoir/core/time.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"

namespace comptoir::importer {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

std::string TypeName(const json& j) { return j.is_null() ? "null" : std::string(j.type_name()); }

// Typed reading of a job file: every problem names the file and the field.
class Reader {
 public:
  explicit Reader(std::string path) : path_(std::move(path)) {}

  Status Damaged(std::string_view what) const {
    return absl::DataLossError(fmt::format(
        "job file {} is damaged: {}; fix it, or delete it (comptoir job --delete {}) and create the job again",
        path_, what, fs::path(path_).stem().string()));
  }
  // `in` names the enclosing object in messages ("last_run.").
  StatusOr<std::string> String(const json& o, const char* key, bool required, std::string_view in = "") const {
    auto it = o.find(key);
    if (it == o.end()) {
      if (required) return Damaged(fmt::format("\"{}{}\" is missing", in, key));
      return std::string();
    }
    if (!it->is_string()) return Damaged(fmt::format("\"{}{}\" must be a string, not {}", in, key, TypeName(*it)));
    return it->get<std::string>();
  }
  StatusOr<RunRecord> Run(const json& o, const char* key) const {
    const json& r = o.at(key);
    if (!r.is_object()) return Damaged(fmt::format("\"{}\" must be an object, not {}", key, TypeName(r)));
    RunRecord run;
    std::string in = StrCat(key, ".");
    ASSIGN_OR_RETURN(std::string result, String(r, "result", false, in));
    if (!result.empty() && result != "ok" && result != "failed") {
      return Damaged(fmt::format("\"{}.result\" must be \"ok\" or \"failed\", not \"{}\"", key, result));
    }
    run.ok = result != "failed";
    auto number = [&](const char* field, auto* out) -> Status {
      auto it = r.find(field);
      if (it == r.end()) return absl::OkStatus();
      if (!it->is_number()) return Damaged(fmt::format("\"{}.{}\" must be a number, not {}", key, field, TypeName(*it)));
      *out = it->get<std::remove_pointer_t<decltype(out)>>();
      return absl::OkStatus();
    };
    RETURN_IF_ERROR(number("rows", &run.rows));
    RETURN_IF_ERROR(number("seconds", &run.seconds));
    RETURN_IF_ERROR(number("finished_at", &run.finished_at));
    ASSIGN_OR_RETURN(run.error, String(r, "error", false, in));
    return run;
  }

 private:
  std::string path_;
};

json RunJson(const RunRecord& r) {
  json j = {{"result", r.ok ? "ok" : "failed"}, {"seconds", r.seconds}, {"finished_at", r.finished_at}};
  if (r.ok) {
    j["rows"] = r.rows;
  } else {
    j["error"] = r.error;
  }
  return j;
}

// The job's names in the coordination service: its lease and its last value.
// A job created again under an old name gets a new key (a new position).
std::string JobKey(const JobStore& store, const JobRecord& job) {
  return fmt::format("jobs/{}-{}", job.name, core::NameHash(store.dir() + "/" + job.created).substr(0, 8));
}

}  // namespace

std::string JobsDir(const core::Config& config) {
  std::string d = config.GetString("import.jobs_dir");
  return d.empty() ? core::HomeStateDir("jobs") : d;
}

Status ValidJobName(std::string_view name) {
  if (name.empty() || name.size() > 100 || name[0] == '.' ||
      name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") !=
          std::string_view::npos) {
    return absl::InvalidArgumentError(StrCat("job name \"", name, "\" may use letters, digits, '_', '-' and '.' only"));
  }
  return absl::OkStatus();
}

std::string JobStore::PathOf(std::string_view name) const { return StrCat(dir_, "/", name, ".json"); }

StatusOr<JobRecord> JobStore::Load(std::string_view name) const {
  RETURN_IF_ERROR(ValidJobName(name));
  std::string path = PathOf(name);
  StatusOr<std::string> text = core::ReadFile(path);
  if (absl::IsNotFound(text.status())) {
    return absl::NotFoundError(StrCat("no saved job \"", name, "\" in ", dir_, " (see `comptoir job --list`)"));
  }
  if (!text.ok()) return text.status();
  Reader r(path);
  json j = json::parse(*text, nullptr, false);
  if (j.is_discarded()) return r.Damaged(text->empty() ? "it is empty" : "it is not valid JSON");
  if (!j.is_object()) return r.Damaged(fmt::format("it holds {} instead of an object", TypeName(j)));
  JobRecord job;
  job.name = std::string(name);
  auto args = j.find("args");
  if (args == j.end()) return r.Damaged("\"args\" (the saved command) is missing");
  if (!args->is_array() || args->empty() ||
      !std::all_of(args->begin(), args->end(), [](const json& a) { return a.is_string(); })) {
    return r.Damaged(fmt::format("\"args\" must be an array of strings (the saved command), not {}",
                                 args->is_array() ? "an array of other values" : TypeName(*args)));
  }
  job.args = args->get<std::vector<std::string>>();
  if (job.args.front() != "import") return r.Damaged("\"args\" must start with \"import\"");
  ASSIGN_OR_RETURN(job.created, r.String(j, "created", false));
  if (j.contains("last_value")) {
    ASSIGN_OR_RETURN(job.last_value, r.String(j, "last_value", true));
  }
  if (j.contains("last_run")) {
    ASSIGN_OR_RETURN(job.last_run, r.Run(j, "last_run"));
  }
  if (j.contains("last_success")) {
    ASSIGN_OR_RETURN(job.last_success, r.Run(j, "last_success"));
  }
  return job;
}

Status JobStore::Save(const JobRecord& job) const {
  RETURN_IF_ERROR(ValidJobName(job.name));
  json j = {{"name", job.name}, {"args", job.args}, {"created", job.created}};
  if (job.last_value) j["last_value"] = *job.last_value;
  if (job.last_run) j["last_run"] = RunJson(*job.last_run);
  if (job.last_success) j["last_success"] = RunJson(*job.last_success);
  // Errors may hold bytes that are not UTF-8: replaced, never a failure.
  return core::WriteFileAtomically(PathOf(job.name),
                                        j.dump(2, ' ', false, json::error_handler_t::replace) + "\n");
}

StatusOr<JobRecord> JobStore::Create(std::string_view name, std::vector<std::string> args) const {
  RETURN_IF_ERROR(ValidJobName(name));
  if (args.empty() || args.front() != "import") {
    return absl::InvalidArgumentError("--create needs the import after --: comptoir job --create NAME -- import ...");
  }
  std::error_code ec;
  if (fs::exists(PathOf(name), ec)) return absl::AlreadyExistsError(StrCat("job ", name, " already exists"));
  JobRecord job;
  job.name = std::string(name);
  job.args = std::move(args);
  job.created = fmt::format("{:.6f}", static_cast<double>(core::UnixMillis()) / 1000);
  RETURN_IF_ERROR(Save(job));
  return job;
}

std::vector<std::string> JobStore::List() const {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir_, ec)) {
    std::string stem = e.path().stem().string();
    if (e.path().extension() == ".json" && ValidJobName(stem).ok()) names.push_back(stem);
  }
  std::sort(names.begin(), names.end());
  return names;
}

Status JobStore::Delete(std::string_view name) const {
  RETURN_IF_ERROR(ValidJobName(name));
  std::error_code ec;
  if (!fs::remove(PathOf(name), ec)) {
    if (ec) return ErrnoToStatus(ec.value(), StrCat("delete ", PathOf(name)));
    return absl::NotFoundError(StrCat("no saved job \"", name, "\" in ", dir_, " (see `comptoir job --list`)"));
  }
  return absl::OkStatus();
}

StatusOr<ImportRun> ExecJob(const JobStore& store, std::string_view name, coord::Coordinator* coordination,
                            std::chrono::milliseconds wait,
                            const std::function<StatusOr<ImportRun>(const std::vector<std::string>& args)>& run) {
  ASSIGN_OR_RETURN(JobRecord job, store.Load(name));
  std::string key = JobKey(store, job);
  StatusOr<std::unique_ptr<coord::Lock>> lease =
      coordination->Acquire(key, fmt::format("{} pid {}", core::HostName(), getpid()), wait);
  if (!lease.ok()) {
    return absl::FailedPreconditionError(StrCat("job ", name, " is already running: ", lease.status().message(),
                                                "; wait for it (--wait 10m) or check `comptoir health`"));
  }
  ASSIGN_OR_RETURN(job, store.Load(name));
  StatusOr<coord::Versioned> stored = coordination->Get(key + "/last_value");
  int64_t version = coord::kNoVersion;
  if (stored.ok()) {
    job.last_value = stored->value;
    version = stored->version;
  } else if (!absl::IsNotFound(stored.status())) {
    return stored.status();
  }
  std::vector<std::string> args(job.args.begin() + 1, job.args.end());
  if (job.last_value) {
    args.push_back("--last-value");
    args.push_back(*job.last_value);
  }
  double started = core::NowSeconds();
  StatusOr<ImportRun> result = run(args);
  if (result.ok() && result->new_last_value) {
    StatusOr<int64_t> written = coordination->CompareAndSet(key + "/last_value", *result->new_last_value, version);
    if (!written.ok()) {
      result = absl::AbortedError(StrCat("job ", name, ": the import is published but its last value changed while it ran (",
                                         written.status().message(), "); run `job --exec ", name,
                                         "` again: it starts from the newest value"));
    }
  }
  RunRecord record;
  record.finished_at = core::UnixMillis() / 1000;
  if (result.ok()) {
    record.ok = true;
    record.rows = result->rows;
    record.seconds = result->seconds;
    JobRecord done = job;
    if (result->new_last_value) done.last_value = result->new_last_value;
    done.last_run = record;
    done.last_success = record;
    RETURN_IF_ERROR(store.Save(done));
    return result;
  }
  record.error = std::string(result.status().message());
  record.seconds = core::NowSeconds() - started;
  job.last_run = record;
  if (Status saved = store.Save(job); !saved.ok()) {
    return Annotate(result.status(), StrCat("(and the failed run could not be recorded: ", saved.message(), ")"));
  }
  return result;
}

}  // namespace comptoir::importer
