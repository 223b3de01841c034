// Writes a synthetic sales dataset straight into a local lake, as
// `comptoir import` of the seeded table would (bench/views/run): the seed's
// rows (seed::SalesGenerator: the Sales Data Sample's shape), in the import's
// RFC 4180 spelling (decimals with two digits, ISO datetimes, NULL as \N),
// parts cut at order boundaries (an import splits by order number).
//
//   gen_lake DATASET_DIR ROWS PARTS SEED
//
// DATASET_DIR must already hold the _schema.json of a small import of the
// seeded table (the script makes one); this writes part-m-NNNNN and _SUCCESS.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "comptoir/core/decimal.h"
#include "comptoir/lake/text_format.h"
#include "comptoir/seed/sales.h"

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: gen_lake DATASET_DIR ROWS PARTS SEED\n");
    return 2;
  }
  const std::string dir = argv[1];
  const uint64_t rows = std::strtoull(argv[2], nullptr, 10);
  const uint64_t parts = std::strtoull(argv[3], nullptr, 10);
  comptoir::seed::SalesGenerator gen(rows, std::strtoull(argv[4], nullptr, 10));
  const comptoir::lake::TextRowWriter writer{comptoir::lake::TextFormat{}};
  comptoir::seed::SalesRow row;
  std::string buf, last_order;
  uint64_t written = 0, in_part = 0, part = 0;
  const uint64_t per_part = (rows + parts - 1) / parts;
  FILE* out = nullptr;
  auto open_part = [&] {
    if (out != nullptr) std::fclose(out);
    std::string path = dir + "/" + std::string("part-m-") + std::string(5 - std::to_string(part).size(), '0') +
                       std::to_string(part);
    out = std::fopen(path.c_str(), "w");
    if (out == nullptr) std::perror(path.c_str()), std::exit(1);
    ++part, in_part = 0;
  };
  while (gen.Next(&row)) {
    // A new part once this one is full, at the next order.
    if (out == nullptr || (in_part >= per_part && part < parts && *row[0] != last_order)) {
      if (!buf.empty()) std::fwrite(buf.data(), 1, buf.size(), out), buf.clear();
      open_part();
    }
    last_order = *row[0];
    for (size_t i = 0; i < row.size(); ++i) {
      if (i > 0) buf.push_back(',');
      if (!row[i] || row[i]->empty()) {
        buf += "\\N";
      } else if (i == 2 || i == 4) {  // PRICEEACH, SALES: DECIMAL(10,2)
        buf += *comptoir::core::NormalizeDecimal(*row[i], 2);
      } else if (i == 5) {  // ORDERDATE: DATETIME
        std::string d = *row[i];
        d[10] = 'T';
        buf += d;
      } else {
        writer.Field(&buf, *row[i], true);
      }
    }
    buf.push_back('\n');
    ++written, ++in_part;
    if (buf.size() >= (4u << 20)) std::fwrite(buf.data(), 1, buf.size(), out), buf.clear();
    if (written % 10'000'000 == 0) std::fprintf(stderr, "gen_lake: %llu rows\n", static_cast<unsigned long long>(written));
  }
  if (out != nullptr) std::fwrite(buf.data(), 1, buf.size(), out), std::fclose(out);
  FILE* ok = std::fopen((dir + "/_SUCCESS").c_str(), "w");
  if (ok != nullptr) std::fclose(ok);
  std::printf("%llu rows in %llu parts\n", static_cast<unsigned long long>(written), static_cast<unsigned long long>(part));
  return 0;
}
