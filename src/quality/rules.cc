// The rules of comptoir.toml: read with toml++, every key checked.
#include "comptoir/quality/rules.h"

#include <re2/re2.h>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"
#include "absl/numeric/int128.h"
#include "absl/strings/cord.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <set>

#include "comptoir/core/strings.h"
#include "comptoir/core/units.h"
#include "fmt/format.h"
#include "toml++/toml.h"

namespace comptoir::quality {
namespace {

constexpr std::array<std::pair<std::string_view, Check>, 16> kChecks = {{
    {"not_null", Check::kNotNull},
    {"range", Check::kRange},
    {"allowed", Check::kAllowed},
    {"length", Check::kLength},
    {"regex", Check::kRegex},
    {"unique", Check::kUnique},
    {"references", Check::kReferences},
    {"row_count", Check::kRowCount},
    {"product", Check::kProduct},
    {"source_count", Check::kSourceCount},
    {"change", Check::kChange},
    {"null_fraction", Check::kNullFraction},
    {"reject_fraction", Check::kRejectFraction},
    {"freshness", Check::kFreshness},
    {"duplicate_fraction", Check::kDuplicateFraction},
    {"drift", Check::kDrift},
}};
constexpr std::array<std::pair<std::string_view, Action>, 3> kActions = {{
    {"warn", Action::kWarn},
    {"reject", Action::kReject},
    {"fail", Action::kFail},
}};

template <typename T, size_t N>
std::string Names(const std::array<std::pair<std::string_view, T>, N>& table) {
  std::string out;
  for (const auto& [name, value] : table) StrAppend(&out, out.empty() ? "" : ", ", name);
  return out;
}

// The keys each check reads beside dataset, check, action and name.
std::set<std::string_view> KeysOf(Check c) {
  switch (c) {
    case Check::kNotNull: return {"column"};
    case Check::kRange: return {"column", "min", "max"};
    case Check::kAllowed: return {"column", "values"};
    case Check::kLength: return {"column", "min", "max"};
    case Check::kRegex: return {"column", "pattern"};
    case Check::kUnique: return {"column", "columns"};
    case Check::kReferences: return {"column", "ref_dataset", "ref_column"};
    case Check::kRowCount: return {"min", "max"};
    case Check::kProduct: return {"column", "factors", "tolerance"};
    case Check::kSourceCount: return {};
    case Check::kChange: return {"max", "runs"};
    case Check::kNullFraction: return {"column", "max"};
    case Check::kRejectFraction: return {"max"};
    case Check::kFreshness: return {"column", "max_age"};
    case Check::kDuplicateFraction: return {"column", "columns", "max"};
    case Check::kDrift: return {"column", "max", "runs", "measure"};
  }
  return {};
}

// Reads one [[quality.rule]] table; every error names the file, the line,
// the rule and the key.
class RuleReader {
 public:
  RuleReader(const std::string& path, int number, const toml::table& t)
      : path_(path), number_(number), t_(t) {}

  StatusOr<Rule> Read() {
    Rule r;
    r.number = number_;
    r.line = static_cast<int>(t_.source().begin.line);
    ASSIGN_OR_RETURN(r.dataset, RequiredString("dataset"));
    if (!r.dataset.starts_with("/")) {
      return Error("dataset", StrCat("dataset \"", r.dataset, "\" must be a lake path such as /user/sqoop/sales"));
    }
    ASSIGN_OR_RETURN(std::string check, RequiredString("check"));
    auto c = std::find_if(kChecks.begin(), kChecks.end(), [&](const auto& e) { return e.first == check; });
    if (c == kChecks.end()) {
      return Error("check", StrCat("check \"", check, "\" is not one of ", Names(kChecks)));
    }
    r.check = c->second;
    if (const toml::node* n = t_.get("action")) {
      std::optional<std::string> a = n->value<std::string>();
      auto it = std::find_if(kActions.begin(), kActions.end(), [&](const auto& e) { return a && e.first == *a; });
      if (it == kActions.end()) return Error("action", StrCat("action must be one of ", Names(kActions)));
      r.action = it->second;
    }
    if (t_.get("name") != nullptr) {
      ASSIGN_OR_RETURN(r.name, RequiredString("name"));
    }
    RETURN_IF_ERROR(KnownKeys(r.check));
    RETURN_IF_ERROR(Columns(&r));
    RETURN_IF_ERROR(Parameters(&r));
    return r;
  }

 private:
  Status Error(std::string_view key, std::string_view what) const {
    const toml::node* n = t_.get(key);
    auto line = n != nullptr ? n->source().begin.line : t_.source().begin.line;
    return absl::InvalidArgumentError(fmt::format("{}:{}: quality rule {}: {}", path_, line, number_, what));
  }

  StatusOr<std::string> RequiredString(std::string_view key) const {
    const toml::node* n = t_.get(key);
    if (n == nullptr) return Error(key, StrCat("`", key, "` is missing"));
    std::optional<std::string> v = n->value<std::string>();
    if (!v || v->empty()) return Error(key, StrCat("`", key, "` must be a non-empty string"));
    return *v;
  }

  Status KnownKeys(Check c) const {
    std::set<std::string_view> allowed = KeysOf(c);
    for (std::string_view k : {"dataset", "check", "action", "name"}) allowed.insert(k);
    for (const auto& [key, node] : t_) {
      if (!allowed.contains(key.str())) {
        std::string keys;
        for (std::string_view k : allowed) StrAppend(&keys, keys.empty() ? "" : ", ", k);
        return Error(key.str(), StrCat("key `", key.str(), "` does not apply to check ", CheckName(c),
                                       " (its keys: ", keys, ")"));
      }
    }
    return absl::OkStatus();
  }

  Status Columns(Rule* r) const {
    if (r->check == Check::kRowCount || r->check == Check::kSourceCount || r->check == Check::kChange ||
        r->check == Check::kRejectFraction) {
      return absl::OkStatus();
    }
    const toml::node* one = t_.get("column");
    const toml::node* many = t_.get("columns");
    if (one != nullptr && many != nullptr) return Error("columns", "give `column` or `columns`, not both");
    if (one != nullptr) {
      ASSIGN_OR_RETURN(std::string c, RequiredString("column"));
      r->columns.push_back(std::move(c));
      return absl::OkStatus();
    }
    if (many == nullptr) return Error("column", "`column` is missing");
    ASSIGN_OR_RETURN(r->columns, Strings("columns", *many));
    if (r->columns.empty()) return Error("columns", "`columns` must list at least one column");
    return absl::OkStatus();
  }

  // A string array; numbers are taken as their text.
  StatusOr<std::vector<std::string>> Strings(std::string_view key, const toml::node& n) const {
    const toml::array* a = n.as_array();
    if (a == nullptr) return Error(key, StrCat("`", key, "` must be an array, e.g. [\"A\", \"B\"]"));
    std::vector<std::string> out;
    for (const toml::node& e : *a) {
      ASSIGN_OR_RETURN(std::string v, Scalar(key, e));
      out.push_back(std::move(v));
    }
    return out;
  }

  StatusOr<std::string> Scalar(std::string_view key, const toml::node& n) const {
    if (auto s = n.value_exact<std::string>()) return *s;
    if (auto i = n.value_exact<int64_t>()) return std::to_string(*i);
    if (auto d = n.value_exact<double>()) return fmt::format("{}", *d);
    return Error(key, StrCat("`", key, "` must hold strings or numbers"));
  }

  // min/max: decimals for range, non-negative integers for length and row_count.
  StatusOr<std::optional<std::string>> Bound(std::string_view key, bool integer) const {
    const toml::node* n = t_.get(key);
    if (n == nullptr) return std::optional<std::string>();
    if (integer) {
      std::optional<int64_t> v = n->value_exact<int64_t>();
      if (!v || *v < 0) return Error(key, StrCat("`", key, "` must be a whole number >= 0"));
      return std::optional<std::string>(std::to_string(*v));
    }
    ASSIGN_OR_RETURN(std::string v, Scalar(key, *n));
    if (!CompareDecimal(v, "0").ok()) return Error(key, StrCat("`", key, "` = \"", v, "\" is not a number"));
    return std::optional<std::string>(v);
  }

  Status Parameters(Rule* r) const {
    switch (r->check) {
      case Check::kRange:
      case Check::kLength:
      case Check::kRowCount: {
        bool integer = r->check != Check::kRange;
        ASSIGN_OR_RETURN(r->min, Bound("min", integer));
        ASSIGN_OR_RETURN(r->max, Bound("max", integer));
        if (!r->min && !r->max) return Error("min", "give `min`, `max` or both");
        if (r->min && r->max && *CompareDecimal(*r->min, *r->max) > 0) {
          return Error("max", StrCat("max ", *r->max, " is below min ", *r->min));
        }
        return absl::OkStatus();
      }
      case Check::kAllowed: {
        const toml::node* n = t_.get("values");
        if (n == nullptr) return Error("values", "`values` is missing: the allowed values, e.g. [\"Shipped\"]");
        ASSIGN_OR_RETURN(r->values, Strings("values", *n));
        if (r->values.empty()) return Error("values", "`values` must list at least one value");
        return absl::OkStatus();
      }
      case Check::kRegex: {
        ASSIGN_OR_RETURN(r->pattern, RequiredString("pattern"));
        RE2 re(r->pattern, RE2::Quiet);
        if (!re.ok()) return Error("pattern", StrCat("pattern is not a valid RE2 expression: ", re.error()));
        return absl::OkStatus();
      }
      case Check::kReferences: {
        ASSIGN_OR_RETURN(r->ref_dataset, RequiredString("ref_dataset"));
        ASSIGN_OR_RETURN(r->ref_column, RequiredString("ref_column"));
        return absl::OkStatus();
      }
      case Check::kProduct: {
        const toml::node* n = t_.get("factors");
        if (n == nullptr) return Error("factors", "`factors` is missing: the columns to multiply, e.g. [\"QTY\", \"PRICE\"]");
        ASSIGN_OR_RETURN(r->factors, Strings("factors", *n));
        if (r->factors.size() < 2) return Error("factors", "`factors` must name at least two columns");
        ASSIGN_OR_RETURN(r->tolerance, Bound("tolerance", false));
        if (r->tolerance && *CompareDecimal(*r->tolerance, "0") < 0) {
          return Error("tolerance", "`tolerance` must be >= 0");
        }
        return absl::OkStatus();
      }
      case Check::kChange:
      case Check::kDrift:
      case Check::kDuplicateFraction:
      case Check::kNullFraction:
      case Check::kRejectFraction: {
        ASSIGN_OR_RETURN(r->max, Bound("max", false));
        if (!r->max) return Error("max", "`max` is missing: a fraction, e.g. 0.5 for 50%");
        bool unbounded = r->check == Check::kChange || r->check == Check::kDrift;
        if (*CompareDecimal(*r->max, "0") < 0 || (!unbounded && *CompareDecimal(*r->max, "1") > 0)) {
          return Error("max", StrCat("`max` = ", *r->max, " is not a fraction (0 to 1", unbounded ? ", or more" : "", ")"));
        }
        if (const toml::node* n = t_.get("runs")) {
          std::optional<int64_t> v = n->value_exact<int64_t>();
          if (!v || *v < 1 || *v > 1000) return Error("runs", "`runs` must be a whole number from 1 to 1000");
          r->runs = static_cast<int>(*v);
        }
        if (const toml::node* n = t_.get("measure"); n != nullptr && r->check == Check::kDrift) {
          std::optional<std::string> v = n->value_exact<std::string>();
          if (!v || (*v != "mean" && *v != "distribution")) {
            return Error("measure", "`measure` must be \"mean\" (a numeric column) or \"distribution\" (a categorical one)");
          }
          r->measure = *v;
          if (r->measure == "distribution" && *CompareDecimal(*r->max, "1") > 0) {
            return Error("max", StrCat("`max` = ", *r->max, " is not a distance (0 to 1)"));
          }
        }
        return absl::OkStatus();
      }
      case Check::kFreshness: {
        ASSIGN_OR_RETURN(std::string age, RequiredString("max_age"));
        StatusOr<std::chrono::milliseconds> d = core::ParseDuration(age);
        if (!d.ok() || d->count() <= 0) return Error("max_age", StrCat("`max_age` = \"", age, "\" is not a duration such as \"36h\" or \"2d\""));
        r->max_age_ms = d->count();
        r->max = age;
        return absl::OkStatus();
      }
      case Check::kSourceCount:
      case Check::kNotNull:
      case Check::kUnique: return absl::OkStatus();
    }
    return absl::OkStatus();
  }

  const std::string& path_;
  int number_;
  const toml::table& t_;
};

// Digits of a decimal: sign, integer part without leading zeros, fraction
// without trailing zeros.
struct Decimal {
  bool negative = false;
  std::string_view integer, fraction;
};

std::optional<Decimal> ParseDecimal(std::string_view s) {
  Decimal d;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    d.negative = s[0] == '-';
    s.remove_prefix(1);
  }
  size_t dot = s.find('.');
  d.integer = s.substr(0, dot);
  d.fraction = dot == std::string_view::npos ? std::string_view() : s.substr(dot + 1);
  if (d.integer.empty() && d.fraction.empty()) return std::nullopt;
  for (std::string_view part : {d.integer, d.fraction}) {
    if (!std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; })) return std::nullopt;
  }
  while (!d.integer.empty() && d.integer.front() == '0') d.integer.remove_prefix(1);
  while (!d.fraction.empty() && d.fraction.back() == '0') d.fraction.remove_suffix(1);
  if (d.integer.empty() && d.fraction.empty()) d.negative = false;  // -0 == 0
  return d;
}

// |a| against |b|.
int CompareMagnitude(const Decimal& a, const Decimal& b) {
  if (a.integer.size() != b.integer.size()) return a.integer.size() < b.integer.size() ? -1 : 1;
  if (int c = a.integer.compare(b.integer); c != 0) return c < 0 ? -1 : 1;
  int c = a.fraction.compare(b.fraction);  // no trailing zeros: lexicographic is numeric
  return c == 0 ? 0 : (c < 0 ? -1 : 1);
}

__extension__ using Int128 = __int128;

// An exact decimal as an unscaled integer and its scale (36 digits at most).
struct Scaled {
  Int128 units = 0;
  int scale = 0;
};

constexpr int kMaxDigits = 36;

std::optional<Scaled> ParseScaled(std::string_view text) {
  if (!ParseDecimal(text)) return std::nullopt;
  bool negative = !text.empty() && text[0] == '-';
  if (!text.empty() && (text[0] == '-' || text[0] == '+')) text.remove_prefix(1);
  while (text.size() > 1 && text[0] == '0' && text[1] != '.') text.remove_prefix(1);
  size_t dot = text.find('.');
  Scaled x;
  x.scale = dot == std::string_view::npos ? 0 : static_cast<int>(text.size() - dot - 1);
  if (text.size() > kMaxDigits + 1) return std::nullopt;
  for (char c : text) {
    if (c != '.') x.units = x.units * 10 + (c - '0');
  }
  if (negative) x.units = -x.units;
  return x;
}

// `x` at `scale` (>= x.scale); nullopt when it would not fit.
std::optional<Int128> Rescaled(const Scaled& x, int scale) {
  Int128 v = x.units;
  for (int i = x.scale; i < scale; ++i) {
    if (v > (static_cast<Int128>(1) << 120) / 10 || v < -((static_cast<Int128>(1) << 120) / 10)) return std::nullopt;
    v *= 10;
  }
  return v;
}

std::string FormatScaled(const Scaled& x) {
  Int128 v = x.units < 0 ? -x.units : x.units;
  std::string digits;
  do {
    digits.insert(digits.begin(), static_cast<char>('0' + static_cast<int>(v % 10)));
    v /= 10;
  } while (v != 0);
  if (x.scale > 0) {
    if (digits.size() <= static_cast<size_t>(x.scale)) digits.insert(0, static_cast<size_t>(x.scale) + 1 - digits.size(), '0');
    digits.insert(digits.size() - static_cast<size_t>(x.scale), ".");
  }
  return x.units < 0 ? "-" + digits : digits;
}

// Why `value` is not the product of `factors` within `tolerance` (empty: it is).
std::string ProductMismatch(std::string_view value, std::span<const std::string_view> factors,
                            const std::optional<std::string>& tolerance) {
  std::optional<Scaled> v = ParseScaled(value);
  if (!v) return StrCat("\"", value, "\" is not a number");
  Scaled product{1, 0};
  int digits = 1;
  for (std::string_view f : factors) {
    std::optional<Scaled> x = ParseScaled(f);
    if (!x) return StrCat("factor \"", f, "\" is not a number");
    digits += static_cast<int>(f.size());  // a bound on its digits
    if (digits > kMaxDigits) return "the product has too many digits to check";
    product.units *= x->units;
    product.scale += x->scale;
  }
  Scaled tol = tolerance ? ParseScaled(*tolerance).value_or(Scaled{}) : Scaled{};
  int scale = std::max({v->scale, product.scale, tol.scale});
  std::optional<Int128> a = Rescaled(*v, scale), b = Rescaled(product, scale), t = Rescaled(tol, scale);
  if (!a || !b || !t) return "the product has too many digits to check";
  Int128 diff = *a > *b ? *a - *b : *b - *a;
  if (diff <= *t) return "";
  std::string shown;
  for (std::string_view f : factors) StrAppend(&shown, shown.empty() ? "" : " × ", f);
  return StrCat(value, ", but ", shown, " = ", FormatScaled(product));
}

size_t CodePoints(std::string_view s) {
  return static_cast<size_t>(std::count_if(s.begin(), s.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

}  // namespace

std::string_view CheckName(Check c) {
  for (const auto& [name, value] : kChecks) {
    if (value == c) return name;
  }
  return "?";
}

std::string_view ActionName(Action a) {
  for (const auto& [name, value] : kActions) {
    if (value == a) return name;
  }
  return "?";
}

namespace {
constexpr char kQualityFailedPayload[] = "comptoir/quality-failed";
}  // namespace

Status QualityFailedError(std::string_view message) {
  Status s = absl::FailedPreconditionError(std::string(message));
  s.SetPayload(kQualityFailedPayload, absl::Cord("1"));
  return s;
}

bool IsQualityFailed(const Status& s) { return s.GetPayload(kQualityFailedPayload).has_value(); }

std::string Rule::Label() const { return name.empty() ? StrCat("rule ", number) : name; }

std::string Rule::Describe() const {
  std::string out = Join(columns, "+");
  StrAppend(&out, out.empty() ? "" : " ", CheckName(check));
  switch (check) {
    case Check::kRange:
    case Check::kLength:
    case Check::kRowCount:
      if (min && max) {
        StrAppend(&out, " [", *min, ", ", *max, "]");
      } else {
        StrAppend(&out, min ? " >= " : " <= ", min ? *min : max.value_or(""));
      }
      break;
    case Check::kAllowed: StrAppend(&out, " {", Join(values, ", "), "}"); break;
    case Check::kRegex: StrAppend(&out, " /", pattern, "/"); break;
    case Check::kReferences: StrAppend(&out, " ", ref_dataset, ".", ref_column); break;
    case Check::kProduct:
      out = StrCat(columns.empty() ? "" : columns.front(), " = ", Join(factors, " × "));
      if (tolerance) StrAppend(&out, " ± ", *tolerance);
      break;
    case Check::kChange:
    case Check::kDrift:
      if (check == Check::kDrift && measure == "distribution") {
        StrAppend(&out, " distribution within ", *max, " (total variation) of the last ", runs, " runs");
        break;
      }
      StrAppend(&out, check == Check::kDrift ? " mean" : "", " within ", *max, " of the median of ", runs, " runs");
      break;
    case Check::kDuplicateFraction:
      StrAppend(&out, " <= ", *max);
      break;
    case Check::kNullFraction:
    case Check::kRejectFraction:
      StrAppend(&out, " <= ", *max);
      break;
    case Check::kFreshness:
      StrAppend(&out, " newest within ", *max);
      break;
    case Check::kSourceCount:
    case Check::kNotNull:
    case Check::kUnique: break;
  }
  return out;
}

StatusOr<std::vector<Rule>> LoadRules(const std::string& path, bool explicit_path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    if (explicit_path) return absl::NotFoundError(StrCat(path, ": no such configuration file"));
    return std::vector<Rule>();
  }
  toml::table file;
  try {
    file = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    return absl::InvalidArgumentError(fmt::format("{}:{}:{}: {}", path, e.source().begin.line,
                                                  e.source().begin.column, std::string(e.description())));
  }
  const toml::node* quality = file.get("quality");
  if (quality == nullptr) return std::vector<Rule>();
  const toml::table* q = quality->as_table();
  if (q == nullptr) {
    return absl::InvalidArgumentError(fmt::format("{}:{}: `quality` must be a table holding [[quality.rule]] tables",
                                                  path, quality->source().begin.line));
  }
  for (const auto& [key, node] : *q) {
    if (key.str() != "rule") {
      return absl::InvalidArgumentError(fmt::format("{}:{}: unknown key quality.{} (rules are [[quality.rule]] tables)",
                                                    path, node.source().begin.line, key.str()));
    }
  }
  const toml::node* rule_node = q->get("rule");
  const toml::array* rules = rule_node != nullptr ? rule_node->as_array() : nullptr;
  if (rules == nullptr) {
    auto line = (rule_node != nullptr ? rule_node : quality)->source().begin.line;
    return absl::InvalidArgumentError(
        fmt::format("{}:{}: quality.rule must be written [[quality.rule]] (an array of tables)", path, line));
  }
  std::vector<Rule> out;
  int number = 0;
  for (const toml::node& n : *rules) {
    ++number;
    const toml::table* t = n.as_table();
    if (t == nullptr) {
      return absl::InvalidArgumentError(
          fmt::format("{}:{}: quality rule {} must be a [[quality.rule]] table", path, n.source().begin.line, number));
    }
    ASSIGN_OR_RETURN(Rule r, RuleReader(path, number, *t).Read());
    out.push_back(std::move(r));
  }
  return out;
}

namespace {

int CompareParsed(const Decimal& x, const Decimal& y) {
  if (x.negative != y.negative) return x.negative ? -1 : 1;
  int m = CompareMagnitude(x, y);
  return x.negative ? -m : m;
}

}  // namespace

StatusOr<int> CompareDecimal(std::string_view a, std::string_view b) {
  std::optional<Decimal> x = ParseDecimal(a), y = ParseDecimal(b);
  if (!x) return absl::InvalidArgumentError(StrCat("\"", a, "\" is not a decimal number"));
  if (!y) return absl::InvalidArgumentError(StrCat("\"", b, "\" is not a decimal number"));
  return CompareParsed(*x, *y);
}

// ---------------------------------------------------------------------------

// Keys a unique rule has seen, shared by the forks of one checker: 128-bit
// fingerprints (two independently seeded 64-bit hashes of the key's parts;
// a false repeat needs a 128-bit collision: about 1e-26 for 2e6 keys), in 16
// shards so parallel splits rarely wait for each other.
struct SeenKeys {
  struct Shard {
    std::mutex mu;
    absl::flat_hash_set<absl::uint128> keys;
  };
  std::array<Shard, 16> shards;

  // False when `key` was seen before.
  bool Insert(absl::uint128 key) {
    Shard& s = shards[absl::Uint128Low64(key) & 15];
    std::lock_guard<std::mutex> lock(s.mu);
    return s.keys.insert(key).second;
  }
};

// A key's fingerprint: each part with its length, so ("a|b", "c") and ("a",
// "b|c") differ; nullopt for a key with a NULL (not compared, as SQL's UNIQUE).
std::optional<absl::uint128> KeyOf(std::span<const std::optional<std::string_view>> values,
                                   const std::vector<size_t>& cols) {
  uint64_t h1 = 0x9e3779b97f4a7c15ULL, h2 = 0xc2b2ae3d27d4eb4fULL;
  for (size_t col : cols) {
    const std::optional<std::string_view>& part = values[col];
    if (!part) return std::nullopt;
    absl::string_view p(part->data(), part->size());
    h1 = absl::HashOf(h1, p);
    h2 = absl::HashOf(p, h2, part->size());
  }
  return absl::MakeUint128(h1, h2);
}

// A dataset rule that gathers while the records pass.
struct RowChecker::Tracked {
  int number = 0;
  Check check = Check::kNullFraction;
  bool distribution = false;  // drift of a categorical column
  std::vector<size_t> cols;
  std::shared_ptr<SeenKeys> seen;  // duplicate_fraction
};

namespace {

void CountCategory(std::map<std::string, uint64_t, std::less<>>* counts, std::string_view value, uint64_t n) {
  auto it = counts->find(value);
  if (it != counts->end()) {
    it->second += n;
  } else if (counts->size() < kMaxCategories) {
    counts->emplace(std::string(value), n);
  } else {
    (*counts)[std::string(kOtherCategory)] += n;
  }
}

}  // namespace

// The keys of a `unique` rule within one split (ForkForSplit). While the
// keys come in increasing order (an import split by the key's own column
// reads it in order) a repeat can only be the key just before: each key's
// order form is written at the end of `kept_` and compared with the one
// before it there, nothing is hashed. The first key out of order turns every
// kept form into a fingerprint in a set, which checks the keys from then on.
class SplitKeys {
 public:
  // False when the key of `values` (no NULL part) was seen before.
  bool Insert(std::span<const std::optional<std::string_view>> values, const std::vector<size_t>& cols) {
    if (!in_order_) {
      form_.clear();
      for (size_t col : cols) AppendOrderForm(*values[col], &form_);
      return set_.insert(Fingerprint(form_)).second;
    }
    const size_t start = kept_.size();
    for (size_t col : cols) AppendOrderForm(*values[col], &kept_);
    if (start == 0) return true;  // the first key
    const std::string_view all(kept_), form = all.substr(start), last = all.substr(last_, start - last_);
    const int c = form.compare(last);
    if (c > 0) {
      last_ = start;
      return true;
    }
    if (c == 0) {  // the key just before: a repeat
      kept_.resize(start);
      return false;
    }
    // Out of order: from here on, a set of every key so far.
    form_.assign(form);
    kept_.resize(start);
    in_order_ = false;
    for (size_t at = 0; at < kept_.size();) {
      size_t begin = at;
      for (size_t i = 0; i < cols.size(); ++i) at = FormEnd(kept_, at);
      set_.insert(Fingerprint(std::string_view(kept_).substr(begin, at - begin)));
    }
    std::string().swap(kept_);
    return set_.insert(Fingerprint(form_)).second;
  }

 private:
  static absl::uint128 Fingerprint(std::string_view form) {
    absl::string_view f(form.data(), form.size());
    return absl::MakeUint128(absl::HashOf(uint64_t{0x9e3779b97f4a7c15ULL}, f), absl::HashOf(f, form.size()));
  }

  // A component in a form whose byte order is a total order on tuples of
  // values (so keys in strictly increasing form order are all distinct), and
  // follows numeric order for whole numbers, as a database's key order does:
  // a whole number (digits, no leading zero) is 0x00, its length, its digits;
  // other text is 0x01, its bytes (0x00 escaped as 0x00 0xFF), 0x00 0x00.
  static void AppendOrderForm(std::string_view v, std::string* out) {
    bool whole = !v.empty() && v.size() < 0x10000 && (v.size() == 1 || v[0] != '0') &&
                 std::all_of(v.begin(), v.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
    if (whole) {
      const char head[3] = {'\x00', static_cast<char>(v.size() >> 8), static_cast<char>(v.size() & 0xff)};
      out->append(head, 3).append(v);
      return;
    }
    out->push_back('\x01');
    for (char ch : v) {
      out->push_back(ch);
      if (ch == '\x00') out->push_back('\xff');
    }
    out->append(2, '\x00');
  }

  // Where the component that starts at `at` in `forms` ends.
  static size_t FormEnd(std::string_view forms, size_t at) {
    if (forms[at] == '\x00') {
      return at + 3 + (static_cast<size_t>(static_cast<uint8_t>(forms[at + 1])) << 8 | static_cast<uint8_t>(forms[at + 2]));
    }
    for (size_t i = at + 1;; ++i) {  // text: up to an unescaped 0x00 0x00
      if (forms[i] != '\x00') continue;
      if (forms[i + 1] == '\x00') return i + 2;
      ++i;  // 0x00 0xFF: an escaped 0x00
    }
  }

  bool in_order_ = true;
  std::string kept_;  // while in order: the forms so far, for the switch to the set
  size_t last_ = 0;   // where the last key's form starts in kept_
  std::string form_;
  absl::flat_hash_set<absl::uint128> set_;
};

// Copied by Fork(): read-only once built, but for the seen keys (shared by
// the forks, or a split's own) and a regex rule's remembered answers (each
// fork's own).
struct RowChecker::Compiled {
  std::vector<size_t> columns;                                      // indexes into the record
  std::shared_ptr<const RE2> re;                                    // regex
  std::shared_ptr<const absl::flat_hash_set<std::string>> set;      // allowed or referenced values
  std::shared_ptr<SeenKeys> seen;                                   // unique, shared by the forks
  std::shared_ptr<SplitKeys> split_keys;                            // unique, this fork's own (ForkForSplit)
  // range: the bounds, parsed once (their digits in `bound_text`).
  std::shared_ptr<const std::array<std::string, 2>> bound_text;
  std::optional<Decimal> lo, hi;
  // The same as integers when every bound is one: a value that is a plain
  // integer is then compared as a number, without parsing digits twice.
  std::optional<std::pair<int64_t, int64_t>> int_bounds;
  // regex: the last values' answers (a column's values recur: product codes,
  // statuses), this fork's own.
  absl::flat_hash_map<std::string, bool> matches;
  static constexpr size_t kMatchesKept = 4096;
};

RowChecker::RowChecker() = default;
RowChecker::RowChecker(RowChecker&&) noexcept = default;
RowChecker& RowChecker::operator=(RowChecker&&) noexcept = default;
RowChecker::~RowChecker() = default;

// The record positions of `names` (case-insensitive); InvalidArgument names
// the rule and the columns the dataset has.
static StatusOr<std::vector<size_t>> ColumnIndexes(const Rule& r, const std::vector<std::string>& names,
                                            std::string_view dataset, const std::vector<std::string>& columns) {
  std::vector<size_t> out;
  for (const std::string& name : names) {
    auto it = std::find_if(columns.begin(), columns.end(),
                           [&](const std::string& col) { return EqualsIgnoreCase(col, name); });
    if (it == columns.end()) {
      return absl::InvalidArgumentError(StrCat("quality rule ", r.number, " (line ", r.line, "): dataset ", dataset,
                                               " has no column ", name, " (its columns: ", Join(columns, ", "), ")"));
    }
    out.push_back(static_cast<size_t>(it - columns.begin()));
  }
  return out;
}

StatusOr<RowChecker> RowChecker::Create(std::span<const Rule> rules, std::string_view dataset,
                                        const std::vector<std::string>& columns,
                                        const ColumnValues& column_values) {
  RowChecker c;
  for (const Rule& r : rules) {
    if (r.dataset != dataset) continue;
    if (r.check == Check::kNullFraction || r.check == Check::kFreshness || r.check == Check::kDuplicateFraction ||
        r.check == Check::kDrift) {
      auto t = std::make_shared<Tracked>();
      t->number = r.number;
      t->check = r.check;
      t->distribution = r.check == Check::kDrift && r.measure == "distribution";
      ASSIGN_OR_RETURN(t->cols, ColumnIndexes(r, r.columns, dataset, columns));
      if (r.check == Check::kDuplicateFraction) t->seen = std::make_shared<SeenKeys>();
      c.tracked_.push_back(std::move(t));
      c.metrics_[r.number];
    }
    if (!r.per_record()) continue;
    Compiled k;
    ASSIGN_OR_RETURN(k.columns, ColumnIndexes(r, r.columns, dataset, columns));
    ASSIGN_OR_RETURN(std::vector<size_t> factors, ColumnIndexes(r, r.factors, dataset, columns));
    k.columns.insert(k.columns.end(), factors.begin(), factors.end());
    if (r.check == Check::kRegex) k.re = std::make_shared<const RE2>(r.pattern, RE2::Quiet);
    if (r.check == Check::kRange) {  // bounds checked as numbers when the rules were read
      k.bound_text = std::make_shared<const std::array<std::string, 2>>(
          std::array<std::string, 2>{r.min.value_or(""), r.max.value_or("")});
      if (r.min) k.lo = ParseDecimal((*k.bound_text)[0]);
      if (r.max) k.hi = ParseDecimal((*k.bound_text)[1]);
      auto whole = [](const std::optional<std::string>& b, int64_t none) -> std::optional<int64_t> {
        if (!b) return none;
        int64_t v = 0;
        auto [end, ec] = std::from_chars(b->data(), b->data() + b->size(), v);
        if (ec != std::errc() || end != b->data() + b->size()) return std::nullopt;
        return v;
      };
      std::optional<int64_t> lo = whole(r.min, INT64_MIN), hi = whole(r.max, INT64_MAX);
      if (lo && hi) k.int_bounds = std::pair{*lo, *hi};
    }
    if (r.check == Check::kAllowed) {
      k.set = std::make_shared<const absl::flat_hash_set<std::string>>(r.values.begin(), r.values.end());
    }
    if (r.check == Check::kUnique) k.seen = std::make_shared<SeenKeys>();
    if (r.check == Check::kReferences) {
      if (!column_values) {
        return absl::FailedPreconditionError(
            StrCat("quality rule ", r.number, " (line ", r.line, "): references needs the lake to read ",
                   r.ref_dataset, "; run it where the lake is given"));
      }
      ASSIGN_OR_RETURN(std::vector<std::string> values, column_values(r.ref_dataset, r.ref_column));
      k.set = std::make_shared<const absl::flat_hash_set<std::string>>(std::make_move_iterator(values.begin()),
                                                                        std::make_move_iterator(values.end()));
    }
    c.rules_.push_back(r);
    c.compiled_.push_back(std::move(k));
  }
  c.failed_.assign(c.rules_.size(), 0);
  return c;
}

RowChecker RowChecker::Fork(bool share_unique_keys) const {
  RowChecker c;
  c.rules_ = rules_;
  c.compiled_ = compiled_;
  c.tracked_ = tracked_;  // shared: the duplicate keys are the run's, like unique's
  for (const auto& t : tracked_) c.metrics_[t->number];
  if (!share_unique_keys) {
    for (Compiled& k : c.compiled_) {
      if (k.seen) k.seen = std::make_shared<SeenKeys>();
    }
  }
  c.failed_.assign(rules_.size(), 0);
  return c;
}

RowChecker RowChecker::ForkForSplit(std::optional<size_t> split_column, bool only_split) const {
  RowChecker c = Fork(true);
  for (size_t i = 0; i < c.rules_.size(); ++i) {
    Compiled& k = c.compiled_[i];
    if (c.rules_[i].check != Check::kUnique) continue;
    bool holds = split_column && std::find(k.columns.begin(), k.columns.end(), *split_column) != k.columns.end();
    if (!only_split && !holds) continue;  // keys may repeat across splits: the shared set
    k.seen = nullptr;
    k.split_keys = std::make_shared<SplitKeys>();
  }
  return c;
}

void RowChecker::AddCounts(const RowChecker& fork) {
  for (size_t i = 0; i < failed_.size() && i < fork.failed_.size(); ++i) failed_[i] += fork.failed_[i];
  for (const auto& [number, m] : fork.metrics_) {
    ColumnMetrics& mine = metrics_[number];
    mine.nulls += m.nulls;
    if (m.max > mine.max) mine.max = m.max;
    mine.repeats += m.repeats;
    mine.sum += m.sum;
    mine.numbers += m.numbers;
    for (const auto& [value, n] : m.counts) CountCategory(&mine.counts, value, n);
  }
}

RowChecker::Verdict RowChecker::CheckRecord(std::span<const std::optional<std::string_view>> values) {
  Verdict v;
  for (const auto& t : tracked_) {
    ColumnMetrics& m = metrics_[t->number];
    if (t->check == Check::kDuplicateFraction) {
      std::optional<absl::uint128> key = KeyOf(values, t->cols);
      if (key && !t->seen->Insert(*key)) ++m.repeats;
      continue;
    }
    const std::optional<std::string_view>& value = values[t->cols.front()];
    if (!value) {
      ++m.nulls;
      continue;
    }
    if (t->distribution) {
      CountCategory(&m.counts, *value, 1);
    } else if (t->check == Check::kDrift) {
      double x = 0;
      auto [end, ec] = std::from_chars(value->data(), value->data() + value->size(), x);
      if (ec == std::errc() && end == value->data() + value->size()) m.sum += x, ++m.numbers;
    } else if (*value > std::string_view(m.max)) {
      m.max.assign(*value);
    }
  }
  for (size_t i = 0; i < rules_.size(); ++i) {
    const Rule& r = rules_[i];
    Compiled& k = compiled_[i];
    const std::optional<std::string_view>& value = values[k.columns.front()];
    std::string why;  // empty: passed
    switch (r.check) {
      case Check::kNotNull:
        if (!value) why = "NULL";
        break;
      case Check::kRange:
        if (value) {
          int64_t n = 0;
          if (auto [end, ec] = std::from_chars(value->data(), value->data() + value->size(), n);
              k.int_bounds && ec == std::errc() && end == value->data() + value->size()) {
            if (n < k.int_bounds->first || n > k.int_bounds->second) why = std::string(*value);
            break;
          }
          std::optional<Decimal> x = ParseDecimal(*value);
          if (!x) {
            why = StrCat("\"", *value, "\" is not a number");
          } else if ((k.lo && CompareParsed(*x, *k.lo) < 0) || (k.hi && CompareParsed(*x, *k.hi) > 0)) {
            why = std::string(*value);
          }
        }
        break;
      case Check::kLength:
        if (value) {
          uint64_t n = CodePoints(*value);
          uint64_t lo = 0, hi = UINT64_MAX;
          if (r.min) ParseInt(*r.min, &lo);
          if (r.max) ParseInt(*r.max, &hi);
          if (n < lo || n > hi) why = StrCat(n, " characters");
        }
        break;
      case Check::kAllowed:
      case Check::kReferences:
        if (value && !k.set->contains(absl::string_view(value->data(), value->size()))) why = StrCat("\"", *value, "\"");
        break;
      case Check::kRegex:
        if (value) {
          auto it = k.matches.find(absl::string_view(value->data(), value->size()));
          if (it == k.matches.end()) {
            if (k.matches.size() >= Compiled::kMatchesKept) k.matches.clear();
            it = k.matches.emplace(std::string(*value), RE2::FullMatch(*value, *k.re)).first;
          }
          if (!it->second) why = StrCat("\"", *value, "\"");
        }
        break;
      case Check::kUnique: {
        bool repeat = false;
        if (k.split_keys) {
          bool complete = std::all_of(k.columns.begin(), k.columns.end(), [&](size_t col) { return values[col].has_value(); });
          repeat = complete && !k.split_keys->Insert(values, k.columns);
        } else if (std::optional<absl::uint128> key = KeyOf(values, k.columns)) {
          repeat = !k.seen->Insert(*key);
        }
        if (repeat) {
          std::string shown;
          for (size_t col : k.columns) StrAppend(&shown, shown.empty() ? "" : ", ", *values[col]);
          why = StrCat("repeats ", shown);
        }
        break;
      }
      case Check::kProduct: {
        if (!value) break;
        std::array<std::string_view, 8> factors;
        size_t n = 0;
        bool complete = k.columns.size() - 1 <= factors.size();
        for (size_t j = 1; j < k.columns.size() && complete; ++j) {
          const std::optional<std::string_view>& f = values[k.columns[j]];
          if (!f) complete = false;  // a NULL factor: nothing to compare (not_null checks presence)
          if (complete) factors[n++] = *f;
        }
        if (complete) why = ProductMismatch(*value, std::span<const std::string_view>(factors.data(), n), r.tolerance);
        break;
      }
      case Check::kRowCount:
      case Check::kSourceCount:
      case Check::kChange:
      case Check::kNullFraction:
      case Check::kRejectFraction:
      case Check::kFreshness:
      case Check::kDuplicateFraction:
      case Check::kDrift: break;
    }
    if (why.empty()) continue;
    ++failed_[i];
    if (v.rule < 0 || r.action > v.action) {
      v.action = r.action;
      v.rule = static_cast<int>(i);
      v.reason = StrCat(r.Describe(), ": ", why);
    }
  }
  return v;
}

}  // namespace comptoir::quality
