// The row checker alone (no source, no writer): nanoseconds per record for the
// five rules of bench/quality/run, the four without unique, and unique alone,
// over N records shaped like the seeded sales table, keys in increasing order
// as a split reads them.
//
//   build/release/bench/quality/checker_bench [RECORDS] [RULES_TOML]
//
// RULES_TOML holds the five rules of bench/quality/run for dataset "/with".
// Prints one JSON line.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "comptoir/quality/rules.h"

namespace q = comptoir::quality;

int main(int argc, char** argv) {
  const size_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 2000000;
  if (argc < 3) {
    std::fprintf(stderr, "usage: checker_bench RECORDS RULES_TOML\n");
    return 2;
  }
  auto rules = q::LoadRules(argv[2], true);
  if (!rules.ok()) {
    std::fprintf(stderr, "checker_bench: %s\n", std::string(rules.status().message()).c_str());
    return 1;
  }
  const std::vector<std::string> columns = {"ORDERNUMBER", "ORDERLINENUMBER", "QUANTITYORDERED", "STATUS",
                                            "PRODUCTCODE", "CUSTOMERNAME"};
  static const char* kStatuses[] = {"Shipped", "Resolved", "Cancelled", "On Hold", "In Process", "Disputed"};
  // The records' text, made once (the import's formatters give views like these).
  std::vector<std::array<std::string, 6>> text(n);
  for (size_t i = 0; i < n; ++i) {
    text[i] = {std::to_string(10100 + i / 10), std::to_string(i % 10 + 1), std::to_string(1 + (i * 7919) % 66),
               kStatuses[i % 6], "S" + std::to_string(10 + (i % 109) % 90) + "_" + std::to_string(1000 + i % 109),  // 109 codes, as the sample
               "Customer " + std::to_string(i % 92)};
  }
  auto time_with = [&](const std::vector<q::Rule>& set) {
    auto checker = q::RowChecker::Create(set, "/with", columns);
    if (!checker.ok()) {
      std::fprintf(stderr, "checker_bench: %s\n", std::string(checker.status().message()).c_str());
      std::exit(1);
    }
    q::RowChecker split = checker->ForkForSplit(0, false);
    std::vector<std::optional<std::string_view>> values(columns.size());
    size_t failed = 0;
    auto t0 = std::chrono::steady_clock::now();
    for (size_t i = 0; i < n; ++i) {
      for (size_t c = 0; c < columns.size(); ++c) values[c] = text[i][c];
      failed += split.CheckRecord(values).passed() ? 0 : 1;
    }
    double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
    return std::pair{ns / static_cast<double>(n), failed};
  };
  std::vector<q::Rule> all = *rules, four, unique;
  for (const q::Rule& r : all) (r.check == q::Check::kUnique ? unique : four).push_back(r);
  auto [none_ns, none_failed] = time_with({});
  auto [all_ns, all_failed] = time_with(all);
  auto [four_ns, four_failed] = time_with(four);
  auto [unique_ns, unique_failed] = time_with(unique);
  std::string each;
  for (const q::Rule& r : all) {
    auto [ns, failed] = time_with({r});
    each += std::string(each.empty() ? "" : ",") + "\"" + std::string(q::CheckName(r.check)) + "\":" + std::to_string(ns);
    (void)failed;
  }
  std::printf("{\"each_ns\":{%s},", each.c_str());
  std::printf("\"records\":%zu,\"ns_per_record\":{\"none\":%.1f,\"five\":%.1f,\"four_but_unique\":%.1f,\"unique\":%.1f},"
              "\"failed\":{\"five\":%zu,\"four_but_unique\":%zu,\"unique\":%zu}}\n",
              n, none_ns, all_ns, four_ns, unique_ns, all_failed, four_failed, unique_failed);
  (void)none_failed;
  return 0;
}
