// comptoir import / import-all-tables / job: Flow A with Sqoop's flags.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "common.h"
#include "comptoir/core/clock.h"
#include "comptoir/core/progress.h"
#include "comptoir/core/signals.h"
#include "comptoir/importer/importer.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"
#include "spdlog/spdlog.h"

namespace comptoir::cli {
namespace {

// Sqoop's character arguments: "," "\t" "\n" "\\" "\001" (octal) "\0x01"
// (hex) "\0" (none).
StatusOr<char> ParseSqoopChar(const std::string& flag, const std::string& v) {
  auto bad = [&] {
    return absl::InvalidArgumentError(StrCat(flag, " \"", v, "\" must be one character or an escape "
                                             "like \\t, \\n, \\001 or \\0x01"));
  };
  if (v.size() == 1) return v[0];
  if (v.size() < 2 || v[0] != '\\') return bad();
  if (v == "\\t") return '\t';
  if (v == "\\n") return '\n';
  if (v == "\\r") return '\r';
  if (v == "\\b") return '\b';
  if (v == "\\\\") return '\\';
  if (v == "\\'") return '\'';
  if (v == "\\\"") return '"';
  if (v == "\\0") return '\0';
  if (v.starts_with("\\0x") || v.starts_with("\\0X")) {
    unsigned n = 0;
    if (std::from_chars(v.data() + 3, v.data() + v.size(), n, 16).ec != std::errc() || n > 255) {
      return bad();
    }
    return static_cast<char>(n);
  }
  unsigned n = 0;
  auto r = std::from_chars(v.data() + 1, v.data() + v.size(), n, 8);
  if (r.ec != std::errc() || r.ptr != v.data() + v.size() || n > 255) return bad();
  return static_cast<char>(n);
}

struct ImportFlags {
  ConnectionFlags conn;
  std::string table, columns, where, query, target_dir, warehouse_dir, lake;
  std::string exclude_tables;
  bool delete_target_dir = false, append = false, validate = false, dry_run = false;
  int num_mappers = 0;
  std::string split_by, boundary_query;
  int fetch_size = 0;
  std::string fields_terminated_by, lines_terminated_by, enclosed_by, optionally_enclosed_by,
      escaped_by;
  bool mysql_delimiters = false;
  std::optional<std::string> null_string, null_non_string;
  bool as_textfile = false, as_avrodatafile = false;
  bool compress = false;
  std::string compression_codec;
  std::string incremental, check_column, merge_key;
  std::optional<std::string> last_value;

  void Add(CLI::App* cmd, bool all_tables) {
    conn.Add(cmd);
    if (all_tables) {
      cmd->add_option("--warehouse-dir", warehouse_dir,
                      "Parent lake directory; each table goes to <dir>/<table> (default "
                      "/user/sqoop)");
      cmd->add_option("--exclude-tables", exclude_tables, "Comma-separated tables to skip");
    } else {
      cmd->add_option("--table", table, "Table to import");
      cmd->add_option("--columns", columns, "Comma-separated columns to import (default: all)");
      cmd->add_option("--where", where, "SQL condition selecting the rows of --table");
      cmd->add_option("--query,-e", query,
                      "Free-form SELECT with $CONDITIONS in its WHERE (needs --target-dir)");
      cmd->add_option("--target-dir", target_dir,
                      "Lake directory to write (default /user/sqoop/<table>)");
      cmd->add_option("--warehouse-dir", warehouse_dir,
                      "Parent lake directory: the target is <dir>/<table>");
      cmd->add_flag("--append", append, "Add new part files to an existing target");
      cmd->add_option("--incremental", incremental, "Incremental mode: append or lastmodified");
      cmd->add_option("--check-column", check_column, "Column that tells new/changed rows");
      cmd->add_option("--last-value", last_value, "Largest --check-column value already imported");
      cmd->add_option("--merge-key", merge_key,
                      "With lastmodified: key whose newest row wins in the merged dataset");
      cmd->add_option("--split-by", split_by, "Column to split on (default: the primary key)");
      cmd->add_option("--boundary-query", boundary_query,
                      "Query returning (min, max) of the split column");
    }
    cmd->add_option("--lake", lake, "Lake URI or directory (default: config `lake`, ./lake)");
    cmd->add_flag("--delete-target-dir", delete_target_dir,
                  "Replace the target's dataset (atomically, once the import committed)");
    cmd->add_option("-m,--num-mappers", num_mappers,
                    "Parallel readers, one part file each (default 4)");
    cmd->add_option("--fetch-size", fetch_size, "Rows per network round trip (hint)");
    cmd->add_flag("--validate", validate,
                  "Fail unless the rows written equal the source's row count (same predicate)");
    cmd->add_flag("--dry-run", dry_run, "Print the plan (splits, queries, row counts) and stop");
    cmd->add_option("--fields-terminated-by", fields_terminated_by, "Field delimiter (Sqoop)");
    cmd->add_option("--lines-terminated-by", lines_terminated_by, "Line delimiter (Sqoop)");
    cmd->add_option("--enclosed-by", enclosed_by, "Enclose every field with this character");
    cmd->add_option("--optionally-enclosed-by", optionally_enclosed_by,
                    "Enclose fields that contain a delimiter with this character");
    cmd->add_option("--escaped-by", escaped_by, "Escape character (Sqoop)");
    cmd->add_flag("--mysql-delimiters", mysql_delimiters,
                  "MySQL's defaults: , \\n escaped-by \\ optionally-enclosed-by '");
    cmd->add_option("--null-string", null_string, "Text for NULL in string columns");
    cmd->add_option("--null-non-string", null_non_string, "Text for NULL in other columns");
    cmd->add_flag("--as-textfile", as_textfile, "Delimited text (the default)");
    cmd->add_flag("--as-avrodatafile", as_avrodatafile, "Avro data files");
    cmd->add_flag("-z,--compress", compress, "Compress the part files");
    cmd->add_option("--compression-codec", compression_codec, "gzip (default) or zstd");
  }

  StatusOr<importer::ImportOptions> Options(const Globals& g) const {
    importer::ImportOptions o;
    ASSIGN_OR_RETURN(o.connect, conn.Resolve());
    o.table = table;
    for (std::string_view c : Split(columns, ',', true)) {
      o.columns.emplace_back(StripAsciiWhitespace(c));
    }
    o.where = where;
    o.query = query;
    o.target_dir = target_dir;
    if (target_dir.empty() && !warehouse_dir.empty() && !table.empty()) {
      o.target_dir = StrCat(warehouse_dir, "/", table);
    }
    o.delete_target_dir = delete_target_dir;
    o.append = append;
    if (delete_target_dir && append) {
      return absl::InvalidArgumentError("--delete-target-dir and --append contradict each other");
    }
    o.num_mappers = num_mappers > 0 ? num_mappers
                                    : static_cast<int>(g.config.GetInt("import.num_mappers"));
    o.split_by = split_by;
    o.boundary_query = boundary_query;
    o.fetch_size = fetch_size > 0 ? fetch_size
                                  : static_cast<int>(g.config.GetInt("import.fetch_size"));
    o.validate = validate;
    o.dry_run = dry_run;
    o.quiet = g.quiet;
    if (as_avrodatafile && as_textfile) {
      return absl::InvalidArgumentError("--as-avrodatafile and --as-textfile contradict each other");
    }
    if (as_avrodatafile) o.format = importer::ImportOptions::Format::kAvro;
    bool sqoop = !fields_terminated_by.empty() || !lines_terminated_by.empty() ||
                 !enclosed_by.empty() || !optionally_enclosed_by.empty() || !escaped_by.empty() ||
                 mysql_delimiters || null_string || null_non_string;
    if (sqoop) {
      // Any of Sqoop's format flags: Sqoop's rules and value spelling, byte for byte.
      o.text = mysql_delimiters ? lake::TextFormat::MySqlDelimiters() : lake::TextFormat::Sqoop();
      o.sqoop_values = true;
      if (!fields_terminated_by.empty()) {
        ASSIGN_OR_RETURN(o.text.field_delim,
                         ParseSqoopChar("--fields-terminated-by", fields_terminated_by));
      }
      if (!lines_terminated_by.empty()) {
        ASSIGN_OR_RETURN(o.text.line_delim,
                         ParseSqoopChar("--lines-terminated-by", lines_terminated_by));
      }
      if (!enclosed_by.empty()) {
        ASSIGN_OR_RETURN(o.text.enclose, ParseSqoopChar("--enclosed-by", enclosed_by));
        o.text.enclose_required = true;
      }
      if (!optionally_enclosed_by.empty()) {
        ASSIGN_OR_RETURN(o.text.enclose,
                         ParseSqoopChar("--optionally-enclosed-by", optionally_enclosed_by));
        o.text.enclose_required = false;
      }
      if (!escaped_by.empty()) {
        ASSIGN_OR_RETURN(o.text.escape, ParseSqoopChar("--escaped-by", escaped_by));
      }
      if (null_string) o.text.null_string = *null_string;
      if (null_non_string) o.text.null_non_string = *null_non_string;
    }
    if (compress || !compression_codec.empty()) {
      ASSIGN_OR_RETURN(o.codec, lake::ParseCodec(compression_codec.empty()
                                                     ? g.config.GetString("import.compression_codec")
                                                     : compression_codec));
      if (o.codec == lake::Codec::kNone) o.codec = lake::Codec::kGzip;
      if (as_avrodatafile && o.codec != lake::Codec::kGzip) {
        return absl::InvalidArgumentError(
            "Avro data files compress with deflate (-z or --compression-codec gzip); zstd is for "
            "text files");
      }
    }
    if (!incremental.empty()) {
      if (incremental == "append") {
        o.incremental = importer::Incremental::kAppend;
      } else if (incremental == "lastmodified") {
        o.incremental = importer::Incremental::kLastModified;
      } else {
        return absl::InvalidArgumentError(StrCat("--incremental \"", incremental,
                                                 "\": use append or lastmodified"));
      }
    }
    o.check_column = check_column;
    o.last_value = last_value;
    o.merge_key = merge_key;
    if (!merge_key.empty() && o.incremental != importer::Incremental::kLastModified) {
      return absl::InvalidArgumentError("--merge-key goes with --incremental lastmodified");
    }
    return o;
  }

  std::string LakeUri(const Globals& g) const {
    return lake.empty() ? g.config.GetString("lake") : lake;
  }
};

void PrintPlan(const importer::ImportResult& r) {
  const importer::ImportPlan& p = r.plan;
  std::cout << fmt::format("Plan for {}: {} split(s){}{}\n", p.target, p.splits.size(),
                           p.split_column.empty() ? "" : " on " + p.split_column,
                           p.source_rows ? fmt::format(", {} source rows",
                                                       core::WithThousands(*p.source_rows))
                           : p.estimated_rows
                               ? fmt::format(", ~{} source rows (catalog estimate)",
                                             core::WithThousands(*p.estimated_rows))
                               : "");
  for (const importer::PlannedSplit& s : p.splits) {
    std::cout << fmt::format("  split {} (~{} rows): {}\n", s.split.index,
                             core::WithThousands(s.split.estimated_rows), s.sql);
  }
}

void PrintSummary(const importer::ImportResult& r, const std::string& lake_uri) {
  double secs = std::max(r.seconds, 1e-6);
  std::cout << fmt::format(
      "Imported {} rows ({}) into {}{} in {:.2f} s: {:.0f} rows/s, {:.1f} MB/s\n",
      core::WithThousands(r.rows), core::HumanBytes(static_cast<double>(r.bytes)), lake_uri,
      r.plan.target, r.seconds, r.rows / secs, r.bytes / 1e6 / secs);
  if (r.merged_old_rows > 0) {
    std::cout << fmt::format("  merged: kept {} unchanged rows of the previous dataset\n",
                             core::WithThousands(r.merged_old_rows));
  }
  if (r.plan.new_last_value) {
    std::cout << fmt::format("  incremental: next --last-value {}\n", *r.plan.new_last_value);
  }
  for (const std::string& f : r.files) std::cout << "  " << f << "\n";
}

StatusOr<importer::ImportResult> ImportOne(const importer::ImportOptions& o,
                                           const std::string& lake_uri) {
  ASSIGN_OR_RETURN(std::unique_ptr<lake::Storage> fs, OpenLake(lake_uri));
  ASSIGN_OR_RETURN(importer::ImportResult r, importer::RunImport(o, fs.get()));
  if (o.dry_run) {
    PrintPlan(r);
  } else {
    PrintSummary(r, fs->Uri());
  }
  return r;
}

Status RunImportAllTables(const ImportFlags& f, const Globals& g) {
  ASSIGN_OR_RETURN(importer::ImportOptions base, f.Options(g));
  ASSIGN_OR_RETURN(std::unique_ptr<source::Connection> conn, source::Connect(base.connect));
  ASSIGN_OR_RETURN(std::vector<std::string> tables, conn->ListTables());
  std::vector<std::string_view> excluded = Split(f.exclude_tables, ',', true);
  std::string warehouse = f.warehouse_dir.empty() ? "/user/sqoop" : f.warehouse_dir;
  int done = 0;
  for (const std::string& t : tables) {
    if (std::any_of(excluded.begin(), excluded.end(),
                    [&](std::string_view e) { return EqualsIgnoreCase(StripAsciiWhitespace(e), t); })) {
      continue;
    }
    importer::ImportOptions o = base;
    o.table = t;
    o.target_dir = StrCat(warehouse, "/", t);
    StatusOr<importer::ImportResult> r = ImportOne(o, f.LakeUri(g));
    if (!r.ok()) return Annotate(r.status(), StrCat("table ", t, " (", done, " of ", tables.size(),
                                                    " tables imported before it)"));
    ++done;
  }
  std::cout << fmt::format("Imported {} table(s) into {}\n", done, warehouse);
  return absl::OkStatus();
}

// --- Saved jobs -----------------------------------------------------------------

}  // namespace

std::string JobsDir(const Globals& g) {
  std::string d = g.config.GetString("import.jobs_dir");
  if (!d.empty()) return d;
  const char* home = std::getenv("HOME");
  return StrCat(home != nullptr ? home : ".", "/.comptoir/jobs");
}

namespace {

Status ValidJobName(const std::string& name) {
  if (name.empty() || name.size() > 100 ||
      name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") !=
          std::string::npos ||
      name[0] == '.') {
    return absl::InvalidArgumentError(
        StrCat("job name \"", name, "\" may use letters, digits, '_', '-' and '.' only"));
  }
  return absl::OkStatus();
}

StatusOr<nlohmann::json> LoadJob(const std::string& dir, const std::string& name) {
  RETURN_IF_ERROR(ValidJobName(name));
  std::ifstream in(StrCat(dir, "/", name, ".json"));
  if (!in) {
    return absl::NotFoundError(StrCat("no saved job \"", name, "\" in ", dir,
                                      " (see `comptoir job --list`)"));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  nlohmann::json j = nlohmann::json::parse(ss.str(), nullptr, false);
  if (j.is_discarded()) return absl::DataLossError(StrCat("job file for ", name, " is corrupt"));
  return j;
}

}  // namespace

StatusOr<std::vector<std::string>> SavedJobArgs(const Globals& g, const std::string& name) {
  ASSIGN_OR_RETURN(nlohmann::json j, LoadJob(JobsDir(g), name));
  if (!j.contains("args") || !j["args"].is_array()) return absl::DataLossError(StrCat("job file for ", name, " has no args"));
  return j["args"].get<std::vector<std::string>>();
}

namespace {

// Writes atomically (temporary file, fsync, rename).
Status SaveJob(const std::string& dir, const std::string& name, const nlohmann::json& j) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return ErrnoToStatus(ec.value(), StrCat("create ", dir));
  std::string path = StrCat(dir, "/", name, ".json");
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";  // errors may not be UTF-8
    out.flush();
    if (!out) return absl::ResourceExhaustedError(StrCat("cannot write ", tmp));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) return ErrnoToStatus(errno, "save job");
  return absl::OkStatus();
}

}  // namespace

void AddImportCommands(CLI::App* app, Globals* g, int* result) {
  auto f = std::make_shared<ImportFlags>();
  CLI::App* cmd = app->add_subcommand(
      "import", "Import a table or query into the lake (Flow A, Sqoop-compatible flags)");
  f->Add(cmd, false);
  cmd->callback([f, g, result] {
    Status s = [&]() -> Status {
      ASSIGN_OR_RETURN(importer::ImportOptions o, f->Options(*g));
      return ImportOne(o, f->LakeUri(*g)).status();
    }();
    *result = s.ok() ? 0 : Fail("import", s);
  });

  auto fa = std::make_shared<ImportFlags>();
  CLI::App* all = app->add_subcommand(
      "import-all-tables", "Import every table of the database into <warehouse-dir>/<table>");
  fa->Add(all, true);
  all->callback([fa, g, result] {
    Status s = RunImportAllTables(*fa, *g);
    *result = s.ok() ? 0 : Fail("import-all-tables", s);
  });

  // comptoir job --create NAME -- import ... | --exec NAME | --list | --show NAME | --delete NAME
  struct JobFlags {
    std::string create, exec, show, del;
    bool list = false;
    std::string coord;
    std::string wait = "0";
  };
  auto jf = std::make_shared<JobFlags>();
  CLI::App* job = app->add_subcommand("job", "Saved import jobs with incremental state");
  job->add_option("--create", jf->create, "Save a job: comptoir job --create NAME -- import ...");
  job->add_option("--exec", jf->exec, "Run a saved job; its last value advances on success");
  job->add_flag("--list", jf->list, "List saved jobs");
  job->add_option("--wait", jf->wait,
                  "With --exec: wait this long for a run of the same job to finish (default 0: fail at once)");
  job->add_option("--coord", jf->coord,
                  "Coordination URI for the job's lock and last value (default: config coord.uri, else local:// in "
                  "~/.comptoir/coord)");
  job->add_option("--show", jf->show, "Show a saved job");
  job->add_option("--delete", jf->del, "Delete a saved job");
  auto job_args = std::make_shared<std::vector<std::string>>();
  job->add_option("import", *job_args, "With --create: the saved command, after --: import ...");
  job->callback([jf, job_args, g, result] {
    std::string dir = JobsDir(*g);
    Status s = [&]() -> Status {
      if (!jf->create.empty()) {
        RETURN_IF_ERROR(ValidJobName(jf->create));
        std::vector<std::string> args = *job_args;
        if (args.empty() || args.front() != "import") {
          return absl::InvalidArgumentError(
              "--create needs the import after --: comptoir job --create NAME -- import ...");
        }
        if (LoadJob(dir, jf->create).ok()) {
          return absl::AlreadyExistsError(StrCat("job ", jf->create, " already exists"));
        }
        // A new job (even under an old name) starts a new incremental position.
        nlohmann::json j = {{"name", jf->create}, {"args", args}, {"created", fmt::format("{:.6f}", static_cast<double>(core::UnixMillis()) / 1000)}};
        RETURN_IF_ERROR(SaveJob(dir, jf->create, j));
        std::cout << "Saved job " << jf->create << " in " << dir << "\n";
        return absl::OkStatus();
      }
      if (jf->list) {
        std::error_code ec;
        std::vector<std::string> names;
        for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
          if (e.path().extension() == ".json") names.push_back(e.path().stem().string());
        }
        std::sort(names.begin(), names.end());
        for (const std::string& n : names) std::cout << n << "\n";
        return absl::OkStatus();
      }
      if (!jf->show.empty()) {
        ASSIGN_OR_RETURN(nlohmann::json j, LoadJob(dir, jf->show));
        std::cout << j.dump(2) << "\n";
        return absl::OkStatus();
      }
      if (!jf->del.empty()) {
        RETURN_IF_ERROR(LoadJob(dir, jf->del).status());
        std::filesystem::remove(StrCat(dir, "/", jf->del, ".json"));
        std::cout << "Deleted job " << jf->del << "\n";
        return absl::OkStatus();
      }
      if (!jf->exec.empty()) {
        ASSIGN_OR_RETURN(nlohmann::json j, LoadJob(dir, jf->exec));
        // One runner per job at a time (a lease in the coordination service): a
        // second --exec waits up to --wait, then fails naming the holder.
        ASSIGN_OR_RETURN(std::unique_ptr<coord::Coordinator> coordination, OpenCoordination(*g, jf->coord));
        std::string job_key =
            fmt::format("jobs/{}-{}", jf->exec, NameHash(dir + "/" + j.value("created", "")).substr(0, 8));
        ASSIGN_OR_RETURN(std::chrono::milliseconds wait, ParseDuration(jf->wait));
        StatusOr<std::unique_ptr<coord::Lock>> lease =
            coordination->Acquire(job_key, fmt::format("{} pid {}", HostName(), getpid()), wait);
        if (!lease.ok()) {
          return absl::FailedPreconditionError(
              StrCat("job ", jf->exec, " is already running: ", lease.status().message(),
                     "; wait for it (--wait 10m) or check `comptoir health`"));
        }
        // Read again under the lease: a run that held it may have recorded its outcome.
        ASSIGN_OR_RETURN(j, LoadJob(dir, jf->exec));
        // The incremental position: the coordination service's copy (written with
        // compare-and-set), else the job file's.
        StatusOr<coord::Versioned> stored = coordination->Get(job_key + "/last_value");
        int64_t version = coord::kNoVersion;
        if (stored.ok()) {
          j["last_value"] = stored->value;
          version = stored->version;
        } else if (!absl::IsNotFound(stored.status())) {
          return stored.status();
        }
        std::vector<std::string> args = j["args"].get<std::vector<std::string>>();
        if (j.contains("last_value")) {
          args.push_back("--last-value");
          args.push_back(j["last_value"].get<std::string>());
        }
        // Parse the saved import with the import command's own parser.
        auto flags = std::make_shared<ImportFlags>();
        CLI::App sub("saved import");
        flags->Add(&sub, false);
        std::vector<std::string> rev(args.rbegin(), args.rend() - 1);  // without "import"
        auto started = std::chrono::steady_clock::now();
        Status st = [&]() -> Status {
          try {
            sub.parse(rev);
          } catch (const CLI::ParseError& e) {
            return absl::InvalidArgumentError(StrCat("saved job ", jf->exec, ": ", e.what()));
          }
          ASSIGN_OR_RETURN(importer::ImportOptions o, flags->Options(*g));
          ASSIGN_OR_RETURN(importer::ImportResult r, ImportOne(o, flags->LakeUri(*g)));
          if (r.plan.new_last_value) {
            // Advances only after the commit, and only over the value this run started from.
            StatusOr<int64_t> written =
                coordination->CompareAndSet(job_key + "/last_value", *r.plan.new_last_value, version);
            if (!written.ok()) {
              return absl::AbortedError(StrCat("job ", jf->exec, ": the import is published but its last value changed "
                                               "while it ran (", written.status().message(), "); run `job --exec ",
                                               jf->exec, "` again: it starts from the newest value"));
            }
          }
          nlohmann::json done = j;
          if (r.plan.new_last_value) done["last_value"] = *r.plan.new_last_value;
          done["last_run"] = {{"result", "ok"}, {"rows", r.rows}, {"seconds", r.seconds},
                              {"finished_at", core::UnixMillis() / 1000}};
          done["last_success"] = done["last_run"];
          RETURN_IF_ERROR(SaveJob(dir, jf->exec, done));
          return absl::OkStatus();
        }();
        if (!st.ok()) {
          // A failed run is recorded too (for `health` and `job --show`); its
          // last value and last success stay as they were.
          j["last_run"] = {{"result", "failed"},
                           {"error", std::string(st.message())},
                           {"seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count()},
                           {"finished_at", core::UnixMillis() / 1000}};
          Status saved = SaveJob(dir, jf->exec, j);
          if (!saved.ok()) std::cerr << "job: cannot record the failed run: " << saved.message() << "\n";
        }
        return st;
      }
      return absl::InvalidArgumentError(
          "give one of --create NAME, --exec NAME, --list, --show NAME, --delete NAME");
    }();
    *result = s.ok() ? 0 : Fail("job", s);
  });
}

}  // namespace comptoir::cli
