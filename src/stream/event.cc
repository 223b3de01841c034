#include "comptoir/stream/event.h"

#include <algorithm>
#include <charconv>
#include <chrono>

#include "comptoir/core/decimal.h"
#include "fmt/chrono.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"
#include "simdjson.h"

namespace comptoir::stream {

namespace {

// "2026-11-27T21:48:14" for a whole second, cached: consecutive events
// usually share it.
void AppendSecond(int64_t secs, std::string* out) {
  thread_local int64_t cached_secs = INT64_MIN;
  thread_local std::string cached;
  if (secs != cached_secs) {
    auto tp = std::chrono::sys_seconds(std::chrono::seconds(secs));
    cached = fmt::format("{:%Y-%m-%dT%H:%M:%S}", tp);
    cached_secs = secs;
  }
  out->append(cached);
}

}  // namespace

void AppendTimestamp(int64_t ts_ms, std::string* out) {
  int64_t ms = ((ts_ms % 1000) + 1000) % 1000;
  AppendSecond((ts_ms - ms) / 1000, out);
  char tail[6] = {'.', static_cast<char>('0' + ms / 100), static_cast<char>('0' + ms / 10 % 10),
                  static_cast<char>('0' + ms % 10), 'Z', '\0'};
  out->append(tail, 5);
}

// A JSON string literal: quotes, backslashes and control characters escaped,
// other bytes (UTF-8) as they are.
void AppendJsonString(std::string_view s, std::string* out) {
  out->push_back('"');
  size_t clean = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out->append(s.data() + clean, i - clean);
    clean = i + 1;
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      default: fmt::format_to(std::back_inserter(*out), "\\u{:04x}", c);
    }
  }
  out->append(s.data() + clean, s.size() - clean);
  out->push_back('"');
}

void AppendInt(int64_t v, std::string* out) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, r.ptr);
}

std::string FormatTimestamp(int64_t ts_ms) {
  std::string out;
  AppendTimestamp(ts_ms, &out);
  return out;
}

StatusOr<int64_t> ParseCents(std::string_view text) {
  // Fast path: [-]digits[.d[d]], the form every producer writes.
  std::string_view t = text;
  bool neg = ConsumePrefix(&t, "-");
  size_t dot = t.find('.');
  std::string_view whole = t.substr(0, dot);
  std::string_view frac = dot == std::string_view::npos ? std::string_view() : t.substr(dot + 1);
  auto all_digits = [](std::string_view d) {
    return std::all_of(d.begin(), d.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (!whole.empty() && whole.size() <= 15 && frac.size() <= 2 &&
      (dot == std::string_view::npos || !frac.empty()) && all_digits(whole) && all_digits(frac)) {
    int64_t v = 0;
    for (char c : whole) v = v * 10 + (c - '0');
    for (size_t i = 0; i < 2; ++i) v = v * 10 + (i < frac.size() ? frac[i] - '0' : 0);
    return neg ? -v : v;
  }
  StatusOr<std::string> fixed = core::NormalizeDecimal(text, 2);
  if (!fixed.ok()) return fixed.status();
  bool fixed_neg = !fixed->empty() && fixed->front() == '-';
  std::string digits;
  for (char c : *fixed) {
    if (c >= '0' && c <= '9') digits.push_back(c);
  }
  int64_t v = 0;
  if (digits.size() > 17 || !ParseInt(digits, &v)) {
    return absl::InvalidArgumentError(StrCat("\"", text, "\" is out of range"));
  }
  return fixed_neg ? -v : v;
}

void AppendJson(const Event& e, std::string* out) {
  auto field = [out](std::string_view name) {
    out->append(name);
  };
  field(R"({"event_id":)");
  AppendJsonString(e.event_id, out);
  field(R"(,"ts":")");
  AppendTimestamp(e.ts_ms, out);
  field(R"(","order_number":)");
  AppendInt(e.order_number, out);
  field(R"(,"order_line":)");
  AppendInt(e.order_line, out);
  field(R"(,"customer":)");
  AppendJsonString(e.customer, out);
  field(R"(,"country":)");
  AppendJsonString(e.country, out);
  field(R"(,"territory":)");
  AppendJsonString(e.territory, out);
  field(R"(,"product_code":)");
  AppendJsonString(e.product_code, out);
  field(R"(,"product_line":)");
  AppendJsonString(e.product_line, out);
  field(R"(,"quantity":)");
  AppendInt(e.quantity, out);
  field(R"(,"price_each":)");
  core::AppendFixed(out, e.price_each_cents, 2);
  field(R"(,"amount":)");
  core::AppendFixed(out, e.amount_cents, 2);
  field(R"(,"status":)");
  AppendJsonString(e.status, out);
  field(R"(,"deal_size":)");
  AppendJsonString(e.deal_size, out);
  out->push_back('}');
}

std::string ToJson(const Event& e) {
  std::string out;
  out.reserve(320);
  AppendJson(e, &out);
  return out;
}

struct EventParser::Impl {
  simdjson::ondemand::parser parser;
  std::string buffer;  // the message, with SIMDJSON_PADDING bytes of capacity after it
};

EventParser::EventParser() : impl_(new Impl()) {}
EventParser::~EventParser() { delete impl_; }

namespace {

StatusOr<int64_t> ParseTs(std::string_view t) {
  // YYYY-MM-DDTHH:MM:SS[.mmm]Z
  int y = 0;
  unsigned mo = 0, d = 0;
  int hh = 0, mi = 0, ss = 0, ms = 0;
  if (t.size() < 20 || t.back() != 'Z' || !ParseInt(t.substr(0, 4), &y) ||
      !ParseInt(t.substr(5, 2), &mo) || !ParseInt(t.substr(8, 2), &d) ||
      !ParseInt(t.substr(11, 2), &hh) || !ParseInt(t.substr(14, 2), &mi) ||
      !ParseInt(t.substr(17, 2), &ss)) {
    return absl::InvalidArgumentError(StrCat("ts \"", t, "\" is not RFC 3339 UTC"));
  }
  if (t.size() >= 24 && t[19] == '.') (void)ParseInt(t.substr(20, 3), &ms);
  using namespace std::chrono;
  year_month_day ymd{year{y}, month{mo}, day{d}};
  if (!ymd.ok()) return absl::InvalidArgumentError(StrCat("ts \"", t, "\" is not a valid date"));
  int64_t days = sys_days{ymd}.time_since_epoch().count();
  return ((days * 86400 + hh * 3600 + mi * 60 + ss) * 1000) + ms;
}

}  // namespace

namespace {

enum class Field {
  kOther, kEventId, kTs, kOrderNumber, kOrderId, kOrderLine, kCustomer, kCustomerId, kCountry,
  kTerritory, kProductCode, kProductLine, kQuantity, kPriceEach, kAmount, kStatus, kDealSize
};

// Dispatch on the length first: most keys are then told apart without a
// full comparison.
Field FieldOf(std::string_view k) {
  auto is = [k](std::string_view name, Field f) { return k == name ? f : Field::kOther; };
  switch (k.size()) {
    case 2: return is("ts", Field::kTs);
    case 6: return k[0] == 'a' ? is("amount", Field::kAmount) : is("status", Field::kStatus);
    case 7: return is("country", Field::kCountry);
    case 8:
      switch (k[0]) {
        case 'e': return is("event_id", Field::kEventId);
        case 'c': return is("customer", Field::kCustomer);
        case 'o': return is("order_id", Field::kOrderId);
        case 'q': return is("quantity", Field::kQuantity);
        default: return Field::kOther;
      }
    case 9: return k[0] == 'd' ? is("deal_size", Field::kDealSize) : is("territory", Field::kTerritory);
    case 10: return k[0] == 'o' ? is("order_line", Field::kOrderLine) : is("price_each", Field::kPriceEach);
    case 11: return is("customer_id", Field::kCustomerId);
    case 12:
      if (k[0] == 'o') return is("order_number", Field::kOrderNumber);
      return k[8] == 'c' ? is("product_code", Field::kProductCode) : is("product_line", Field::kProductLine);
    default: return Field::kOther;
  }
}

}  // namespace

StatusOr<Event> EventParser::Parse(std::string_view json, int64_t message_ts_ms) {
  Event e;
  RETURN_IF_ERROR(Parse(json, message_ts_ms, &e));
  return e;
}

Status EventParser::Parse(std::string_view json, int64_t message_ts_ms, Event* into) {
  using namespace simdjson;
  Event& e = *into;
  e.event_id.clear();
  e.ts_ms = 0;
  e.order_number = 0;
  e.order_line = 0;
  e.customer.clear();
  e.country.clear();
  e.territory.clear();
  e.product_code.clear();
  e.product_line.clear();
  e.quantity = 0;
  e.price_each_cents = 0;
  e.amount_cents = 0;
  e.status.clear();
  e.deal_size.clear();
  e.minimal = false;
  // One reused, padded buffer: no allocation per message.
  std::string& buf = impl_->buffer;
  if (buf.capacity() < json.size() + SIMDJSON_PADDING) buf.reserve(json.size() + SIMDJSON_PADDING);
  buf.assign(json);
  ondemand::document doc;
  if (impl_->parser.iterate(buf.data(), json.size(), buf.capacity()).get(doc) != SUCCESS) {
    return absl::InvalidArgumentError("not JSON");
  }
  ondemand::object obj;
  if (doc.get_object().get(obj) != SUCCESS) return absl::InvalidArgumentError("not a JSON object");
  bool have_amount = false, have_order = false;
  std::string_view sv;
  for (auto field : obj) {
    std::string_view key;
    if (field.unescaped_key().get(key) != SUCCESS) return absl::InvalidArgumentError("bad JSON key");
    ondemand::value v = field.value();
    auto str = [&](std::string* out) -> Status {
      if (v.get_string().get(sv) != SUCCESS) {
        return absl::InvalidArgumentError(StrCat("field ", key, " must be a string"));
      }
      out->assign(sv);
      return absl::OkStatus();
    };
    auto integer = [&](int64_t* out) -> Status {
      if (v.get_int64().get(*out) == SUCCESS) return absl::OkStatus();
      if (v.get_string().get(sv) == SUCCESS && ParseInt(sv, out)) return absl::OkStatus();
      return absl::InvalidArgumentError(StrCat("field ", key, " must be an integer"));
    };
    auto money = [&](int64_t* cents) -> Status {
      std::string_view raw;
      if (v.get_string().get(raw) != SUCCESS) raw = StripAsciiWhitespace(v.raw_json_token());
      StatusOr<int64_t> c = ParseCents(raw);
      if (!c.ok()) {
        return absl::InvalidArgumentError(StrCat("field ", key, " is not an amount: ", c.status().message()));
      }
      *cents = *c;
      return absl::OkStatus();
    };
    int64_t n = 0;
    switch (FieldOf(key)) {
      case Field::kEventId:
        RETURN_IF_ERROR(str(&e.event_id));
        break;
      case Field::kTs: {
        if (v.get_string().get(sv) != SUCCESS) {
          return absl::InvalidArgumentError("field ts must be a string");
        }
        ASSIGN_OR_RETURN(e.ts_ms, ParseTs(sv));
        break;
      }
      case Field::kOrderNumber:
      case Field::kOrderId:
        RETURN_IF_ERROR(integer(&e.order_number));
        have_order = true;
        e.minimal = key == "order_id";
        break;
      case Field::kOrderLine:
        RETURN_IF_ERROR(integer(&n));
        e.order_line = static_cast<int>(n);
        break;
      case Field::kCustomer:
        RETURN_IF_ERROR(str(&e.customer));
        break;
      case Field::kCustomerId:
        if (v.get_string().get(sv) == SUCCESS) {
          e.customer.assign(sv);
        } else {
          RETURN_IF_ERROR(integer(&n));
          e.customer = std::to_string(n);
        }
        break;
      case Field::kCountry:
        RETURN_IF_ERROR(str(&e.country));
        break;
      case Field::kTerritory:
        RETURN_IF_ERROR(str(&e.territory));
        break;
      case Field::kProductCode:
        RETURN_IF_ERROR(str(&e.product_code));
        break;
      case Field::kProductLine:
        RETURN_IF_ERROR(str(&e.product_line));
        break;
      case Field::kQuantity:
        RETURN_IF_ERROR(integer(&n));
        e.quantity = static_cast<int>(n);
        break;
      case Field::kPriceEach:
        RETURN_IF_ERROR(money(&e.price_each_cents));
        break;
      case Field::kAmount:
        RETURN_IF_ERROR(money(&e.amount_cents));
        have_amount = true;
        break;
      case Field::kStatus:
        RETURN_IF_ERROR(str(&e.status));
        break;
      case Field::kDealSize:
        RETURN_IF_ERROR(str(&e.deal_size));
        break;
      case Field::kOther:
        break;
    }
  }
  if (!have_order) return absl::InvalidArgumentError("missing field order_number (or order_id)");
  if (!have_amount) return absl::InvalidArgumentError("missing field amount");
  if (e.status.empty()) return absl::InvalidArgumentError("missing field status");
  if (e.ts_ms == 0) e.ts_ms = message_ts_ms;
  if (e.deal_size.empty()) {
    e.deal_size = e.amount_cents < 300000 ? "Small" : e.amount_cents <= 700000 ? "Medium" : "Large";
  }
  return absl::OkStatus();
}

}  // namespace comptoir::stream
