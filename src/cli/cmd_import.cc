// comptoir import / import-all-tables / job: Flow A with Sqoop's flags.
#include <algorithm>
#include <charconv>
#include <iostream>

#include "common.h"
#include "comptoir/coord/coordinator.h"
#include "comptoir/core/files.h"
#include "comptoir/core/progress.h"
#include "comptoir/importer/importer.h"
#include "comptoir/importer/jobs.h"
#include "comptoir/quality/rules.h"
#include "fmt/format.h"

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

  void Add(Command& cmd, bool all_tables) {
    conn.Add(cmd);
    if (all_tables) {
      cmd.Option("--warehouse-dir", &warehouse_dir,
                 "Parent lake directory; each table goes to <dir>/<table> (default /user/sqoop)");
      cmd.Option("--exclude-tables", &exclude_tables, "Comma-separated tables to skip");
    } else {
      cmd.Option("--table", &table, "Table to import");
      cmd.Option("--columns", &columns, "Comma-separated columns to import (default: all)");
      cmd.Option("--where", &where, "SQL condition selecting the rows of --table");
      cmd.Option("--query,-e", &query, "Free-form SELECT with $CONDITIONS in its WHERE (needs --target-dir)");
      cmd.Option("--target-dir", &target_dir, "Lake directory to write (default /user/sqoop/<table>)");
      cmd.Option("--warehouse-dir", &warehouse_dir, "Parent lake directory: the target is <dir>/<table>");
      cmd.Flag("--append", &append, "Add new part files to an existing target");
      cmd.Option("--incremental", &incremental, "Incremental mode: append or lastmodified");
      cmd.Option("--check-column", &check_column, "Column that tells new/changed rows");
      cmd.Option("--last-value", &last_value, "Largest --check-column value already imported");
      cmd.Option("--merge-key", &merge_key, "With lastmodified: key whose newest row wins in the merged dataset");
      cmd.Option("--split-by", &split_by, "Column to split on (default: the primary key)");
      cmd.Option("--boundary-query", &boundary_query, "Query returning (min, max) of the split column");
    }
    cmd.Option("--lake", &lake, "Lake URI or directory (default: config `lake`, ./lake)");
    cmd.Flag("--delete-target-dir", &delete_target_dir,
             "Replace the target's dataset (atomically, once the import committed)");
    cmd.Option("-m,--num-mappers", &num_mappers, "Parallel readers, one part file each (default 4)");
    cmd.Option("--fetch-size", &fetch_size, "Rows per network round trip (hint)");
    cmd.Flag("--validate", &validate, "Fail unless the rows written equal the source's row count (same predicate)");
    cmd.Flag("--dry-run", &dry_run, "Print the plan (splits, queries, row counts) and stop");
    cmd.Option("--fields-terminated-by", &fields_terminated_by, "Field delimiter (Sqoop)");
    cmd.Option("--lines-terminated-by", &lines_terminated_by, "Line delimiter (Sqoop)");
    cmd.Option("--enclosed-by", &enclosed_by, "Enclose every field with this character");
    cmd.Option("--optionally-enclosed-by", &optionally_enclosed_by,
               "Enclose fields that contain a delimiter with this character");
    cmd.Option("--escaped-by", &escaped_by, "Escape character (Sqoop)");
    cmd.Flag("--mysql-delimiters", &mysql_delimiters, "MySQL's defaults: , \\n escaped-by \\ optionally-enclosed-by '");
    cmd.Option("--null-string", &null_string, "Text for NULL in string columns");
    cmd.Option("--null-non-string", &null_non_string, "Text for NULL in other columns");
    cmd.Flag("--as-textfile", &as_textfile, "Delimited text (the default)");
    cmd.Flag("--as-avrodatafile", &as_avrodatafile, "Avro data files");
    cmd.Flag("-z,--compress", &compress, "Compress the part files");
    cmd.Option("--compression-codec", &compression_codec, "gzip (default) or zstd");
  }

  // Any of Sqoop's format flags: Sqoop's rules and value spelling, byte for byte.
  Status SqoopFormat(importer::ImportOptions* out) const {
    importer::ImportOptions& o = *out;
    bool sqoop = !fields_terminated_by.empty() || !lines_terminated_by.empty() ||
                 !enclosed_by.empty() || !optionally_enclosed_by.empty() || !escaped_by.empty() ||
                 mysql_delimiters || null_string || null_non_string;
    if (!sqoop) return absl::OkStatus();
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
    return absl::OkStatus();
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
    RETURN_IF_ERROR(SqoopFormat(&o));
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
    ASSIGN_OR_RETURN(o.rules, quality::LoadRules(g.config_path, g.config_explicit));
    return o;
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
  if (r.quality) {
    const quality::RunRecord& q = *r.quality;
    std::cout << fmt::format("  quality (run {}): {} rows checked, {} published, {} rejected{}, {} warned\n", q.run,
                             core::WithThousands(q.rows_in), core::WithThousands(q.rows_out),
                             core::WithThousands(q.rejected),
                             q.rejected > 0 ? fmt::format(" (in {}/_rejects/{}/)", r.plan.target, q.run) : "",
                             core::WithThousands(q.warned));
    for (const quality::RuleResult& rule : q.rules) {
      if (rule.failed > 0) {
        std::cout << fmt::format("    {} ({}, {}): {} failed\n", rule.name, rule.describe, rule.action,
                                 core::WithThousands(rule.failed));
      }
    }
  }
  for (const std::string& f : r.files) std::cout << "  " << f << "\n";
}

StatusOr<importer::ImportResult> ImportOne(const importer::ImportOptions& o, const ImportFlags& f, const Globals& g) {
  ASSIGN_OR_RETURN(std::unique_ptr<lake::Storage> fs, lake::OpenConfiguredLake(g.config, f.lake));
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
  std::string warehouse = f.warehouse_dir.empty() ? std::string(core::kSqoopWarehouse) : f.warehouse_dir;
  int done = 0;
  for (const std::string& t : tables) {
    if (std::any_of(excluded.begin(), excluded.end(),
                    [&](std::string_view e) { return EqualsIgnoreCase(StripAsciiWhitespace(e), t); })) {
      continue;
    }
    importer::ImportOptions o = base;
    o.table = t;
    o.target_dir = StrCat(warehouse, "/", t);
    StatusOr<importer::ImportResult> r = ImportOne(o, f, g);
    if (!r.ok()) {
      return Annotate(r.status(), StrCat("table ", t, " (", done, " of ", tables.size(), " tables imported before it)"));
    }
    ++done;
  }
  std::cout << fmt::format("Imported {} table(s) into {}\n", done, warehouse);
  return absl::OkStatus();
}

// comptoir job --create NAME -- import ... | --exec NAME | --list | --show NAME | --delete NAME
struct JobFlags {
  std::string create, exec, show, del;
  bool list = false;
  std::string coord;
  std::chrono::milliseconds wait{0};
  std::vector<std::string> args;  // with --create: import ...
};

// Parses a saved import with the import command's own parser and runs it.
StatusOr<importer::ImportRun> RunSavedImport(const std::string& job, const std::vector<std::string>& args,
                                             Globals* g) {
  DetachedCommand saved("saved import", g);
  ImportFlags flags;
  flags.Add(saved.command(), false);
  if (Status s = saved.Parse(args); !s.ok()) return Annotate(s, StrCat("saved job ", job));
  ASSIGN_OR_RETURN(importer::ImportOptions o, flags.Options(*g));
  ASSIGN_OR_RETURN(importer::ImportResult r, ImportOne(o, flags, *g));
  return importer::ImportRun{static_cast<int64_t>(r.rows), r.seconds, r.plan.new_last_value};
}

Status RunJob(const JobFlags& f, Globals* g) {
  importer::JobStore store(importer::JobsDir(g->config));
  if (!f.create.empty()) {
    RETURN_IF_ERROR(store.Create(f.create, f.args).status());
    std::cout << "Saved job " << f.create << " in " << store.dir() << "\n";
    return absl::OkStatus();
  }
  if (f.list) {
    // A damaged job file is listed with what is wrong, not as a good job.
    for (const std::string& name : store.List()) {
      StatusOr<importer::JobRecord> job = store.Load(name);
      std::cout << (job.ok() ? name : fmt::format("{}  (damaged: {})", name, std::string(job.status().message())))
                << "\n";
    }
    return absl::OkStatus();
  }
  if (!f.show.empty()) {
    ASSIGN_OR_RETURN(importer::JobRecord job, store.Load(f.show));
    ASSIGN_OR_RETURN(std::string text, core::ReadFile(store.PathOf(job.name)));
    std::cout << text;
    return absl::OkStatus();
  }
  if (!f.del.empty()) {
    RETURN_IF_ERROR(store.Delete(f.del));
    std::cout << "Deleted job " << f.del << "\n";
    return absl::OkStatus();
  }
  if (!f.exec.empty()) {
    ASSIGN_OR_RETURN(std::unique_ptr<coord::Coordinator> coordination,
                     coord::OpenConfiguredCoordinator(g->config, f.coord));
    return importer::ExecJob(store, f.exec, coordination.get(), f.wait,
                             [&](const std::vector<std::string>& args) { return RunSavedImport(f.exec, args, g); })
        .status();
  }
  return absl::InvalidArgumentError("give one of --create NAME, --exec NAME, --list, --show NAME, --delete NAME");
}

}  // namespace

std::vector<CommandDef> ImportCommands() {
  return {
      {{.name = "import",
        .help = "Import a table or query into the lake (Flow A, Sqoop-compatible flags)",
        .start_rank = 2,
        .needs = {{"database"}, {"lake"}}},
       [](Command& cmd) {
         auto f = std::make_shared<ImportFlags>();
         f->Add(cmd, false);
         const Globals* g = &cmd.globals();
         cmd.Action([f, g]() -> Status {
           ASSIGN_OR_RETURN(importer::ImportOptions o, f->Options(*g));
           return ImportOne(o, *f, *g).status();
         });
       }},
      {{.name = "import-all-tables",
        .help = "Import every table of the database into <warehouse-dir>/<table>",
        .start_rank = 2,
        .needs = {{"database"}, {"lake"}}},
       [](Command& cmd) {
         auto f = std::make_shared<ImportFlags>();
         f->Add(cmd, true);
         const Globals* g = &cmd.globals();
         cmd.Action([f, g] { return RunImportAllTables(*f, *g); });
       }},
      {{.name = "job",
        .help = "Saved import jobs with incremental state",
        .start_rank = 2,
        .needs = {{"database"}, {"lake"}, {"coord"}}},
       [](Command& cmd) {
         auto f = std::make_shared<JobFlags>();
         cmd.Option("--create", &f->create, "Save a job: comptoir job --create NAME -- import ...");
         cmd.Option("--exec", &f->exec, "Run a saved job; its last value advances on success");
         cmd.Flag("--list", &f->list, "List saved jobs");
         cmd.Duration("--wait", &f->wait,
                      "With --exec: wait this long for a run of the same job to finish (default 0: fail at once)");
         cmd.Option("--coord", &f->coord,
                    "Coordination URI for the job's lock and last value (default: config coord.uri, else local:// in "
                    "~/.comptoir/coord)");
         cmd.Option("--show", &f->show, "Show a saved job");
         cmd.Option("--delete", &f->del, "Delete a saved job");
         cmd.Option("import", &f->args, "With --create: the saved command, after --: import ...");
         Globals* g = &cmd.globals();
         cmd.Action([f, g] { return RunJob(*f, g); });
       }},
  };
}

}  // namespace comptoir::cli
