// Many Server-Sent Events clients of `comptoir serve`, and the delivery latency of its ticks.
//
//   sse_clients HOST PORT CLIENTS SECONDS [PATH=/api/v1/live/stream]
//
// Opens CLIENTS connections (non-blocking, one epoll loop in one thread, so
// the client costs a few microseconds per event and is not the bottleneck),
// each GETs PATH and decodes the chunked HTTP body into SSE events. Once every
// client is connected and one second has passed, it records for SECONDS every
// `tick` event each client receives: the wall-clock time of the read() that
// completed the event. A tick with `id: T` sums second T; serve publishes it
// once second T+1 has begun. Two latencies per (client, tick):
//
//   end of second: receive time - (T+1) s, i.e. how long after the second
//                  closed the client has its numbers (includes when serve's
//                  tick loop wakes up after the boundary);
//   fan-out:       receive time - the earliest receive time of the same tick
//                  among all clients, i.e. the time serve takes to deliver one
//                  published tick to every client (the first client gets it
//                  within a fraction of a millisecond of the publication).
//
// Prints one JSON object: clients connected, ticks, deliveries and missed
// ones, p50/p95/p99/max of both latencies, the tick loop's wake-up offset
// (per tick, the earliest end-of-second latency; its median), and the
// client's own CPU time.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace {

double NowMs() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

struct Client {
  int fd = -1;
  bool connected = false, headers_done = false, chunked = false, closed = false;
  int status = 0;
  std::string raw;      // undecoded bytes
  std::string body;     // decoded SSE text not yet split into events
  long chunk_left = -1; // bytes left in the current chunk; -1 = expecting a size line
  int events = 0, ticks = 0;
};

struct Delivery {
  int client;
  double ms;  // receive wall-clock time
};

double Pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

// Decodes what arrived; returns false on a protocol error.
bool Decode(Client* c) {
  if (!c->headers_done) {
    size_t e = c->raw.find("\r\n\r\n");
    if (e == std::string::npos) return true;
    std::string head = c->raw.substr(0, e);
    c->raw.erase(0, e + 4);
    c->headers_done = true;
    if (head.size() > 12) c->status = std::atoi(head.c_str() + 9);
    std::string lower = head;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char x) { return std::tolower(x); });
    c->chunked = lower.find("transfer-encoding: chunked") != std::string::npos;
  }
  if (!c->chunked) {
    c->body += c->raw;
    c->raw.clear();
    return true;
  }
  size_t p = 0;
  while (p < c->raw.size()) {
    if (c->chunk_left < 0) {
      size_t e = c->raw.find("\r\n", p);
      if (e == std::string::npos) break;
      if (e == p) {  // the CRLF after a chunk's data
        p = e + 2;
        continue;
      }
      c->chunk_left = std::strtol(c->raw.c_str() + p, nullptr, 16);
      p = e + 2;
      if (c->chunk_left == 0) {  // last chunk: the stream ended
        c->closed = true;
        break;
      }
    } else {
      size_t n = std::min(static_cast<size_t>(c->chunk_left), c->raw.size() - p);
      c->body.append(c->raw, p, n);
      p += n;
      c->chunk_left -= static_cast<long>(n);
      if (c->chunk_left == 0) c->chunk_left = -1;
    }
  }
  c->raw.erase(0, p);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: sse_clients HOST PORT CLIENTS SECONDS [PATH=/api/v1/live/stream]\n");
    return 2;
  }
  const char* host = argv[1];
  int port = std::atoi(argv[2]);
  int n = std::atoi(argv[3]);
  double seconds = std::atof(argv[4]);
  std::string path = argc > 5 ? argv[5] : "/api/v1/live/stream";
  std::string request = "GET " + path + " HTTP/1.1\r\nHost: " + host + ":" + std::to_string(port) +
                        "\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n";

  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < static_cast<rlim_t>(n) + 64) {
    rl.rlim_cur = std::min<rlim_t>(rl.rlim_max, static_cast<rlim_t>(n) + 64);
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < static_cast<rlim_t>(n) + 16) {
      std::fprintf(stderr, "sse_clients: open files limit %llu is too low for %d clients (ulimit -n)\n",
                   static_cast<unsigned long long>(rl.rlim_cur), n);
      return 1;
    }
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
    std::fprintf(stderr, "sse_clients: HOST must be an IPv4 address\n");
    return 2;
  }
  int ep = epoll_create1(0);
  std::vector<Client> clients(static_cast<size_t>(n));
  // Connect in batches of 100, so the server's accept queue never overflows.
  int opened = 0;
  auto open_some = [&](int count) {
    for (int k = 0; k < count && opened < n; ++k, ++opened) {
      Client& c = clients[static_cast<size_t>(opened)];
      c.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
      if (c.fd < 0) {
        std::perror("socket");
        std::exit(1);
      }
      int one = 1;
      setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      int rc = connect(c.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
      if (rc != 0 && errno != EINPROGRESS) {
        std::perror("connect");
        std::exit(1);
      }
      epoll_event ev{};
      ev.events = EPOLLIN | EPOLLOUT;
      ev.data.u32 = static_cast<uint32_t>(opened);
      epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev);
    }
  };

  std::map<long long, std::vector<Delivery>> ticks;  // T -> deliveries
  double start = NowMs();
  double measure_from = 0, measure_to = 0;
  double connect_done_ms = 0;
  int ready = 0, failed = 0;
  std::vector<epoll_event> evs(1024);
  std::vector<char> buf(1 << 16);
  double next_batch = start;
  while (true) {
    double now = NowMs();
    if (opened < n && now >= next_batch) {
      open_some(100);
      next_batch = now + 20;
    }
    if (measure_from == 0 && ready + failed == n) {
      connect_done_ms = now - start;
      measure_from = now + 1000;
      measure_to = measure_from + seconds * 1000;
    }
    if (measure_to > 0 && now > measure_to + 1500) break;  // the last ticks' fan-out
    if (measure_from == 0 && now - start > 60000) {
      std::fprintf(stderr, "sse_clients: only %d of %d clients got their first event within 60 s\n", ready, n);
      return 1;
    }
    int k = epoll_wait(ep, evs.data(), static_cast<int>(evs.size()), 10);
    double t = NowMs();
    for (int e = 0; e < k; ++e) {
      int id = static_cast<int>(evs[static_cast<size_t>(e)].data.u32);
      Client& c = clients[static_cast<size_t>(id)];
      if (!c.connected && (evs[static_cast<size_t>(e)].events & EPOLLOUT)) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) {
          ++failed, c.closed = true;
          epoll_ctl(ep, EPOLL_CTL_DEL, c.fd, nullptr);
          continue;
        }
        c.connected = true;
        if (send(c.fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
          ++failed, c.closed = true;
          continue;
        }
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u32 = static_cast<uint32_t>(id);
        epoll_ctl(ep, EPOLL_CTL_MOD, c.fd, &ev);
      }
      if (!(evs[static_cast<size_t>(e)].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) continue;
      while (true) {
        ssize_t r = recv(c.fd, buf.data(), buf.size(), 0);
        if (r > 0) {
          c.raw.append(buf.data(), static_cast<size_t>(r));
          continue;
        }
        if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
          if (!c.closed) {
            c.closed = true;
            if (c.events == 0) ++failed;
          }
          epoll_ctl(ep, EPOLL_CTL_DEL, c.fd, nullptr);
        }
        break;
      }
      Decode(&c);
      if (c.headers_done && c.status != 200 && !c.closed) {  // e.g. 503 while the live view opens
        c.closed = true;
        ++failed;
        epoll_ctl(ep, EPOLL_CTL_DEL, c.fd, nullptr);
        continue;
      }
      size_t p = 0;
      while (true) {
        size_t end = c.body.find("\n\n", p);
        if (end == std::string::npos) break;
        std::string_view ev(c.body.data() + p, end - p);
        p = end + 2;
        if (ev.starts_with(":")) continue;  // keep-alive comment
        long long tid = -1;
        std::string_view type = "message";
        size_t q = 0;
        while (q < ev.size()) {
          size_t nl = ev.find('\n', q);
          if (nl == std::string_view::npos) nl = ev.size();
          std::string_view line = ev.substr(q, nl - q);
          if (line.starts_with("id: ")) tid = std::atoll(std::string(line.substr(4)).c_str());
          if (line.starts_with("event: ")) type = line.substr(7);
          q = nl + 1;
        }
        if (c.events++ == 0) ++ready;
        if (type == "tick" && tid > 0) {
          ++c.ticks;
          double second_end = static_cast<double>(tid + 1) * 1000;
          if (measure_from > 0 && second_end >= measure_from && second_end <= measure_to) {
            ticks[tid].push_back({id, t});
          }
        }
      }
      c.body.erase(0, p);
    }
  }

  std::vector<double> eos, fan, wake;
  long long deliveries = 0;
  int dropped = 0;
  for (const Client& c : clients) dropped += c.closed && c.events > 0;
  for (const auto& [tid, ds] : ticks) {
    double first = ds.front().ms;
    for (const Delivery& d : ds) first = std::min(first, d.ms);
    wake.push_back(first - static_cast<double>(tid + 1) * 1000);
    for (const Delivery& d : ds) {
      eos.push_back(d.ms - static_cast<double>(tid + 1) * 1000);
      fan.push_back(d.ms - first);
      ++deliveries;
    }
  }
  long long expected = static_cast<long long>(ticks.size()) * ready;
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  double cpu = static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
               static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
  int bad_status = 0;
  for (const Client& c : clients) bad_status += c.headers_done && c.status != 200;
  std::printf(
      "{\"clients\": %d, \"streaming\": %d, \"failed\": %d, \"bad_status\": %d, \"dropped\": %d, "
      "\"connect_s\": %.2f, \"seconds\": %.0f, \"ticks\": %zu, \"deliveries\": %lld, \"missed\": %lld, "
      "\"end_of_second_ms\": {\"p50\": %.1f, \"p95\": %.1f, \"p99\": %.1f, \"max\": %.1f}, "
      "\"fanout_ms\": {\"p50\": %.1f, \"p95\": %.1f, \"p99\": %.1f, \"max\": %.1f}, "
      "\"tick_wakeup_ms\": {\"median\": %.1f, \"min\": %.1f, \"max\": %.1f}, \"client_cpu_s\": %.2f}\n",
      n, ready, failed, bad_status, dropped, connect_done_ms / 1000, seconds, ticks.size(), deliveries,
      expected - deliveries, Pct(eos, 0.5), Pct(eos, 0.95), Pct(eos, 0.99), Pct(eos, 1.0), Pct(fan, 0.5),
      Pct(fan, 0.95), Pct(fan, 0.99), Pct(fan, 1.0), Pct(wake, 0.5), Pct(wake, 0.0), Pct(wake, 1.0), cpu);
  return 0;
}
