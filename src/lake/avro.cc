#include "comptoir/lake/avro.h"

#include <avro.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "comptoir/core/time.h"
#include "comptoir/lake/dataset.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"

namespace comptoir::lake {
namespace {

constexpr char kMagic[] = {'O', 'b', 'j', 1};

// Unscaled DECIMAL(38) values need 128 bits (a GCC extension).
__extension__ using Int128 = __int128;

Status AvroError(std::string_view what) {
  return absl::InternalError(StrCat("avro: ", what, ": ", avro_strerror()));
}

void PutLong(std::string* out, int64_t v) {
  uint64_t z = (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
  while (z >= 0x80) {
    out->push_back(static_cast<char>((z & 0x7f) | 0x80));
    z >>= 7;
  }
  out->push_back(static_cast<char>(z));
}

bool GetLong(std::string_view data, size_t* pos, int64_t* v) {
  uint64_t z = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (*pos >= data.size()) return false;
    auto b = static_cast<uint8_t>(data[(*pos)++]);
    z |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) {
      *v = static_cast<int64_t>(z >> 1) ^ -static_cast<int64_t>(z & 1);
      return true;
    }
  }
  return false;
}

// Parses the header's metadata map; returns the offset of the sync marker.
StatusOr<size_t> ParseHeader(std::string_view data, std::vector<std::pair<std::string, std::string>>* meta) {
  if (data.size() < 4 || data.substr(0, 4) != std::string_view(kMagic, 4)) {
    return absl::DataLossError("not an Avro object container file (bad magic)");
  }
  size_t pos = 4;
  while (true) {
    int64_t count = 0;
    if (!GetLong(data, &pos, &count)) return absl::DataLossError("truncated Avro header");
    if (count == 0) break;
    if (count < 0) {
      int64_t bytes = 0;
      if (!GetLong(data, &pos, &bytes)) return absl::DataLossError("truncated Avro header");
      count = -count;
    }
    for (int64_t i = 0; i < count; ++i) {
      std::string kv[2];
      for (std::string& s : kv) {
        int64_t len = 0;
        if (!GetLong(data, &pos, &len) || len < 0 || pos + static_cast<size_t>(len) > data.size()) {
          return absl::DataLossError("truncated Avro header");
        }
        s.assign(data.substr(pos, static_cast<size_t>(len)));
        pos += static_cast<size_t>(len);
      }
      meta->emplace_back(kv[0], kv[1]);
    }
  }
  if (pos + 16 > data.size()) return absl::DataLossError("truncated Avro header");
  return pos;
}

// "-1234.5" with scale 2 -> unscaled -123450 as a 128-bit integer.
StatusOr<Int128> Unscaled(std::string_view text, int scale) {
  bool neg = !text.empty() && text[0] == '-';
  if (neg || (!text.empty() && text[0] == '+')) text.remove_prefix(1);
  Int128 v = 0;
  int frac = -1;
  for (char c : text) {
    if (c == '.' && frac < 0) {
      frac = 0;
      continue;
    }
    if (c < '0' || c > '9') return absl::InvalidArgumentError("not a decimal number");
    if (frac >= 0 && frac == scale) {
      if (c != '0') return absl::InvalidArgumentError("more digits than the scale");
      continue;
    }
    v = v * 10 + (c - '0');
    if (frac >= 0) ++frac;
  }
  for (int f = std::max(frac, 0); f < scale; ++f) v *= 10;
  return neg ? -v : v;
}

// Minimal two's-complement big-endian bytes of `v`.
std::string DecimalBytes(Int128 v) {
  std::string out;
  for (int i = 15; i >= 0; --i) out.push_back(static_cast<char>((v >> (i * 8)) & 0xff));
  size_t start = 0;
  while (start < 15) {
    auto b = static_cast<uint8_t>(out[start]);
    auto next = static_cast<uint8_t>(out[start + 1]);
    if ((b == 0x00 && (next & 0x80) == 0) || (b == 0xff && (next & 0x80) != 0)) {
      ++start;
    } else {
      break;
    }
  }
  return out.substr(start);
}

StatusOr<int64_t> DaysSinceEpoch(std::string_view d) {
  ASSIGN_OR_RETURN(int32_t day, core::ParseDay(d.substr(0, std::min<size_t>(d.size(), 10))));
  return day;
}

StatusOr<int64_t> MicrosSinceEpoch(std::string_view t) {
  ASSIGN_OR_RETURN(int64_t days, DaysSinceEpoch(t));
  int hh = 0, mm = 0, ss = 0;
  if (t.size() < 19 || !ParseInt(t.substr(11, 2), &hh) || !ParseInt(t.substr(14, 2), &mm) ||
      !ParseInt(t.substr(17, 2), &ss)) {
    return absl::InvalidArgumentError("not a datetime YYYY-MM-DDTHH:MM:SS");
  }
  int64_t micros = 0;
  if (t.size() > 20 && t[19] == '.') {
    std::string frac(t.substr(20, 6));
    while (!frac.empty() && (frac.back() < '0' || frac.back() > '9')) frac.pop_back();
    frac.append(6 - frac.size(), '0');
    (void)ParseInt(frac, &micros);
  }
  return ((days * 86400 + hh * 3600 + mm * 60 + ss) * 1000000) + micros;
}

}  // namespace

std::string AvroName(std::string_view name) {
  std::string out;
  for (char c : name) {
    bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '_';
    out.push_back(ok ? c : '_');
  }
  if (out.empty() || std::isdigit(static_cast<unsigned char>(out[0]))) out.insert(0, "_");
  return out;
}

std::string AvroSchemaJson(std::string_view record_name, const std::vector<AvroField>& fields) {
  nlohmann::json fs = nlohmann::json::array();
  for (const AvroField& f : fields) {
    nlohmann::json t;
    switch (f.type) {
      case AvroType::kBoolean:
        t = "boolean";
        break;
      case AvroType::kLong:
        t = "long";
        break;
      case AvroType::kDouble:
        t = "double";
        break;
      case AvroType::kString:
        t = "string";
        break;
      case AvroType::kBytes:
        t = "bytes";
        break;
      case AvroType::kDecimal:
        t = {{"type", "bytes"}, {"logicalType", "decimal"}, {"precision", f.precision},
             {"scale", f.scale}};
        break;
      case AvroType::kDate:
        t = {{"type", "int"}, {"logicalType", "date"}};
        break;
      case AvroType::kTimestampMicros:
        t = {{"type", "long"}, {"logicalType", "timestamp-micros"}};
        break;
      case AvroType::kLocalTimestampMicros:
        t = {{"type", "long"}, {"logicalType", "local-timestamp-micros"}};
        break;
    }
    fs.push_back({{"name", AvroName(f.name)}, {"type", {"null", t}}, {"default", nullptr}});
  }
  nlohmann::json j = {{"type", "record"}, {"name", AvroName(record_name)}, {"fields", fs}};
  return j.dump();
}

StatusOr<std::vector<AvroField>> AvroFieldsOf(std::string_view schema_json, std::string* record_name) {
  nlohmann::json j = nlohmann::json::parse(schema_json, nullptr, false);
  auto bad = [&](std::string_view what) {
    return absl::InvalidArgumentError(StrCat("Avro schema: ", what, " (", schema_json.substr(0, 200), ")"));
  };
  if (!j.is_object() || !j.contains("fields") || !j["fields"].is_array()) return bad("not a record schema");
  if (record_name != nullptr) *record_name = j.value("name", "record");
  std::vector<AvroField> out;
  for (const nlohmann::json& f : j["fields"]) {
    if (!f.is_object() || !f.contains("type") || !f["type"].is_array() || f["type"].size() != 2) {
      return bad("a field is not a union with null");
    }
    AvroField a;
    a.name = f.value("name", "");
    const nlohmann::json& t = f["type"][1];
    std::string type = t.is_string() ? t.get<std::string>() : t.value("type", "");
    std::string logical = t.is_object() ? t.value("logicalType", "") : "";
    if (logical == "decimal") {
      a.type = AvroType::kDecimal;
      a.precision = t.value("precision", 0);
      a.scale = t.value("scale", 0);
    } else if (logical == "date") {
      a.type = AvroType::kDate;
    } else if (logical == "timestamp-micros") {
      a.type = AvroType::kTimestampMicros;
    } else if (logical == "local-timestamp-micros") {
      a.type = AvroType::kLocalTimestampMicros;
    } else if (type == "boolean") {
      a.type = AvroType::kBoolean;
    } else if (type == "long") {
      a.type = AvroType::kLong;
    } else if (type == "double") {
      a.type = AvroType::kDouble;
    } else if (type == "string") {
      a.type = AvroType::kString;
    } else if (type == "bytes") {
      a.type = AvroType::kBytes;
    } else {
      return bad(StrCat("field ", a.name, " has type ", t.dump()));
    }
    out.push_back(std::move(a));
  }
  return out;
}

struct AvroFileWriter::Impl {
  std::unique_ptr<WritableFile> out;
  std::vector<AvroField> fields;
  std::string schema_json;
  std::string tmp_path;
  avro_schema_t schema = nullptr;
  avro_value_iface_t* iface = nullptr;
  avro_value_t record{};
  bool record_ok = false;
  avro_file_writer_t writer = nullptr;
  bool closed = false;

  ~Impl() {
    if (writer != nullptr) avro_file_writer_close(writer);
    if (record_ok) avro_value_decref(&record);
    if (iface != nullptr) avro_value_iface_decref(iface);
    if (schema != nullptr) avro_schema_decref(schema);
    if (!tmp_path.empty()) ::unlink(tmp_path.c_str());
  }
};

AvroFileWriter::AvroFileWriter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
AvroFileWriter::~AvroFileWriter() = default;

StatusOr<std::unique_ptr<AvroFileWriter>> AvroFileWriter::Create(std::unique_ptr<WritableFile> out,
                                                                 std::string_view record_name,
                                                                 std::vector<AvroField> fields,
                                                                 bool deflate) {
  auto impl = std::make_unique<Impl>();
  impl->out = std::move(out);
  impl->fields = std::move(fields);
  impl->schema_json = AvroSchemaJson(record_name, impl->fields);
  if (avro_schema_from_json_length(impl->schema_json.data(), impl->schema_json.size(),
                                   &impl->schema) != 0) {
    return AvroError("schema");
  }
  impl->iface = avro_generic_class_from_schema(impl->schema);
  if (impl->iface == nullptr || avro_generic_value_new(impl->iface, &impl->record) != 0) {
    return AvroError("value");
  }
  impl->record_ok = true;
  std::string tmpl = (std::filesystem::temp_directory_path() / "comptoir-avro-XXXXXX").string();
  int fd = mkstemp(tmpl.data());
  if (fd < 0) return ErrnoToStatus(errno, "create a temporary Avro file");
  ::close(fd);
  ::unlink(tmpl.c_str());  // avro-c creates it itself
  impl->tmp_path = tmpl;
  if (avro_file_writer_create_with_codec(impl->tmp_path.c_str(), impl->schema, &impl->writer,
                                         deflate ? "deflate" : "null", 64 * 1024) != 0) {
    return AvroError("create file");
  }
  return std::unique_ptr<AvroFileWriter>(new AvroFileWriter(std::move(impl)));
}

Status AvroFileWriter::Append(const std::vector<std::optional<std::string_view>>& values) {
  Impl& m = *impl_;
  if (values.size() != m.fields.size()) {
    return absl::InternalError(StrCat("avro: ", values.size(), " values for ", m.fields.size(),
                                      " fields"));
  }
  for (size_t i = 0; i < values.size(); ++i) {
    avro_value_t field, branch;
    avro_value_get_by_index(&m.record, i, &field, nullptr);
    if (!values[i]) {
      avro_value_set_branch(&field, 0, &branch);
      avro_value_set_null(&branch);
      continue;
    }
    avro_value_set_branch(&field, 1, &branch);
    std::string_view v = *values[i];
    const AvroField& f = m.fields[i];
    auto bad = [&](std::string_view why) {
      return absl::InvalidArgumentError(
          StrCat("avro: field ", f.name, " value \"", v, "\": ", why));
    };
    int rc = 0;
    switch (f.type) {
      case AvroType::kBoolean: {
        bool b = false;
        if (!ParseBool(v, &b)) return bad("not a boolean");
        rc = avro_value_set_boolean(&branch, b ? 1 : 0);
        break;
      }
      case AvroType::kLong: {
        int64_t n = 0;
        if (!ParseInt(v, &n)) return bad("not a 64-bit integer");
        rc = avro_value_set_long(&branch, n);
        break;
      }
      case AvroType::kDouble: {
        std::string s(v);
        char* end = nullptr;
        double d = std::strtod(s.c_str(), &end);
        if (end == s.c_str() || *end != '\0') return bad("not a number");
        rc = avro_value_set_double(&branch, d);
        break;
      }
      case AvroType::kString: {
        std::string s(v);
        rc = avro_value_set_string_len(&branch, s.c_str(), s.size() + 1);
        break;
      }
      case AvroType::kBytes:
        rc = avro_value_set_bytes(&branch, const_cast<char*>(v.data()), v.size());
        break;
      case AvroType::kDecimal: {
        StatusOr<Int128> u = Unscaled(v, f.scale);
        if (!u.ok()) return bad(std::string(u.status().message()));
        std::string bytes = DecimalBytes(*u);
        rc = avro_value_set_bytes(&branch, bytes.data(), bytes.size());
        break;
      }
      case AvroType::kDate: {
        StatusOr<int64_t> d = DaysSinceEpoch(v);
        if (!d.ok()) return bad(std::string(d.status().message()));
        rc = avro_value_set_int(&branch, static_cast<int32_t>(*d));
        break;
      }
      case AvroType::kTimestampMicros:
      case AvroType::kLocalTimestampMicros: {
        StatusOr<int64_t> t = MicrosSinceEpoch(v);
        if (!t.ok()) return bad(std::string(t.status().message()));
        rc = avro_value_set_long(&branch, *t);
        break;
      }
    }
    if (rc != 0) return AvroError(StrCat("set field ", f.name));
  }
  if (avro_file_writer_append_value(m.writer, &m.record) != 0) return AvroError("append");
  return absl::OkStatus();
}

Status AvroFileWriter::Close() {
  Impl& m = *impl_;
  if (m.closed) return absl::OkStatus();
  m.closed = true;
  if (avro_file_writer_close(m.writer) != 0) {
    m.writer = nullptr;
    return AvroError("close");
  }
  m.writer = nullptr;
  std::ifstream in(m.tmp_path, std::ios::binary);
  // The header (magic, metadata, sync) is small; the blocks are streamed.
  std::string head(1 << 20, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<size_t>(in.gcount()));
  std::vector<std::pair<std::string, std::string>> meta;
  ASSIGN_OR_RETURN(size_t sync_at, ParseHeader(head, &meta));
  // Same metadata and sync marker, but the full schema (with logical types).
  std::string header(kMagic, 4);
  PutLong(&header, static_cast<int64_t>(meta.size()));
  for (auto& [k, v] : meta) {
    const std::string& value = k == "avro.schema" ? m.schema_json : v;
    PutLong(&header, static_cast<int64_t>(k.size()));
    header += k;
    PutLong(&header, static_cast<int64_t>(value.size()));
    header += value;
  }
  PutLong(&header, 0);
  RETURN_IF_ERROR(m.out->Append(header));
  RETURN_IF_ERROR(m.out->Append(std::string_view(head).substr(sync_at)));
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    if (in.gcount() > 0) {
      RETURN_IF_ERROR(m.out->Append(std::string_view(buf.data(), static_cast<size_t>(in.gcount()))));
    }
  }
  return m.out->Close();
}

StatusOr<std::string> AvroFileSchema(std::string_view file_bytes) {
  std::vector<std::pair<std::string, std::string>> meta;
  RETURN_IF_ERROR(ParseHeader(file_bytes, &meta).status());
  for (auto& [k, v] : meta) {
    if (k == "avro.schema") return v;
  }
  return absl::DataLossError("Avro header has no avro.schema");
}

namespace {

// "YYYY-MM-DDTHH:MM:SS[.ffffff][Z]" for microseconds since the epoch.
std::string FormatMicros(int64_t x, bool zone) {
  int64_t days = x >= 0 ? x / 86400000000 : (x - 86399999999) / 86400000000;
  int64_t rest = x - days * 86400000000;
  int64_t secs = rest / 1000000, micros = rest % 1000000;
  std::string out = core::FormatDay(static_cast<int32_t>(days));
  out += fmt::format("T{:02d}:{:02d}:{:02d}", secs / 3600, secs / 60 % 60, secs % 60);
  if (micros != 0) out += fmt::format(".{:06d}", micros);
  if (zone) out += 'Z';
  return out;
}

// Big-endian two's complement unscaled value -> exact decimal text.
StatusOr<std::string> DecimalText(const unsigned char* u, size_t n, int scale) {
  if (n > 8) return absl::OutOfRangeError(fmt::format("a decimal of {} bytes is too large", n));
  uint64_t bits = n > 0 && (u[0] & 0x80) ? ~uint64_t{0} : 0;
  for (size_t k = 0; k < n; ++k) bits = (bits << 8) | u[k];
  bool neg = static_cast<int64_t>(bits) < 0;
  uint64_t m = neg ? uint64_t{0} - bits : bits;
  std::string digits;
  do {
    digits.insert(digits.begin(), static_cast<char>('0' + static_cast<int>(m % 10)));
    m /= 10;
  } while (m > 0);
  while (static_cast<int>(digits.size()) <= scale) digits.insert(digits.begin(), '0');
  if (scale > 0) digits.insert(digits.end() - scale, '.');
  return (neg ? "-" : "") + digits;
}

}  // namespace

struct AvroFileReader::Impl {
  std::string path;
  std::string bytes;  // the whole part (avro-c reads it through fmemopen)
  std::vector<std::string> types;
  std::vector<int> scales;
  avro_file_reader_t reader = nullptr;
  avro_schema_t schema = nullptr;
  avro_value_iface_t* iface = nullptr;
  avro_value_t record{};
  bool have_record = false;
  std::vector<std::string> text;
  size_t row = 0;

  ~Impl() {
    if (have_record) avro_value_decref(&record);
    if (iface != nullptr) avro_value_iface_decref(iface);
    if (schema != nullptr) avro_schema_decref(schema);
    if (reader != nullptr) avro_file_reader_close(reader);
  }

  // One field of the current record as text; false for NULL.
  StatusOr<bool> Field(size_t i, std::string* out) {
    avro_value_t field, v;
    out->clear();
    if (avro_value_get_by_index(&record, i, &field, nullptr) != 0) return false;
    if (avro_value_get_type(&field) == AVRO_UNION) {
      if (avro_value_get_current_branch(&field, &v) != 0) return false;
    } else {
      v = field;
    }
    const std::string& type = i < types.size() ? types[i] : std::string();
    switch (avro_value_get_type(&v)) {
      case AVRO_NULL:
        return false;
      case AVRO_STRING: {
        const char* p = nullptr;
        size_t n = 0;
        avro_value_get_string(&v, &p, &n);
        out->assign(p, n > 0 ? n - 1 : 0);
        return true;
      }
      case AVRO_INT32: {
        int32_t x = 0;
        avro_value_get_int(&v, &x);
        *out = type == "date" ? core::FormatDay(x) : std::to_string(x);
        return true;
      }
      case AVRO_INT64: {
        int64_t x = 0;
        avro_value_get_long(&v, &x);
        bool stamp = type == "datetime" || type == "timestamptz" || type == "timestamp";
        *out = stamp ? FormatMicros(x, type == "timestamptz") : std::to_string(x);
        return true;
      }
      case AVRO_BYTES: {
        const void* p = nullptr;
        size_t n = 0;
        avro_value_get_bytes(&v, &p, &n);
        if (type != "decimal") {
          out->assign(static_cast<const char*>(p), n);
          return true;
        }
        StatusOr<std::string> d =
            DecimalText(static_cast<const unsigned char*>(p), n, i < scales.size() ? scales[i] : 0);
        if (!d.ok()) return absl::OutOfRangeError(fmt::format("{}: record {}: {}", path, row, std::string(d.status().message())));
        *out = *std::move(d);
        return true;
      }
      case AVRO_DOUBLE: {
        double x = 0;
        avro_value_get_double(&v, &x);
        *out = fmt::format("{}", x);
        return true;
      }
      case AVRO_BOOLEAN: {
        int x = 0;
        avro_value_get_boolean(&v, &x);
        *out = x ? "true" : "false";
        return true;
      }
      default:
        return false;
    }
  }
};

AvroFileReader::AvroFileReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
AvroFileReader::~AvroFileReader() = default;

StatusOr<std::unique_ptr<AvroFileReader>> AvroFileReader::Open(Storage* lake, const std::string& path,
                                                               const DatasetSchema& dataset) {
  auto m = std::make_unique<Impl>();
  m->path = path;
  for (const ColumnSchema& c : dataset.columns) {
    m->types.push_back(c.type);
    m->scales.push_back(c.scale);
  }
  ASSIGN_OR_RETURN(m->bytes, ReadFileToString(lake, path));
  FILE* fp = fmemopen(m->bytes.data(), m->bytes.size(), "rb");
  if (fp == nullptr) return absl::InternalError("fmemopen failed");
  if (avro_file_reader_fp(fp, path.c_str(), 1, &m->reader) != 0) {
    m->reader = nullptr;
    return absl::DataLossError(StrCat(path, ": not an Avro file: ", avro_strerror()));
  }
  m->schema = avro_file_reader_get_writer_schema(m->reader);
  m->iface = avro_generic_class_from_schema(m->schema);
  avro_generic_value_new(m->iface, &m->record);
  m->have_record = true;
  m->text.resize(dataset.columns.size());
  return std::unique_ptr<AvroFileReader>(new AvroFileReader(std::move(m)));
}

StatusOr<bool> AvroFileReader::Next(std::vector<std::string_view>* fields, std::vector<uint8_t>* null) {
  Impl& m = *impl_;
  if (avro_file_reader_read_value(m.reader, &m.record) != 0) return false;
  ++m.row;
  fields->assign(m.text.size(), std::string_view());
  null->assign(m.text.size(), 1);
  for (size_t i = 0; i < m.text.size(); ++i) {
    ASSIGN_OR_RETURN(bool present, m.Field(i, &m.text[i]));
    (*null)[i] = !present;
    (*fields)[i] = m.text[i];
  }
  return true;
}

size_t AvroFileReader::record() const { return impl_->row; }

}  // namespace comptoir::lake
