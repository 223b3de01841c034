// A test against the stack's MariaDB (COMPTOIR_TEST_MYSQL_URI): skipped without
// it, a fresh directory and lake per test, URLs of other databases on the same
// server, and the classicmodels dump loaded under another name.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "cli_runner.h"
#include "comptoir/core/uri.h"

namespace comptoir::testing {

class MariaDbTest : public ::testing::Test {
 protected:
  explicit MariaDbTest(std::string tag) : tag_(std::move(tag)) {}
  void SetUp() override {
    url_ = ServiceEnv("COMPTOIR_TEST_MYSQL_URI");
    if (url_.empty()) GTEST_SKIP() << "no MariaDB server (run `make test`)";
    dir_ = TempDir(tag_);
    lake_ = dir_ + "/lake";
    uri_ = *core::ParseUri(url_);
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  // The URL of database `db` on the same server.
  std::string Url(const std::string& db) const {
    return "mysql://" + uri_.user + "@127.0.0.1:" + std::to_string(*uri_.port()) + "/" + db;
  }
  // Loads ../shared/data/classicmodels.sql as database `db` (tests run in
  // parallel on one server: each loads its own copy).
  void LoadClassicModels(const std::string& db) const {
    std::string client = "mariadb --no-defaults -h127.0.0.1 -P" + std::to_string(*uri_.port()) + " -u" + uri_.user;
    std::string load = client + " -e 'CREATE DATABASE IF NOT EXISTS " + db + "' && sed 's/`classicmodels`/`" + db +
                       "`/g' " + ShellQuote(SharedData() + "/classicmodels.sql") + " | " + client;
    ASSERT_EQ(std::system(load.c_str()), 0) << load;
  }

  std::string tag_, url_, dir_, lake_;
  core::Uri uri_;
};

}  // namespace comptoir::testing
