#include "comptoir/lake/dataset.h"

#include "comptoir/core/strings.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"

namespace comptoir::lake {
namespace {

using nlohmann::json;

std::string TypeName(const json& j) { return j.is_null() ? "null" : std::string(j.type_name()); }

// Typed reading of _schema.json: every problem names the file and the field.
class Reader {
 public:
  explicit Reader(const std::string& origin) : origin_(origin) {}
  Status Damaged(std::string_view what) const {
    return absl::DataLossError(fmt::format(
        "{} is damaged: {}; re-import the dataset (comptoir import ... --delete-target-dir) to rewrite it",
        origin_, what));
  }
  template <typename T>
  Status Get(const json& o, std::string_view key, T* out, bool required = false, std::string_view in = "") const {
    auto it = o.find(key);
    if (it == o.end() || it->is_null()) {
      return required ? Damaged(fmt::format("\"{}{}\" is missing", in, key)) : absl::OkStatus();
    }
    bool ok = false;
    if constexpr (std::is_same_v<T, std::string>) {
      ok = it->is_string();
    } else if constexpr (std::is_same_v<T, bool>) {
      ok = it->is_boolean();
    } else {
      ok = it->is_number_integer();
    }
    if (!ok) {
      const char* want = std::is_same_v<T, std::string> ? "a string" : std::is_same_v<T, bool> ? "true or false" : "an integer";
      return Damaged(fmt::format("\"{}{}\" must be {}, not {}", in, key, want, TypeName(*it)));
    }
    *out = it->get<T>();
    return absl::OkStatus();
  }

 private:
  const std::string& origin_;
};

std::string FormatName(DatasetSchema::Format f) { return f == DatasetSchema::Format::kAvro ? "avro" : "text"; }

}  // namespace

int DatasetSchema::ColumnIndex(std::string_view name) const {
  for (size_t i = 0; i < columns.size(); ++i) {
    if (EqualsIgnoreCase(columns[i].name, name)) return static_cast<int>(i);
  }
  return -1;
}

Status DatasetSchema::CompatibleWith(const DatasetSchema& other) const {
  if (format != other.format) {
    return absl::FailedPreconditionError(
        fmt::format("its parts are {}, this import writes {}", FormatName(format), FormatName(other.format)));
  }
  if (format == Format::kText && text.ToJson() != other.text.ToJson()) {
    return absl::FailedPreconditionError(fmt::format("its text layout is {}, this import writes {}",
                                                     text.ToJson().dump(), other.text.ToJson().dump()));
  }
  if (columns.size() != other.columns.size()) {
    return absl::FailedPreconditionError(
        fmt::format("it has {} columns, this import has {}", columns.size(), other.columns.size()));
  }
  for (size_t i = 0; i < columns.size(); ++i) {
    const ColumnSchema& a = columns[i];
    const ColumnSchema& b = other.columns[i];
    if (!EqualsIgnoreCase(a.name, b.name) || a.type != b.type || a.scale != b.scale) {
      return absl::FailedPreconditionError(fmt::format("column {} is {} {}{} there, {} {}{} in this import", i + 1,
                                                       a.name, a.type, a.scale ? fmt::format("({})", a.scale) : "",
                                                       b.name, b.type, b.scale ? fmt::format("({})", b.scale) : ""));
    }
  }
  return absl::OkStatus();
}

bool DatasetSchema::AvroDatetimesAsInstants() const {
  if (format != Format::kAvro) return false;
  json avro = json::parse(avro_schema_json, nullptr, false);
  if (!avro.is_object() || !avro.contains("fields") || !avro["fields"].is_array()) return false;
  const json& fields = avro["fields"];
  for (size_t i = 0; i < columns.size() && i < fields.size(); ++i) {
    if (columns[i].type != "datetime" || !fields[i].is_object()) continue;
    json branches = fields[i].value("type", json::array());
    if (!branches.is_array()) branches = json::array({branches});
    for (const json& b : branches) {
      if (b.is_object() && b.value("logicalType", "") == "timestamp-micros") return true;
    }
  }
  return false;
}

std::string DatasetSchema::ToJson() const {
  json cols = json::array();
  for (const ColumnSchema& c : columns) {
    json j = {{"name", c.name}, {"sql_type", c.sql_type}, {"type", c.type}, {"nullable", c.nullable}};
    if (c.type == "decimal") {
      j["precision"] = c.precision;
      j["scale"] = c.scale;
    }
    if (!c.encoding.empty()) j["encoding"] = c.encoding;
    if (c.is_unsigned) j["unsigned"] = true;
    cols.push_back(std::move(j));
  }
  json src = {{"url", source_url}};
  if (!source_table.empty()) src["table"] = source_table;
  if (!source_query.empty()) src["query"] = source_query;
  if (!source_where.empty()) src["where"] = source_where;
  json j = {{"version", version},
            {"columns", cols},
            {"format", FormatName(format)},
            {"codec", codec},
            {"datetime_format", datetime_format},
            {"source", src},
            {"last_import_rows", last_import_rows},
            {"written_by", written_by}};
  if (format == Format::kAvro) {
    j["avro_schema"] = json::parse(avro_schema_json, nullptr, false);
  } else {
    j["text"] = text.ToJson();
  }
  if (check_column && last_value) j["incremental"] = {{"check_column", *check_column}, {"last_value", *last_value}};
  return j.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

StatusOr<DatasetSchema> DatasetSchema::Parse(std::string_view text, const std::string& origin) {
  Reader r(origin);
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded()) return r.Damaged(text.empty() ? "it is empty" : "it is not valid JSON");
  if (!j.is_object()) return r.Damaged(fmt::format("it holds {} instead of an object", TypeName(j)));
  DatasetSchema s;
  RETURN_IF_ERROR(r.Get(j, "version", &s.version));
  std::string format = "text";
  RETURN_IF_ERROR(r.Get(j, "format", &format));
  if (format != "text" && format != "avro") {
    return r.Damaged(fmt::format("\"format\" is \"{}\"; expected text or avro", format));
  }
  s.format = format == "avro" ? Format::kAvro : Format::kText;
  s.codec = s.format == Format::kAvro ? "null" : "none";
  RETURN_IF_ERROR(r.Get(j, "codec", &s.codec));
  auto cols = j.find("columns");
  if (cols == j.end()) return r.Damaged("\"columns\" is missing");
  if (!cols->is_array() || cols->empty()) return r.Damaged("\"columns\" must be a non-empty array");
  for (size_t i = 0; i < cols->size(); ++i) {
    const json& c = (*cols)[i];
    std::string in = fmt::format("columns[{}].", i);
    if (!c.is_object()) return r.Damaged(fmt::format("\"columns[{}]\" must be an object, not {}", i, TypeName(c)));
    ColumnSchema col;
    RETURN_IF_ERROR(r.Get(c, "name", &col.name, true, in));
    RETURN_IF_ERROR(r.Get(c, "sql_type", &col.sql_type, false, in));
    RETURN_IF_ERROR(r.Get(c, "type", &col.type, true, in));
    RETURN_IF_ERROR(r.Get(c, "nullable", &col.nullable, false, in));
    RETURN_IF_ERROR(r.Get(c, "precision", &col.precision, false, in));
    RETURN_IF_ERROR(r.Get(c, "scale", &col.scale, false, in));
    RETURN_IF_ERROR(r.Get(c, "unsigned", &col.is_unsigned, false, in));
    RETURN_IF_ERROR(r.Get(c, "encoding", &col.encoding, false, in));
    s.columns.push_back(std::move(col));
  }
  if (auto t = j.find("text"); t != j.end()) {
    if (!t->is_object()) return r.Damaged(fmt::format("\"text\" must be an object, not {}", TypeName(*t)));
    StatusOr<TextFormat> f = TextFormat::FromJson(*t);
    if (!f.ok()) return r.Damaged(fmt::format("\"text\": {}", std::string(f.status().message())));
    s.text = *f;
  } else if (s.format == Format::kText) {
    return r.Damaged("\"text\" (the layout of the text parts) is missing");
  }
  if (auto a = j.find("avro_schema"); a != j.end()) s.avro_schema_json = a->dump();
  RETURN_IF_ERROR(r.Get(j, "datetime_format", &s.datetime_format));
  if (auto src = j.find("source"); src != j.end() && src->is_object()) {
    RETURN_IF_ERROR(r.Get(*src, "url", &s.source_url, false, "source."));
    RETURN_IF_ERROR(r.Get(*src, "table", &s.source_table, false, "source."));
    RETURN_IF_ERROR(r.Get(*src, "query", &s.source_query, false, "source."));
    RETURN_IF_ERROR(r.Get(*src, "where", &s.source_where, false, "source."));
  }
  RETURN_IF_ERROR(r.Get(j, "last_import_rows", &s.last_import_rows));
  RETURN_IF_ERROR(r.Get(j, "written_by", &s.written_by));
  if (auto inc = j.find("incremental"); inc != j.end() && inc->is_object()) {
    std::string column, value;
    RETURN_IF_ERROR(r.Get(*inc, "check_column", &column, true, "incremental."));
    RETURN_IF_ERROR(r.Get(*inc, "last_value", &value, true, "incremental."));
    s.check_column = column;
    s.last_value = value;
  }
  return s;
}

StatusOr<DatasetSchema> ReadDatasetSchema(Storage* lake, const std::string& dir) {
  std::string path = JoinPath(dir, std::string(kSchemaFile));
  ASSIGN_OR_RETURN(std::string text, ReadFileToString(lake, path));
  return DatasetSchema::Parse(text, lake->Uri() + path);
}

}  // namespace comptoir::lake
