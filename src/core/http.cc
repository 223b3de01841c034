#include "comptoir/core/http.h"

#include <curl/curl.h>
#include <fmt/format.h>

namespace comptoir::core {
namespace {

size_t Collect(char* d, size_t s, size_t n, void* out) {
  static_cast<std::string*>(out)->append(d, s * n);
  return s * n;
}

}  // namespace

StatusOr<std::string> HttpGet(const std::string& url, std::chrono::milliseconds timeout) {
  std::string body;
  CURL* c = curl_easy_init();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, Collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  CURLcode rc = curl_easy_perform(c);
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(c);
  if (rc != CURLE_OK) return absl::UnavailableError(fmt::format("{}: {}", url, curl_easy_strerror(rc)));
  if (status != 200) return absl::UnavailableError(fmt::format("{}: HTTP {}", url, status));
  return body;
}

}  // namespace comptoir::core
