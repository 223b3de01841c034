#include "comptoir/stream/event.h"

#include <algorithm>
#include <charconv>
#include <chrono>

#include "comptoir/core/decimal.h"
#include "comptoir/core/time.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"
#include "simdjson.h"

namespace comptoir::stream {

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

void AppendJson(const Event& e, std::string* out) {
  auto field = [out](std::string_view name) {
    out->append(name);
  };
  field(R"({"event_id":)");
  AppendJsonString(e.event_id, out);
  field(R"(,"ts":")");
  core::AppendIsoMillis(e.ts_ms, out);
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
  int64_t ms = core::ParseIsoTime(t, /*require_zone=*/true);
  if (ms < 0) return absl::InvalidArgumentError(StrCat("ts \"", t, "\" is not RFC 3339 UTC (YYYY-MM-DDTHH:MM:SS[.mmm]Z)"));
  return ms;
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

// Not split: one switch over the fields of an event as simdjson's on-demand
// parser meets them (the consumers' hot path, 1M events/s); a function per
// field would re-enter the parser's state for each.
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
      StatusOr<int64_t> c = core::ParseCents(raw);
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
