#include "comptoir/lake/text_scan.h"

#include <emmintrin.h>

#include <algorithm>
#include <cstring>

#include "comptoir/core/strings.h"
#include "fmt/format.h"

namespace comptoir::lake {
namespace {

// RFC 4180 without an escape character: fields sliced in place, a quoted
// field with doubled quotes unescaped into `scratch`. Returns the end of the
// record (after its line delimiter), or nullptr if the record is incomplete
// (or, at the end of the file, malformed).
const char* SplitRecord(const char* p, const char* end, bool at_eof, const TextFormat& fmt,
                        std::vector<std::string_view>* fields, std::vector<uint8_t>* null,
                        std::vector<std::string>* scratch, size_t* quoted_newlines) {
  fields->clear();
  null->clear();
  size_t used_scratch = 0;
  const char d = fmt.field_delim, nl = fmt.line_delim, q = fmt.enclose;
  while (true) {
    if (q != 0 && p < end && *p == q) {
      const char* s = ++p;
      bool doubled = false;
      while (true) {
        const char* e = static_cast<const char*>(memchr(p, q, static_cast<size_t>(end - p)));
        if (e == nullptr) return nullptr;
        if (e + 1 < end && e[1] == q) {
          doubled = true;
          p = e + 2;
          continue;
        }
        if (e + 1 == end && !at_eof) return nullptr;
        *quoted_newlines += static_cast<size_t>(std::count(s, e, fmt.line_delim));
        if (doubled) {
          if (scratch->size() <= used_scratch) scratch->emplace_back();
          std::string& out = (*scratch)[used_scratch++];
          out.clear();
          for (const char* c = s; c < e; ++c) {
            out.push_back(*c);
            if (*c == q) ++c;
          }
          fields->emplace_back(out);
        } else {
          fields->emplace_back(s, static_cast<size_t>(e - s));
        }
        null->push_back(false);
        p = e + 1;
        break;
      }
    } else {
      const char* s = p;
      p = FindDelimiter(p, end, d, nl);
      if (p == end && !at_eof) return nullptr;
      std::string_view v(s, static_cast<size_t>(p - s));
      fields->push_back(v);
      null->push_back(SameBytes(v, fmt.null_string) || SameBytes(v, fmt.null_non_string));
    }
    if (p == end) return end;
    if (*p == nl) return p + 1;
    if (*p != d) return nullptr;  // junk after a closing quote
    ++p;
  }
}

// Blocks of 8 MB (not zero-filled); an incomplete last record moves to the
// front before the next read, and a record longer than half a block grows it.
class FastScanner final : public TextScanner {
 public:
  FastScanner(std::unique_ptr<ReadableFile> in, std::string path, const TextFormat& format)
      : in_(std::move(in)), path_(std::move(path)), format_(format), buf_(new char[kBlock]), cap_(kBlock) {}

  StatusOr<bool> Next(std::vector<std::string_view>* fields, std::vector<uint8_t>* null) override {
    while (true) {
      if (pos_ < have_) {
        size_t quoted_newlines = 0;
        const char* p = buf_.get() + pos_;
        const char* next =
            SplitRecord(p, buf_.get() + have_, eof_, format_, fields, null, &scratch_, &quoted_newlines);
        if (next != nullptr) {
          line_ = next_line_;
          next_line_ += 1 + quoted_newlines;
          consumed_ += static_cast<uint64_t>(next - p);
          pos_ = static_cast<size_t>(next - buf_.get());
          return true;
        }
        if (eof_) return absl::DataLossError(fmt::format("{}:{}: malformed record", path_, next_line_));
      } else if (eof_) {
        return false;
      }
      RETURN_IF_ERROR(Refill());
    }
  }
  size_t line() const override { return line_; }
  uint64_t consumed() const override { return consumed_; }

 private:
  static constexpr size_t kBlock = 8 << 20;

  Status Refill() {
    std::memmove(buf_.get(), buf_.get() + pos_, have_ - pos_);
    have_ -= pos_;
    pos_ = 0;
    if (cap_ - have_ < kBlock / 2) {
      std::unique_ptr<char[]> bigger(new char[have_ + kBlock]);
      std::memcpy(bigger.get(), buf_.get(), have_);
      buf_ = std::move(bigger);
      cap_ = have_ + kBlock;
    }
    ASSIGN_OR_RETURN(size_t n, in_->Read(buf_.get() + have_, cap_ - have_));
    have_ += n;
    eof_ = n == 0;
    return absl::OkStatus();
  }

  std::unique_ptr<ReadableFile> in_;
  std::string path_;
  TextFormat format_;
  std::unique_ptr<char[]> buf_;
  size_t cap_;
  size_t have_ = 0, pos_ = 0;
  bool eof_ = false;
  size_t line_ = 0, next_line_ = 1;
  uint64_t consumed_ = 0;
  std::vector<std::string> scratch_;
};

// Sqoop-style escapes: the general reader over the whole file.
class GeneralScanner final : public TextScanner {
 public:
  GeneralScanner(std::string data, const TextFormat& format)
      : data_(std::move(data)), reader_(format, data_) {}
  StatusOr<bool> Next(std::vector<std::string_view>* fields, std::vector<uint8_t>* null) override {
    ASSIGN_OR_RETURN(bool more, reader_.Next(&record_));
    if (!more) return false;
    fields->clear();
    null->clear();
    for (const TextField& f : record_) {
      fields->emplace_back(f ? std::string_view(*f) : std::string_view());
      null->push_back(!f.has_value());
    }
    return true;
  }
  size_t line() const override { return reader_.line(); }
  uint64_t consumed() const override { return data_.size(); }

 private:
  std::string data_;
  TextReader reader_;
  std::vector<TextField> record_;
};

}  // namespace

// 16 bytes at a time (SSE2, in every x86-64), since most fields are shorter.
const char* FindDelimiter(const char* p, const char* end, char d, char nl) {
#if defined(__SSE2__)
  const __m128i vd = _mm_set1_epi8(d), vnl = _mm_set1_epi8(nl);
  for (; end - p >= 16; p += 16) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    int hits = _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, vd), _mm_cmpeq_epi8(v, vnl)));
    if (hits != 0) return p + __builtin_ctz(static_cast<unsigned>(hits));
  }
#endif
  while (p < end && *p != d && *p != nl) ++p;
  return p;
}

StatusOr<std::unique_ptr<TextScanner>> TextScanner::Open(Storage* lake, const FileInfo& part,
                                                         const TextFormat& format, Codec codec) {
  ASSIGN_OR_RETURN(std::unique_ptr<ReadableFile> raw, lake->Open(part.path));
  Codec by_name = CodecForName(part.name);
  if (by_name != Codec::kNone) codec = by_name;
  std::unique_ptr<ReadableFile> in =
      codec == Codec::kNone ? std::move(raw) : NewDecompressingFile(std::move(raw), codec);
  if (format.style == TextFormat::Style::kRfc4180 && format.escape == 0) {
    return std::unique_ptr<TextScanner>(new FastScanner(std::move(in), part.path, format));
  }
  std::string all;
  std::string block(4 << 20, '\0');
  while (true) {
    ASSIGN_OR_RETURN(size_t n, in->Read(block.data(), block.size()));
    if (n == 0) break;
    all.append(block.data(), n);
  }
  return std::unique_ptr<TextScanner>(new GeneralScanner(std::move(all), format));
}

}  // namespace comptoir::lake
