// The dataset contract: `<dataset>/_schema.json`, written by the importer
// with every publication and read by everything that reads a dataset (the
// importer's --append and --merge-key, the analytics engine, the views).
//
//   {"version": 1, "format": "text", "codec": "none",
//    "columns": [{"name": "ORDERNUMBER", "sql_type": "int", "type": "integer", "nullable": false}, ...],
//    "text": {"style": "rfc4180", "field_delim": ",", ...},      // text parts
//    "avro_schema": {...},                                        // Avro parts
//    "datetime_format": "ISO 8601", "source": {"url": ..., "table": ...},
//    "last_import_rows": 2823, "written_by": "comptoir import",
//    "incremental": {"check_column": ..., "last_value": ...}}
//
// Column types ("type"): boolean, integer, decimal (with precision and
// scale), float, date, datetime (no time zone: a wall-clock reading),
// timestamptz (an instant), time, string, binary (base64 in text), json.
// Parsing checks every field's type: a damaged file is DataLoss naming the
// file and the field, never a guess.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "comptoir/core/status.h"
#include "comptoir/lake/storage.h"
#include "comptoir/lake/text_format.h"

namespace comptoir::lake {

struct ColumnSchema {
  std::string name;
  std::string sql_type;  // as the source declared it, e.g. "DECIMAL(10,2)"
  std::string type;      // see above
  bool nullable = true;
  int precision = 0;  // decimal
  int scale = 0;      // decimal
  bool is_unsigned = false;
  std::string encoding;  // binary: "base64"
};

struct DatasetSchema {
  enum class Format { kText, kAvro };
  int version = 1;
  Format format = Format::kText;
  std::string codec = "none";  // text: none | gzip | zstd; Avro: null | deflate
  std::vector<ColumnSchema> columns;
  TextFormat text;               // text parts
  std::string avro_schema_json;  // Avro parts: the writer's schema
  std::string datetime_format = "ISO 8601";
  std::string source_url;  // redacted
  std::string source_table, source_query, source_where;
  uint64_t last_import_rows = 0;
  std::string written_by = "comptoir import";
  std::optional<std::string> check_column, last_value;  // incremental imports

  // The column named `name` (case-insensitive), or -1.
  int ColumnIndex(std::string_view name) const;
  // Whether parts written under `other` can sit beside parts written under
  // this schema (same format, codec family, text layout and columns with
  // the same names and types); the error says what differs.
  Status CompatibleWith(const DatasetSchema& other) const;

  // Avro parts whose zone-less datetime columns are `timestamp-micros` (an
  // instant) rather than `local-timestamp-micros`: written before 2026-12.
  bool AvroDatetimesAsInstants() const;

  std::string ToJson() const;
  // `origin` names the file in errors.
  static StatusOr<DatasetSchema> Parse(std::string_view json, const std::string& origin);
};

inline constexpr std::string_view kSchemaFile = "_schema.json";

// `<dir>/_schema.json`. NotFound when the dataset has none; DataLoss when it
// is damaged.
StatusOr<DatasetSchema> ReadDatasetSchema(Storage* lake, const std::string& dir);

// One record of a part: its 1-based position (text: the line it starts on;
// Avro: the record number), its fields in the lake's text spelling (valid
// during the call) and, per field, whether it is NULL.
using RecordCallback = std::function<Status(const FileInfo& part, size_t position,
                                            const std::vector<std::string_view>& fields,
                                            const std::vector<uint8_t>& null)>;
// Every record of the visible part files of `dir` (written under `schema`:
// text or Avro), part by part in name order; stops at the first error
// (DataLoss naming the file and line for a malformed record).
Status ForEachRecord(Storage* lake, const std::string& dir, const DatasetSchema& schema, const RecordCallback& cb);

}  // namespace comptoir::lake
