// A small HTTP/1.1 server on libevent's evhttp, for the dashboard and its API.
//
// * Several worker threads, each with its own event loop and its own
//   SO_REUSEPORT socket on the same address: the kernel spreads connections.
// * Handlers run on the worker that read the request; they must be thread-safe.
// * Server-Sent Events without a thread per client: a handler answers with
//   `stream` set, the client joins its worker's list for that channel, and
//   Publish() hands each event to every worker, which writes it to its clients.
//   A client that stops reading (more than 1 MiB queued) is dropped.
// * Every response carries the security headers (CSP, nosniff,
//   frame-ancestors, no-referrer); request bodies and headers are size-limited;
//   a per-client token bucket limits the request rate.
// * Stop() ends the event streams, finishes the requests in flight and returns.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "comptoir/core/status.h"

namespace comptoir::serve {

struct Request {
  std::string method;  // GET, POST, ...
  std::string path;    // decoded, without the query
  std::vector<std::pair<std::string, std::string>> query;  // decoded, in order
  std::map<std::string, std::string> headers;              // lower-case names
  std::string body;
  std::string peer;  // client address
  bool loopback = false;
  // The value of header `name` (lower case) or "".
  std::string Header(const std::string& name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // Server-Sent Events: `body` is sent at once, then every event published
  // on `channel` until the client leaves.
  bool stream = false;
  std::string channel;
  // Large bodies: called until it returns false; each call appends a piece.
  std::function<bool(std::string*)> produce;
};

using Handler = std::function<void(const Request&, Response*)>;

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;
  int threads = 2;
  size_t max_body_bytes = 64 << 10;
  size_t max_header_bytes = 16 << 10;
  // Requests per second per client address (burst: twice as many); 0 = none.
  double rate_limit = 0;
  bool rate_limit_loopback = false;  // also limit 127.0.0.1 / ::1
};

struct ServerStats {
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> rate_limited{0};
  std::atomic<int64_t> stream_clients{0};
  std::atomic<uint64_t> events_sent{0};
  std::atomic<uint64_t> slow_clients_dropped{0};
};

class HttpServer {
 public:
  HttpServer(ServerOptions options, Handler handler);
  ~HttpServer();
  // Binds (every worker) and starts the workers. The error names the address.
  Status Start();
  // The bound port (useful with port 0).
  int port() const { return port_; }
  // Sends `event` (already formatted: "id: ...\nevent: ...\ndata: ...\n\n")
  // to every client of `channel`. Thread-safe.
  void Publish(const std::string& channel, std::string event);
  // Stops accepting, ends streams, waits for the workers.
  void Stop();
  const ServerStats& stats() const { return stats_; }

 private:
  struct Worker;
  ServerOptions o_;
  Handler handler_;
  int port_ = 0;
  std::vector<std::unique_ptr<Worker>> workers_;
  ServerStats stats_;
};

// JSON error body: {"status":N,"error":"bad_request","message":"..."}.
void ErrorResponse(Response* r, int status, const std::string& message);

}  // namespace comptoir::serve
