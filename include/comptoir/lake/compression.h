// Streaming compression of lake files (gzip via zlib, zstd via libzstd).
// The compressed file is a standard .gz / .zst stream that gzip, zstd,
// Hadoop's codecs and Spark read.
#pragma once

#include <memory>
#include <string_view>

#include "comptoir/lake/storage.h"

namespace comptoir::lake {

enum class Codec { kNone, kGzip, kZstd };

// "gzip"/"gz"/"org.apache.hadoop.io.compress.GzipCodec" -> kGzip, "zstd"/"zst"
// -> kZstd, "none"/"" -> kNone; InvalidArgument otherwise.
StatusOr<Codec> ParseCodec(std::string_view name);
std::string_view CodecName(Codec c);       // "none", "gzip", "zstd"
std::string_view CodecExtension(Codec c);  // "", ".gz", ".zst"
// Guesses the codec from a file name's extension.
Codec CodecForName(std::string_view file_name);

// Wraps `file`: Append() takes plain bytes, Close() finishes the stream and
// closes `file`. Size() counts plain bytes.
std::unique_ptr<WritableFile> NewCompressingFile(std::unique_ptr<WritableFile> file, Codec codec);
// Wraps `file`: Read() returns plain bytes. DataLoss on a corrupt stream.
std::unique_ptr<ReadableFile> NewDecompressingFile(std::unique_ptr<ReadableFile> file,
                                                   Codec codec);

// A whole (small) file, decompressed by its name's extension (.gz, .zst).
StatusOr<std::string> ReadDecompressed(Storage* fs, const std::string& path);

}  // namespace comptoir::lake
