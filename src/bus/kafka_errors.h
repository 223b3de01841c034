// librdkafka errors to Status, in one table: the code decides what callers
// do next (Unavailable is retried by the producer and the consumers, the
// others are reported).
#pragma once

#include <librdkafka/rdkafka.h>

#include <string_view>

#include "comptoir/core/status.h"

namespace comptoir::bus {

// "<what>: <librdkafka's text>", with a hint for unreachable brokers.
Status KafkaError(rd_kafka_resp_err_t err, std::string_view what);

}  // namespace comptoir::bus
