#include "comptoir/agent/compact.h"

#include <fmt/format.h>
#include <re2/re2.h>

#include <algorithm>
#include <map>
#include <tuple>

#include "comptoir/core/time.h"
#include "comptoir/lake/publish.h"
#include "comptoir/core/strings.h"

namespace comptoir::agent {
namespace {

constexpr std::string_view kRecordPrefix = "_compacted-";

// A data file and where it sorts: earlier compacted files first, then the
// agent's files per source by byte range, then anything else by name.
struct Input {
  std::string name;
  std::string group;  // output suffix (incl. a codec extension)
  std::tuple<int, std::string, uint64_t, std::string> order;
  uint64_t size = 0;
};

Input Classify(const lake::FileInfo& f) {
  static const RE2 agent_re(R"(^(.*\.[0-9a-f]{16})\.(\d+)-(\d+)(.*)$)");
  static const RE2 compacted_re(R"(^compacted-(\d+)(.*)$)");
  Input in{f.name, "", {2, f.name, 0, f.name}, f.size};
  std::string source, rest, start_text, end_text;
  uint64_t n = 0;
  if (RE2::FullMatch(f.name, compacted_re, &n, &rest)) {
    in.group = rest;
    in.order = {0, "", n, f.name};
  } else if (RE2::FullMatch(f.name, agent_re, &source, &start_text, &end_text, &rest)) {
    in.group = rest;
    in.order = {1, source, std::stoull(start_text), f.name};
  } else {
    size_t dot = f.name.rfind('.');
    in.group = dot == std::string::npos || dot == 0 ? "" : f.name.substr(dot);
  }
  return in;
}

StatusOr<uint64_t> RecordNumber(std::string_view name) {
  uint64_t n = 0;
  if (!RE2::FullMatch(name.substr(kRecordPrefix.size()), R"((\d+))", &n)) {
    return absl::InvalidArgumentError(fmt::format("not a compaction record: {}", name));
  }
  return n;
}

struct Record {
  std::string output;  // name
  std::vector<std::string> inputs;
};

StatusOr<Record> ReadRecord(lake::Storage* lake, const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, lake::ReadFileToString(lake, path));
  Record r;
  for (std::string_view line : Split(text, '\n', true)) {
    if (line.empty()) continue;
    if (r.output.empty()) {
      r.output = std::string(line);
    } else {
      r.inputs.emplace_back(line);
    }
  }
  if (r.output.empty()) {
    return absl::DataLossError(fmt::format("{}: empty compaction record; delete it if no "
                                           "compaction is running",
                                           path));
  }
  return r;
}

// Finishes a committed compaction: the output under its final name, the
// inputs gone. Returns true when something had to be done.
StatusOr<bool> Finish(lake::Storage* lake, const std::string& dir, const Record& r) {
  bool acted = false;
  std::string final_path = lake::JoinPath(dir, r.output);
  std::string tmp = lake::JoinPath(dir, "." + r.output + ".tmp");
  ASSIGN_OR_RETURN(bool tmp_exists, lake::Exists(lake, tmp));
  if (tmp_exists) {
    RETURN_IF_ERROR(lake::PublishStagedFile(lake, tmp, final_path));
    acted = true;
  }
  for (const std::string& name : r.inputs) {
    if (name == r.output) continue;
    Status s = lake->Delete(lake::JoinPath(dir, name), false);
    if (s.ok()) {
      acted = true;
    } else if (!absl::IsNotFound(s)) {
      return s;
    }
  }
  return acted;
}

Status Concatenate(lake::Storage* lake, const std::string& dir, const std::vector<Input>& inputs,
                   const std::string& tmp) {
  lake::CreateOptions co;
  co.overwrite = true;
  ASSIGN_OR_RETURN(std::unique_ptr<lake::WritableFile> out, lake->Create(tmp, co));
  std::string buf(1 << 20, '\0');
  for (const Input& in : inputs) {
    ASSIGN_OR_RETURN(std::unique_ptr<lake::ReadableFile> f,
                     lake->Open(lake::JoinPath(dir, in.name)));
    uint64_t copied = 0;
    while (true) {
      ASSIGN_OR_RETURN(size_t n, f->Read(buf.data(), buf.size()));
      if (n == 0) break;
      RETURN_IF_ERROR(out->Append(std::string_view(buf.data(), n)));
      copied += n;
    }
    if (copied != in.size) {
      return absl::AbortedError(fmt::format("{}: changed while being compacted ({} bytes listed, "
                                            "{} read); run the compaction again later",
                                            lake::JoinPath(dir, in.name), in.size, copied));
    }
  }
  return out->Close();
}

}  // namespace

StatusOr<std::set<std::string>> Superseded(lake::Storage* lake, const std::string& dir) {
  std::set<std::string> names;
  StatusOr<std::vector<lake::FileInfo>> files = lake->List(dir);
  if (absl::IsNotFound(files.status())) return names;
  RETURN_IF_ERROR(files.status());
  for (const lake::FileInfo& f : *files) {
    if (f.is_dir || !f.name.starts_with(kRecordPrefix)) continue;
    ASSIGN_OR_RETURN(Record r, ReadRecord(lake, f.path));
    names.insert(r.inputs.begin(), r.inputs.end());
  }
  return names;
}

StatusOr<std::vector<CompactResult>> CompactDirectory(lake::Storage* lake, const std::string& dir_in,
                                                      const CompactOptions& options) {
  ASSIGN_OR_RETURN(std::string dir, lake::NormalizePath(dir_in));
  std::vector<CompactResult> results;
  ASSIGN_OR_RETURN(std::vector<lake::FileInfo> files, lake->List(dir));
  // 1. Finish what a crash interrupted; find the next record number.
  uint64_t next = 1;
  std::set<std::string> records;
  for (const lake::FileInfo& f : files) {
    if (f.is_dir || !f.name.starts_with(kRecordPrefix)) continue;
    ASSIGN_OR_RETURN(uint64_t n, RecordNumber(f.name));
    next = std::max(next, n + 1);
    records.insert(f.name);
    if (options.dry_run) continue;
    ASSIGN_OR_RETURN(Record r, ReadRecord(lake, f.path));
    ASSIGN_OR_RETURN(bool acted, Finish(lake, dir, r));
    if (acted) {
      results.push_back({dir, lake::JoinPath(dir, r.output), r.inputs, 0, true});
    }
  }
  if (!results.empty()) {
    ASSIGN_OR_RETURN(files, lake->List(dir));
  }
  // 2. Uncommitted temporaries of an earlier run, and whether the directory is closed.
  int64_t newest = 0;
  std::map<std::string, std::vector<Input>> groups;
  for (const lake::FileInfo& f : files) {
    if (f.is_dir || f.name.starts_with(kRecordPrefix)) continue;
    if (f.name.starts_with(".compacted-") && f.name.ends_with(".tmp")) {
      if (!options.dry_run) RETURN_IF_ERROR(lake->Delete(f.path, false));
      continue;
    }
    newest = std::max(newest, f.mtime_ms);
    if (lake::IsHiddenName(f.name)) continue;
    Input in = Classify(f);
    groups[in.group].push_back(std::move(in));
  }
  if (core::UnixMillis() - newest < options.min_age.count()) return results;
  // 3. One output per suffix (a codec's files are never mixed with another's).
  for (auto& [suffix, inputs] : groups) {
    if (inputs.size() < 2) continue;
    std::sort(inputs.begin(), inputs.end(),
              [](const Input& a, const Input& b) { return a.order < b.order; });
    std::string output = fmt::format("compacted-{:05d}{}", next, suffix);
    std::string record = fmt::format("{}{:05d}", kRecordPrefix, next);
    ++next;
    CompactResult r{dir, lake::JoinPath(dir, output), {}, 0, false};
    std::string text = output + "\n";
    for (const Input& in : inputs) {
      r.inputs.push_back(in.name);
      r.bytes += in.size;
      text += in.name + "\n";
    }
    if (!options.dry_run) {
      std::string tmp = lake::JoinPath(dir, "." + output + ".tmp");
      Status written = Concatenate(lake, dir, inputs, tmp);
      if (!written.ok()) {
        (void)lake->Delete(tmp, false);
        return written;
      }
      RETURN_IF_ERROR(lake::WriteStringToFile(lake, lake::JoinPath(dir, record), text));
      RETURN_IF_ERROR(Finish(lake, dir, Record{output, r.inputs}).status());
    }
    results.push_back(std::move(r));
  }
  return results;
}

StatusOr<std::vector<CompactResult>> CompactTree(lake::Storage* lake, const std::string& root,
                                                 const CompactOptions& options) {
  ASSIGN_OR_RETURN(std::vector<CompactResult> results, CompactDirectory(lake, root, options));
  ASSIGN_OR_RETURN(std::vector<lake::FileInfo> files, lake->List(root));
  for (const lake::FileInfo& f : files) {
    if (!f.is_dir || lake::IsHiddenName(f.name)) continue;
    ASSIGN_OR_RETURN(std::vector<CompactResult> more, CompactTree(lake, f.path, options));
    for (CompactResult& r : more) results.push_back(std::move(r));
  }
  return results;
}

}  // namespace comptoir::agent
