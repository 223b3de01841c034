#include "comptoir/stream/simulator.h"

#include <chrono>

#include "comptoir/core/decimal.h"
#include "comptoir/core/time.h"
#include "fmt/format.h"

namespace comptoir::stream {

Simulator::Simulator(uint64_t seed, std::string producer_id, int64_t order_base)
    : gen_(UINT64_MAX / 2, seed), producer_id_(std::move(producer_id)), order_base_(order_base),
      rng_(seed) {}

Event Simulator::Next(int64_t now_ms) {
  Event e;
  Next(now_ms, &e);
  return e;
}

void Simulator::Next(int64_t now_ms, Event* out) {
  seed::SalesLine l;
  gen_.NextLine(&l);
  Event& e = *out;
  e.event_id.clear();
  AppendEventId(&e.event_id);
  e.ts_ms = now_ms;
  e.order_number = l.order_number + order_base_;
  e.order_line = l.order_line;
  e.quantity = static_cast<int>(l.quantity);
  e.price_each_cents = l.price_each_cents;
  e.amount_cents = l.sales_cents;
  e.status.assign(l.status);
  e.product_line.assign(l.product_line);
  e.product_code.assign(l.product_code);
  e.customer.assign(l.customer);
  e.country.assign(l.country);
  e.territory.assign(l.territory);
  e.deal_size.assign(l.deal_size);
}

void Simulator::AppendEventId(std::string* out) {
  out->append(producer_id_);
  char seq[13];
  seq[0] = '-';
  uint64_t n = ++seq_;
  for (int i = 12; i >= 1; --i, n /= 10) seq[i] = static_cast<char>('0' + n % 10);
  out->append(seq, 13);
}

const std::string& Simulator::Fragment(const void* key, const std::function<std::string()>& make) {
  auto it = fragments_.find(key);
  if (it == fragments_.end()) it = fragments_.emplace(key, make()).first;
  return it->second;
}

int64_t Simulator::NextJson(int64_t now_ms, std::string* json) {
  seed::SalesLine l;
  gen_.NextLine(&l);
  std::string& out = *json;
  out.clear();
  out.append(R"({"event_id":")");
  AppendEventId(&out);
  out.append(R"(","ts":")");
  core::AppendIsoMillis(now_ms, &out);
  out.append(R"(","order_number":)");
  int64_t order = l.order_number + order_base_;
  AppendInt(order, &out);
  out.append(R"(,"order_line":)");
  AppendInt(l.order_line, &out);
  // Catalogue strings live as long as the program: their address is their key.
  out.append(Fragment(l.customer.data(), [&] {
    std::string f = R"(,"customer":)";
    AppendJsonString(l.customer, &f);
    f += R"(,"country":)";
    AppendJsonString(l.country, &f);
    f += R"(,"territory":)";
    AppendJsonString(l.territory, &f);
    return f;
  }));
  out.append(Fragment(l.product_code.data(), [&] {
    std::string f = R"(,"product_code":)";
    AppendJsonString(l.product_code, &f);
    f += R"(,"product_line":)";
    AppendJsonString(l.product_line, &f);
    return f;
  }));
  out.append(R"(,"quantity":)");
  AppendInt(l.quantity, &out);
  out.append(R"(,"price_each":)");
  core::AppendFixed(&out, l.price_each_cents, 2);
  out.append(R"(,"amount":)");
  core::AppendFixed(&out, l.sales_cents, 2);
  out.append(Fragment(l.status.data(), [&] {
    std::string f = R"(,"status":)";
    AppendJsonString(l.status, &f);
    return f;
  }));
  out.append(Fragment(l.deal_size.data(), [&] {
    std::string f = R"(,"deal_size":)";
    AppendJsonString(l.deal_size, &f);
    return f + "}";
  }));
  return order;
}

std::string Simulator::LogLine(const Event& e) {
  std::string amount;
  core::AppendFixed(&amount, e.amount_cents, 2);
  return fmt::format("{} INFO sale order={} line={} product={} qty={} amount={} status={} "
                     "customer=\"{}\" event={}",
                     core::FormatLogTime(e.ts_ms), e.order_number, e.order_line, e.product_code,
                     e.quantity, amount, e.status, e.customer, e.event_id);
}

std::optional<std::string> Simulator::IncidentLine(const Event& e, double rate) {
  std::uniform_real_distribution<double> u(0, 1);
  if (rate <= 0 || u(rng_) >= rate) return std::nullopt;
  switch (rng_() % 3) {
    case 0:
      return fmt::format("{} WARNING payment declined order={} customer=\"{}\" retrying",
                         core::FormatLogTime(e.ts_ms), e.order_number, e.customer);
    case 1:
      return fmt::format("{} WARNING stock-out product={} order={} backordered",
                         core::FormatLogTime(e.ts_ms), e.product_code, e.order_number);
    default:
      return fmt::format("{} ERROR payment gateway timeout after 3000 ms order={}",
                         core::FormatLogTime(e.ts_ms), e.order_number);
  }
}

}  // namespace comptoir::stream
