#include "comptoir/stream/simulator.h"

#include <chrono>

#include "comptoir/core/decimal.h"
#include "fmt/chrono.h"
#include "fmt/format.h"

namespace comptoir::stream {
namespace {

int64_t Cents(const std::optional<std::string>& v) {
  StatusOr<int64_t> c = ParseCents(v ? std::string_view(*v) : std::string_view("0"));
  return c.ok() ? *c : 0;
}

void Assign(const std::optional<std::string>& v, std::string* out) {
  if (v) {
    out->assign(*v);
  } else {
    out->clear();
  }
}

}  // namespace

std::string PythonLogTime(int64_t ts_ms) {
  auto tp = std::chrono::sys_time<std::chrono::milliseconds>(std::chrono::milliseconds(ts_ms));
  auto secs = std::chrono::floor<std::chrono::seconds>(tp);
  return fmt::format("{:%Y-%m-%d %H:%M:%S},{:03}", secs, ts_ms % 1000);
}

Simulator::Simulator(uint64_t seed, std::string producer_id, int64_t order_base)
    : gen_(UINT64_MAX / 2, seed), producer_id_(std::move(producer_id)), order_base_(order_base),
      rng_(seed) {}

Event Simulator::Next(int64_t now_ms) {
  Event e;
  Next(now_ms, &e);
  return e;
}

void Simulator::Next(int64_t now_ms, Event* out) {
  seed::SalesRow& row = row_;
  gen_.Next(&row);
  Event& e = *out;
  e.event_id = producer_id_;
  char seq[13];
  uint64_t n_seq = ++seq_;
  for (int i = 11; i >= 0; --i, n_seq /= 10) seq[i] = static_cast<char>('0' + n_seq % 10);
  seq[12] = '\0';
  e.event_id.push_back('-');
  e.event_id.append(seq, 12);
  e.ts_ms = now_ms;
  int64_t n = 0;
  (void)ParseInt(row[0] ? std::string_view(*row[0]) : "0", &n);
  e.order_number = n + order_base_;
  int q = 0, line = 0;
  (void)ParseInt(row[1] ? std::string_view(*row[1]) : "0", &q);
  (void)ParseInt(row[3] ? std::string_view(*row[3]) : "0", &line);
  e.quantity = q;
  e.order_line = line;
  e.price_each_cents = Cents(row[2]);
  e.amount_cents = Cents(row[4]);
  Assign(row[6], &e.status);
  Assign(row[10], &e.product_line);
  Assign(row[12], &e.product_code);
  Assign(row[13], &e.customer);
  Assign(row[20], &e.country);
  Assign(row[21], &e.territory);
  Assign(row[24], &e.deal_size);
}

std::string Simulator::LogLine(const Event& e) {
  std::string amount;
  core::AppendFixed(&amount, e.amount_cents, 2);
  return fmt::format("{} INFO sale order={} line={} product={} qty={} amount={} status={} "
                     "customer=\"{}\" event={}",
                     PythonLogTime(e.ts_ms), e.order_number, e.order_line, e.product_code,
                     e.quantity, amount, e.status, e.customer, e.event_id);
}

std::optional<std::string> Simulator::IncidentLine(const Event& e, double rate) {
  std::uniform_real_distribution<double> u(0, 1);
  if (rate <= 0 || u(rng_) >= rate) return std::nullopt;
  switch (rng_() % 3) {
    case 0:
      return fmt::format("{} WARNING payment declined order={} customer=\"{}\" retrying",
                         PythonLogTime(e.ts_ms), e.order_number, e.customer);
    case 1:
      return fmt::format("{} WARNING stock-out product={} order={} backordered",
                         PythonLogTime(e.ts_ms), e.product_code, e.order_number);
    default:
      return fmt::format("{} ERROR payment gateway timeout after 3000 ms order={}",
                         PythonLogTime(e.ts_ms), e.order_number);
  }
}

}  // namespace comptoir::stream
