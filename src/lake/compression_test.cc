#include "comptoir/lake/compression.h"

#include <gtest/gtest.h>

namespace comptoir::lake {
namespace {

class CompressionTest : public ::testing::TestWithParam<Codec> {};

TEST_P(CompressionTest, RoundTripsLargeData) {
  auto fs = NewMemStorage("compression-" + std::string(CodecName(GetParam())));
  std::string data;
  for (int i = 0; i < 200000; ++i) data += "10107,30,95.70,2," + std::to_string(i * 7919) + "\n";
  auto raw = fs->Create("/f", {});
  ASSERT_TRUE(raw.ok());
  auto w = NewCompressingFile(*std::move(raw), GetParam());
  for (size_t off = 0; off < data.size(); off += 65537) {
    ASSERT_TRUE(w->Append(std::string_view(data).substr(off, 65537)).ok());
  }
  ASSERT_TRUE(w->Close().ok());
  EXPECT_EQ(w->Size(), data.size());
  uint64_t stored = fs->Stat("/f")->size;
  EXPECT_LT(stored, data.size() / 3);
  auto r = NewDecompressingFile(*fs->Open("/f"), GetParam());
  std::string back;
  char buf[4096];
  while (true) {
    StatusOr<size_t> n = r->Read(buf, sizeof(buf));
    ASSERT_TRUE(n.ok()) << n.status();
    if (*n == 0) break;
    back.append(buf, *n);
  }
  EXPECT_EQ(back, data);
}

TEST_P(CompressionTest, TruncatedStreamIsDataLoss) {
  auto fs = NewMemStorage("compression-trunc-" + std::string(CodecName(GetParam())));
  auto w = NewCompressingFile(*fs->Create("/f", {}), GetParam());
  std::string data(100000, 'z');
  for (size_t i = 0; i < data.size(); i += 7) data[i] = static_cast<char>('a' + i % 13);
  ASSERT_TRUE(w->Append(data).ok());
  ASSERT_TRUE(w->Close().ok());
  std::string whole = *ReadFileToString(fs.get(), "/f");
  ASSERT_TRUE(WriteStringToFile(fs.get(), "/g", whole.substr(0, whole.size() / 2)).ok());
  auto r = NewDecompressingFile(*fs->Open("/g"), GetParam());
  char buf[4096];
  Status last;
  while (true) {
    StatusOr<size_t> n = r->Read(buf, sizeof(buf));
    if (!n.ok()) {
      last = n.status();
      break;
    }
    if (*n == 0) break;
  }
  EXPECT_EQ(last.code(), absl::StatusCode::kDataLoss);
}

INSTANTIATE_TEST_SUITE_P(Codecs, CompressionTest, ::testing::Values(Codec::kGzip, Codec::kZstd),
                         [](const auto& p) { return std::string(CodecName(p.param)); });

TEST(CodecTest, NamesAndExtensions) {
  EXPECT_EQ(*ParseCodec("org.apache.hadoop.io.compress.GzipCodec"), Codec::kGzip);
  EXPECT_EQ(*ParseCodec("zstd"), Codec::kZstd);
  EXPECT_EQ(CodecExtension(Codec::kZstd), ".zst");
  EXPECT_EQ(CodecForName("part-m-00000.gz"), Codec::kGzip);
  EXPECT_EQ(ParseCodec("lzo").status().message(),
            "unknown compression codec \"lzo\"; use gzip or zstd");
}

}  // namespace
}  // namespace comptoir::lake
