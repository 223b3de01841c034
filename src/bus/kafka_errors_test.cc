#include "kafka_errors.h"

#include <gtest/gtest.h>

namespace comptoir::bus {
namespace {

using Code = absl::StatusCode;

TEST(KafkaErrorTest, Table) {
  struct Case {
    rd_kafka_resp_err_t err;
    Code code;
  } cases[] = {
      {RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, Code::kNotFound},
      {RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC, Code::kNotFound},
      {RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION, Code::kNotFound},
      {RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS, Code::kAlreadyExists},
      {RD_KAFKA_RESP_ERR__TIMED_OUT, Code::kUnavailable},
      {RD_KAFKA_RESP_ERR__MSG_TIMED_OUT, Code::kUnavailable},
      {RD_KAFKA_RESP_ERR__TRANSPORT, Code::kUnavailable},
      {RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN, Code::kUnavailable},
      {RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, Code::kUnavailable},
      {RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS, Code::kUnavailable},
      {RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE, Code::kUnavailable},
      {RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, Code::kUnavailable},
      {RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE, Code::kUnavailable},
      {RD_KAFKA_RESP_ERR_NOT_COORDINATOR, Code::kUnavailable},
      {RD_KAFKA_RESP_ERR_INVALID_PARTITIONS, Code::kInvalidArgument},
      {RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR, Code::kInvalidArgument},
      {RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION, Code::kInvalidArgument},
      {RD_KAFKA_RESP_ERR_INVALID_CONFIG, Code::kInvalidArgument},
      {RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED, Code::kPermissionDenied},
      {RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED, Code::kPermissionDenied},
      {RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED, Code::kPermissionDenied},
      {RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED, Code::kPermissionDenied},
      {RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE, Code::kInternal},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(KafkaError(c.err, "x").code(), c.code) << rd_kafka_err2name(c.err);
  }
}

TEST(KafkaErrorTest, MessagesNameWhatFailedAndHintAtTheBroker) {
  EXPECT_EQ(KafkaError(RD_KAFKA_RESP_ERR__TRANSPORT, "metadata of topic t from 127.0.0.1:9").message(),
            std::string("metadata of topic t from 127.0.0.1:9: ") + rd_kafka_err2str(RD_KAFKA_RESP_ERR__TRANSPORT) +
                " (is the broker running and reachable?)");
  EXPECT_EQ(KafkaError(RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, "consume t").message(),
            std::string("consume t: ") + rd_kafka_err2str(RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART));
}

}  // namespace
}  // namespace comptoir::bus
