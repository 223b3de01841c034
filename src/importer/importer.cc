#include "comptoir/importer/importer.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_set>

#include "comptoir/core/decimal.h"
#include "comptoir/core/progress.h"
#include "comptoir/core/signals.h"
#include "comptoir/core/time.h"
#include "comptoir/core/uri.h"
#include "comptoir/lake/dataset.h"
#include "comptoir/lake/publish.h"
#include "comptoir/quality/quarantine.h"
#include "fmt/format.h"
#include "spdlog/spdlog.h"

namespace comptoir::importer {
namespace {

using source::Column;
using source::ColumnKind;
using source::Connection;

constexpr size_t kFlushBytes = 1 << 18;
constexpr char kConditions[] = "$CONDITIONS";

std::string ReplaceAll(std::string s, std::string_view from, std::string_view to) {
  for (size_t pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size())) {
    s.replace(pos, from.size(), to);
  }
  return s;
}

bool IsNumericKind(ColumnKind k) {
  return k == ColumnKind::kInt || k == ColumnKind::kDecimal || k == ColumnKind::kFloat;
}

bool LooksNumeric(std::string_view v) {
  if (v.empty()) return false;
  for (char c : v) {
    if (!((c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E')) {
      return false;
    }
  }
  return true;
}

// Finds `name` among `columns` (exactly, then ignoring case).
const Column* FindColumn(const std::vector<Column>& columns, std::string_view name) {
  for (const Column& c : columns) {
    if (c.name == name) return &c;
  }
  for (const Column& c : columns) {
    if (EqualsIgnoreCase(c.name, name)) return &c;
  }
  return nullptr;
}

std::string ColumnNames(const std::vector<Column>& columns) {
  std::vector<std::string> names;
  for (const Column& c : columns) names.push_back(c.name);
  return Join(names, ", ");
}

// Turns one database value into its lake text.
class ValueFormatter {
 public:
  // `raw_binary`: binary columns stay raw bytes (Avro) instead of base64.
  ValueFormatter(const Column& c, bool sqoop, bool raw_binary)
      : c_(c), sqoop_(sqoop), raw_binary_(raw_binary) {}

  // Sets `*out` to the lake text of `v`: `v` itself when no conversion is
  // needed (the common case, no copy), else a view of `*scratch`. Returns
  // false when the value must be written as NULL (MySQL zero dates).
  bool Format(std::string_view v, std::string_view* out, std::string* scratch,
              std::atomic<uint64_t>* zero_dates) const {
    *out = v;
    switch (c_.kind) {
      case ColumnKind::kDecimal:
        if (c_.scale > 0 && !core::HasScale(v, c_.scale)) {
          StatusOr<std::string> d = core::NormalizeDecimal(v, c_.scale);
          if (d.ok()) *out = *scratch = *std::move(d);
        }
        return true;
      case ColumnKind::kDate:
      case ColumnKind::kDateTime:
      case ColumnKind::kTimestampTz:
        if (v.starts_with("0000-00-00")) {
          zero_dates->fetch_add(1, std::memory_order_relaxed);
          return false;
        }
        if (c_.kind != ColumnKind::kDate && v.size() >= 19 && v[10] == ' ') {
          scratch->assign(v);
          if (sqoop_) {
            // java.sql.Timestamp.toString(), as Sqoop writes it.
            if (scratch->find('.', 19) == std::string::npos) scratch->append(".0");
          } else {
            (*scratch)[10] = 'T';  // ISO 8601
          }
          *out = *scratch;
        }
        return true;
      case ColumnKind::kBinary:
        if (v.starts_with("\\x")) {  // PostgreSQL bytea hex output
          std::string raw;
          raw.reserve(v.size() / 2);
          for (size_t i = 2; i + 1 < v.size(); i += 2) {
            unsigned byte = 0;
            std::from_chars(v.data() + i, v.data() + i + 2, byte, 16);
            raw.push_back(static_cast<char>(byte));
          }
          *scratch = raw_binary_ ? std::move(raw) : Base64(raw);
        } else if (raw_binary_) {
          return true;
        } else {
          *scratch = Base64(v);
        }
        *out = *scratch;
        return true;
      case ColumnKind::kBool:
        if (v == "t" || v == "f") *out = v == "t" ? "true" : "false";
        return true;
      default:
        return true;
    }
  }

 private:
  const Column& c_;
  bool sqoop_;
  bool raw_binary_;
};

// `datetime_as_instant`: an --append to Avro parts written before zone-less
// DATETIMEs were `local-timestamp-micros` keeps their `timestamp-micros`, so
// one dataset never mixes the two.
lake::AvroField AvroFieldFor(const Column& c, bool datetime_as_instant) {
  lake::AvroField f;
  f.name = c.name;
  switch (c.kind) {
    case ColumnKind::kBool:
      f.type = lake::AvroType::kBoolean;
      break;
    case ColumnKind::kInt:
      // UNSIGNED BIGINT does not fit a signed long: keep its digits.
      f.type = c.is_unsigned && ToLower(c.sql_type).starts_with("bigint") ? lake::AvroType::kString
                                                                           : lake::AvroType::kLong;
      break;
    case ColumnKind::kDecimal:
      if (c.precision > 0) {
        f.type = lake::AvroType::kDecimal;
        f.precision = c.precision;
        f.scale = c.scale;
      } else {
        f.type = lake::AvroType::kString;  // NUMERIC without a declared scale
      }
      break;
    case ColumnKind::kFloat:
      f.type = lake::AvroType::kDouble;
      break;
    case ColumnKind::kDate:
      f.type = lake::AvroType::kDate;
      break;
    case ColumnKind::kDateTime:
      f.type = datetime_as_instant ? lake::AvroType::kTimestampMicros : lake::AvroType::kLocalTimestampMicros;
      break;
    case ColumnKind::kTimestampTz:
      f.type = lake::AvroType::kTimestampMicros;
      break;
    case ColumnKind::kBinary:
      f.type = lake::AvroType::kBytes;
      break;
    default:
      f.type = lake::AvroType::kString;
  }
  return f;
}

std::vector<lake::AvroField> AvroFieldsFor(const ImportPlan& plan, bool datetime_as_instant) {
  std::vector<lake::AvroField> fields;
  for (const Column& c : plan.columns) fields.push_back(AvroFieldFor(c, datetime_as_instant));
  return fields;
}

// The data-quality side of a run: the target's rules, and where rejects go.
struct Quality {
  std::optional<quality::RowChecker> checker;  // the rules' counts, once every split added its fork's
  std::string run;                             // run id: _rejects/<run>/
  lake::DatasetSchema rejects_schema;
  std::mutex mu;
  std::atomic<uint64_t> rejected{0}, warned{0}, failed_rows{0};
  std::string first_failure;  // the first `fail` verdict's reason
};

struct Shared {
  std::vector<lake::AvroField> avro_fields;  // Avro parts: the writer's fields
  Quality quality;
  std::atomic<uint64_t> rows{0};
  std::atomic<uint64_t> bytes{0};
  std::atomic<uint64_t> zero_dates{0};
  std::mutex keys_mu;
  std::unordered_set<std::string> merge_keys;  // merge-key values seen in new rows
};

class Planner {
 public:
  Planner(const ImportOptions& o, Connection* conn) : o_(o), conn_(conn) {}

  StatusOr<ImportPlan> Plan() {
    ImportPlan plan;
    if (o_.query.empty() == o_.table.empty()) {
      return absl::InvalidArgumentError("give exactly one of --table and --query");
    }
    if (!o_.query.empty()) {
      if (o_.query.find(kConditions) == std::string::npos) {
        return absl::InvalidArgumentError(
            "--query must contain $CONDITIONS in its WHERE clause (e.g. \"SELECT ... WHERE "
            "$CONDITIONS\"), as with Sqoop");
      }
      if (o_.target_dir.empty()) return absl::InvalidArgumentError("--query needs --target-dir");
      if (!o_.where.empty() || !o_.columns.empty()) {
        return absl::InvalidArgumentError(
            "--where and --columns apply to --table; put them in the --query instead");
      }
      ASSIGN_OR_RETURN(plan.columns, conn_->DescribeQuery(ReplaceAll(o_.query, kConditions, "1=0")));
    } else {
      ASSIGN_OR_RETURN(source::TableInfo info, conn_->DescribeTable(o_.table));
      table_ = info.name;
      pk_ = info.primary_key;
      if (o_.columns.empty()) {
        plan.columns = info.columns;
      } else {
        for (const std::string& name : o_.columns) {
          const Column* c = FindColumn(info.columns, name);
          if (c == nullptr) {
            return absl::NotFoundError(StrCat("--columns: column \"", name,
                                              "\" does not exist in table ", table_, " (columns: ",
                                              ColumnNames(info.columns), ")"));
          }
          plan.columns.push_back(*c);
        }
      }
      all_columns_ = info.columns;
    }
    for (const Column& c : plan.columns) {
      if (!c.supported) {
        return absl::UnimplementedError(
            StrCat("column \"", c.name, "\" has type ", c.sql_type,
                   ", which comptoir cannot import yet; leave it out with --columns"));
      }
    }
    plan.target = o_.target_dir.empty() ? StrCat("/user/sqoop/", table_) : o_.target_dir;
    RETURN_IF_ERROR(ResolveIncremental(&plan));
    RETURN_IF_ERROR(ResolveSplitColumn(&plan));
    RETURN_IF_ERROR(PlanSplits(&plan));
    return plan;
  }

  // SQL selecting the rows matching `cond` (a split condition).
  std::string SelectSql(const std::vector<Column>& columns, const std::string& cond) const {
    if (!o_.query.empty()) {
      std::string c = base_conds_.empty() ? cond : StrCat("(", cond, ") AND ", Join(base_conds_, " AND "));
      return ReplaceAll(o_.query, kConditions, StrCat("(", c, ")"));
    }
    std::vector<std::string> cols;
    for (const Column& c : columns) cols.push_back(conn_->QuoteIdentifier(c.name));
    std::vector<std::string> conds = base_conds_;
    if (cond != "1=1") conds.push_back(cond);
    return StrCat("SELECT ", Join(cols, ", "), " FROM ", conn_->QuoteIdentifier(table_),
                  conds.empty() ? "" : " WHERE ", Join(conds, " AND "));
  }

  // "SELECT <expr> FROM <base rows>" for counts and boundaries.
  std::string OverBase(const std::string& expr, const std::string& extra_cond,
                       const std::string& tail) const {
    std::vector<std::string> conds = base_conds_;
    if (!extra_cond.empty()) conds.push_back(extra_cond);
    if (!o_.query.empty()) {
      return StrCat("SELECT ", expr, " FROM (", ReplaceAll(o_.query, kConditions, "1=1"),
                    ") AS comptoir_q", conds.empty() ? "" : " WHERE ", Join(conds, " AND "), tail);
    }
    return StrCat("SELECT ", expr, " FROM ", conn_->QuoteIdentifier(table_),
                  conds.empty() ? "" : " WHERE ", Join(conds, " AND "), tail);
  }

 private:
  // A user-named column, validated against the catalog (or the query's
  // result) and returned quoted: never raw text in SQL.
  StatusOr<std::pair<std::string, const Column*>> UserColumn(const std::string& flag,
                                                             const std::string& name,
                                                             const ImportPlan& plan) {
    const std::vector<Column>& pool = o_.query.empty() ? all_columns_ : plan.columns;
    std::string_view bare = name;
    if (!o_.query.empty()) {
      size_t dot = bare.rfind('.');
      if (dot != std::string_view::npos) bare = bare.substr(dot + 1);
    }
    const Column* c = FindColumn(pool, bare);
    if (c == nullptr) {
      return absl::NotFoundError(StrCat(flag, ": column \"", name, "\" does not exist in ",
                                        o_.query.empty() ? "table " + table_ : "the query's result",
                                        " (columns: ", ColumnNames(pool), ")"));
    }
    return std::make_pair(conn_->QuoteIdentifier(c->name), c);
  }

  std::string Literal(const Column& c, const std::string& v) const {
    if (IsNumericKind(c.kind) && LooksNumeric(v)) return v;
    return conn_->QuoteLiteral(v);
  }

  Status ResolveIncremental(ImportPlan* plan) {
    if (!o_.table.empty() && !o_.where.empty()) base_conds_.push_back(StrCat("(", o_.where, ")"));
    if (o_.incremental == Incremental::kNone) return absl::OkStatus();
    if (o_.check_column.empty()) {
      return absl::InvalidArgumentError("--incremental needs --check-column");
    }
    ASSIGN_OR_RETURN(auto col, UserColumn("--check-column", o_.check_column, *plan));
    if (o_.incremental == Incremental::kAppend && !IsNumericKind(col.second->kind) &&
        col.second->kind != ColumnKind::kDate && col.second->kind != ColumnKind::kDateTime) {
      return absl::InvalidArgumentError(
          StrCat("--incremental append needs a numeric or date --check-column; \"",
                 col.second->name, "\" is ", source::ColumnKindName(col.second->kind)));
    }
    std::string ref = o_.query.empty() ? col.first : conn_->QuoteIdentifier(col.second->name);
    ASSIGN_OR_RETURN(std::optional<std::string> max,
                     conn_->QueryScalar(OverBase(StrCat("MAX(", ref, ")"), "", "")));
    if (!max) {
      plan->new_last_value = o_.last_value;
      no_rows_ = true;
      return absl::OkStatus();
    }
    plan->new_last_value = *max;
    if (o_.last_value) {
      base_conds_.push_back(StrCat(ref, " > ", Literal(*col.second, *o_.last_value)));
    }
    base_conds_.push_back(StrCat(ref, " <= ", Literal(*col.second, *max)));
    if (o_.last_value && *o_.last_value == *max) no_rows_ = true;
    return absl::OkStatus();
  }

  Status ResolveSplitColumn(ImportPlan* plan) {
    if (!o_.split_by.empty()) {
      ASSIGN_OR_RETURN(auto col, UserColumn("--split-by", o_.split_by, *plan));
      split_col_ = col.second;
      split_ref_ = o_.query.empty() ? col.first : o_.split_by;  // qualified name in the query
      outer_ref_ = conn_->QuoteIdentifier(col.second->name);
      if (!o_.query.empty()) {
        // The qualified name goes into the user's query as is: allow only identifiers.
        for (char ch : o_.split_by) {
          if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '.')) {
            return absl::InvalidArgumentError(
                StrCat("--split-by \"", o_.split_by, "\" must be a column name"));
          }
        }
      }
    } else if (o_.num_mappers > 1) {
      if (!o_.query.empty()) {
        return absl::InvalidArgumentError(
            "--query with more than one mapper needs --split-by (or use -m 1)");
      }
      if (pk_.empty()) {
        plan->notices.push_back(StrCat("table ", table_,
                                       " has no primary key: importing with one mapper "
                                       "(give --split-by to read it in parallel)"));
        return absl::OkStatus();
      }
      split_col_ = FindColumn(all_columns_, pk_.front());
      split_ref_ = outer_ref_ = conn_->QuoteIdentifier(pk_.front());
    }
    if (split_col_ != nullptr) plan->split_column = split_col_->name;
    return absl::OkStatus();
  }

  Status PlanSplits(ImportPlan* plan) {
    int m = std::max(1, o_.num_mappers);
    if (!o_.boundary_query.empty() && split_col_ != nullptr) {
      // Sqoop semantics: the boundary query's MIN and MAX limit the split range.
      std::optional<std::string> lo, hi;
      RETURN_IF_ERROR(conn_->Query(o_.boundary_query, [&](const source::Row& r) -> Status {
        if (r.values.size() < 2) {
          return absl::InvalidArgumentError("--boundary-query must return two columns (min, max)");
        }
        if (r.values[0]) lo = std::string(*r.values[0]);
        if (r.values[1]) hi = std::string(*r.values[1]);
        return absl::OkStatus();
      }));
      std::string ref = o_.query.empty() ? split_ref_ : outer_ref_;
      if (lo) base_conds_.push_back(StrCat(ref, " >= ", Literal(*split_col_, *lo)));
      if (hi) base_conds_.push_back(StrCat(ref, " <= ", Literal(*split_col_, *hi)));
    }
    if (no_rows_) {
      plan->source_rows = 0;
      return absl::OkStatus();
    }
    std::vector<source::Split> splits;
    if (split_col_ == nullptr || m == 1) {
      source::Split all;
      splits.push_back(all);
      if (o_.validate) {
        ASSIGN_OR_RETURN(std::optional<std::string> n,
                         conn_->QueryScalar(OverBase("COUNT(*)", "", "")));
        uint64_t rows = 0;
        (void)ParseInt(n.value_or("0"), &rows);
        plan->source_rows = rows;
        splits[0].estimated_rows = rows;
      }
    } else {
      ASSIGN_OR_RETURN(splits, PlanBalancedSplits(plan, m));
    }
    for (const source::Split& s : splits) {
      std::string cond = "1=1";
      if (split_col_ != nullptr && splits.size() > 1) {
        cond = source::SplitCondition(s, split_ref_, [&](const std::string& v) {
          return Literal(*split_col_, v);
        });
      }
      plan->splits.push_back({s, SelectSql(plan->columns, cond)});
    }
    return absl::OkStatus();
  }

  // Cuts at the split key's quantiles. A large table with no predicate uses
  // the catalog's row estimate instead of a COUNT(*) scan: the offsets are then
  // approximate, which moves each boundary by at most the estimate's error.
  StatusOr<std::vector<source::Split>> PlanBalancedSplits(ImportPlan* plan, int m) {
    std::string ref = o_.query.empty() ? split_ref_ : outer_ref_;
    uint64_t total = 0, keyed = 0;
    bool estimated = false;
    if (!o_.validate && o_.query.empty() && base_conds_.empty()) {
      StatusOr<std::optional<uint64_t>> est = conn_->EstimateRows(table_);
      if (est.ok() && *est && **est >= kEstimateThreshold) {
        total = keyed = **est;
        estimated = true;
        plan->estimated_rows = total;
      }
    }
    auto count_exact = [&]() -> Status {
      RETURN_IF_ERROR(conn_->Query(OverBase(StrCat("COUNT(*), COUNT(", ref, ")"), "", ""),
                                   [&](const source::Row& r) -> Status {
                                     (void)ParseInt(r.values[0].value_or("0"), &total);
                                     (void)ParseInt(r.values[1].value_or("0"), &keyed);
                                     return absl::OkStatus();
                                   }));
      plan->source_rows = total;
      return absl::OkStatus();
    };
    if (!estimated) RETURN_IF_ERROR(count_exact());
    auto key_at = [&](uint64_t offset) -> StatusOr<std::string> {
      ASSIGN_OR_RETURN(std::optional<std::string> v,
                       conn_->QueryScalar(OverBase(ref, StrCat(ref, " IS NOT NULL"),
                                                   StrCat(" ORDER BY ", ref, " LIMIT 1 OFFSET ",
                                                          offset))));
      if (!v) {
        return absl::OutOfRangeError(
            "the source has fewer rows than planned (it changed, or its statistics are stale)");
      }
      return *v;
    };
    StatusOr<std::vector<source::Split>> splits =
        source::PlanSplits(keyed, total - keyed, m, key_at);
    if (estimated && absl::IsOutOfRange(splits.status())) {
      // The estimate was too high: count exactly and plan again.
      plan->estimated_rows.reset();
      RETURN_IF_ERROR(count_exact());
      splits = source::PlanSplits(keyed, total - keyed, m, key_at);
    }
    if (absl::IsOutOfRange(splits.status())) {
      return absl::AbortedError(StrCat(splits.status().message(), "; run the import again"));
    }
    RETURN_IF_ERROR(splits.status());
    if (!split_col_->nullable) {
      for (source::Split& s : *splits) s.include_nulls = false;  // no NULL keys to catch
    }
    return splits;
  }

  static constexpr uint64_t kEstimateThreshold = 100000;

  const ImportOptions& o_;
  Connection* conn_;
  std::string table_;
  std::vector<std::string> pk_;
  std::vector<Column> all_columns_;
  std::vector<std::string> base_conds_;
  const Column* split_col_ = nullptr;
  std::string split_ref_;  // how the split column is named inside the select
  std::string outer_ref_;  // how it is named over the query's result
  bool no_rows_ = false;
};

// Not split: the row loop is Flow A's hot path (values formatted in place,
// no allocation per row); its set-up and tear-down read best beside it.
// Reads one split and writes it to one part file.
Status RunSplit(const ImportOptions& o, const ImportPlan& plan, const PlannedSplit& ps,
                lake::Publication* pub, const std::string& file_name, int merge_index,
                Shared* shared, core::Progress* progress) {
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn, source::Connect(o.connect));
  ASSIGN_OR_RETURN(std::unique_ptr<lake::WritableFile> raw, pub->Create(file_name));
  const bool avro_out = o.format == ImportOptions::Format::kAvro;
  std::unique_ptr<lake::WritableFile> file;
  std::unique_ptr<lake::AvroFileWriter> avro;
  if (avro_out) {
    ASSIGN_OR_RETURN(avro, lake::AvroFileWriter::Create(
                               std::move(raw), o.table.empty() ? "QueryResult" : o.table,
                               shared->avro_fields, o.codec == lake::Codec::kGzip));
  } else {
    file = lake::NewCompressingFile(std::move(raw), o.codec);
  }
  lake::TextRowWriter writer(o.text);
  std::vector<ValueFormatter> formatters;
  std::vector<bool> is_string;
  for (const Column& c : plan.columns) {
    formatters.emplace_back(c, o.sqoop_values, avro_out);
    is_string.push_back(source::IsStringKind(c.kind));
  }
  Quality& q = shared->quality;
  std::optional<quality::RowChecker> checker;
  std::optional<quality::RejectWriter> rejects;
  if (q.checker) {
    std::optional<size_t> split_index;
    for (size_t i = 0; i < plan.columns.size() && !plan.split_column.empty(); ++i) {
      if (EqualsIgnoreCase(plan.columns[i].name, plan.split_column)) split_index = i;
    }
    checker = q.checker->ForkForSplit(split_index, plan.splits.size() == 1);
    rejects.emplace(pub, q.run, file_name, &q.rejects_schema);
  }
  std::vector<std::string> scratch(plan.columns.size());
  std::vector<std::optional<std::string_view>> values(plan.columns.size());
  std::string buf;
  buf.reserve(kFlushBytes * 2);
  uint64_t rows = 0;      // written to the part
  uint64_t read = 0;      // read from the source (the source position of rejects)
  uint64_t pending_rows = 0;
  uint64_t pending_bytes = 0;
  std::vector<std::string> keys;
  Status status = conn->Query(
      ps.sql,
      [&](const source::Row& r) -> Status {
        if (r.values.size() != plan.columns.size()) {
          return absl::InternalError(StrCat("query returned ", r.values.size(),
                                            " columns, expected ", plan.columns.size()));
        }
        size_t row_bytes = 0;
        for (size_t i = 0; i < r.values.size(); ++i) {
          std::string_view text;
          if (!r.values[i] || !formatters[i].Format(*r.values[i], &text, &scratch[i], &shared->zero_dates)) {
            values[i] = std::nullopt;
            continue;
          }
          values[i] = text;
          row_bytes += text.size();
        }
        ++read;
        if (checker) {
          quality::RowChecker::Verdict v = checker->CheckRecord(values);
          if (!v.passed()) {
            switch (v.action) {
              case quality::Action::kWarn:
                q.warned.fetch_add(1, std::memory_order_relaxed);
                break;
              case quality::Action::kReject:
                q.rejected.fetch_add(1, std::memory_order_relaxed);
                return rejects->Write(values, checker->rules()[static_cast<size_t>(v.rule)], v.reason,
                                      StrCat("split ", ps.split.index, " row ", read));
              case quality::Action::kFail: {
                // The run publishes nothing; it reads on to count every failure.
                if (q.failed_rows.fetch_add(1) == 0) {
                  std::lock_guard<std::mutex> lock(q.mu);
                  q.first_failure = StrCat(v.reason, " (split ", ps.split.index, " row ", read, ")");
                }
                return absl::OkStatus();
              }
            }
          }
        }
        if (avro_out) {
          RETURN_IF_ERROR(avro->Append(values));
          pending_bytes += row_bytes;
        } else {
          for (size_t i = 0; i < values.size(); ++i) {
            if (values[i]) {
              writer.Field(&buf, *values[i], i == 0);
            } else {
              writer.Null(&buf, is_string[i], i == 0);
            }
          }
          writer.EndRow(&buf);
          if (merge_index >= 0) {
            const std::optional<std::string_view>& k = values[static_cast<size_t>(merge_index)];
            keys.emplace_back(k ? *k : std::string_view("\x01NULL"));
          }
        }
        ++rows;
        if (++pending_rows == 1024) {
          progress->Add(pending_rows, pending_bytes);
          shared->bytes.fetch_add(pending_bytes, std::memory_order_relaxed);
          pending_rows = pending_bytes = 0;
          RETURN_IF_ERROR(core::CheckCancelled("import"));
        }
        if (buf.size() >= kFlushBytes) {
          progress->Add(0, buf.size());
          shared->bytes.fetch_add(buf.size(), std::memory_order_relaxed);
          RETURN_IF_ERROR(file->Append(buf));
          buf.clear();
        }
        return absl::OkStatus();
      },
      o.fetch_size);
  RETURN_IF_ERROR(Annotate(status, StrCat("split ", ps.split.index)));
  progress->Add(pending_rows, buf.size() + pending_bytes);
  shared->bytes.fetch_add(buf.size() + pending_bytes, std::memory_order_relaxed);
  if (avro_out) {
    RETURN_IF_ERROR(avro->Close());
  } else {
    RETURN_IF_ERROR(file->Append(buf));
    RETURN_IF_ERROR(file->Close());
  }
  if (checker) {
    RETURN_IF_ERROR(rejects->Close());
    std::lock_guard<std::mutex> lock(q.mu);
    q.checker->AddCounts(*checker);
  }
  shared->rows.fetch_add(rows, std::memory_order_relaxed);
  if (merge_index >= 0) {
    std::lock_guard<std::mutex> lock(shared->keys_mu);
    for (std::string& k : keys) shared->merge_keys.insert(std::move(k));
  }
  return absl::OkStatus();
}

// Copies the rows of the current dataset whose merge key was not re-imported
// into one more part file, so the newest row per key wins.
StatusOr<uint64_t> CarryOverOldRows(const ImportOptions& o, const ImportPlan& plan,
                                    lake::Storage* lake, lake::Publication* pub,
                                    const std::string& file_name, int merge_index,
                                    const Shared& shared) {
  StatusOr<lake::DatasetSchema> schema = lake::ReadDatasetSchema(lake, plan.target);
  if (absl::IsNotFound(schema.status()) ||
      (schema.ok() && schema->format != lake::DatasetSchema::Format::kText)) {
    return absl::FailedPreconditionError(StrCat(
        "--merge-key needs the existing dataset ", plan.target, " in text format with _schema.json"));
  }
  if (!schema.ok()) return schema.status();
  const lake::TextFormat& old_format = schema->text;
  if (old_format.style != lake::TextFormat::Style::kRfc4180) {
    return absl::FailedPreconditionError("--merge-key reads the default (RFC 4180) text format only");
  }
  if (schema->columns.size() != plan.columns.size()) {
    return absl::FailedPreconditionError(StrCat("the dataset ", plan.target, " has ", schema->columns.size(),
                                                " columns; this import has ", plan.columns.size()));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<lake::WritableFile> raw, pub->Create(file_name));
  std::unique_ptr<lake::WritableFile> file = lake::NewCompressingFile(std::move(raw), o.codec);
  lake::TextRowWriter writer(o.text);
  uint64_t kept = 0;
  std::string buf;
  std::vector<lake::TextField> fields;
  for (const lake::FileInfo& f : pub->existing()) {
    if (f.is_dir || lake::PartNumber(f.name) < 0) continue;
    ASSIGN_OR_RETURN(auto in, lake->Open(f.path));
    auto reader = lake::NewDecompressingFile(std::move(in), lake::CodecForName(f.name));
    std::string data;
    char chunk[1 << 16];
    while (true) {
      ASSIGN_OR_RETURN(size_t n, reader->Read(chunk, sizeof(chunk)));
      if (n == 0) break;
      data.append(chunk, n);
    }
    lake::TextReader tr(old_format, data);
    while (true) {
      StatusOr<bool> more = tr.Next(&fields);
      if (!more.ok()) return Annotate(more.status(), f.path);
      if (!*more) break;
      if (fields.size() != plan.columns.size()) {
        return absl::DataLossError(StrCat(f.path, ": line ", tr.line(), " has ", fields.size(),
                                          " fields, expected ", plan.columns.size()));
      }
      const lake::TextField& key = fields[static_cast<size_t>(merge_index)];
      if (shared.merge_keys.contains(key ? *key : std::string("\x01NULL"))) continue;
      for (size_t i = 0; i < fields.size(); ++i) {
        if (fields[i]) {
          writer.Field(&buf, *fields[i], i == 0);
        } else {
          writer.Null(&buf, source::IsStringKind(plan.columns[i].kind), i == 0);
        }
      }
      writer.EndRow(&buf);
      ++kept;
      if (buf.size() >= kFlushBytes) {
        RETURN_IF_ERROR(file->Append(buf));
        buf.clear();
      }
    }
  }
  RETURN_IF_ERROR(file->Append(buf));
  RETURN_IF_ERROR(file->Close());
  return kept;
}

// The dataset contract this import publishes (its row count is set at commit).
lake::DatasetSchema SchemaFor(const ImportOptions& o, const ImportPlan& plan,
                              const std::vector<lake::AvroField>& avro_fields) {
  lake::DatasetSchema schema;
  for (const Column& c : plan.columns) {
    lake::ColumnSchema col;
    col.name = c.name;
    col.sql_type = c.sql_type;
    col.type = std::string(source::ColumnKindName(c.kind));
    col.nullable = c.nullable;
    if (c.kind == ColumnKind::kDecimal) {
      col.precision = c.precision;
      col.scale = c.scale;
    }
    if (c.kind == ColumnKind::kBinary) col.encoding = "base64";
    col.is_unsigned = c.is_unsigned;
    schema.columns.push_back(std::move(col));
  }
  StatusOr<core::Uri> uri = core::ParseUri(o.connect.url);
  schema.source_url = uri.ok() ? uri->Redacted() : std::string("?");
  schema.source_table = o.table;
  schema.source_query = o.query;
  schema.source_where = o.where;
  const bool avro = o.format == ImportOptions::Format::kAvro;
  schema.format = avro ? lake::DatasetSchema::Format::kAvro : lake::DatasetSchema::Format::kText;
  schema.codec = avro ? (o.codec == lake::Codec::kGzip ? "deflate" : "null") : std::string(lake::CodecName(o.codec));
  schema.datetime_format = o.sqoop_values ? "yyyy-MM-dd HH:mm:ss.S" : "ISO 8601";
  if (avro) {
    schema.avro_schema_json = lake::AvroSchemaJson(o.table.empty() ? "QueryResult" : o.table, avro_fields);
  } else {
    schema.text = o.text;
  }
  if (plan.new_last_value) {
    schema.check_column = o.check_column;
    schema.last_value = *plan.new_last_value;
  }
  return schema;
}

// --append adds parts beside the existing ones: they must have been written
// under a schema these parts match (a damaged or missing _schema.json cannot
// say, so the import refuses rather than rewrite it).
Status CheckAppendTarget(lake::Storage* lake, const std::string& target, const lake::DatasetSchema& mine,
                         const std::vector<lake::FileInfo>& existing) {
  bool has_parts = std::any_of(existing.begin(), existing.end(),
                               [](const lake::FileInfo& f) { return !f.is_dir && lake::PartNumber(f.name) >= 0; });
  if (!has_parts) return absl::OkStatus();
  StatusOr<lake::DatasetSchema> theirs = lake::ReadDatasetSchema(lake, target);
  if (absl::IsNotFound(theirs.status())) {
    return absl::FailedPreconditionError(StrCat(
        "--append: ", target, " has part files but no _schema.json, so nothing says they match this import; "
        "import into a new --target-dir, or replace the dataset with --delete-target-dir"));
  }
  if (!theirs.ok()) {
    return absl::FailedPreconditionError(StrCat("--append: ", theirs.status().message(),
                                                " (nothing was written; the damaged file is left as it is)"));
  }
  if (Status s = theirs->CompatibleWith(mine); !s.ok()) {
    return absl::FailedPreconditionError(StrCat("--append: the parts in ", target, " do not match this import: ",
                                                s.message(), "; import into a new --target-dir, or replace the "
                                                "dataset with --delete-target-dir"));
  }
  return absl::OkStatus();
}

// Runs every split on its own thread; the first real error (not the
// cancellation it caused in the others) is the result.
Status RunSplits(const ImportOptions& o, const ImportPlan& plan, lake::Publication* pub,
                 const std::function<std::string(int)>& part_name, int merge_index, Shared* shared) {
  uint64_t estimate = 0;
  for (const PlannedSplit& s : plan.splits) estimate += s.split.estimated_rows;
  core::Progress progress("importing", estimate, "rows", o.quiet);
  std::vector<Status> statuses(plan.splits.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < plan.splits.size(); ++i) {
    threads.emplace_back([&, i] {
      statuses[i] = RunSplit(o, plan, plan.splits[i], pub, part_name(static_cast<int>(i)), merge_index, shared,
                             &progress);
      if (!statuses[i].ok()) core::RequestCancel();  // stop the other splits early
    });
  }
  for (std::thread& t : threads) t.join();
  progress.Finish();
  Status first_error;
  for (const Status& s : statuses) {
    if (!s.ok() && (first_error.ok() || absl::IsAborted(first_error))) first_error = s;
  }
  if (!first_error.ok() && (!core::Cancelled() || !absl::IsAborted(first_error))) core::ResetCancel();
  return first_error;
}

// How an import publishes: the mode, and the merge key's column (-1 for none).
struct Publishing {
  lake::PublishMode mode = lake::PublishMode::kCreate;
  int merge_index = -1;
};

StatusOr<Publishing> HowToPublish(const ImportOptions& o, const ImportPlan& plan, bool target_exists) {
  Publishing p;
  p.mode = o.delete_target_dir ? lake::PublishMode::kReplace
           : o.append          ? lake::PublishMode::kAppend
                               : lake::PublishMode::kCreate;
  if (o.incremental == Incremental::kNone || o.delete_target_dir) return p;
  if (!o.merge_key.empty() && target_exists) {
    p.mode = lake::PublishMode::kReplace;
    const Column* c = FindColumn(plan.columns, o.merge_key);
    if (c == nullptr) {
      return absl::NotFoundError(StrCat("--merge-key: column \"", o.merge_key, "\" is not among the imported columns (",
                                        ColumnNames(plan.columns), ")"));
    }
    p.merge_index = static_cast<int>(c - plan.columns.data());
    if (o.format != ImportOptions::Format::kText) {
      return absl::FailedPreconditionError("--merge-key works on text datasets; drop --as-avrodatafile");
    }
  } else if (o.incremental == Incremental::kAppend || o.append) {
    p.mode = lake::PublishMode::kAppend;
  } else if (target_exists) {
    return absl::FailedPreconditionError(
        StrCat("target ", plan.target, " exists: --incremental lastmodified needs --merge-key or --append"));
  }
  return p;
}

// The rules of `o` whose dataset is the import's target.
std::vector<quality::Rule> TargetRules(const ImportOptions& o, const ImportPlan& plan) {
  std::vector<quality::Rule> out;
  for (const quality::Rule& r : o.rules) {
    StatusOr<std::string> d = lake::NormalizePath(r.dataset);
    if (d.ok() && *d == plan.target) out.push_back(r);
  }
  return out;
}

// Compiles the target's rules for this import's columns (reading referenced
// datasets once) and names the run. No rules: no checker.
Status SetUpQuality(const std::vector<quality::Rule>& rules, const ImportPlan& plan, lake::Storage* lake,
                    const lake::DatasetSchema& schema, Shared* shared) {
  if (rules.empty()) return absl::OkStatus();
  std::vector<std::string> names;
  for (const Column& c : plan.columns) names.push_back(c.name);
  Quality& q = shared->quality;
  ASSIGN_OR_RETURN(q.checker, quality::RowChecker::Create(rules, plan.target, names, quality::LakeColumnValues(lake)));
  q.run = quality::NewRunId();
  ASSIGN_OR_RETURN(q.rejects_schema, quality::RejectsSchema(schema));
  return absl::OkStatus();
}

// The run's record: per-record rules' counts, then the dataset rules
// (row_count) checked on the rows it would publish.
// Why a dataset rule fails for this run ("" when it holds). `r` has the
// run's counts.
// drift by distribution: the shares of the most frequent values of a run (the
// rest in kOtherCategory), what the history keeps.
constexpr size_t kSharesKept = 20;

std::map<std::string, double> Shares(const std::map<std::string, uint64_t, std::less<>>& counts) {
  std::vector<std::pair<uint64_t, std::string>> by_count;
  uint64_t total = 0;
  for (const auto& [value, n] : counts) {
    by_count.emplace_back(n, value);
    total += n;
  }
  std::sort(by_count.begin(), by_count.end(), [](const auto& x, const auto& y) {
    return x.first != y.first ? x.first > y.first : x.second < y.second;
  });
  std::map<std::string, double> out;
  for (size_t i = 0; i < by_count.size(); ++i) {
    const std::string& key = i < kSharesKept ? by_count[i].second : std::string(quality::kOtherCategory);
    out[key] += static_cast<double>(by_count[i].first) / static_cast<double>(total);
  }
  return out;
}

// Why a categorical column's distribution moved too far from the average of
// the last runs ("" when it did not, or when there is nothing to compare).
std::string DistributionDrift(const quality::Rule& rule, const ImportPlan& plan, const quality::RowChecker& checker,
                              lake::Storage* lake, double limit, quality::RuleResult* res) {
  auto m = checker.column_metrics().find(rule.number);
  if (m == checker.column_metrics().end() || m->second.counts.empty()) return "";  // no value to measure
  res->shares = Shares(m->second.counts);
  StatusOr<std::vector<quality::RunRecord>> history = quality::ReadHistory(lake, plan.target);
  std::map<std::string, double> baseline;
  int runs = 0;
  if (history.ok()) {
    for (auto it = history->rbegin(); it != history->rend() && runs < rule.runs; ++it) {
      if (it->failed()) continue;
      for (const quality::RuleResult& x : it->rules) {
        if (x.number != rule.number || x.check != "drift" || x.shares.empty()) continue;
        for (const auto& [value, share] : x.shares) baseline[value] += share;
        ++runs;
      }
    }
  }
  if (runs == 0) return "";  // the first run sets the baseline
  for (auto& [value, share] : baseline) share /= runs;
  std::map<std::string, std::pair<double, double>> both;  // value -> (baseline, this run)
  for (const auto& [value, share] : baseline) both[value].first = share;
  for (const auto& [value, share] : res->shares) both[value].second = share;
  double distance = 0, largest = -1;
  std::string moved;
  for (const auto& [value, shares] : both) {
    double d = std::abs(shares.second - shares.first);
    distance += d / 2;
    if (d > largest) {
      largest = d;
      moved = fmt::format("{} {:.1f}% -> {:.1f}%", value, shares.first * 100, shares.second * 100);
    }
  }
  res->value = distance;
  return distance > limit ? fmt::format("the distribution moved {:.3f} (total variation) from the average of the last "
                                        "{} run(s); most: {}",
                                        distance, runs, moved)
                          : "";
}

std::string DatasetRuleFailure(const quality::Rule& rule, const quality::RunRecord& r, const ImportPlan& plan,
                               const quality::RowChecker& checker, lake::Storage* lake, quality::RuleResult* res) {
  std::optional<double>* value = &res->value;
  auto fraction = [](uint64_t part, uint64_t whole) { return whole == 0 ? 0.0 : static_cast<double>(part) / whole; };
  double limit = rule.max ? std::stod(*rule.max) : 0;
  switch (rule.check) {
    case quality::Check::kRowCount: {
      uint64_t lo = 0, hi = UINT64_MAX;
      if (rule.min) ParseInt(*rule.min, &lo);
      if (rule.max) ParseInt(*rule.max, &hi);
      return r.rows_out < lo || r.rows_out > hi ? StrCat("the run has ", r.rows_out, " rows") : "";
    }
    case quality::Check::kSourceCount:
      if (!plan.source_rows) return "";  // the source's count was not taken (an estimate was used)
      return r.rows_in != *plan.source_rows
                 ? StrCat(r.rows_in, " rows read, the source's COUNT(*) was ", *plan.source_rows)
                 : "";
    case quality::Check::kChange: {
      StatusOr<std::vector<quality::RunRecord>> history = quality::ReadHistory(lake, plan.target);
      std::vector<uint64_t> sizes;
      if (history.ok()) {
        for (auto it = history->rbegin(); it != history->rend() && static_cast<int>(sizes.size()) < rule.runs; ++it) {
          if (!it->failed()) sizes.push_back(it->rows_out);
        }
      }
      if (sizes.empty()) return "";  // the first run: nothing to compare with
      std::sort(sizes.begin(), sizes.end());
      double median = sizes.size() % 2 ? static_cast<double>(sizes[sizes.size() / 2])
                                        : (static_cast<double>(sizes[sizes.size() / 2 - 1]) + sizes[sizes.size() / 2]) / 2;
      double change = median == 0 ? (r.rows_out == 0 ? 0 : 1e9) : std::abs(r.rows_out - median) / median;
      return change > limit ? fmt::format("{} rows, {:+.1f}% from the median {} of the last {} run(s)", r.rows_out,
                                          (r.rows_out - median) / std::max(median, 1.0) * 100, median, sizes.size())
                            : "";
    }
    case quality::Check::kNullFraction: {
      auto m = checker.column_metrics().find(rule.number);
      uint64_t nulls = m == checker.column_metrics().end() ? 0 : m->second.nulls;
      double f = fraction(nulls, r.rows_in);
      return f > limit ? fmt::format("{} NULLs in {} rows ({:.2f}%)", nulls, r.rows_in, f * 100) : "";
    }
    case quality::Check::kDuplicateFraction: {
      auto m = checker.column_metrics().find(rule.number);
      uint64_t repeats = m == checker.column_metrics().end() ? 0 : m->second.repeats;
      double f = fraction(repeats, r.rows_in);
      return f > limit ? fmt::format("{} rows repeat an earlier key of {} rows ({:.2f}%)", repeats, r.rows_in, f * 100)
                       : "";
    }
    case quality::Check::kDrift: {
      if (rule.measure == "distribution") return DistributionDrift(rule, plan, checker, lake, limit, res);
      auto m = checker.column_metrics().find(rule.number);
      if (m == checker.column_metrics().end() || m->second.numbers == 0) return "";  // no number to measure
      double mean = m->second.sum / static_cast<double>(m->second.numbers);
      *value = mean;
      StatusOr<std::vector<quality::RunRecord>> history = quality::ReadHistory(lake, plan.target);
      std::vector<double> means;
      if (history.ok()) {
        for (auto it = history->rbegin(); it != history->rend() && static_cast<int>(means.size()) < rule.runs; ++it) {
          if (it->failed()) continue;
          for (const quality::RuleResult& x : it->rules) {
            if (x.number == rule.number && x.check == "drift" && x.value) means.push_back(*x.value);
          }
        }
      }
      if (means.empty()) return "";  // the first run sets the baseline
      std::sort(means.begin(), means.end());
      double median = means.size() % 2 ? means[means.size() / 2] : (means[means.size() / 2 - 1] + means[means.size() / 2]) / 2;
      double change = median == 0 ? (mean == 0 ? 0 : 1e9) : std::abs(mean - median) / std::abs(median);
      return change > limit ? fmt::format("mean {:.4g}, {:+.1f}% from the median {:.4g} of the last {} run(s)", mean,
                                          (mean - median) / (median == 0 ? 1 : std::abs(median)) * 100, median,
                                          means.size())
                            : "";
    }
    case quality::Check::kRejectFraction: {
      double f = fraction(r.rejected, r.rows_in);
      return f > limit ? fmt::format("{} rejected of {} rows ({:.2f}%)", r.rejected, r.rows_in, f * 100) : "";
    }
    case quality::Check::kFreshness: {
      auto m = checker.column_metrics().find(rule.number);
      std::string newest = m == checker.column_metrics().end() ? "" : m->second.max;
      if (newest.empty()) return "no value at all";
      int64_t ms = core::ParseIsoTime(newest);
      if (ms < 0) return StrCat("the newest value \"", newest, "\" is not a datetime");
      return core::UnixMillis() - ms > rule.max_age_ms ? StrCat("the newest value is ", newest, ", ", core::FormatAgo(ms))
                                                        : "";
    }
    default:
      return "";
  }
}

quality::RunRecord QualityRecord(const std::vector<quality::Rule>& rules, const ImportPlan& plan, Quality* q,
                                 uint64_t rows_out, lake::Storage* lake) {
  quality::RunRecord r;
  r.run = q->run;
  r.time = core::FormatIsoMillis(core::UnixMillis());
  r.dataset = plan.target;
  r.writer = "import";
  r.rows_out = rows_out;
  r.rejected = q->rejected.load();
  r.warned = q->warned.load();
  r.rows_in = rows_out + r.rejected + q->failed_rows.load();
  r.rules = quality::ResultsOf(*q->checker);
  std::vector<std::string> failures;
  if (q->failed_rows.load() > 0) {
    failures.push_back(StrCat(q->failed_rows.load(), " row(s) failed a rule with action fail, the first: ",
                              q->first_failure));
  }
  for (const quality::Rule& rule : rules) {
    if (rule.per_record()) continue;
    quality::RuleResult res{rule.number, rule.Label(), std::string(quality::CheckName(rule.check)),
                            Join(rule.columns, "+"), std::string(quality::ActionName(rule.action)), rule.Describe(), 0, std::nullopt, {}};
    std::string why = DatasetRuleFailure(rule, r, plan, *q->checker, lake, &res);
    if (!why.empty()) {
      res.failed = 1;
      res.describe = StrCat(rule.Describe(), ": ", why);
      if (rule.action == quality::Action::kFail) {
        failures.push_back(StrCat(rule.Label(), " (", rule.Describe(), "): ", why));
      } else {
        spdlog::warn("data quality: {} ({}): {}", rule.Label(), rule.Describe(), why);
      }
    }
    r.rules.push_back(std::move(res));
  }
  std::sort(r.rules.begin(), r.rules.end(), [](const auto& a, const auto& b) { return a.number < b.number; });
  if (!failures.empty()) {
    r.outcome = "failed";
    r.failure = Join(failures, "; ");
    r.rows_out = 0;  // nothing is published
  }
  return r;
}

// Stages the rejects' schema and the history line in the publication, or,
// for a failed run, records it on its own and returns the quality failure.
Status PublishQuality(const quality::RunRecord& record, Quality* q, lake::Storage* lake, lake::Publication* pub) {
  if (record.failed()) {
    pub->Abort();
    Status recorded = quality::RecordRunOutsideCommit(lake, record.dataset, record);
    if (!recorded.ok()) spdlog::warn("could not record the failed run in its history: {}", recorded.ToString());
    return quality::QualityFailedError(StrCat(
        "data quality: ", record.failure, "; nothing was published and ", record.dataset,
        " is unchanged (the run is in ", lake::JoinPath(record.dataset, std::string(quality::kHistoryFile)),
        "; `comptoir quality report ", record.dataset, "` shows it)"));
  }
  if (record.rejected > 0) {
    ASSIGN_OR_RETURN(auto f, pub->Create(StrCat(quality::RejectsDir(q->run), "/", lake::kSchemaFile)));
    RETURN_IF_ERROR(f->Append(q->rejects_schema.ToJson()));
    RETURN_IF_ERROR(f->Close());
  }
  ASSIGN_OR_RETURN(std::string history, quality::HistoryWith(lake, record.dataset, record));
  ASSIGN_OR_RETURN(auto h, pub->Create(std::string(quality::kHistoryFile)));
  RETURN_IF_ERROR(h->Append(history));
  return h->Close();
}

}  // namespace

std::string Base64(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  auto byte = [&](size_t k) { return static_cast<uint32_t>(static_cast<unsigned char>(bytes[k])); };
  for (; i + 2 < bytes.size(); i += 3) {
    uint32_t v = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
    for (int s = 18; s >= 0; s -= 6) out.push_back(kAlphabet[(v >> s) & 63]);
  }
  if (i < bytes.size()) {
    uint32_t v = byte(i) << 16 | (i + 1 < bytes.size() ? byte(i + 1) << 8 : 0);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(i + 1 < bytes.size() ? kAlphabet[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

StatusOr<ImportResult> RunImport(const ImportOptions& o, lake::Storage* lake) {
  double start = core::NowSeconds();
  ImportResult result;
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn, source::Connect(o.connect));
  Planner planner(o, conn.get());
  ASSIGN_OR_RETURN(result.plan, planner.Plan());
  ImportPlan& plan = result.plan;
  for (const std::string& n : plan.notices) spdlog::warn("{}", n);
  if (o.dry_run) return result;

  ASSIGN_OR_RETURN(bool target_exists, lake::Exists(lake, lake::JoinPath(plan.target, "_SUCCESS")));
  ASSIGN_OR_RETURN(Publishing publishing, HowToPublish(o, plan, target_exists));
  const lake::PublishMode mode = publishing.mode;
  const int merge_index = publishing.merge_index;
  if (plan.source_rows && *plan.source_rows == 0 && o.incremental != Incremental::kNone &&
      target_exists) {
    spdlog::info("no new rows since the last import (last value {}); {} unchanged",
                 plan.new_last_value.value_or("none"), plan.target);
    result.seconds = core::NowSeconds() - start;
    return result;
  }

  ASSIGN_OR_RETURN(std::unique_ptr<lake::Publication> pub,
                   lake::Publication::Begin(lake, plan.target, mode));
  Shared shared;
  if (o.format == ImportOptions::Format::kAvro) {
    bool legacy = false;
    if (mode == lake::PublishMode::kAppend) {
      StatusOr<lake::DatasetSchema> theirs = lake::ReadDatasetSchema(lake, plan.target);
      legacy = theirs.ok() && theirs->AvroDatetimesAsInstants();
    }
    if (legacy) {
      spdlog::warn("{} holds DATETIME columns as Avro timestamp-micros (an instant in UTC), as Comptoir wrote them "
                   "before 2026-12; this append keeps that encoding so the dataset stays consistent. Spark "
                   "sessions outside UTC show them shifted: reimport with --delete-target-dir to store them as "
                   "local-timestamp-micros", plan.target);
    }
    shared.avro_fields = AvroFieldsFor(plan, legacy);
  }
  lake::DatasetSchema schema = SchemaFor(o, plan, shared.avro_fields);
  int first_part = 0;
  if (mode == lake::PublishMode::kAppend) {
    if (Status s = CheckAppendTarget(lake, plan.target, schema, pub->existing()); !s.ok()) {
      pub->Abort();
      return s;
    }
    for (const lake::FileInfo& f : pub->existing()) first_part = std::max(first_part, lake::PartNumber(f.name) + 1);
  }
  auto part_name = [&](int i) {
    if (o.format == ImportOptions::Format::kAvro) {
      return fmt::format("part-m-{:05d}.avro", first_part + i);  // compression is inside
    }
    return fmt::format("part-m-{:05d}{}", first_part + i, lake::CodecExtension(o.codec));
  };

  const std::vector<quality::Rule> rules = TargetRules(o, plan);
  if (Status s = SetUpQuality(rules, plan, lake, schema, &shared); !s.ok()) {
    pub->Abort();
    return s;
  }
  if (Status s = RunSplits(o, plan, pub.get(), part_name, merge_index, &shared); !s.ok()) {
    pub->Abort();
    return s;
  }
  result.rows = shared.rows.load();
  result.bytes = shared.bytes.load();
  result.zero_dates = shared.zero_dates.load();
  if (o.validate) {
    uint64_t expected = plan.source_rows.value_or(0);
    uint64_t quarantined = shared.quality.rejected.load() + shared.quality.failed_rows.load();
    if (expected != result.rows + quarantined) {
      pub->Abort();
      return absl::FailedPreconditionError(
          StrCat("--validate: the source has ", expected, " rows matching the import, but ",
                 result.rows, " were written", quarantined > 0 ? StrCat(" and ", quarantined, " quarantined") : "",
                 "; nothing was published (did the source change during the import?)"));
    }
  }
  if (merge_index >= 0) {
    ASSIGN_OR_RETURN(result.merged_old_rows,
                     CarryOverOldRows(o, plan, lake, pub.get(),
                                      part_name(static_cast<int>(plan.splits.size())), merge_index,
                                      shared));
  }
  if (shared.quality.checker) {
    result.quality = QualityRecord(rules, plan, &shared.quality, result.rows, lake);
    RETURN_IF_ERROR(PublishQuality(*result.quality, &shared.quality, lake, pub.get()));
  }
  schema.last_import_rows = result.rows;
  ASSIGN_OR_RETURN(auto schema_file, pub->Create(std::string(lake::kSchemaFile)));
  RETURN_IF_ERROR(schema_file->Append(schema.ToJson()));
  RETURN_IF_ERROR(schema_file->Close());
  RETURN_IF_ERROR(pub->Commit());
  ASSIGN_OR_RETURN(std::vector<lake::FileInfo> files, lake->List(plan.target));
  for (const lake::FileInfo& f : files) {
    if (!lake::IsHiddenName(f.name)) result.files.push_back(f.path);
  }
  if (result.zero_dates > 0) {
    spdlog::warn("{} MySQL zero date(s) (0000-00-00) were written as NULL", result.zero_dates);
  }
  result.seconds = core::NowSeconds() - start;
  return result;
}

}  // namespace comptoir::importer
