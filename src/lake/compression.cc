#include "comptoir/lake/compression.h"

#include <zlib.h>
#include <zstd.h>

#include <vector>


namespace comptoir::lake {
namespace {

constexpr size_t kChunk = 1 << 17;

class GzipWriter final : public WritableFile {
 public:
  explicit GzipWriter(std::unique_ptr<WritableFile> f) : file_(std::move(f)), out_(kChunk) {
    // windowBits 15 + 16 = gzip wrapper; level 6 is gzip's default.
    ok_ = deflateInit2(&z_, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK;
  }
  ~GzipWriter() override { deflateEnd(&z_); }
  Status Append(std::string_view data) override {
    size_ += data.size();
    return Pump(data, Z_NO_FLUSH);
  }
  Status Close() override {
    if (closed_) return absl::OkStatus();
    closed_ = true;
    RETURN_IF_ERROR(Pump({}, Z_FINISH));
    return file_->Close();
  }
  uint64_t Size() const override { return size_; }

 private:
  Status Pump(std::string_view in, int flush) {
    if (!ok_) return absl::InternalError("zlib deflateInit2 failed");
    z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z_.avail_in = static_cast<uInt>(in.size());
    do {
      z_.next_out = reinterpret_cast<Bytef*>(out_.data());
      z_.avail_out = static_cast<uInt>(out_.size());
      int rc = deflate(&z_, flush);
      if (rc == Z_STREAM_ERROR) return absl::InternalError("zlib deflate failed");
      size_t have = out_.size() - z_.avail_out;
      if (have > 0) RETURN_IF_ERROR(file_->Append(std::string_view(out_.data(), have)));
    } while (z_.avail_out == 0 || (flush == Z_FINISH && z_.avail_in > 0));
    return absl::OkStatus();
  }

  std::unique_ptr<WritableFile> file_;
  z_stream z_{};
  bool ok_ = false;
  bool closed_ = false;
  std::vector<char> out_;
  uint64_t size_ = 0;
};

class ZstdWriter final : public WritableFile {
 public:
  explicit ZstdWriter(std::unique_ptr<WritableFile> f)
      : file_(std::move(f)), cctx_(ZSTD_createCCtx()), out_(ZSTD_CStreamOutSize()) {
    ZSTD_CCtx_setParameter(cctx_, ZSTD_c_compressionLevel, 3);
    ZSTD_CCtx_setParameter(cctx_, ZSTD_c_checksumFlag, 1);
  }
  ~ZstdWriter() override { ZSTD_freeCCtx(cctx_); }
  Status Append(std::string_view data) override {
    size_ += data.size();
    return Pump(data, ZSTD_e_continue);
  }
  Status Close() override {
    if (closed_) return absl::OkStatus();
    closed_ = true;
    RETURN_IF_ERROR(Pump({}, ZSTD_e_end));
    return file_->Close();
  }
  uint64_t Size() const override { return size_; }

 private:
  Status Pump(std::string_view in, ZSTD_EndDirective mode) {
    ZSTD_inBuffer ib{in.data(), in.size(), 0};
    while (true) {
      ZSTD_outBuffer ob{out_.data(), out_.size(), 0};
      size_t rem = ZSTD_compressStream2(cctx_, &ob, &ib, mode);
      if (ZSTD_isError(rem)) {
        return absl::InternalError(StrCat("zstd: ", ZSTD_getErrorName(rem)));
      }
      if (ob.pos > 0) RETURN_IF_ERROR(file_->Append(std::string_view(out_.data(), ob.pos)));
      bool finished = mode == ZSTD_e_end ? rem == 0 : ib.pos == ib.size;
      if (finished) return absl::OkStatus();
    }
  }

  std::unique_ptr<WritableFile> file_;
  ZSTD_CCtx* cctx_;
  bool closed_ = false;
  std::vector<char> out_;
  uint64_t size_ = 0;
};

class GzipReader final : public ReadableFile {
 public:
  explicit GzipReader(std::unique_ptr<ReadableFile> f) : file_(std::move(f)), in_(kChunk) {
    // 15 + 32: accept gzip or zlib headers; concatenated members are handled below.
    ok_ = inflateInit2(&z_, 15 + 32) == Z_OK;
  }
  ~GzipReader() override { inflateEnd(&z_); }
  StatusOr<size_t> Read(char* buf, size_t n) override {
    if (!ok_) return absl::InternalError("zlib inflateInit2 failed");
    z_.next_out = reinterpret_cast<Bytef*>(buf);
    z_.avail_out = static_cast<uInt>(n);
    while (z_.avail_out == n) {
      if (z_.avail_in == 0) {
        ASSIGN_OR_RETURN(size_t got, file_->Read(in_.data(), in_.size()));
        if (got == 0) {
          if (!at_member_end_) return absl::DataLossError("gzip stream is truncated");
          break;
        }
        z_.next_in = reinterpret_cast<Bytef*>(in_.data());
        z_.avail_in = static_cast<uInt>(got);
      }
      if (at_member_end_) {
        inflateReset(&z_);
        at_member_end_ = false;
      }
      int rc = inflate(&z_, Z_NO_FLUSH);
      if (rc == Z_STREAM_END) {
        at_member_end_ = true;
      } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
        return absl::DataLossError(StrCat("corrupt gzip stream: ", z_.msg ? z_.msg : "?"));
      }
    }
    return n - z_.avail_out;
  }

 private:
  std::unique_ptr<ReadableFile> file_;
  z_stream z_{};
  bool ok_ = false;
  bool at_member_end_ = false;
  std::vector<char> in_;
};

class ZstdReader final : public ReadableFile {
 public:
  explicit ZstdReader(std::unique_ptr<ReadableFile> f)
      : file_(std::move(f)), dctx_(ZSTD_createDCtx()), in_(ZSTD_DStreamInSize()) {}
  ~ZstdReader() override { ZSTD_freeDCtx(dctx_); }
  StatusOr<size_t> Read(char* buf, size_t n) override {
    ZSTD_outBuffer ob{buf, n, 0};
    while (ob.pos == 0) {
      if (ib_.pos == ib_.size) {
        ASSIGN_OR_RETURN(size_t got, file_->Read(in_.data(), in_.size()));
        if (got == 0) {
          if (last_ != 0) return absl::DataLossError("zstd stream is truncated");
          break;
        }
        ib_ = ZSTD_inBuffer{in_.data(), got, 0};
      }
      last_ = ZSTD_decompressStream(dctx_, &ob, &ib_);
      if (ZSTD_isError(last_)) {
        return absl::DataLossError(StrCat("corrupt zstd stream: ", ZSTD_getErrorName(last_)));
      }
    }
    return ob.pos;
  }

 private:
  std::unique_ptr<ReadableFile> file_;
  ZSTD_DCtx* dctx_;
  std::vector<char> in_;
  ZSTD_inBuffer ib_{nullptr, 0, 0};
  size_t last_ = 0;
};

}  // namespace

StatusOr<Codec> ParseCodec(std::string_view name) {
  std::string n = ToLower(name);
  if (n.empty() || n == "none") return Codec::kNone;
  if (n == "gzip" || n == "gz" || n.ends_with(".gzipcodec") || n == "default") {
    return Codec::kGzip;
  }
  if (n == "zstd" || n == "zst" || n.ends_with(".zstandardcodec")) return Codec::kZstd;
  return absl::InvalidArgumentError(
      StrCat("unknown compression codec \"", name, "\"; use gzip or zstd"));
}

std::string_view CodecName(Codec c) {
  switch (c) {
    case Codec::kGzip:
      return "gzip";
    case Codec::kZstd:
      return "zstd";
    case Codec::kNone:
      break;
  }
  return "none";
}

std::string_view CodecExtension(Codec c) {
  switch (c) {
    case Codec::kGzip:
      return ".gz";
    case Codec::kZstd:
      return ".zst";
    case Codec::kNone:
      break;
  }
  return "";
}

Codec CodecForName(std::string_view file_name) {
  if (file_name.ends_with(".gz")) return Codec::kGzip;
  if (file_name.ends_with(".zst")) return Codec::kZstd;
  return Codec::kNone;
}

std::unique_ptr<WritableFile> NewCompressingFile(std::unique_ptr<WritableFile> file, Codec codec) {
  switch (codec) {
    case Codec::kGzip:
      return std::make_unique<GzipWriter>(std::move(file));
    case Codec::kZstd:
      return std::make_unique<ZstdWriter>(std::move(file));
    case Codec::kNone:
      break;
  }
  return file;
}

std::unique_ptr<ReadableFile> NewDecompressingFile(std::unique_ptr<ReadableFile> file,
                                                   Codec codec) {
  switch (codec) {
    case Codec::kGzip:
      return std::make_unique<GzipReader>(std::move(file));
    case Codec::kZstd:
      return std::make_unique<ZstdReader>(std::move(file));
    case Codec::kNone:
      break;
  }
  return file;
}

StatusOr<std::string> ReadDecompressed(Storage* fs, const std::string& path) {
  ASSIGN_OR_RETURN(std::unique_ptr<ReadableFile> raw, fs->Open(path));
  Codec codec = CodecForName(path);
  std::unique_ptr<ReadableFile> in = codec == Codec::kNone ? std::move(raw) : NewDecompressingFile(std::move(raw), codec);
  std::string data, buf(1 << 20, '\0');
  while (true) {
    ASSIGN_OR_RETURN(size_t n, in->Read(buf.data(), buf.size()));
    if (n == 0) break;
    data.append(buf.data(), n);
  }
  return data;
}

}  // namespace comptoir::lake
