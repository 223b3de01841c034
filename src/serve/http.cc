#include "comptoir/serve/http.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/thread.h>
#include <fmt/format.h>
#include <netdb.h>
#include <sys/queue.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <list>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "comptoir/core/strings.h"
#include "nlohmann/json.hpp"

namespace comptoir::serve {
namespace {

constexpr size_t kMaxQueuedBytes = 1 << 20;  // per stream client
constexpr int kKeepAliveSeconds = 15;

const char* Reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 204: return "No Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Payload Too Large";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Status";
  }
}

void SecurityHeaders(evkeyvalq* h) {
  evhttp_add_header(h, "Content-Security-Policy",
                    "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
                    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
  evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
  evhttp_add_header(h, "X-Frame-Options", "DENY");
  evhttp_add_header(h, "Referrer-Policy", "no-referrer");
}

StatusOr<int> Listen(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  std::string service = std::to_string(port);
  int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &res);
  if (rc != 0) {
    return absl::InvalidArgumentError(fmt::format("cannot resolve --listen host '{}': {}", host, gai_strerror(rc)));
  }
  int fd = socket(res->ai_family, res->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
  if (bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 1024) != 0) {
    int err = errno;
    close(fd);
    freeaddrinfo(res);
    return absl::UnavailableError(fmt::format("cannot listen on {}:{}: {}{}", host, port, strerror(err),
                                              err == EADDRINUSE ? " (another server runs there: pick --listen HOST:PORT)" : ""));
  }
  freeaddrinfo(res);
  return fd;
}

int BoundPort(int fd) {
  sockaddr_storage a{};
  socklen_t len = sizeof(a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  if (a.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&a)->sin6_port);
  return ntohs(reinterpret_cast<sockaddr_in*>(&a)->sin_port);
}

}  // namespace

std::string Request::Header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? std::string() : it->second;
}

void ErrorResponse(Response* r, int status, const std::string& message) {
  static const std::map<int, std::string> kCodes = {
      {400, "bad_request"}, {401, "unauthorized"}, {403, "forbidden"}, {404, "not_found"},
      {405, "method_not_allowed"}, {413, "too_large"}, {429, "rate_limited"}, {500, "internal"},
      {503, "unavailable"}};
  r->status = status;
  r->content_type = "application/json";
  auto it = kCodes.find(status);
  r->body = nlohmann::json{{"status", status}, {"error", it == kCodes.end() ? "error" : it->second},
                           {"message", message}}
                .dump();
}

struct HttpServer::Worker {
  HttpServer* server = nullptr;
  event_base* base = nullptr;
  evhttp* http = nullptr;
  event* notify = nullptr;
  event* keepalive = nullptr;
  int fd = -1;
  std::thread thread;
  // Cross-thread inbox.
  std::mutex mu;
  std::deque<std::pair<std::string, std::string>> inbox;  // (channel, event)
  bool stopping = false;
  // Stream clients of this worker (touched only by its thread).
  struct Client {
    Worker* worker;
    evhttp_request* req;
    evhttp_connection* conn;
    std::string channel;
  };
  std::list<Client> clients;
  // Rate limiting per client address.
  struct Bucket {
    double tokens;
    std::chrono::steady_clock::time_point last;
  };
  std::unordered_map<std::string, Bucket> buckets;

  ~Worker() {
    if (keepalive) event_free(keepalive);
    if (notify) event_free(notify);
    if (http) evhttp_free(http);
    if (base) event_base_free(base);
  }

  bool Allow(const Request& r) {
    const ServerOptions& o = server->o_;
    if (o.rate_limit <= 0 || (r.loopback && !o.rate_limit_loopback)) return true;
    auto now = std::chrono::steady_clock::now();
    auto [it, added] = buckets.try_emplace(r.peer, Bucket{o.rate_limit * 2, now});
    Bucket& b = it->second;
    double secs = std::chrono::duration<double>(now - b.last).count();
    b.tokens = std::min(o.rate_limit * 2, b.tokens + secs * o.rate_limit);
    b.last = now;
    if (buckets.size() > 100000) buckets.clear();  // bounded memory under a flood of addresses
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  static void OnRequest(evhttp_request* req, void* arg) { static_cast<Worker*>(arg)->Handle(req); }

  // Not split: one request from evhttp's structures to the API and back
  // (method, URI, headers, body limits, rate limit, the response or the
  // stream); each step is short and they share the request's locals.
  void Handle(evhttp_request* req) {
    server->stats_.requests.fetch_add(1, std::memory_order_relaxed);
    Request r;
    switch (evhttp_request_get_command(req)) {
      case EVHTTP_REQ_GET: r.method = "GET"; break;
      case EVHTTP_REQ_HEAD: r.method = "HEAD"; break;
      case EVHTTP_REQ_POST: r.method = "POST"; break;
      default: r.method = "OTHER"; break;
    }
    const evhttp_uri* uri = evhttp_request_get_evhttp_uri(req);
    const char* raw_path = uri ? evhttp_uri_get_path(uri) : nullptr;
    size_t len = 0;
    char* path = evhttp_uridecode(raw_path && *raw_path ? raw_path : "/", 0, &len);
    r.path.assign(path ? path : "/", path ? len : 1);
    free(path);
    Response out;
    bool bad_query = false;
    if (const char* q = uri ? evhttp_uri_get_query(uri) : nullptr) {
      evkeyvalq kv;
      TAILQ_INIT(&kv);
      if (evhttp_parse_query_str(q, &kv) != 0) {
        bad_query = true;
      } else {
        for (evkeyval* e = kv.tqh_first; e; e = e->next.tqe_next) r.query.emplace_back(e->key, e->value);
      }
      evhttp_clear_headers(&kv);
    }
    for (evkeyval* e = evhttp_request_get_input_headers(req)->tqh_first; e; e = e->next.tqe_next) {
      r.headers[ToLower(e->key)] = e->value;
    }
    evbuffer* in = evhttp_request_get_input_buffer(req);
    r.body.resize(evbuffer_get_length(in));
    evbuffer_copyout(in, r.body.data(), r.body.size());
    evhttp_connection* conn = evhttp_request_get_connection(req);
    char* addr = nullptr;
    uint16_t port = 0;
    evhttp_connection_get_peer(conn, &addr, &port);
    r.peer = addr ? addr : "";
    r.loopback = r.peer.starts_with("127.") || r.peer == "::1" || r.peer.starts_with("::ffff:127.");
    if (bad_query) {
      ErrorResponse(&out, 400, "the query string is malformed");
    } else if (!Allow(r)) {
      server->stats_.rate_limited.fetch_add(1, std::memory_order_relaxed);
      ErrorResponse(&out, 429, "too many requests from this address; slow down");
      out.headers.emplace_back("Retry-After", "1");
    } else if (r.method == "OTHER") {
      ErrorResponse(&out, 405, "only GET, HEAD and POST are served");
    } else {
      try {
        server->handler_(r, &out);
      } catch (const std::exception& e) {
        out = Response{};
        ErrorResponse(&out, 500, StrCat("internal error: ", e.what()));
      }
    }
    evkeyvalq* h = evhttp_request_get_output_headers(req);
    SecurityHeaders(h);
    evhttp_add_header(h, "Content-Type", out.content_type.c_str());
    bool has_cache = false;
    for (const auto& [k, v] : out.headers) {
      evhttp_add_header(h, k.c_str(), v.c_str());
      has_cache |= EqualsIgnoreCase(k, "Cache-Control");
    }
    if (!has_cache) evhttp_add_header(h, "Cache-Control", "no-store");
    if (out.stream) {
      evhttp_add_header(h, "X-Accel-Buffering", "no");
      evhttp_send_reply_start(req, out.status, Reason(out.status));
      Send(req, out.body);
      clients.push_back(Client{this, req, conn, out.channel});
      auto* client = &clients.back();
      evhttp_connection_set_closecb(conn, &Worker::OnClose, client);
      server->stats_.stream_clients.fetch_add(1);
      return;
    }
    if (out.produce) {
      evhttp_send_reply_start(req, out.status, Reason(out.status));
      auto* state = new Producer{std::move(out.produce), req, conn};
      // A client that goes away mid-body: evhttp calls no chunk callback
      // again, so the close frees the producer (and the snapshot it holds).
      evhttp_connection_set_closecb(conn, &Producer::OnClose, state);
      if (!out.body.empty()) Send(req, out.body);
      Producer::Next(nullptr, state);
      return;
    }
    evbuffer* body = evbuffer_new();
    evbuffer_add(body, out.body.data(), out.body.size());
    evhttp_send_reply(req, out.status, Reason(out.status), body);
    evbuffer_free(body);
  }

  // A large body, produced piece by piece as the client reads.
  struct Producer {
    std::function<bool(std::string*)> produce;
    evhttp_request* req;
    evhttp_connection* conn;
    static void OnClose(evhttp_connection*, void* arg) { delete static_cast<Producer*>(arg); }
    static void Next(evhttp_connection*, void* arg) {
      auto* p = static_cast<Producer*>(arg);
      std::string piece;
      bool more = p->produce(&piece);
      if (!piece.empty()) {
        evbuffer* b = evbuffer_new();
        evbuffer_add(b, piece.data(), piece.size());
        if (more) {
          evhttp_send_reply_chunk_with_cb(p->req, b, &Producer::Next, p);
          evbuffer_free(b);
          return;
        }
        evhttp_send_reply_chunk(p->req, b);
        evbuffer_free(b);
      } else if (more) {
        Next(nullptr, p);
        return;
      }
      evhttp_connection_set_closecb(p->conn, nullptr, nullptr);
      evhttp_send_reply_end(p->req);
      delete p;
    }
  };

  static void Send(evhttp_request* req, const std::string& data) {
    if (data.empty()) return;
    evbuffer* b = evbuffer_new();
    evbuffer_add(b, data.data(), data.size());
    evhttp_send_reply_chunk(req, b);
    evbuffer_free(b);
  }

  static void OnClose(evhttp_connection*, void* arg) {
    auto* c = static_cast<Client*>(arg);
    Worker* w = c->worker;
    for (auto it = w->clients.begin(); it != w->clients.end(); ++it) {
      if (&*it == c) {
        w->clients.erase(it);
        w->server->stats_.stream_clients.fetch_sub(1);
        break;
      }
    }
  }

  static void OnNotify(evutil_socket_t, short, void* arg) {
    auto* w = static_cast<Worker*>(arg);
    std::deque<std::pair<std::string, std::string>> batch;
    bool stop;
    {
      std::lock_guard<std::mutex> l(w->mu);
      batch.swap(w->inbox);
      stop = w->stopping;
    }
    for (const auto& [channel, ev] : batch) w->Broadcast(channel, ev);
    if (stop) {
      while (!w->clients.empty()) {
        Client& c = w->clients.front();
        evhttp_connection_set_closecb(c.conn, nullptr, nullptr);
        evhttp_send_reply_end(c.req);
        w->clients.pop_front();
        w->server->stats_.stream_clients.fetch_sub(1);
      }
      timeval grace{0, 200000};  // let the last writes go out
      event_base_loopexit(w->base, &grace);
    }
  }

  void Broadcast(const std::string& channel, const std::string& ev) {
    for (auto it = clients.begin(); it != clients.end();) {
      Client& c = *it;
      ++it;
      if (!channel.empty() && c.channel != channel) continue;
      bufferevent* bev = evhttp_connection_get_bufferevent(c.conn);
      if (bev && evbuffer_get_length(bufferevent_get_output(bev)) > kMaxQueuedBytes) {
        server->stats_.slow_clients_dropped.fetch_add(1);
        evhttp_connection* conn = c.conn;
        evhttp_connection_set_closecb(conn, nullptr, nullptr);
        for (auto jt = clients.begin(); jt != clients.end(); ++jt) {
          if (&*jt == &c) {
            clients.erase(jt);
            break;
          }
        }
        server->stats_.stream_clients.fetch_sub(1);
        evhttp_connection_free(conn);
        continue;
      }
      Send(c.req, ev);
      server->stats_.events_sent.fetch_add(1, std::memory_order_relaxed);
    }
  }

  static void OnKeepAlive(evutil_socket_t, short, void* arg) {
    static_cast<Worker*>(arg)->Broadcast("", ": keep-alive\n\n");
  }
};

HttpServer::HttpServer(ServerOptions options, Handler handler) : o_(std::move(options)), handler_(std::move(handler)) {}

HttpServer::~HttpServer() { Stop(); }

Status HttpServer::Start() {
  static std::once_flag threads_once;
  std::call_once(threads_once, [] { evthread_use_pthreads(); });
  int port = o_.port;
  for (int i = 0; i < std::max(1, o_.threads); ++i) {
    auto w = std::make_unique<Worker>();
    w->server = this;
    ASSIGN_OR_RETURN(w->fd, Listen(o_.host, port));
    if (port == 0) port = BoundPort(w->fd);
    // The changelist epoll backend folds the add/delete of a connection's
    // interest around each response into one epoll_ctl per loop (no fd is dup'ed here).
    event_config* cfg = event_config_new();
    if (cfg != nullptr) event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
    w->base = cfg != nullptr ? event_base_new_with_config(cfg) : nullptr;
    if (cfg != nullptr) event_config_free(cfg);
    w->http = evhttp_new(w->base);
    if (w->base == nullptr || w->http == nullptr) return absl::InternalError("libevent: cannot create an event loop");
    evhttp_set_allowed_methods(w->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST | EVHTTP_REQ_OPTIONS);
    evhttp_set_max_body_size(w->http, static_cast<ev_ssize_t>(o_.max_body_bytes));
    evhttp_set_max_headers_size(w->http, static_cast<ev_ssize_t>(o_.max_header_bytes));
    evhttp_set_timeout(w->http, 60);
    evhttp_set_gencb(w->http, &Worker::OnRequest, w.get());
    if (evhttp_accept_socket(w->http, w->fd) != 0) {
      return absl::InternalError(fmt::format("libevent: cannot accept on {}:{}", o_.host, port));
    }
    w->notify = event_new(w->base, -1, EV_PERSIST, &Worker::OnNotify, w.get());
    event_add(w->notify, nullptr);
    w->keepalive = event_new(w->base, -1, EV_PERSIST, &Worker::OnKeepAlive, w.get());
    timeval every{kKeepAliveSeconds, 0};
    event_add(w->keepalive, &every);
    workers_.push_back(std::move(w));
  }
  port_ = port;
  for (auto& w : workers_) {
    Worker* raw = w.get();
    w->thread = std::thread([raw] { event_base_dispatch(raw->base); });
  }
  return absl::OkStatus();
}

void HttpServer::Publish(const std::string& channel, std::string event) {
  for (auto& w : workers_) {
    {
      std::lock_guard<std::mutex> l(w->mu);
      w->inbox.emplace_back(channel, event);
    }
    event_active(w->notify, EV_READ, 0);
  }
}

void HttpServer::Stop() {
  for (auto& w : workers_) {
    {
      std::lock_guard<std::mutex> l(w->mu);
      w->stopping = true;
    }
    event_active(w->notify, EV_READ, 0);
  }
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
  }
  workers_.clear();
}

}  // namespace comptoir::serve
