// A plain HTTP GET with libcurl, for status endpoints (the NameNode's JMX,
// Spark's status REST API).
#pragma once

#include <chrono>
#include <string>

#include "comptoir/core/status.h"

namespace comptoir::core {

// The body of `url`; Unavailable naming the URL on a transport error or a
// status other than 200.
StatusOr<std::string> HttpGet(const std::string& url, std::chrono::milliseconds timeout);

}  // namespace comptoir::core
