#include "comptoir/core/config.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>


namespace comptoir::core {
namespace {

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("comptoir-config-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Write(const std::string& text) {
    std::string p = (dir_ / "comptoir.toml").string();
    std::ofstream(p) << text;
    return p;
  }
  std::function<const char*(const char*)> Env() {
    return [this](const char* k) -> const char* {
      auto it = env_.find(k);
      return it == env_.end() ? nullptr : it->second.c_str();
    };
  }
  std::filesystem::path dir_;
  std::map<std::string, std::string> env_;
};

TEST_F(ConfigTest, TheLakeUriInsideALakeTableBesideLakeS3) {
  StatusOr<Config> c = Config::Load(Write("[lake]\nuri = \"s3://acme/prod\"\n[lake.s3]\nregion = \"eu-west-3\"\n"
                                          "part_size_mb = 16\n"),
                                    true, BuiltinConfigKeys(), Env());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->GetString("lake"), "s3://acme/prod");
  EXPECT_EQ(c->GetString("lake.s3.region"), "eu-west-3");
  EXPECT_EQ(c->GetInt("lake.s3.part_size_mb"), 16);
  EXPECT_EQ(Config::EnvName("lake.s3.endpoint"), "COMPTOIR_LAKE_S3_ENDPOINT");
}

TEST_F(ConfigTest, LayersDefaultsFileEnvFlags) {
  std::string p = Write("lake = \"/data/lake\"\n[import]\nnum_mappers = 8\nfetch_size = 500\n");
  env_["COMPTOIR_IMPORT_FETCH_SIZE"] = "700";
  StatusOr<Config> c = Config::Load(p, true, BuiltinConfigKeys(), Env());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->GetString("log.format"), "human");
  EXPECT_EQ(c->Origin("log.format"), "default");
  EXPECT_EQ(c->GetString("lake"), "/data/lake");
  EXPECT_EQ(c->GetInt("import.num_mappers"), 8);
  EXPECT_EQ(c->GetInt("import.fetch_size"), 700);
  EXPECT_EQ(c->Origin("import.fetch_size"), "env COMPTOIR_IMPORT_FETCH_SIZE");
  ASSERT_TRUE(c->Set("import.num_mappers", "2").ok());
  EXPECT_EQ(c->GetInt("import.num_mappers"), 2);
  EXPECT_EQ(c->Origin("import.num_mappers"), "flag");
}

TEST_F(ConfigTest, UnknownKeyIsRejectedByName) {
  std::string p = Write("[import]\nnum_mapers = 8\n");
  StatusOr<Config> c = Config::Load(p, true, BuiltinConfigKeys(), Env());
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(c.status().message(), "unknown config key \"import.num_mapers\" in file " + p +
                                       "; run `comptoir config keys` for the list");
}

TEST_F(ConfigTest, SectionsAreLeftToTheirCommand) {
  // [components.NAME] holds arrays and nested tables that `up` reads itself.
  std::string p = Write("lake = \"/l\"\n[up]\nrun_dir = \"/r\"\n[components.web]\nrun = [\"serve\"]\nafter = []\n");
  StatusOr<Config> c = Config::Load(p, true, BuiltinConfigKeys(), Env());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->GetString("up.run_dir"), "/r");
  EXPECT_EQ(c->GetString("up.wait_timeout"), "2m");
  EXPECT_EQ(c->GetString("components"), "");
  EXPECT_FALSE(c->Set("components", "x").ok());
}

TEST_F(ConfigTest, WrongTypeNamesKeyValueAndOrigin) {
  env_["COMPTOIR_IMPORT_NUM_MAPPERS"] = "four";
  StatusOr<Config> c = Config::Load((dir_ / "absent.toml").string(), false, BuiltinConfigKeys(),
                                    Env());
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(),
            "config key \"import.num_mappers\" from env COMPTOIR_IMPORT_NUM_MAPPERS has value "
            "\"four\"; expected an integer");
}

TEST_F(ConfigTest, MissingExplicitFileIsAnErrorDefaultIsNot) {
  std::string p = (dir_ / "absent.toml").string();
  EXPECT_TRUE(Config::Load(p, false, BuiltinConfigKeys(), Env()).ok());
  StatusOr<Config> c = Config::Load(p, true, BuiltinConfigKeys(), Env());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ConfigTest, SyntaxErrorNamesLine) {
  std::string p = Write("lake = \"x\"\nimport = [\n");
  StatusOr<Config> c = Config::Load(p, true, BuiltinConfigKeys(), Env());
  ASSERT_FALSE(c.ok());
  EXPECT_TRUE(std::string(c.status().message()).starts_with(p + ":")) << c.status();
}

TEST(ConfigEnvNameTest, DotsBecomeUnderscores) {
  EXPECT_EQ(Config::EnvName("import.num_mappers"), "COMPTOIR_IMPORT_NUM_MAPPERS");
  EXPECT_EQ(Config::EnvName("lake"), "COMPTOIR_LAKE");
}

}  // namespace
}  // namespace comptoir::core
