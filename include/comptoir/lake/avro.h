// Avro object container files (avro-c), with the schema in the file.
//
// Values arrive as lake text (the same spelling as text files) and are
// converted to the field's Avro type: DECIMAL becomes `bytes` with the
// `decimal` logical type (two's complement, big-endian unscaled value), DATE
// an `int` with `date`, a zone-less DATETIME a `long` with
// `local-timestamp-micros` (the wall-clock reading, which Spark reads as
// TIMESTAMP_NTZ), a zone-aware timestamp (PostgreSQL timestamptz) a `long`
// with `timestamp-micros` (an instant in UTC), binary columns raw `bytes`.
// Every field is a union with null.
//
// avro-c (Debian 12: 1.11.1) drops logical-type attributes when it writes a
// schema, so the writer rewrites the container header with the full schema
// once the data blocks are written; the blocks themselves are avro-c's.
// Data is staged in a local temporary file and copied to the destination on
// Close(), so any Storage works.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "comptoir/lake/storage.h"

namespace comptoir::lake {

enum class AvroType {
  kBoolean,
  kLong,
  kDouble,
  kString,
  kBytes,
  kDecimal,
  kDate,
  kTimestampMicros,       // an instant (UTC): zone-aware sources
  kLocalTimestampMicros,  // a wall-clock reading: zone-less DATETIME
};

struct AvroField {
  std::string name;
  AvroType type = AvroType::kString;
  int precision = 0;  // kDecimal
  int scale = 0;      // kDecimal
};

// The record schema as JSON (Avro 1.11 specification).
std::string AvroSchemaJson(std::string_view record_name, const std::vector<AvroField>& fields);

// The fields of a record schema written by AvroSchemaJson (a union with
// null of a primitive or logical type per field), and the record's name.
// InvalidArgument for a schema it did not write.
StatusOr<std::vector<AvroField>> AvroFieldsOf(std::string_view schema_json, std::string* record_name = nullptr);

// Avro names must match [A-Za-z_][A-Za-z0-9_]*; other characters become '_'.
std::string AvroName(std::string_view name);

class AvroFileWriter {
 public:
  // `deflate` compresses blocks with the Avro "deflate" codec.
  static StatusOr<std::unique_ptr<AvroFileWriter>> Create(std::unique_ptr<WritableFile> out,
                                                          std::string_view record_name,
                                                          std::vector<AvroField> fields,
                                                          bool deflate);
  ~AvroFileWriter();
  AvroFileWriter(const AvroFileWriter&) = delete;
  AvroFileWriter& operator=(const AvroFileWriter&) = delete;

  // One record; `values[i]` is nullopt for NULL. InvalidArgument names the
  // field and the value that does not convert.
  Status Append(const std::vector<std::optional<std::string_view>>& values);
  // Finishes the file and writes it to the destination.
  Status Close();

 private:
  struct Impl;
  explicit AvroFileWriter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Reads the schema JSON stored in an Avro container file's header.
StatusOr<std::string> AvroFileSchema(std::string_view file_bytes);

struct DatasetSchema;

// Reads an Avro part record by record, each field in the lake's text
// spelling, as a text part of the same dataset would hold it. The dataset's
// column types say how (avro-c drops logical types when it reads): date ->
// "2003-02-24"; datetime -> "2003-02-24T00:00:00[.ffffff]"; timestamptz ->
// the same with "Z"; decimal -> exact digits with the column's scale;
// double -> shortest round-trip text; boolean -> true/false.
class AvroFileReader {
 public:
  // avro-c reads from memory here: the part is loaded whole.
  static StatusOr<std::unique_ptr<AvroFileReader>> Open(Storage* lake, const std::string& path,
                                                        const DatasetSchema& schema);
  ~AvroFileReader();
  AvroFileReader(const AvroFileReader&) = delete;
  AvroFileReader& operator=(const AvroFileReader&) = delete;

  // The next record (fields valid until the next call); false at the end.
  // OutOfRange for a decimal wider than 64 bits.
  StatusOr<bool> Next(std::vector<std::string_view>* fields, std::vector<uint8_t>* null);
  // 1-based number of the last record.
  size_t record() const;

 private:
  struct Impl;
  explicit AvroFileReader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace comptoir::lake
