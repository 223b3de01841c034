// Delimited text: the lake's default output format and its reader.
//
// Two writing styles:
//  - kRfc4180 (default): fields quoted with '"' only when needed (delimiter,
//    quote, CR or LF inside, an empty string, or a value equal to the NULL
//    token), quotes doubled inside; NULL written as the unquoted token (\N).
//    So NULL, "" and the two characters \N stay distinct for every reader.
//  - kSqoop: Sqoop 1.4's FieldFormatter byte for byte (--fields-terminated-by,
//    --lines-terminated-by, --enclosed-by, --optionally-enclosed-by,
//    --escaped-by, --mysql-delimiters, --null-string, --null-non-string).
// Both are cheap: one pass over the value, no allocation when nothing needs
// quoting.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "comptoir/core/status.h"
#include "nlohmann/json_fwd.hpp"

namespace comptoir::lake {

struct TextFormat {
  enum class Style { kRfc4180, kSqoop };
  Style style = Style::kRfc4180;
  char field_delim = ',';
  char line_delim = '\n';
  char enclose = '"';             // 0 = never enclose (Sqoop's default)
  bool enclose_required = false;  // Sqoop --enclosed-by: always enclose
  char escape = 0;                // 0 = no escape character
  std::string null_string = "\\N";      // NULL in string columns
  std::string null_non_string = "\\N";  // NULL in other columns

  // Sqoop's defaults: ',' '\n', no enclosing, no escaping, NULL as "null".
  static TextFormat Sqoop();
  // --mysql-delimiters: ',' '\n' escaped-by '\\' optionally-enclosed-by '\''.
  static TextFormat MySqlDelimiters();

  nlohmann::json ToJson() const;
  static StatusOr<TextFormat> FromJson(const nlohmann::json& j);
};

// Appends fields and rows to a buffer.
class TextRowWriter {
 public:
  explicit TextRowWriter(const TextFormat& format) : f_(format) {}
  void Field(std::string* out, std::string_view value, bool first) const;
  void Null(std::string* out, bool is_string, bool first) const;
  void EndRow(std::string* out) const { out->push_back(f_.line_delim); }

 private:
  void Rfc4180(std::string* out, std::string_view value) const;
  void SqoopEscapeAndEnclose(std::string* out, std::string_view value) const;

  TextFormat f_;
};

// One parsed field: nullopt is NULL (the unquoted NULL token).
using TextField = std::optional<std::string>;

// Reads RFC 4180 text (kRfc4180 style) record by record from memory.
// Quoted fields may span lines. Errors name the 1-based line number.
class TextReader {
 public:
  TextReader(const TextFormat& format, std::string_view data);
  // Fills `fields` with the next record; false at the end of the data.
  StatusOr<bool> Next(std::vector<TextField>* fields);
  // Line on which the last record returned by Next() started.
  size_t line() const { return record_line_; }
  // True if the field at `i` of the last record was quoted.
  bool quoted(size_t i) const { return i < quoted_.size() && quoted_[i]; }

 private:
  TextFormat f_;
  std::string_view data_;
  size_t pos_ = 0;
  size_t line_ = 1;
  size_t record_line_ = 0;
  std::vector<bool> quoted_;
};

}  // namespace comptoir::lake
