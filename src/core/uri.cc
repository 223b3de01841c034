#include "comptoir/core/uri.h"


namespace comptoir::core {
namespace {

Status Bad(std::string_view text, std::string_view why) {
  return absl::InvalidArgumentError(StrCat("invalid URI \"", text, "\": ", why));
}

bool ValidScheme(std::string_view s) {
  if (s.empty() || !std::isalpha(static_cast<unsigned char>(s[0]))) return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') {
      return false;
    }
  }
  return true;
}

}  // namespace

StatusOr<std::string> PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    int v = 0;
    if (i + 2 >= s.size()) {
      return absl::InvalidArgumentError(StrCat("truncated percent escape in \"", s, "\""));
    }
    for (int k = 1; k <= 2; ++k) {
      char c = s[i + k];
      int d = std::isdigit(static_cast<unsigned char>(c)) ? c - '0'
              : (c >= 'a' && c <= 'f')                           ? c - 'a' + 10
              : (c >= 'A' && c <= 'F')                           ? c - 'A' + 10
                                                                 : -1;
      if (d < 0) {
        return absl::InvalidArgumentError(StrCat("bad percent escape in \"", s, "\""));
      }
      v = v * 16 + d;
    }
    out.push_back(static_cast<char>(v));
    i += 2;
  }
  return out;
}

StatusOr<Uri> ParseUri(std::string_view text) {
  Uri uri;
  std::string_view rest = text;
  if (StartsWithIgnoreCase(rest, "jdbc:")) {
    uri.jdbc = true;
    rest.remove_prefix(5);
  }
  size_t colon = rest.find(':');
  if (colon == std::string_view::npos || !ValidScheme(rest.substr(0, colon))) {
    return Bad(text, "expected scheme://..., e.g. mysql://user@host:3306/db");
  }
  uri.scheme = ToLower(rest.substr(0, colon));
  rest.remove_prefix(colon + 1);
  if (!ConsumePrefix(&rest, "//")) {
    return Bad(text, StrCat("expected \"//\" after \"", uri.scheme, ":\""));
  }
  // Query.
  if (size_t q = rest.find('?'); q != std::string_view::npos) {
    for (std::string_view kv : Split(rest.substr(q + 1), '&', true)) {
      std::pair<std::string_view, std::string_view> p = SplitOnce(kv, '=');
      ASSIGN_OR_RETURN(std::string k, PercentDecode(p.first));
      ASSIGN_OR_RETURN(std::string v, PercentDecode(p.second));
      uri.query[k] = v;
    }
    rest = rest.substr(0, q);
  }
  // Authority up to the first '/'.
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash);
  if (size_t at = authority.rfind('@'); at != std::string_view::npos) {
    std::string_view userinfo = authority.substr(0, at);
    authority.remove_prefix(at + 1);
    size_t c = userinfo.find(':');
    ASSIGN_OR_RETURN(uri.user, PercentDecode(userinfo.substr(0, c)));
    if (c != std::string_view::npos) {
      ASSIGN_OR_RETURN(std::string pw, PercentDecode(userinfo.substr(c + 1)));
      uri.password = std::move(pw);
    }
  }
  if (!authority.empty()) {
    for (std::string_view hp : Split(authority, ',')) {
      HostPort h;
      std::string_view host = hp;
      std::string_view port;
      if (hp.starts_with("[")) {  // [::1]:9092
        size_t close = hp.find(']');
        if (close == std::string_view::npos) return Bad(text, "unclosed '[' in host");
        host = hp.substr(1, close - 1);
        std::string_view after = hp.substr(close + 1);
        if (ConsumePrefix(&after, ":")) port = after;
      } else if (size_t c = hp.rfind(':'); c != std::string_view::npos) {
        host = hp.substr(0, c);
        port = hp.substr(c + 1);
      }
      if (host.empty()) return Bad(text, "empty host name");
      h.host = std::string(host);
      if (!port.empty()) {
        uint32_t p = 0;
        if (!ParseInt(port, &p) || p == 0 || p > 65535) {
          return Bad(text, StrCat("port \"", port, "\" is not a number from 1 to 65535"));
        }
        h.port = static_cast<uint16_t>(p);
      }
      uri.hosts.push_back(std::move(h));
    }
  }
  ASSIGN_OR_RETURN(uri.path, PercentDecode(path));
  return uri;
}

std::string Uri::Redacted() const {
  std::string out = StrCat(jdbc ? "jdbc:" : "", scheme, "://");
  if (!user.empty() || password) {
    StrAppend(&out, user, password ? ":***" : "", "@");
  }
  std::vector<std::string> hs;
  for (const HostPort& h : hosts) {
    bool v6 = h.host.find(':') != std::string::npos;
    hs.push_back(StrCat(v6 ? "[" : "", h.host, v6 ? "]" : "",
                              h.port ? StrCat(":", *h.port) : ""));
  }
  StrAppend(&out, Join(hs, ","), path);
  if (!query.empty()) {
    std::vector<std::string> kv;
    for (const auto& [k, v] : query) {
      bool secret = k == "password" || k == "token" || k == "delegation";
      kv.push_back(StrCat(k, "=", secret ? "***" : v));
    }
    StrAppend(&out, "?", Join(kv, "&"));
  }
  return out;
}

}  // namespace comptoir::core
