#include <fmt/format.h>

#include <chrono>

#include "comptoir/analytics/sales.h"
#include "comptoir/core/progress.h"
#include "comptoir/core/strings.h"
#include "comptoir/core/time.h"
#include "comptoir/lake/publish.h"
#include "comptoir/views/views.h"
#include "nlohmann/json.hpp"
#include "spdlog/spdlog.h"

namespace comptoir::views {
namespace {

using analytics::ViewManifest;

// A view part holds at most this many records.
constexpr size_t kRecordsPerPart = 4'000'000;

// The records of the embedded engine, written as text parts of the publication.
Status WriteEmbedded(lake::Storage* lake, const BuildOptions& o, lake::Publication* pub, ViewManifest* m) {
  analytics::SalesDataset raw(lake, o.source.empty() ? std::string(core::kSalesDir) : o.source,
                              analytics::SalesFrom::kRows);
  RETURN_IF_ERROR(raw.Refresh());
  std::shared_ptr<const analytics::Snapshot> snap = raw.snapshot();
  analytics::ViewTable t = analytics::ComputeSalesView(*snap);
  m->source_rows = t.source_rows, m->orders = t.orders, m->groups = t.groups(), m->split_orders = t.split_orders;
  m->records = static_cast<int64_t>(t.size());
  core::Progress bar("writing the view", t.size(), "records", o.quiet);
  std::unique_ptr<lake::WritableFile> out;
  std::string buf;
  int part = 0;
  size_t in_part = 0;
  auto flush = [&]() -> Status {
    if (buf.empty()) return absl::OkStatus();
    RETURN_IF_ERROR(out->Append(buf));
    bar.Add(0, buf.size());
    buf.clear();
    return absl::OkStatus();
  };
  for (size_t i = 0; i < t.size(); ++i) {
    if (out == nullptr || in_part >= kRecordsPerPart) {
      if (out != nullptr) {
        RETURN_IF_ERROR(flush());
        RETURN_IF_ERROR(out->Close());
      }
      ASSIGN_OR_RETURN(out, pub->Create(fmt::format("part-m-{:05d}", part++)));
      in_part = 0;
    }
    buf += analytics::ViewRecordText(t.Record(i));
    buf.push_back('\n');
    ++in_part;
    bar.Add(1, 0);
    if (buf.size() >= (1u << 20)) RETURN_IF_ERROR(flush());
  }
  if (out == nullptr) {  // an empty dataset: an empty view
    ASSIGN_OR_RETURN(out, pub->Create("part-m-00000"));
  }
  RETURN_IF_ERROR(flush());
  RETURN_IF_ERROR(out->Close());
  bar.Finish();
  return absl::OkStatus();
}

// The daily view of the archive, one text part.
Status WriteEmbeddedDaily(lake::Storage* lake, const std::string& source, lake::Publication* pub, ViewManifest* m) {
  ASSIGN_OR_RETURN(analytics::DailyTable t, analytics::ComputeTransactionsView(lake, source));
  m->source_rows = t.events;
  m->records = static_cast<int64_t>(t.records.size());
  std::string text;
  for (const analytics::DailyRecord& r : t.records) text += analytics::DailyRecordText(r) + "\n";
  ASSIGN_OR_RETURN(std::unique_ptr<lake::WritableFile> out, pub->Create("part-m-00000"));
  RETURN_IF_ERROR(out->Append(text));
  return out->Close();
}

// Spark writes its parts under the publication's staging directory; they
// are renamed to the lake's part names there, so the commit publishes them.
Status WriteWithSpark(lake::Storage* lake, const BuildOptions& o, const std::string& source, const std::string& job,
                      lake::Publication* pub, ViewManifest* m, std::string* driver_log) {
  std::string out_dir = lake::JoinPath(pub->staging_dir(), ".spark");
  ASSIGN_OR_RETURN(std::string source_uri, HadoopUri(lake, source));
  ASSIGN_OR_RETURN(std::string out_uri, HadoopUri(lake, out_dir));
  SparkOptions spark = o.spark;
  // Shuffle partitions of about 128 MiB of input (Spark's 200 by default
  // costs more than the work on a small dataset), unless the user chose.
  bool chosen = std::any_of(spark.conf.begin(), spark.conf.end(),
                            [](const std::string& c) { return c.starts_with("spark.sql.shuffle.partitions="); });
  if (!chosen) {
    uint64_t bytes = 0;
    for (const analytics::InputPart& p : m->input.parts) bytes += p.size;
    spark.conf.push_back(fmt::format("spark.sql.shuffle.partitions={}", std::clamp<uint64_t>(bytes >> 27, 2, 2000)));
  }
  StatusOr<SparkRun> run = RunSparkJob(spark, job, {source_uri, out_uri}, fmt::format("the {} view", m->view), o.quiet);
  if (!run.ok()) return run.status();
  *driver_log = run->driver_log;
  nlohmann::json r = nlohmann::json::parse(run->result_line, nullptr, false);
  if (!r.is_object()) {
    return absl::InternalError(fmt::format("the Spark job ended without its result line; see {}", run->driver_log));
  }
  m->records = r.value("records", int64_t{0}), m->source_rows = r.value("source_rows", int64_t{0});
  m->orders = r.value("orders", int64_t{0}), m->groups = r.value("groups", int64_t{0});
  m->split_orders = r.value("split_orders", int64_t{0});
  m->spark_master = o.spark.master;
  m->spark_app = run->application;
  ASSIGN_OR_RETURN(std::vector<lake::FileInfo> files, lake->List(out_dir));
  std::vector<std::string> parts;
  for (const lake::FileInfo& f : files) {
    if (!f.is_dir && f.name.starts_with("part-")) parts.push_back(f.name);
  }
  std::sort(parts.begin(), parts.end());
  for (size_t i = 0; i < parts.size(); ++i) {
    RETURN_IF_ERROR(lake->Rename(lake::JoinPath(out_dir, parts[i]),
                                 lake::JoinPath(pub->staging_dir(), fmt::format("part-m-{:05d}", i))));
  }
  return lake->Delete(out_dir, true);
}

}  // namespace

StatusOr<BuildResult> BuildView(lake::Storage* lake, const BuildOptions& o) {
  if (o.engine != "embedded" && o.engine != "spark") {
    return absl::InvalidArgumentError(fmt::format("--engine '{}' is not one of embedded, spark", o.engine));
  }
  if (o.view != "sales" && o.view != "transactions") {
    return absl::InvalidArgumentError(fmt::format("--view '{}' is not one of sales, transactions", o.view));
  }
  const bool sales = o.view == "sales";
  const std::string source = !o.source.empty() ? o.source : std::string(sales ? core::kSalesDir : core::kTransactionsDir);
  const std::string target = !o.target_dir.empty() ? o.target_dir : std::string(sales ? kSalesViewDir : kTransactionsViewDir);
  const int64_t t0 = core::UnixMillis();
  StatusOr<analytics::InputSignature> input = analytics::SignInput(lake, source, sales);
  if (absl::IsNotFound(input.status())) {
    return absl::NotFoundError(
        sales ? fmt::format("the input {} is missing in {}: import it first (comptoir import --table sales "
                            "--target-dir {})",
                            source, lake->Uri(), source)
              : fmt::format("the input {} is missing in {}: archive the transactions first (comptoir archive, or "
                            "serve --archive)",
                            source, lake->Uri()));
  }
  RETURN_IF_ERROR(input.status());
  BuildResult result;
  result.target_dir = target;
  if (!o.force) {
    StatusOr<ViewManifest> old = analytics::ReadViewManifest(lake, target);
    if (old.ok() && old->view == o.view && old->source == source && old->input.fingerprint == input->fingerprint) {
      result.skipped = true;
      result.manifest = *std::move(old);
      return result;
    }
  }
  ASSIGN_OR_RETURN(std::unique_ptr<lake::Publication> pub,
                   lake::Publication::Begin(lake, target, lake::PublishMode::kReplace));
  ViewManifest& m = result.manifest;
  m.view = o.view;
  m.engine = o.engine;
  m.source = source;
  m.lake = lake->Uri();
  m.input = *input;
  if (o.engine == "spark") {
    RETURN_IF_ERROR(WriteWithSpark(lake, o, source, sales ? "sales_views.py" : "transactions_daily.py", pub.get(), &m,
                                   &result.driver_log));
  } else if (sales) {
    RETURN_IF_ERROR(WriteEmbedded(lake, o, pub.get(), &m));
  } else {
    RETURN_IF_ERROR(WriteEmbeddedDaily(lake, source, pub.get(), &m));
  }
  // A dataset that changed while it was read: this view would mix two states.
  // (The archive only grows, file by file: a daily view holds what was there
  // when it was listed, and the next build adds what came since.)
  if (sales) {
    ASSIGN_OR_RETURN(analytics::InputSignature after, analytics::SignInput(lake, source));
    if (after.fingerprint != input->fingerprint) {
      return absl::FailedPreconditionError(fmt::format(
          "{} changed while the view was built (an import ran); nothing published, run `comptoir views build` again",
          source));
    }
  }
  m.built_at_ms = core::UnixMillis();
  m.build_ms = m.built_at_ms - t0;
  ASSIGN_OR_RETURN(std::unique_ptr<lake::WritableFile> schema, pub->Create(std::string(lake::kSchemaFile)));
  lake::DatasetSchema s = sales ? analytics::SalesViewSchema() : analytics::TransactionsViewSchema();
  s.source_url = lake->Uri() + source;
  s.last_import_rows = static_cast<uint64_t>(m.records);
  RETURN_IF_ERROR(schema->Append(s.ToJson()));
  RETURN_IF_ERROR(schema->Close());
  ASSIGN_OR_RETURN(std::unique_ptr<lake::WritableFile> manifest, pub->Create(std::string(analytics::kViewManifest)));
  RETURN_IF_ERROR(manifest->Append(m.ToJson()));
  RETURN_IF_ERROR(manifest->Close());
  RETURN_IF_ERROR(pub->Commit());
  return result;
}

StatusOr<BuildResult> BuildSalesView(lake::Storage* lake, const BuildOptions& o) {
  BuildOptions sales = o;
  sales.view = "sales";
  return BuildView(lake, sales);
}

}  // namespace comptoir::views
