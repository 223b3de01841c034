// ForEachRecord: the records of a dataset's parts, text or Avro.
#include <algorithm>

#include "comptoir/lake/avro.h"
#include "comptoir/lake/compression.h"
#include "comptoir/lake/dataset.h"
#include "comptoir/lake/text_scan.h"

namespace comptoir::lake {

Status ForEachRecord(Storage* lake, const std::string& dir, const DatasetSchema& schema, const RecordCallback& cb) {
  ASSIGN_OR_RETURN(std::vector<FileInfo> entries, lake->List(dir));
  std::sort(entries.begin(), entries.end(), [](const FileInfo& a, const FileInfo& b) { return a.name < b.name; });
  Codec codec = Codec::kNone;
  if (schema.format == DatasetSchema::Format::kText) {
    ASSIGN_OR_RETURN(codec, ParseCodec(schema.codec));
  }
  std::vector<std::string_view> fields;
  std::vector<uint8_t> null;
  for (const FileInfo& part : entries) {
    if (part.is_dir || IsHiddenName(part.name)) continue;
    if (schema.format == DatasetSchema::Format::kAvro) {
      ASSIGN_OR_RETURN(std::unique_ptr<AvroFileReader> reader, AvroFileReader::Open(lake, part.path, schema));
      while (true) {
        ASSIGN_OR_RETURN(bool more, reader->Next(&fields, &null));
        if (!more) break;
        RETURN_IF_ERROR(cb(part, reader->record(), fields, null));
      }
      continue;
    }
    ASSIGN_OR_RETURN(std::unique_ptr<TextScanner> scanner, TextScanner::Open(lake, part, schema.text, codec));
    while (true) {
      ASSIGN_OR_RETURN(bool more, scanner->Next(&fields, &null));
      if (!more) break;
      RETURN_IF_ERROR(cb(part, scanner->line(), fields, null));
    }
  }
  return absl::OkStatus();
}

}  // namespace comptoir::lake
