// End-to-end tests of `comptoir seed` and `comptoir import` against real
// MariaDB and PostgreSQL servers (started by scripts/stack) and SQLite.
#include <avro.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "cli_runner.h"
#include "mariadb_fixture.h"
#include "comptoir/core/decimal.h"
#include "comptoir/core/uri.h"
#include "comptoir/lake/storage.h"
#include "comptoir/lake/text_format.h"
#include "comptoir/source/database.h"

namespace comptoir {
namespace {

using testing::CliResult;
using testing::RunCli;
using Fields = std::vector<lake::TextField>;

bool Has(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// Every record of the visible part files of a dataset, sorted.
std::vector<Fields> ReadDataset(const std::string& lake_dir, const std::string& target) {
  auto fs = lake::NewLocalStorage(lake_dir);
  std::vector<Fields> rows;
  StatusOr<std::vector<lake::FileInfo>> files = fs->List(target);
  EXPECT_TRUE(files.ok()) << files.status();
  if (!files.ok()) return rows;
  lake::TextFormat f;
  for (const lake::FileInfo& file : *files) {
    if (lake::IsHiddenName(file.name)) continue;
    std::string data = *lake::ReadFileToString(fs.get(), file.path);
    lake::TextReader reader(f, data);
    Fields fields;
    while (*reader.Next(&fields)) rows.push_back(fields);
  }
  std::sort(rows.begin(), rows.end());
  return rows;
}

std::vector<std::string> VisibleFiles(const std::string& lake_dir, const std::string& target) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(lake_dir + target, ec)) {
    std::string name = e.path().filename().string();
    if (!lake::IsHiddenName(name) || name == "_SUCCESS") out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

class Backend : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    dir_ = testing::TempDir("it");
    lake_ = dir_ + "/lake";
    if (GetParam() == "sqlite") {
      url_ = "sqlite://" + dir_ + "/erp.db";
    } else {
      url_ = testing::ServiceEnv(GetParam() == "mariadb" ? "COMPTOIR_TEST_MYSQL_URI"
                                                         : "COMPTOIR_TEST_PG_URI");
      if (url_.empty()) GTEST_SKIP() << "no " << GetParam() << " server (run `make test`)";
    }
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<source::Connection> Connect() {
    source::ConnectOptions o;
    o.url = GetParam() == "sqlite" ? url_ + "?create=1" : url_;
    auto c = source::Connect(o);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *std::move(c) : nullptr;
  }
  // A table name unique to this test and backend (tests run in parallel on one server).
  std::string Table(const std::string& base) { return base + "_" + GetParam(); }
  // Rows of `sql`, with SQL datetimes spelled as the lake spells them.
  std::vector<Fields> Select(const std::string& sql, const std::vector<int>& datetime_cols,
                             const std::vector<int>& money_cols = {}) {
    std::vector<Fields> rows;
    auto conn = Connect();
    Status s = conn->Query(sql, [&](const source::Row& r) {
      Fields f;
      for (const auto& v : r.values) {
        f.push_back(v ? std::optional<std::string>(std::string(*v)) : std::nullopt);
      }
      for (int i : datetime_cols) {
        if (f[i] && f[i]->size() >= 19) (*f[i])[10] = 'T';
      }
      // SQLite keeps DECIMAL(10,2) as numbers ("100", "67.8"); the lake writes
      // the declared two digits.
      for (int i : money_cols) {
        if (f[i]) f[i] = *core::NormalizeDecimal(*f[i], 2);
      }
      rows.push_back(std::move(f));
      return absl::OkStatus();
    });
    EXPECT_TRUE(s.ok()) << s;
    std::sort(rows.begin(), rows.end());
    return rows;
  }

  std::string dir_;
  std::string lake_;
  std::string url_;
};

TEST_P(Backend, SeedRealCsvThenImportWithOneAndFourMappersEqualsSelect) {
  std::string table = Table("sales");
  CliResult seed = RunCli({"seed", "--connect", url_, "--table", table, "--drop", "--from-csv",
                           testing::SharedData() + "/sales_data_sample.csv", "--encoding", "cp437"});
  ASSERT_EQ(seed.exit_code, 0) << seed.err;
  EXPECT_TRUE(Has(seed.out, "Seeded 2,823 rows into " + table)) << seed.out;

  CliResult m1 = RunCli({"import", "--connect", url_, "--table", table, "-m", "1", "--target-dir",
                         "/user/sqoop/m1", "--lake", lake_});
  ASSERT_EQ(m1.exit_code, 0) << m1.err;
  EXPECT_TRUE(Has(m1.out, "Imported 2,823 rows")) << m1.out;
  CliResult m4 = RunCli({"import", "--connect", url_, "--table", table, "-m", "4", "--target-dir",
                         "/user/sqoop/m4", "--lake", lake_, "--validate"});
  ASSERT_EQ(m4.exit_code, 0) << m4.err;
  EXPECT_EQ(VisibleFiles(lake_, "/user/sqoop/m4"),
            (std::vector<std::string>{"_SUCCESS", "part-m-00000", "part-m-00001", "part-m-00002",
                                      "part-m-00003"}));

  std::vector<Fields> lake1 = ReadDataset(lake_, "/user/sqoop/m1");
  std::vector<Fields> lake4 = ReadDataset(lake_, "/user/sqoop/m4");
  std::vector<Fields> direct = Select("SELECT * FROM " + table, {5}, {2, 4});
  ASSERT_EQ(lake1.size(), 2823u);
  EXPECT_EQ(lake1, direct);
  EXPECT_EQ(lake4, direct);
  int64_t cents = 0;
  bool street = false;
  for (const Fields& f : lake4) {
    std::string s = *f[4];
    cents += std::stoll(s.substr(0, s.find('.'))) * 100 + std::stoll(s.substr(s.find('.') + 1));
    street |= f[15] == std::optional<std::string>("Berguvsv\xC3\xA4gen  8");
  }
  EXPECT_EQ(cents, 1003262885);  // 10,032,628.85 to the cent
  EXPECT_TRUE(street);
}

TEST_P(Backend, IncrementalLastModifiedMergeAcrossThreeRoundsWithSavedJob) {
  std::string table = Table("items");
  auto conn = Connect();
  std::string ts = GetParam() == "postgres" ? "TIMESTAMP" : "DATETIME";
  ASSERT_TRUE(conn->Execute("DROP TABLE IF EXISTS " + table).ok());
  ASSERT_TRUE(conn->Execute("CREATE TABLE " + table +
                            " (id INT PRIMARY KEY, name VARCHAR(40), price DECIMAL(10,2), "
                            "updated " + ts + " NOT NULL)")
                  .ok());
  ASSERT_TRUE(conn->Execute("INSERT INTO " + table +
                            " VALUES (1, 'one', 1.10, '2024-01-01 10:00:00'), (2, 'two, 2', 2.20, "
                            "'2024-01-01 10:00:00'), (3, NULL, 3.30, '2024-01-01 11:00:00')")
                  .ok());
  std::string jobs = "COMPTOIR_IMPORT_JOBS_DIR=" + testing::ShellQuote(dir_ + "/jobs");
  CliResult create = RunCli({"job", "--create", "items", "--", "import", "--connect", url_,
                             "--table", table, "--incremental", "lastmodified", "--check-column",
                             "updated", "--merge-key", "id", "--target-dir", "/items", "--lake",
                             lake_, "-m", "2"},
                            jobs);
  ASSERT_EQ(create.exit_code, 0) << create.err;
  auto exec = [&] {
    CliResult r = RunCli({"job", "--exec", "items"}, jobs);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r;
  };
  std::string all = "SELECT id, name, price, updated FROM " + table;
  auto expected = [&] { return Select(all, {3}, {2}); };
  exec();
  EXPECT_EQ(ReadDataset(lake_, "/items"), expected());
  // Round 2: one update, one insert.
  ASSERT_TRUE(conn->Execute("UPDATE " + table +
                            " SET price = 2.25, updated = '2024-01-02 09:00:00' WHERE id = 2")
                  .ok());
  ASSERT_TRUE(conn->Execute("INSERT INTO " + table +
                            " VALUES (4, 'four', 4.40, '2024-01-02 09:30:00')")
                  .ok());
  CliResult r2 = exec();
  EXPECT_TRUE(Has(r2.out, "Imported 2 rows")) << r2.out;
  EXPECT_EQ(ReadDataset(lake_, "/items"), expected());
  // Round 3: update a row back to NULL name, insert one more.
  ASSERT_TRUE(conn->Execute("UPDATE " + table +
                            " SET name = NULL, updated = '2024-01-03 08:00:00' WHERE id = 1")
                  .ok());
  ASSERT_TRUE(conn->Execute("INSERT INTO " + table +
                            " VALUES (5, '', 0.05, '2024-01-03 08:00:00')")
                  .ok());
  exec();
  std::vector<Fields> final_rows = ReadDataset(lake_, "/items");
  EXPECT_EQ(final_rows, expected());
  ASSERT_EQ(final_rows.size(), 5u);
  EXPECT_EQ(final_rows[4][1], std::optional<std::string>(""));  // empty string is not NULL
  EXPECT_EQ(final_rows[0][1], std::nullopt);
  // The stored last value advanced to the newest timestamp.
  CliResult show = RunCli({"job", "--show", "items"}, jobs);
  EXPECT_TRUE(Has(show.out, "\"last_value\": \"2024-01-03 08:00:00")) << show.out;
  // Nothing new: the dataset stays as it is.
  CliResult idle = exec();
  EXPECT_EQ(ReadDataset(lake_, "/items"), final_rows);
}

TEST_P(Backend, IncrementalAppendAddsOnlyNewRows) {
  std::string table = Table("events");
  auto conn = Connect();
  ASSERT_TRUE(conn->Execute("DROP TABLE IF EXISTS " + table).ok());
  ASSERT_TRUE(conn->Execute("CREATE TABLE " + table + " (id INT PRIMARY KEY, v VARCHAR(10))").ok());
  std::vector<std::string> args = {"import", "--connect", url_, "--table", table, "--incremental",
                                   "append", "--check-column", "id", "--target-dir", "/ev",
                                   "--lake", lake_, "-m", "2"};
  int next = 1;
  std::string last = "0";
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 3 + round; ++i, ++next) {
      ASSERT_TRUE(conn->Execute("INSERT INTO " + table + " VALUES (" + std::to_string(next) +
                                ", 'r" + std::to_string(round) + "')")
                      .ok());
    }
    std::vector<std::string> a = args;
    a.insert(a.end(), {"--last-value", last});
    CliResult r = RunCli(a);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    last = std::to_string(next - 1);
    EXPECT_TRUE(Has(r.out, "next --last-value " + last)) << r.out;
  }
  EXPECT_EQ(ReadDataset(lake_, "/ev"), Select("SELECT id, v FROM " + table, {}));
}

TEST_P(Backend, UnreachableServerAndMissingTableAreClearErrors) {
  if (GetParam() == "sqlite") {
    CliResult r = RunCli({"import", "--connect", "sqlite://" + dir_ + "/none.db", "--table", "t",
                          "--lake", lake_});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_TRUE(Has(r.err, "does not exist; create it with `comptoir seed`")) << r.err;
    return;
  }
  core::Uri uri = *core::ParseUri(url_);
  std::string dead = uri.scheme + "://" + uri.user + "@127.0.0.1:1" + uri.path;
  CliResult r = RunCli({"import", "--connect", dead, "--table", "t", "--lake", lake_});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Has(r.err, "cannot connect to " + dead)) << r.err;
  EXPECT_TRUE(Has(r.err, "is the server running")) << r.err;
  CliResult missing = RunCli({"import", "--connect", url_, "--table", "nope", "--lake", lake_});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_TRUE(Has(missing.err, "table \"nope\" does not exist in database")) << missing.err;
  EXPECT_FALSE(std::filesystem::exists(lake_ + "/user/sqoop/nope"));
}

INSTANTIATE_TEST_SUITE_P(Sources, Backend, ::testing::Values("sqlite", "mariadb", "postgres"),
                         [](const auto& p) { return p.param; });

// --- MariaDB-only scenarios -------------------------------------------------

class MariaDb : public testing::MariaDbTest {
 protected:
  MariaDb() : MariaDbTest("it-maria") {}
};

TEST_F(MariaDb, ClassicModelsImportAllTablesAsText) {
  LoadClassicModels("classicmodels");
  CliResult r = RunCli({"import-all-tables", "--connect", Url("classicmodels"), "--lake", lake_,
                        "--warehouse-dir", "/wh", "-m", "2", "--validate"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Has(r.out, "Imported 8 table(s) into /wh")) << r.out;
  std::map<std::string, size_t> want = {{"customers", 122}, {"employees", 23},
                                        {"offices", 7},     {"orderdetails", 2996},
                                        {"orders", 326},    {"payments", 273},
                                        {"productlines", 7}, {"products", 110}};
  for (const auto& [t, n] : want) EXPECT_EQ(ReadDataset(lake_, "/wh/" + t).size(), n) << t;
  // Exact bytes of a row with a comma, NULLs and a DECIMAL.
  std::string customers;
  for (const std::string& f : VisibleFiles(lake_, "/wh/customers")) {
    if (f == "_SUCCESS") continue;
    std::ifstream in(lake_ + "/wh/customers/" + f);
    customers.append(std::istreambuf_iterator<char>(in), {});
  }
  EXPECT_TRUE(Has(customers, "103,Atelier graphique,Schmitt,Carine ,40.32.2555,\"54, rue Royale\","
                             "\\N,Nantes,\\N,44000,France,1370,21000.00\n"))
      << customers.substr(0, 300);
  // The composite key table was split on its first key column.
  EXPECT_EQ(VisibleFiles(lake_, "/wh/orderdetails").size(), 3u);
  std::ifstream schema(lake_ + "/wh/productlines/_schema.json");
  std::string s((std::istreambuf_iterator<char>(schema)), {});
  EXPECT_TRUE(Has(s, "\"encoding\": \"base64\"")) << s;
  EXPECT_TRUE(Has(s, "\"sql_type\": \"mediumblob\"")) << s;
}

// Records in an Avro container file, read with avro-c.
int64_t AvroRecords(const std::string& path) {
  avro_file_reader_t reader;
  if (avro_file_reader(path.c_str(), &reader) != 0) {
    ADD_FAILURE() << path << ": " << avro_strerror();
    return -1;
  }
  avro_schema_t ws = avro_file_reader_get_writer_schema(reader);
  avro_value_iface_t* iface = avro_generic_class_from_schema(ws);
  avro_value_t rec;
  avro_generic_value_new(iface, &rec);
  int64_t n = 0;
  while (avro_file_reader_read_value(reader, &rec) == 0) ++n;
  avro_value_decref(&rec);
  avro_value_iface_decref(iface);
  avro_file_reader_close(reader);
  return n;
}

TEST_F(MariaDb, ClassicModelsImportAllTablesAsAvro) {
  LoadClassicModels("cm_avro");
  CliResult r = RunCli({"import-all-tables", "--connect", Url("cm_avro"), "--lake", lake_,
                        "--warehouse-dir", "/avro", "-m", "2", "--as-avrodatafile", "-z"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::map<std::string, int64_t> want = {{"customers", 122}, {"employees", 23},
                                         {"offices", 7},     {"orderdetails", 2996},
                                         {"orders", 326},    {"payments", 273},
                                         {"productlines", 7}, {"products", 110}};
  for (const auto& [t, n] : want) {
    int64_t got = 0;
    for (const std::string& f : VisibleFiles(lake_, "/avro/" + t)) {
      if (f == "_SUCCESS") continue;
      EXPECT_TRUE(f.ends_with(".avro")) << f;
      got += AvroRecords(lake_ + "/avro/" + t + "/" + f);
    }
    EXPECT_EQ(got, n) << t;
  }
  std::ifstream in(lake_ + "/avro/payments/part-m-00000.avro", std::ios::binary);
  std::string head(4096, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  EXPECT_TRUE(Has(head, "\"logicalType\":\"decimal\",\"precision\":10,\"scale\":2")) << head.substr(0, 600);
  EXPECT_TRUE(Has(head, "avro.codec")) << head.substr(0, 600);
  EXPECT_TRUE(Has(head, "deflate")) << head.substr(0, 600);
}

TEST_F(MariaDb, SqoopDelimiterFlagsReproduceSqoopBytes) {
  source::ConnectOptions o;
  o.url = url_;
  auto conn = *source::Connect(o);
  ASSERT_TRUE(conn->Execute("DROP TABLE IF EXISTS sqoopfmt").ok());
  ASSERT_TRUE(conn->Execute("CREATE TABLE sqoopfmt (id INT PRIMARY KEY, name VARCHAR(40), "
                            "at DATETIME, amount DECIMAL(10,2))")
                  .ok());
  ASSERT_TRUE(conn->Execute("INSERT INTO sqoopfmt VALUES (1, 'Mini Gifts, Ltd', '2003-02-24 "
                            "00:00:00', 10.50), (2, NULL, NULL, NULL), (3, 'O''Hara', "
                            "'2004-01-01 12:30:00', 0.00)")
                  .ok());
  CliResult r = RunCli({"import", "--connect", url_, "--table", "sqoopfmt", "-m", "1", "--lake",
                        lake_, "--mysql-delimiters"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::ifstream in(lake_ + "/user/sqoop/sqoopfmt/part-m-00000");
  std::string data((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(data,
            "1,'Mini Gifts, Ltd',2003-02-24 00:00:00.0,10.50\n"
            "2,null,null,null\n"
            "3,O\\'Hara,2004-01-01 12:30:00.0,0.00\n");
  CliResult tab = RunCli({"import", "--connect", url_, "--table", "sqoopfmt", "-m", "1", "--lake",
                          lake_, "--target-dir", "/tab", "--fields-terminated-by", "\\t",
                          "--null-string", "\\\\N", "--null-non-string", "\\\\N"});
  ASSERT_EQ(tab.exit_code, 0) << tab.err;
  std::ifstream in2(lake_ + "/tab/part-m-00000");
  std::string data2((std::istreambuf_iterator<char>(in2)), {});
  EXPECT_EQ(data2,
            "1\tMini Gifts, Ltd\t2003-02-24 00:00:00.0\t10.50\n"
            "2\t\\\\N\t\\\\N\t\\\\N\n"
            "3\tO'Hara\t2004-01-01 12:30:00.0\t0.00\n");
}

TEST_F(MariaDb, KillNineAtSeveralMomentsLeavesNothingVisibleAndRerunIsIdentical) {
  CliResult seed = RunCli({"seed", "--connect", url_, "--table", "killme", "--drop", "--rows",
                           "300000", "--seed", "5"});
  ASSERT_EQ(seed.exit_code, 0) << seed.err;
  std::vector<std::string> base = {"import", "--connect", url_, "--table", "killme", "-m", "4",
                                   "--lake", lake_};
  std::vector<std::string> ref = base;
  ref.insert(ref.end(), {"--target-dir", "/ref"});
  ASSERT_EQ(RunCli(ref).exit_code, 0);
  std::vector<Fields> want = ReadDataset(lake_, "/ref");
  ASSERT_EQ(want.size(), 300000u);
  std::vector<std::string> args = base;
  args.insert(args.end(), {"--target-dir", "/k"});
  int killed_mid_flight = 0;
  for (int delay_ms : {30, 120, 250, 400, 700}) {
    int pid = testing::StartCli(args, dir_ + "/kill.log");
    ASSERT_GT(pid, 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    bool was_running = kill(pid, SIGKILL) == 0;
    int st = 0;
    waitpid(pid, &st, 0);
    bool finished = WIFEXITED(st) && WEXITSTATUS(st) == 0;
    if (!finished && was_running) {
      ++killed_mid_flight;
      std::vector<std::string> visible = VisibleFiles(lake_, "/k");
      EXPECT_TRUE(visible.empty()) << "after kill at " << delay_ms << " ms: " << visible.front();
    } else {
      ASSERT_TRUE(std::filesystem::remove_all(lake_ + "/k") > 0);
      continue;
    }
    CliResult rerun = RunCli(args);
    ASSERT_EQ(rerun.exit_code, 0) << rerun.err;
    EXPECT_EQ(ReadDataset(lake_, "/k"), want) << "rerun after kill at " << delay_ms << " ms";
    EXPECT_FALSE(std::filesystem::exists(lake_ + "/k/_temporary"));
    std::filesystem::remove_all(lake_ + "/k");
  }
  EXPECT_GE(killed_mid_flight, 2);
}

TEST_F(MariaDb, ClearErrorsForCredentialsColumnsTargetTypeAndDiskFull) {
  source::ConnectOptions o;
  o.url = url_;
  auto conn = *source::Connect(o);
  ASSERT_TRUE(conn->Execute("DROP TABLE IF EXISTS errs").ok());
  ASSERT_TRUE(conn->Execute("CREATE TABLE errs (id INT PRIMARY KEY, v VARCHAR(200), g POINT)").ok());
  ASSERT_TRUE(conn->Execute("INSERT INTO errs SELECT seq, REPEAT('x', 150), POINT(1, 2) FROM "
                            "seq_1_to_20000")
                  .ok());
  // Bad credentials.
  std::string pw = dir_ + "/pw";
  std::ofstream(pw) << "wrong\n";
  chmod(pw.c_str(), 0600);
  CliResult creds = RunCli({"import", "--connect", url_, "--username", "nobody", "--password-file",
                            pw, "--table", "errs", "--lake", lake_});
  EXPECT_EQ(creds.exit_code, 1);
  EXPECT_TRUE(Has(creds.err, "Access denied for user 'nobody'")) << creds.err;
  EXPECT_TRUE(Has(creds.err, "check --username and --password-file")) << creds.err;
  // A password file others can read is refused.
  chmod(pw.c_str(), 0644);
  CliResult open_pw = RunCli({"import", "--connect", url_, "--password-file", pw, "--table",
                              "errs", "--lake", lake_});
  EXPECT_EQ(open_pw.exit_code, 1);
  EXPECT_TRUE(Has(open_pw.err, "can be read by other users (mode 0644); run `chmod 600")) << open_pw.err;
  // Missing column, and an injection attempt through --columns.
  CliResult col = RunCli({"import", "--connect", url_, "--table", "errs", "--columns",
                          "id,v`; DROP TABLE errs; --", "--lake", lake_});
  EXPECT_EQ(col.exit_code, 1);
  EXPECT_TRUE(Has(col.err, "--columns: column \"v`; DROP TABLE errs; --\" does not exist in table "
                           "errs (columns: id, v, g)"))
      << col.err;
  // Unsupported type.
  CliResult type = RunCli({"import", "--connect", url_, "--table", "errs", "--lake", lake_});
  EXPECT_EQ(type.exit_code, 1);
  EXPECT_TRUE(Has(type.err, "column \"g\" has type point, which comptoir cannot import yet")) << type.err;
  // Target exists.
  std::vector<std::string> ok = {"import", "--connect", url_, "--table", "errs", "--columns", "id,v",
                                 "--lake", lake_};
  ASSERT_EQ(RunCli(ok).exit_code, 0);
  CliResult exists = RunCli(ok);
  EXPECT_EQ(exists.exit_code, 1);
  EXPECT_TRUE(Has(exists.err, "target directory /user/sqoop/errs already exists")) << exists.err;
  // Disk full: a 1 MB file size limit on a 3 MB import.
  std::vector<std::string> full = ok;
  full.insert(full.end(), {"--target-dir", "/full", "-m", "1"});
  CliResult disk = RunCli(full, "ulimit -f 1024;");
  EXPECT_EQ(disk.exit_code, 1);
  EXPECT_TRUE(Has(disk.err, "File too large (free some space or choose another --lake)")) << disk.err;
  EXPECT_TRUE(VisibleFiles(lake_, "/full").empty());
}

TEST_F(MariaDb, TypesRoundTripExactly) {
  source::ConnectOptions o;
  o.url = url_;
  auto conn = *source::Connect(o);
  ASSERT_TRUE(conn->Execute("DROP TABLE IF EXISTS types").ok());
  ASSERT_TRUE(conn->Execute(
      "CREATE TABLE types (id INT PRIMARY KEY, flag TINYINT(1), big BIGINT UNSIGNED, "
      "d DATE, dt DATETIME(3), amount DECIMAL(20,4), blob_col BLOB, txt VARCHAR(20) "
      "CHARACTER SET utf8mb4) DEFAULT CHARSET=utf8mb4").ok());
  // Zero dates need a permissive sql_mode to exist at all.
  ASSERT_TRUE(conn->Execute("SET SESSION sql_mode = ''").ok());
  ASSERT_TRUE(conn->Execute(
      "INSERT INTO types VALUES "
      "(1, 7, 18446744073709551615, '2004-02-29', '2004-02-29 13:14:15.250', "
      "1234567890123456.0001, X'00FF10', 'caf\xc3\xa9 \xf0\x9f\x9b\x92'),"
      "(2, 0, 0, '0000-00-00', '0000-00-00 00:00:00', -0.5, '', ''),"
      "(3, NULL, NULL, NULL, NULL, NULL, NULL, NULL),"
      "(4, 1, 1, '1999-12-31', '1999-12-31 23:59:59', 0, 'x', '\\\\N')").ok());
  CliResult r = RunCli({"import", "--connect", url_, "--table", "types", "-m", "1", "--lake",
                        lake_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Has(r.err, "2 MySQL zero date(s) (0000-00-00) were written as NULL")) << r.err;
  std::ifstream in(lake_ + "/user/sqoop/types/part-m-00000");
  std::string data((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(data,
            "1,7,18446744073709551615,2004-02-29,2004-02-29T13:14:15.250,"
            "1234567890123456.0001,AP8Q,caf\xc3\xa9 \xf0\x9f\x9b\x92\n"
            "2,0,0,\\N,\\N,-0.5000,\"\",\"\"\n"
            "3,\\N,\\N,\\N,\\N,\\N,\\N,\\N\n"
            "4,1,1,1999-12-31,1999-12-31T23:59:59.000,0.0000,eA==,\"\\N\"\n");
}

TEST_F(MariaDb, SplitsOnDateAndStringKeysAndBoundaryQuery) {
  source::ConnectOptions o;
  o.url = url_;
  auto conn = *source::Connect(o);
  ASSERT_TRUE(conn->Execute("DROP TABLE IF EXISTS keyed").ok());
  ASSERT_TRUE(conn->Execute("CREATE TABLE keyed (code VARCHAR(12) PRIMARY KEY, day DATE NOT NULL, "
                            "n INT NOT NULL)").ok());
  ASSERT_TRUE(conn->Execute("INSERT INTO keyed SELECT CONCAT('C', LPAD(seq, 6, '0')), "
                            "'2003-01-01' + INTERVAL (seq MOD 700) DAY, seq FROM seq_1_to_8000")
                  .ok());
  for (std::string key : {"code", "day"}) {
    std::string target = "/by_" + key;
    CliResult r = RunCli({"import", "--connect", url_, "--table", "keyed", "-m", "4", "--split-by",
                          key, "--lake", lake_, "--target-dir", target, "--validate"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(Has(r.out, "Imported 8,000 rows")) << r.out;
    for (const std::string& f : VisibleFiles(lake_, target)) {
      if (f == "_SUCCESS") continue;
      std::ifstream in(lake_ + target + "/" + f);
      size_t lines = std::count(std::istreambuf_iterator<char>(in), {}, '\n');
      EXPECT_GE(lines, 2000 * 0.75) << key << " " << f;
      EXPECT_LE(lines, 2000 * 1.25) << key << " " << f;
    }
  }
  CliResult b = RunCli({"import", "--connect", url_, "--table", "keyed", "-m", "2", "--split-by",
                        "n", "--boundary-query", "SELECT 1001, 3000", "--lake", lake_,
                        "--target-dir", "/bounded"});
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_TRUE(Has(b.out, "Imported 2,000 rows")) << b.out;
}

TEST_F(MariaDb, SkewedKeyGivesBalancedSplits) {
  source::ConnectOptions o;
  o.url = url_;
  auto conn = *source::Connect(o);
  ASSERT_TRUE(conn->Execute("DROP TABLE IF EXISTS skew").ok());
  ASSERT_TRUE(conn->Execute("CREATE TABLE skew (k BIGINT PRIMARY KEY, v INT)").ok());
  // 90 % of the rows in 1 % of the key range.
  ASSERT_TRUE(conn->Execute("INSERT INTO skew SELECT 1000000 + seq, seq FROM seq_1_to_9000").ok());
  ASSERT_TRUE(conn->Execute("INSERT INTO skew SELECT seq * 99, seq FROM seq_1_to_1000").ok());
  CliResult r = RunCli({"import", "--connect", url_, "--table", "skew", "-m", "4", "--lake", lake_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const std::string& f : VisibleFiles(lake_, "/user/sqoop/skew")) {
    if (f == "_SUCCESS") continue;
    std::ifstream in(lake_ + "/user/sqoop/skew/" + f);
    size_t lines = std::count(std::istreambuf_iterator<char>(in), {}, '\n');
    EXPECT_GE(lines, 2500 * 0.75) << f;
    EXPECT_LE(lines, 2500 * 1.25) << f;
  }
  CliResult dry = RunCli({"import", "--connect", url_, "--table", "skew", "-m", "4", "--lake",
                          lake_, "--target-dir", "/dry", "--dry-run"});
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_TRUE(Has(dry.out, "Plan for /dry: 4 split(s) on k, 10,000 source rows")) << dry.out;
  EXPECT_TRUE(Has(dry.out, "(~2,500 rows): SELECT `k`, `v` FROM `skew` WHERE `k` >= ")) << dry.out;
  EXPECT_FALSE(std::filesystem::exists(lake_ + "/dry"));
}

}  // namespace
}  // namespace comptoir
