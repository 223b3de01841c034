#include "comptoir/lake/avro.h"

#include <avro.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "nlohmann/json.hpp"

namespace comptoir::lake {
namespace {

TEST(AvroTest, InstantsAndWallClockReadingsHaveTheirOwnLogicalTypes) {
  nlohmann::json j = nlohmann::json::parse(AvroSchemaJson(
      "t", {{"at", AvroType::kTimestampMicros}, {"local", AvroType::kLocalTimestampMicros}}));
  EXPECT_EQ(j["fields"][0]["type"][1], nlohmann::json({{"type", "long"}, {"logicalType", "timestamp-micros"}}));
  EXPECT_EQ(j["fields"][1]["type"][1],
            nlohmann::json({{"type", "long"}, {"logicalType", "local-timestamp-micros"}}));
}

TEST(AvroTest, FieldsRoundTripThroughTheSchemaJson) {
  std::vector<AvroField> fields = {{"n", AvroType::kLong},           {"s", AvroType::kString},
                                   {"d", AvroType::kDecimal, 10, 2}, {"day", AvroType::kDate},
                                   {"at", AvroType::kTimestampMicros}, {"local", AvroType::kLocalTimestampMicros},
                                   {"b", AvroType::kBoolean},        {"x", AvroType::kDouble},
                                   {"raw", AvroType::kBytes}};
  std::string name;
  auto back = AvroFieldsOf(AvroSchemaJson("sales", fields), &name);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(name, "sales");
  ASSERT_EQ(back->size(), fields.size());
  for (size_t i = 0; i < fields.size(); ++i) {
    EXPECT_EQ((*back)[i].name, fields[i].name);
    EXPECT_EQ((*back)[i].type, fields[i].type) << fields[i].name;
    EXPECT_EQ((*back)[i].scale, fields[i].scale);
  }
  EXPECT_FALSE(AvroFieldsOf("{\"type\": \"record\"}").ok());
}

TEST(AvroTest, WritesReadableFileWithLogicalTypes) {
  auto fs = NewMemStorage("avro-test");
  std::vector<AvroField> fields = {{"ORDERNUMBER", AvroType::kLong},
                                   {"SALES", AvroType::kDecimal, 12, 2},
                                   {"ORDERDATE", AvroType::kLocalTimestampMicros},
                                   {"day", AvroType::kDate},
                                   {"CUSTOMER NAME", AvroType::kString},
                                   {"image", AvroType::kBytes},
                                   {"ok", AvroType::kBoolean},
                                   {"ratio", AvroType::kDouble}};
  auto w = AvroFileWriter::Create(*fs->Create("/p.avro", {}), "sales", fields, true);
  ASSERT_TRUE(w.ok()) << w.status();
  ASSERT_TRUE((*w)->Append({"10107", "2871.00", "2003-02-24T00:00:00", "2003-02-24",
                            "Mini Gifts, Ltd", std::string_view("\0\xff", 2), "true", "0.5"})
                  .ok());
  ASSERT_TRUE((*w)->Append({"-1", "-0.01", "1970-01-01T00:00:01.5", "1969-12-31", std::nullopt,
                            std::nullopt, std::nullopt, std::nullopt})
                  .ok());
  EXPECT_EQ((*w)->Append({"x", "1", "2003-02-24T00:00:00", "2003-02-24", "", "", "1", "1"})
                .message(),
            "avro: field ORDERNUMBER value \"x\": not a 64-bit integer");
  ASSERT_TRUE((*w)->Close().ok());
  std::string bytes = *ReadFileToString(fs.get(), "/p.avro");
  // The stored schema keeps the logical types avro-c would drop.
  nlohmann::json schema = nlohmann::json::parse(*AvroFileSchema(bytes));
  EXPECT_EQ(schema["fields"][1]["type"][1]["logicalType"], "decimal");
  EXPECT_EQ(schema["fields"][1]["type"][1]["scale"], 2);
  EXPECT_EQ(schema["fields"][2]["type"][1]["logicalType"], "local-timestamp-micros");
  EXPECT_EQ(schema["fields"][4]["name"], "CUSTOMER_NAME");
  // avro-c reads the file back.
  std::string path = (std::filesystem::temp_directory_path() /
                      ("comptoir-avro-read-" + std::to_string(getpid()) + ".avro"))
                         .string();
  std::ofstream(path, std::ios::binary) << bytes;
  avro_file_reader_t reader;
  ASSERT_EQ(avro_file_reader(path.c_str(), &reader), 0) << avro_strerror();
  avro_schema_t ws = avro_file_reader_get_writer_schema(reader);
  avro_value_iface_t* iface = avro_generic_class_from_schema(ws);
  avro_value_t rec;
  avro_generic_value_new(iface, &rec);
  std::vector<int64_t> orders, micros;
  std::vector<std::string> sales;
  while (avro_file_reader_read_value(reader, &rec) == 0) {
    avro_value_t f, b;
    int64_t n = 0;
    avro_value_get_by_index(&rec, 0, &f, nullptr);
    avro_value_get_current_branch(&f, &b);
    avro_value_get_long(&b, &n);
    orders.push_back(n);
    avro_value_get_by_index(&rec, 1, &f, nullptr);
    avro_value_get_current_branch(&f, &b);
    const void* p = nullptr;
    size_t len = 0;
    avro_value_get_bytes(&b, &p, &len);
    sales.emplace_back(static_cast<const char*>(p), len);
    avro_value_get_by_index(&rec, 2, &f, nullptr);
    avro_value_get_current_branch(&f, &b);
    avro_value_get_long(&b, &n);
    micros.push_back(n);
  }
  avro_value_decref(&rec);
  avro_value_iface_decref(iface);
  avro_schema_decref(ws);  // get_writer_schema returns a new reference
  avro_file_reader_close(reader);
  std::filesystem::remove(path);
  EXPECT_EQ(orders, (std::vector<int64_t>{10107, -1}));
  EXPECT_EQ(sales[0], std::string("\x04\x61\x7c", 3));  // 287100 = 0x04617C
  EXPECT_EQ(sales[1], std::string("\xff", 1));          // -1
  EXPECT_EQ(micros[0], 1046044800000000);
  EXPECT_EQ(micros[1], 1500000);
}

TEST(AvroTest, Names) {
  EXPECT_EQ(AvroName("ORDER-NUMBER"), "ORDER_NUMBER");
  EXPECT_EQ(AvroName("1st"), "_1st");
}

}  // namespace
}  // namespace comptoir::lake
