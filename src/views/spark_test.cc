// Failed Spark runs become one clear error, from their driver logs.
#include <gtest/gtest.h>

#include "comptoir/views/views.h"

namespace comptoir::views {
namespace {

TEST(SparkFailure, OutOfMemorySaysWhichSettingsToRaise) {
  Status s = ExplainSparkFailure(1,
                                 "26/12/06 INFO Executor: Running task 3.0\n"
                                 "java.lang.OutOfMemoryError: Java heap space\n\tat java.util.Arrays.copyOf\n",
                                 "/tmp/d.log", "local[2]");
  EXPECT_TRUE(absl::IsResourceExhausted(s));
  EXPECT_EQ(s.message(),
            "Spark ran out of memory; give it more with --spark-conf spark.driver.memory=4g and --spark-conf "
            "spark.executor.memory=4g, or more partitions with --spark-conf spark.sql.shuffle.partitions=400; the "
            "driver log is /tmp/d.log");
}

TEST(SparkFailure, TheJobsOwnErrorAndAMissingInputAndAnUnreachableMaster) {
  EXPECT_EQ(ExplainSparkFailure(1, "COMPTOIR_ERROR /x: the dataset has no SALES column\n", "/l", "local[2]").message(),
            "/x: the dataset has no SALES column; the driver log is /l");
  Status missing = ExplainSparkFailure(
      1, "pyspark.errors.exceptions.captured.AnalysisException: [PATH_NOT_FOUND] Path does not exist: file:/x.\n", "/l",
      "local[2]");
  EXPECT_TRUE(absl::IsNotFound(missing)) << missing;
  Status master = ExplainSparkFailure(1, "ERROR StandaloneSchedulerBackend: All masters are unresponsive! Giving up.\n",
                                      "/l", "spark://h:7077");
  EXPECT_TRUE(absl::IsUnavailable(master));
  EXPECT_EQ(master.message(), "Spark could not reach the master spark://h:7077; the driver log is /l");
}

TEST(SparkFailure, AnyOtherFailureNamesTheExceptionAndItsInnermostCause) {
  Status s = ExplainSparkFailure(
      1,
      "26/12/06 WARN FileStreamSink: Assume no metadata directory. Error: whatever\n"
      "py4j.protocol.Py4JJavaError: An error occurred while calling o53.csv.\n"
      ": java.io.IOException: localhost:9870: Response decoding failure\n"
      "\tat org.apache.hadoop.hdfs.web.WebHdfsFileSystem.run\n"
      "Caused by: java.lang.ClassNotFoundException: RuntimeDelegateImpl\n"
      "26/12/06 INFO SparkContext: Successfully stopped SparkContext\n",
      "/l", "local[2]");
  EXPECT_TRUE(absl::IsInternal(s));
  EXPECT_EQ(s.message(),
            "the Spark job failed (exit code 1): py4j.protocol.Py4JJavaError: An error occurred while calling o53.csv. "
            "(Caused by: java.lang.ClassNotFoundException: RuntimeDelegateImpl); the driver log is /l");
}

// The result line as a job prints it, and as it reads when a JVM log line
// landed right after it (seen in CI: the line then went on with the JVM's).
TEST(SparkResult, TheCountsAfterTheMarkerWhateverFollowsOnTheLine) {
  const std::string counts = R"({"records": 42, "source_rows": 20000, "application": "app-1"})";
  EXPECT_EQ(SparkResultLine("INFO a\nCOMPTOIR_VIEW " + counts + "\nINFO b\n"),
            R"({"application":"app-1","records":42,"source_rows":20000})");
  EXPECT_EQ(SparkResultLine("COMPTOIR_VIEW " + counts +
                            "26/12/07 01:51:38 INFO SparkContext: SparkContext is stopping with exitCode 0.\n\n"),
            R"({"application":"app-1","records":42,"source_rows":20000})");
  EXPECT_EQ(SparkResultLine("INFO no result\n"), "");
  EXPECT_EQ(SparkResultLine("COMPTOIR_VIEW {\"records\": 4"), "") << "cut short";
  EXPECT_EQ(SparkResultLine("COMPTOIR_VIEW [1, 2]\n"), "") << "not an object";
}

}  // namespace
}  // namespace comptoir::views
