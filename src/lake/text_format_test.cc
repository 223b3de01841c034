#include "comptoir/lake/text_format.h"

#include <gtest/gtest.h>

#include "nlohmann/json.hpp"

namespace comptoir::lake {
namespace {

// Writes one row: values with nullopt as NULL; `strings` marks string columns.
std::string Row(const TextFormat& f, const std::vector<TextField>& values,
                const std::vector<bool>& strings = {}) {
  TextRowWriter w(f);
  std::string out;
  for (size_t i = 0; i < values.size(); ++i) {
    bool is_string = i < strings.size() ? strings[i] : true;
    if (values[i]) {
      w.Field(&out, *values[i], i == 0);
    } else {
      w.Null(&out, is_string, i == 0);
    }
  }
  w.EndRow(&out);
  return out;
}

TEST(Rfc4180WriterTest, QuotesOnlyWhenNeeded) {
  TextFormat f;
  EXPECT_EQ(Row(f, {"10107", "Land of Toys Inc.", "2871.00"}), "10107,Land of Toys Inc.,2871.00\n");
  EXPECT_EQ(Row(f, {"Mini Gifts, Ltd", "say \"hi\"", "two\nlines", "cr\r"}),
            "\"Mini Gifts, Ltd\",\"say \"\"hi\"\"\",\"two\nlines\",\"cr\r\"\n");
}

TEST(Rfc4180WriterTest, NullEmptyAndLiteralNullTokenStayDistinct) {
  TextFormat f;
  EXPECT_EQ(Row(f, {std::nullopt, "", "\\N", "N"}), "\\N,\"\",\"\\N\",N\n");
  TextReader r(f, "\\N,\"\",\"\\N\",N\n");
  std::vector<TextField> fields;
  ASSERT_TRUE(*r.Next(&fields));
  ASSERT_EQ(fields.size(), 4u);
  EXPECT_FALSE(fields[0].has_value());
  EXPECT_EQ(fields[1], std::optional<std::string>(""));
  EXPECT_EQ(fields[2], std::optional<std::string>("\\N"));
  EXPECT_EQ(fields[3], std::optional<std::string>("N"));
  EXPECT_FALSE(*r.Next(&fields));
}

TEST(Rfc4180WriterTest, RoundTripsThroughReader) {
  TextFormat f;
  std::vector<std::vector<TextField>> rows = {
      {"a", "b,c", "\"q\"", std::nullopt},
      {"multi\nline", "", "x", "Berguvsvägen  8"},
  };
  std::string text;
  for (const auto& r : rows) text += Row(f, r);
  TextReader reader(f, text);
  std::vector<TextField> got;
  for (const auto& want : rows) {
    ASSERT_TRUE(*reader.Next(&got));
    EXPECT_EQ(got, want);
  }
  EXPECT_FALSE(*reader.Next(&got));
}

TEST(TextReaderTest, ErrorsNameTheLine) {
  TextFormat f;
  TextReader r(f, "a,b\n\"open,c\n");
  std::vector<TextField> fields;
  ASSERT_TRUE(*r.Next(&fields));
  StatusOr<bool> bad = r.Next(&fields);
  EXPECT_EQ(bad.status().message(), "line 2: quoted field is not closed before the end of the data");
  TextReader r2(f, "\"a\"x,b\n");
  EXPECT_EQ(r2.Next(&fields).status().message(),
            "line 1: unexpected character 'x' after a closing quote; quotes inside a field must "
            "be doubled");
}

TEST(TextReaderTest, AcceptsCrLfAndNoFinalNewline) {
  TextFormat f;
  TextReader r(f, "a,b\r\nc,d");
  std::vector<TextField> fields;
  ASSERT_TRUE(*r.Next(&fields));
  EXPECT_EQ(fields, (std::vector<TextField>{"a", "b"}));
  ASSERT_TRUE(*r.Next(&fields));
  EXPECT_EQ(fields, (std::vector<TextField>{"c", "d"}));
  EXPECT_EQ(r.line(), 2u);
}

// Expected bytes follow Sqoop 1.4.7's FieldFormatter.escapeAndEnclose().
TEST(SqoopWriterTest, DefaultDelimitersDoNotQuoteAndWriteNullLiteral) {
  TextFormat f = TextFormat::Sqoop();
  EXPECT_EQ(Row(f, {"Mini Gifts, Ltd", std::nullopt, ""}), "Mini Gifts, Ltd,null,\n");
}

TEST(SqoopWriterTest, MySqlDelimitersEncloseWhenNeededAndEscape) {
  TextFormat f = TextFormat::MySqlDelimiters();
  EXPECT_EQ(Row(f, {"Mini Gifts, Ltd", "O'Hara", "back\\slash", "plain"}),
            "'Mini Gifts, Ltd',O\\'Hara,back\\\\slash,plain\n");
}

TEST(SqoopWriterTest, EscapeWithoutEncloseEscapesDelimiters) {
  TextFormat f = TextFormat::Sqoop();
  f.field_delim = '|';
  f.escape = '\\';
  EXPECT_EQ(Row(f, {"a|b", "c\nd", "e\\f"}), "a\\|b|c\\\nd|e\\\\f\n");
}

TEST(SqoopWriterTest, EnclosedByAlwaysEnclosesAndNullTokensPerType) {
  TextFormat f = TextFormat::Sqoop();
  f.enclose = '"';
  f.enclose_required = true;
  f.escape = '\\';
  f.null_string = "\\N";
  f.null_non_string = "-1";
  EXPECT_EQ(Row(f, {"x", std::nullopt, std::nullopt, "say \"y\""}, {true, true, false, true}),
            "\"x\",\"\\\\N\",\"-1\",\"say \\\"y\\\"\"\n");
}

TEST(TextFormatTest, JsonRoundTrip) {
  TextFormat f = TextFormat::MySqlDelimiters();
  f.null_non_string = "NULL";
  StatusOr<TextFormat> back = TextFormat::FromJson(f.ToJson());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->ToJson(), f.ToJson());
}

}  // namespace
}  // namespace comptoir::lake
