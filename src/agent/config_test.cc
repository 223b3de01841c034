#include "comptoir/agent/config.h"

#include <gtest/gtest.h>

#include <fstream>

namespace comptoir::agent {
namespace {

TEST(AgentConfig, ParsesFlowsAndRejectsUnknownKeysByName) {
  auto c = ParseAgentConfig(R"(
state_dir = "/var/lib/comptoir/agent"
lake = "webhdfs://nn:9870"
[[flow]]
name = "app"
sources = ["/var/log/app/*.log", "/var/log/app/current"]
target_dir = "/user/flume/logs/%Y-%m-%d/%{host}"
multiline_start = '^\d{4}-'
roll_size = "64MiB"
roll_interval = "10m"
time = "ingest"
[[flow]]
name = "pos"
sources = ["/var/log/pos.log"]
start_at = "end"
max_spool = "2GiB"
levels = ["WARNING", "ERROR"]
exclude = "healthcheck"
compression = "zstd"
)", "agent.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->lake, "webhdfs://nn:9870");
  EXPECT_EQ(c->options.state_dir, "/var/lib/comptoir/agent");
  ASSERT_EQ(c->options.flows.size(), 2u);
  const FlowOptions& a = c->options.flows[0];
  EXPECT_EQ(a.sources.size(), 2u);
  EXPECT_EQ(a.roll_bytes, 64ull << 20);
  EXPECT_EQ(a.roll_interval, std::chrono::minutes(10));
  EXPECT_FALSE(a.use_event_time);
  EXPECT_EQ(a.multiline_start, "^\\d{4}-");
  EXPECT_TRUE(c->options.flows[1].start_at_end);
  EXPECT_EQ(c->options.flows[1].max_spool_bytes, 2ull << 30);
  EXPECT_EQ(c->options.flows[1].levels, (std::vector<std::string>{"WARNING", "ERROR"}));
  EXPECT_EQ(c->options.flows[1].exclude, "healthcheck");
  EXPECT_EQ(c->options.flows[1].codec, lake::Codec::kZstd);
  // The TOML it prints reads back the same.
  auto again = ParseAgentConfig(AgentConfigToToml(*c), "printed");
  ASSERT_TRUE(again.ok()) << again.status() << "\n" << AgentConfigToToml(*c);
  EXPECT_EQ(AgentConfigToToml(*again), AgentConfigToToml(*c));

  EXPECT_EQ(ParseAgentConfig("[[flow]]\nsources=['a']\nrol_size='1MB'\n", "x.toml").status().message(),
            "unknown key \"rol_size\" in x.toml [[flow]] #1; run `comptoir agent config-doc` for the list");
  EXPECT_EQ(ParseAgentConfig("roll_size='1MB'\n[[flow]]\nsources=['a']\n", "x.toml").status().message(),
            "unknown key \"roll_size\" in x.toml (it belongs in a [[flow]] table); run `comptoir agent "
            "config-doc` for the list");
  EXPECT_EQ(ParseAgentConfig("[[flow]]\nsources=['a']\ntime='local'\n", "x.toml").status().message(),
            "x.toml [[flow]] #1: key \"time\" must be one of event|ingest (got \"local\")");
  EXPECT_EQ(ParseAgentConfig("[[flow]]\nname='a'\n", "x.toml").status().message(),
            "x.toml [[flow]] #1: \"sources\" is required");
  EXPECT_EQ(ParseAgentConfig("[[flow]]\nsources=['a']\nroll_interval='soon'\n", "x.toml").status().message(),
            "x.toml [[flow]] #1: key \"roll_interval\" must be a duration such as 30s or 5m (got \"soon\")");
}

TEST(AgentConfig, TheReferenceIsGeneratedFromTheDeclarations) {
  std::ifstream in(std::string(COMPTOIR_SOURCE_DIR) + "/docs/agent-config.md");
  std::string doc((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(doc, AgentConfigMarkdown())
      << "regenerate it: build/comptoir agent config-doc > docs/agent-config.md";
}

// The reference design's flume.conf: exec tail -F, memory channel, HDFS sink.
constexpr const char* kReferenceFlumeConf = R"(
# Flume agent for app.log
agent.sources = r1
agent.sinks = k1
agent.channels = c1

agent.sources.r1.type = exec
agent.sources.r1.command = tail -F /app/logs/app.log
agent.sources.r1.channels = c1

agent.channels.c1.type = memory
agent.channels.c1.capacity = 1000
agent.channels.c1.transactionCapacity = 100

agent.sinks.k1.type = hdfs
agent.sinks.k1.channel = c1
agent.sinks.k1.hdfs.path = hdfs://namenode:9000/user/flume/logs/%Y-%m-%d
agent.sinks.k1.hdfs.fileType = DataStream
agent.sinks.k1.hdfs.writeFormat = Text
agent.sinks.k1.hdfs.rollInterval = 30
agent.sinks.k1.hdfs.rollSize = 0
agent.sinks.k1.hdfs.rollCount = 0
agent.sinks.k1.hdfs.useLocalTimeStamp = true
)";

TEST(FlumeMigration, TheReferenceConfBecomesOneFlow) {
  auto m = MigrateFlumeConf(kReferenceFlumeConf, "agent", "flume.conf");
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_EQ(m->config.options.flows.size(), 1u);
  const FlowOptions& f = m->config.options.flows[0];
  EXPECT_EQ(f.sources, std::vector<std::string>{"/app/logs/app.log"});
  EXPECT_EQ(f.target_dir, "/user/flume/logs/%Y-%m-%d");
  EXPECT_EQ(f.file_prefix, "FlumeData");
  EXPECT_EQ(f.roll_interval, std::chrono::seconds(30));
  EXPECT_FALSE(f.use_event_time);  // useLocalTimeStamp
  EXPECT_EQ(m->config.lake, "webhdfs://namenode:9870");
  std::string notes;
  for (const std::string& n : m->not_honoured) notes += n + "\n";
  EXPECT_NE(notes.find("agent.channels.c1.capacity = 1000: the agent's durable spool replaces the channel"),
            std::string::npos) << notes;
  EXPECT_NE(notes.find("agent.sinks.k1.hdfs.rollSize = 0"), std::string::npos) << notes;
  EXPECT_NE(notes.find("NameNode's HTTP port is taken to be 9870"), std::string::npos) << notes;
  EXPECT_EQ(notes.find("rollCount"), std::string::npos) << "rollCount = 0 is honoured: " << notes;

  EXPECT_EQ(MigrateFlumeConf(kReferenceFlumeConf, "a1", "flume.conf").status().message(),
            "flume.conf has no agent \"a1\" (no a1.sources / a1.sinks); give its name with --name");
}

TEST(FlumeMigration, TaildirGroupsBecomeGlobsAndUnsupportedOnesAreListed) {
  auto m = MigrateFlumeConf(R"(
a1.sources = s1
a1.sinks = k1
a1.channels = c1
a1.sources.s1.type = TAILDIR
a1.sources.s1.channels = c1
a1.sources.s1.positionFile = /var/flume/taildir.json
a1.sources.s1.filegroups = f1 f2
a1.sources.s1.filegroups.f1 = /var/log/app/.*\.log
a1.sources.s1.filegroups.f2 = /var/log/pos/(a|b)\.log
a1.channels.c1.type = file
a1.sinks.k1.type = hdfs
a1.sinks.k1.channel = c1
a1.sinks.k1.hdfs.path = /logs/%{host}/%Y%m%d
a1.sinks.k1.hdfs.filePrefix = events
a1.sinks.k1.hdfs.fileSuffix = .log
a1.sinks.k1.hdfs.rollCount = 1000
a1.sinks.k1.hdfs.fileType = CompressedStream
a1.sinks.k1.hdfs.codeC = gzip
)", "a1", "t.conf");
  ASSERT_TRUE(m.ok()) << m.status();
  const FlowOptions& f = m->config.options.flows[0];
  EXPECT_EQ(f.sources, std::vector<std::string>{"/var/log/app/*.log"});
  EXPECT_EQ(f.target_dir, "/logs/%{host}/%Y%m%d");
  EXPECT_EQ(f.file_prefix, "events");
  EXPECT_EQ(f.file_suffix, ".log");
  EXPECT_TRUE(f.use_event_time);
  std::string notes;
  for (const std::string& n : m->not_honoured) notes += n + "\n";
  EXPECT_EQ(f.codec, lake::Codec::kGzip);  // CompressedStream + codeC = gzip
  for (const char* want : {"filegroups.f2", "positionFile", "rollCount = 1000"}) {
    EXPECT_NE(notes.find(want), std::string::npos) << want << " missing from:\n" << notes;
  }
}

}  // namespace
}  // namespace comptoir::agent
