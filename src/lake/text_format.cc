#include "comptoir/lake/text_format.h"

#include "nlohmann/json.hpp"

namespace comptoir::lake {

TextFormat TextFormat::Sqoop() {
  TextFormat f;
  f.style = Style::kSqoop;
  f.enclose = 0;
  f.null_string = "null";
  f.null_non_string = "null";
  return f;
}

TextFormat TextFormat::MySqlDelimiters() {
  TextFormat f = Sqoop();
  f.escape = '\\';
  f.enclose = '\'';
  return f;
}

nlohmann::json TextFormat::ToJson() const {
  auto ch = [](char c) { return c == 0 ? std::string() : std::string(1, c); };
  return {{"style", style == Style::kRfc4180 ? "rfc4180" : "sqoop"},
          {"fields_terminated_by", ch(field_delim)},
          {"lines_terminated_by", ch(line_delim)},
          {"enclosed_by", ch(enclose)},
          {"enclose_required", enclose_required},
          {"escaped_by", ch(escape)},
          {"null_string", null_string},
          {"null_non_string", null_non_string}};
}

StatusOr<TextFormat> TextFormat::FromJson(const nlohmann::json& j) {
  TextFormat f;
  try {
    f.style = j.at("style") == "sqoop" ? Style::kSqoop : Style::kRfc4180;
    auto ch = [&](const char* k) {
      std::string s = j.at(k).get<std::string>();
      return s.empty() ? '\0' : s[0];
    };
    f.field_delim = ch("fields_terminated_by");
    f.line_delim = ch("lines_terminated_by");
    f.enclose = ch("enclosed_by");
    f.enclose_required = j.at("enclose_required").get<bool>();
    f.escape = ch("escaped_by");
    f.null_string = j.at("null_string").get<std::string>();
    f.null_non_string = j.at("null_non_string").get<std::string>();
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(StrCat("bad text format description: ", e.what()));
  }
  return f;
}

void TextRowWriter::Field(std::string* out, std::string_view value, bool first) const {
  if (!first) out->push_back(f_.field_delim);
  if (f_.style == TextFormat::Style::kRfc4180) {
    Rfc4180(out, value);
  } else {
    SqoopEscapeAndEnclose(out, value);
  }
}

void TextRowWriter::Null(std::string* out, bool is_string, bool first) const {
  if (!first) out->push_back(f_.field_delim);
  const std::string& token = is_string ? f_.null_string : f_.null_non_string;
  if (f_.style == TextFormat::Style::kRfc4180) {
    out->append(token);
  } else {
    // Sqoop's generated toString() passes the NULL token through the same
    // escaping as any value.
    SqoopEscapeAndEnclose(out, token);
  }
}

void TextRowWriter::Rfc4180(std::string* out, std::string_view value) const {
  const char q = f_.enclose == 0 ? '"' : f_.enclose;
  bool needs = value.empty() || value == f_.null_string || value == f_.null_non_string;
  if (!needs) {
    for (char c : value) {
      if (c == f_.field_delim || c == q || c == '\n' || c == '\r' || c == f_.line_delim) {
        needs = true;
        break;
      }
    }
  }
  if (!needs) {
    out->append(value);
    return;
  }
  out->push_back(q);
  for (char c : value) {
    if (c == q) out->push_back(q);
    out->push_back(c);
  }
  out->push_back(q);
}

// Sqoop 1.4 org.apache.sqoop.lib.FieldFormatter.escapeAndEnclose().
void TextRowWriter::SqoopEscapeAndEnclose(std::string* out, std::string_view value) const {
  const char esc = f_.escape;
  const char enc = f_.enclose;
  const bool escaping = esc != 0;
  bool enclose = enc != 0 && f_.enclose_required;
  if (enc != 0 && !enclose) {
    enclose = value.find(f_.field_delim) != std::string_view::npos ||
              value.find(f_.line_delim) != std::string_view::npos;
  }
  if (enclose) out->push_back(enc);
  for (char c : value) {
    if (escaping) {
      if (c == esc) {
        out->push_back(esc);
      } else if (enc != 0 && c == enc) {
        out->push_back(esc);
      } else if (enc == 0 && (c == f_.field_delim || c == f_.line_delim)) {
        out->push_back(esc);
      }
    }
    out->push_back(c);
  }
  if (enclose) out->push_back(enc);
}

TextReader::TextReader(const TextFormat& format, std::string_view data)
    : f_(format), data_(data) {}

StatusOr<bool> TextReader::Next(std::vector<TextField>* fields) {
  fields->clear();
  quoted_.clear();
  if (pos_ >= data_.size()) return false;
  record_line_ = line_;
  const char q = f_.enclose == 0 ? '"' : f_.enclose;
  std::string cur;
  while (true) {
    bool quoted = false;
    cur.clear();
    if (pos_ < data_.size() && data_[pos_] == q) {
      quoted = true;
      ++pos_;
      size_t start_line = line_;
      while (true) {
        if (pos_ >= data_.size()) {
          return absl::InvalidArgumentError(StrCat(
              "line ", start_line, ": quoted field is not closed before the end of the data"));
        }
        char c = data_[pos_++];
        if (c == q) {
          if (pos_ < data_.size() && data_[pos_] == q) {
            cur.push_back(q);
            ++pos_;
            continue;
          }
          break;
        }
        if (c == '\n') ++line_;
        cur.push_back(c);
      }
      if (pos_ < data_.size() && data_[pos_] != f_.field_delim && data_[pos_] != f_.line_delim &&
          data_[pos_] != '\r') {
        return absl::InvalidArgumentError(StrCat(
            "line ", line_, ": unexpected character '", std::string(1, data_[pos_]),
            "' after a closing quote; quotes inside a field must be doubled"));
      }
    } else {
      size_t end = pos_;
      while (end < data_.size() && data_[end] != f_.field_delim && data_[end] != f_.line_delim) {
        ++end;
      }
      std::string_view raw = data_.substr(pos_, end - pos_);
      if (!raw.empty() && raw.back() == '\r' && f_.line_delim == '\n' &&
          (end >= data_.size() || data_[end] == '\n')) {
        raw.remove_suffix(1);
      }
      cur.assign(raw);
      pos_ = end;
    }
    if (!quoted && (cur == f_.null_string || cur == f_.null_non_string)) {
      fields->push_back(std::nullopt);
    } else {
      fields->push_back(cur);
    }
    quoted_.push_back(quoted);
    if (pos_ < data_.size() && data_[pos_] == '\r') ++pos_;
    if (pos_ >= data_.size()) return true;
    char sep = data_[pos_++];
    if (sep == f_.line_delim) {
      if (sep == '\n') ++line_;
      return true;
    }
  }
}

}  // namespace comptoir::lake
