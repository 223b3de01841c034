// Fast reading of a dataset's text parts, record by record, for engines that
// scan whole datasets (the analytics engine, the views, quality checks).
//
// The RFC 4180 layout without an escape character (the lake's default) is
// split in place: fields are views into an 8 MB read block, found 16 bytes at
// a time (SSE2); a quoted field with doubled quotes is unescaped into a
// scratch buffer. Other layouts (Sqoop's escapes) go through the general
// TextReader. The part is decompressed by its name's extension (.gz, .zst)
// or, failing that, by the dataset's codec. Records may span blocks and be
// longer than a block.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "comptoir/core/status.h"
#include "comptoir/lake/compression.h"
#include "comptoir/lake/storage.h"
#include "comptoir/lake/text_format.h"

namespace comptoir::lake {

class TextScanner {
 public:
  // Opens `part` of a dataset whose text layout is `format` and codec `codec`.
  static StatusOr<std::unique_ptr<TextScanner>> Open(Storage* lake, const FileInfo& part, const TextFormat& format,
                                                     Codec codec);
  virtual ~TextScanner() = default;

  // The next record: `fields` (valid until the next call) and, per field,
  // whether it is the NULL token. False at the end. DataLoss "<file>:<line>:
  // malformed record" for a record that does not parse.
  virtual StatusOr<bool> Next(std::vector<std::string_view>* fields, std::vector<uint8_t>* null) = 0;
  // The line the last record started on (1-based).
  virtual size_t line() const = 0;
  // Decompressed bytes consumed up to the end of the last record.
  virtual uint64_t consumed() const = 0;
};

// The first `d` or `nl` in [p, end), or `end`.
const char* FindDelimiter(const char* p, const char* end, char d, char nl);

}  // namespace comptoir::lake
