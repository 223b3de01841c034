// Quarantine: the rejects of a run, staged in its publication.
#include "comptoir/quality/quarantine.h"

#include "comptoir/core/strings.h"
#include "comptoir/core/time.h"
#include "comptoir/lake/compression.h"

namespace comptoir::quality {
namespace {

bool IsStringType(std::string_view type) { return type == "string" || type == "json"; }

}  // namespace

std::string NewRunId() {
  std::string iso = core::FormatIsoMillis(core::UnixMillis());  // 2026-12-06T16:15:00.123Z
  std::erase(iso, '-');
  std::erase(iso, ':');
  return iso;
}

std::string RejectsDir(std::string_view run) { return StrCat(kRejectsDir, "/", run); }

StatusOr<lake::DatasetSchema> RejectsSchema(const lake::DatasetSchema& dataset) {
  lake::DatasetSchema s = dataset;
  s.last_import_rows = 0;
  s.check_column.reset();
  s.last_value.reset();
  s.written_by = "comptoir quality (rejects)";
  for (std::string_view name : kRejectColumns) {
    lake::ColumnSchema c;
    c.name = std::string(name);
    c.sql_type = "text";
    c.type = "string";
    c.nullable = false;
    s.columns.push_back(std::move(c));
  }
  if (s.format == lake::DatasetSchema::Format::kAvro) {
    std::string record;
    ASSIGN_OR_RETURN(std::vector<lake::AvroField> fields, lake::AvroFieldsOf(dataset.avro_schema_json, &record));
    for (std::string_view name : kRejectColumns) fields.push_back({std::string(name), lake::AvroType::kString});
    s.avro_schema_json = lake::AvroSchemaJson(StrCat(record, "_rejects"), fields);
  }
  return s;
}

PartWriter::PartWriter(lake::Publication* pub, std::string staged_name, const lake::DatasetSchema* schema)
    : pub_(pub), name_(std::move(staged_name)), schema_(schema) {}

PartWriter::~PartWriter() = default;

Status PartWriter::Open() {
  ASSIGN_OR_RETURN(std::unique_ptr<lake::WritableFile> raw, pub_->Create(name_));
  if (schema_->format == lake::DatasetSchema::Format::kAvro) {
    std::string record;
    ASSIGN_OR_RETURN(std::vector<lake::AvroField> fields, lake::AvroFieldsOf(schema_->avro_schema_json, &record));
    ASSIGN_OR_RETURN(avro_, lake::AvroFileWriter::Create(std::move(raw), record, std::move(fields),
                                                         schema_->codec == "deflate"));
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(lake::Codec codec, lake::ParseCodec(schema_->codec));
  text_ = lake::NewCompressingFile(std::move(raw), codec);
  return absl::OkStatus();
}

Status PartWriter::Write(std::span<const std::optional<std::string_view>> values) {
  if (!text_ && !avro_) RETURN_IF_ERROR(Open());
  ++rows_;
  if (avro_) return avro_->Append(std::vector<std::optional<std::string_view>>(values.begin(), values.end()));
  lake::TextRowWriter writer(schema_->text);
  for (size_t i = 0; i < values.size(); ++i) {
    bool is_string = i < schema_->columns.size() && IsStringType(schema_->columns[i].type);
    if (values[i]) {
      writer.Field(&buf_, *values[i], i == 0);
    } else {
      writer.Null(&buf_, is_string, i == 0);
    }
  }
  writer.EndRow(&buf_);
  if (buf_.size() >= (1 << 20)) {
    RETURN_IF_ERROR(text_->Append(buf_));
    buf_.clear();
  }
  return absl::OkStatus();
}

Status PartWriter::Close() {
  if (avro_) return avro_->Close();
  if (!text_) return absl::OkStatus();
  RETURN_IF_ERROR(text_->Append(buf_));
  buf_.clear();
  return text_->Close();
}

RejectWriter::RejectWriter(lake::Publication* pub, std::string_view run, std::string_view part,
                           const lake::DatasetSchema* rejects)
    : part_(pub, StrCat(RejectsDir(run), "/", part), rejects) {}

Status RejectWriter::Write(std::span<const std::optional<std::string_view>> values, const Rule& rule,
                           std::string_view reason, std::string_view source) {
  std::string label = rule.Label();
  row_.assign(values.begin(), values.end());
  row_.emplace_back(label);
  row_.emplace_back(reason);
  row_.emplace_back(source);
  return part_.Write(row_);
}

RowChecker::ColumnValues LakeColumnValues(lake::Storage* lake) {
  return [lake](const std::string& dataset, const std::string& column) -> StatusOr<std::vector<std::string>> {
    StatusOr<lake::DatasetSchema> schema = lake::ReadDatasetSchema(lake, dataset);
    if (absl::IsNotFound(schema.status())) {
      return absl::FailedPreconditionError(
          StrCat("the referenced dataset ", dataset, " does not exist in ", lake->Uri(), ": import it first"));
    }
    RETURN_IF_ERROR(schema.status());
    int index = schema->ColumnIndex(column);
    if (index < 0) {
      return absl::FailedPreconditionError(StrCat("the referenced dataset ", dataset, " has no column ", column));
    }
    std::vector<std::string> values;
    RETURN_IF_ERROR(lake::ForEachRecord(
        lake, dataset, *schema,
        [&](const lake::FileInfo&, size_t, const std::vector<std::string_view>& fields,
            const std::vector<uint8_t>& null) -> Status {
          size_t i = static_cast<size_t>(index);
          if (i < fields.size() && !null[i]) values.emplace_back(fields[i]);
          return absl::OkStatus();
        }));
    return values;
  };
}

}  // namespace comptoir::quality
