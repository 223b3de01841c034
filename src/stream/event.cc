#include "comptoir/stream/event.h"

#include <chrono>

#include "comptoir/core/decimal.h"
#include "fmt/chrono.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"
#include "simdjson.h"

namespace comptoir::stream {

std::string FormatTimestamp(int64_t ts_ms) {
  auto tp = std::chrono::sys_time<std::chrono::milliseconds>(std::chrono::milliseconds(ts_ms));
  auto secs = std::chrono::floor<std::chrono::seconds>(tp);
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03}Z", secs, (ts_ms % 1000 + 1000) % 1000);
}

StatusOr<int64_t> ParseCents(std::string_view text) {
  StatusOr<std::string> fixed = core::NormalizeDecimal(text, 2);
  if (!fixed.ok()) return fixed.status();
  bool neg = !fixed->empty() && fixed->front() == '-';
  std::string digits;
  for (char c : *fixed) {
    if (c >= '0' && c <= '9') digits.push_back(c);
  }
  int64_t v = 0;
  if (digits.size() > 17 || !ParseInt(digits, &v)) {
    return absl::InvalidArgumentError(StrCat("\"", text, "\" is out of range"));
  }
  return neg ? -v : v;
}

std::string ToJson(const Event& e) {
  std::string price, amount;
  core::AppendFixed(&price, e.price_each_cents, 2);
  core::AppendFixed(&amount, e.amount_cents, 2);
  auto q = [](const std::string& s) { return nlohmann::json(s).dump(); };
  return fmt::format(
      R"({{"event_id":{},"ts":"{}","order_number":{},"order_line":{},"customer":{},)"
      R"("country":{},"territory":{},"product_code":{},"product_line":{},"quantity":{},)"
      R"("price_each":{},"amount":{},"status":{},"deal_size":{}}})",
      q(e.event_id), FormatTimestamp(e.ts_ms), e.order_number, e.order_line, q(e.customer),
      q(e.country), q(e.territory), q(e.product_code), q(e.product_line), e.quantity, price,
      amount, q(e.status), q(e.deal_size));
}

struct EventParser::Impl {
  simdjson::ondemand::parser parser;
  simdjson::padded_string buffer;
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

StatusOr<Event> EventParser::Parse(std::string_view json, int64_t message_ts_ms) {
  using namespace simdjson;
  Event e;
  impl_->buffer = padded_string(json);
  ondemand::document doc;
  if (impl_->parser.iterate(impl_->buffer).get(doc) != SUCCESS) {
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
    if (key == "event_id") {
      RETURN_IF_ERROR(str(&e.event_id));
    } else if (key == "ts") {
      std::string ts;
      RETURN_IF_ERROR(str(&ts));
      ASSIGN_OR_RETURN(e.ts_ms, ParseTs(ts));
    } else if (key == "order_number" || key == "order_id") {
      RETURN_IF_ERROR(integer(&e.order_number));
      have_order = true;
      e.minimal = key == "order_id";
    } else if (key == "order_line") {
      RETURN_IF_ERROR(integer(&n));
      e.order_line = static_cast<int>(n);
    } else if (key == "customer") {
      RETURN_IF_ERROR(str(&e.customer));
    } else if (key == "customer_id") {
      if (v.get_string().get(sv) == SUCCESS) {
        e.customer.assign(sv);
      } else {
        RETURN_IF_ERROR(integer(&n));
        e.customer = std::to_string(n);
      }
    } else if (key == "country") {
      RETURN_IF_ERROR(str(&e.country));
    } else if (key == "territory") {
      RETURN_IF_ERROR(str(&e.territory));
    } else if (key == "product_code") {
      RETURN_IF_ERROR(str(&e.product_code));
    } else if (key == "product_line") {
      RETURN_IF_ERROR(str(&e.product_line));
    } else if (key == "quantity") {
      RETURN_IF_ERROR(integer(&n));
      e.quantity = static_cast<int>(n);
    } else if (key == "price_each") {
      RETURN_IF_ERROR(money(&e.price_each_cents));
    } else if (key == "amount") {
      RETURN_IF_ERROR(money(&e.amount_cents));
      have_amount = true;
    } else if (key == "status") {
      RETURN_IF_ERROR(str(&e.status));
    } else if (key == "deal_size") {
      RETURN_IF_ERROR(str(&e.deal_size));
    }
  }
  if (!have_order) return absl::InvalidArgumentError("missing field order_number (or order_id)");
  if (!have_amount) return absl::InvalidArgumentError("missing field amount");
  if (e.status.empty()) return absl::InvalidArgumentError("missing field status");
  if (e.ts_ms == 0) e.ts_ms = message_ts_ms;
  if (e.deal_size.empty()) {
    e.deal_size = e.amount_cents < 300000 ? "Small" : e.amount_cents <= 700000 ? "Medium" : "Large";
  }
  return e;
}

}  // namespace comptoir::stream
