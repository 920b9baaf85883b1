#include "app/setup_json_edit.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

using clipal::app::setup::edit_error;
using clipal::app::setup::json_document;
using clipal::app::setup::json_lookup;
using ::testing::HasSubstr;

namespace {

json_document parsed(std::string text) {
    auto r = json_document::parse(std::move(text));
    if (auto* e = std::get_if<edit_error>(&r)) ADD_FAILURE() << "parse failed: " << e->to_string();
    return std::get<json_document>(std::move(r));
}

std::string set(std::string text, const clipal::app::setup::key_path& path, std::string_view value) {
    auto d = parsed(std::move(text));
    if (auto e = d.set(path, value)) ADD_FAILURE() << e->to_string();
    return d.text();
}

TEST(SetupJsonEdit, AddsToAnExistingObjectInItsLayoutKeepingCommentsAndOtherKeys) {
    const std::string before = "{\n"
                               "  // the user's own note\n"
                               "  \"permissions\": {\"allow\": [\"Bash(ls:*)\"]},\n"
                               "  \"env\": {\n"
                               "    \"FOO\": \"bar\" /* keep */\n"
                               "  },\n"
                               "  \"theme\": \"dark\"\n"
                               "}\n";
    EXPECT_EQ(set(before, {"env", "ANTHROPIC_BASE_URL"}, "http://127.0.0.1:3333/claudecode"),
              "{\n"
              "  // the user's own note\n"
              "  \"permissions\": {\"allow\": [\"Bash(ls:*)\"]},\n"
              "  \"env\": {\n"
              "    \"FOO\": \"bar\", /* keep */\n"
              "    \"ANTHROPIC_BASE_URL\": \"http://127.0.0.1:3333/claudecode\"\n"
              "  },\n"
              "  \"theme\": \"dark\"\n"
              "}\n");
}

TEST(SetupJsonEdit, CreatesMissingObjectsAtTheEndWithTheFilesIndentation) {
    const std::string before = "{\n\t\"theme\": \"dark\" // trailing\n}";
    EXPECT_EQ(set(before, {"security", "auth", "selectedType"}, "gemini-api-key"),
              "{\n\t\"theme\": \"dark\", // trailing\n"
              "\t\"security\": {\n\t\t\"auth\": {\n\t\t\t\"selectedType\": \"gemini-api-key\"\n\t\t}\n\t}\n}");
}

TEST(SetupJsonEdit, ReplacesOnlyTheValue) {
    EXPECT_EQ(set("{\"a\" :  \"old\" , \"b\": 1}", {"a"}, "new"), "{\"a\" :  \"new\" , \"b\": 1}");
    EXPECT_EQ(set("{\"a\": null}", {"a"}, "x"), "{\"a\": \"x\"}");
}

TEST(SetupJsonEdit, CompactFilesStayCompact) {
    EXPECT_EQ(set(R"({"privacy":{"usageStatisticsEnabled":false}})", {"security", "auth", "selectedType"}, "k"),
              R"({"privacy":{"usageStatisticsEnabled":false},"security":{"auth":{"selectedType":"k"}}})");
    EXPECT_EQ(set("{}", {"env", "A"}, "1"), "{\"env\": {\"A\": \"1\"}}");
}

TEST(SetupJsonEdit, EmptyObjectsAndBlankFilesGetAMultiLineLayout) {
    EXPECT_EQ(set("", {"env", "A"}, "1"), "{\n  \"env\": {\n    \"A\": \"1\"\n  }\n}\n");
    EXPECT_EQ(set("{\n  \"env\": {}\n}\n", {"env", "A"}, "1"), "{\n  \"env\": {\n    \"A\": \"1\"\n  }\n}\n");
    EXPECT_EQ(set("{\r\n  \"x\": 1\r\n}\r\n", {"y"}, "2"), "{\r\n  \"x\": 1,\r\n  \"y\": \"2\"\r\n}\r\n");
}

TEST(SetupJsonEdit, NonAsciiAndEscapesSurvive) {
    const std::string before = "{\"n\\u00e4me\": \"gr\xc3\xbc\xc3\x9f \\\"x\\\"\", \"env\": {}}";
    const auto after = set(before, {"env", "K"}, "v\"\\");
    EXPECT_EQ(after, "{\"n\\u00e4me\": \"gr\xc3\xbc\xc3\x9f \\\"x\\\"\", \"env\": {\"K\": \"v\\\"\\\\\"}}");
    auto d = parsed(after);
    EXPECT_EQ(d.get({"n\xc3\xa4me"}).value, "gr\xc3\xbc\xc3\x9f \"x\"");
}

TEST(SetupJsonEdit, RefusesWhatItCannotEdit) {
    auto d = parsed("{\"env\": [1], \"s\": {\"x\": 1}, \"dup\": {}, \"dup\": {}}");
    ASSERT_TRUE(d.set({"env", "A"}, "1"));
    EXPECT_THAT(d.set({"env", "A"}, "1")->to_string(), HasSubstr("env is not an object"));
    EXPECT_THAT(d.set({"s"}, "1")->to_string(), HasSubstr("s is an object, expected a string"));
    EXPECT_THAT(d.set({"dup", "a"}, "1")->to_string(), HasSubstr("\"dup\" appears twice"));
    EXPECT_EQ(d.text(), "{\"env\": [1], \"s\": {\"x\": 1}, \"dup\": {}, \"dup\": {}}");
}

TEST(SetupJsonEdit, ParseErrorsSayWhere) {
    auto r = json_document::parse("{\n  \"a\": 1,\n  \"b\": ,\n}\n");
    ASSERT_TRUE(std::holds_alternative<edit_error>(r));
    const auto& e = std::get<edit_error>(r);
    EXPECT_EQ(e.line, 3);
    EXPECT_THAT(e.to_string(), HasSubstr("not valid JSON"));
    auto top = json_document::parse("[1, 2]");
    ASSERT_TRUE(std::holds_alternative<edit_error>(top));
    EXPECT_THAT(std::get<edit_error>(top).message, HasSubstr("not a JSON object"));
    // Trailing commas are refused: the CLIs' parsers refuse them too.
    EXPECT_TRUE(std::holds_alternative<edit_error>(json_document::parse("{\"a\": 1,}")));
}

TEST(SetupJsonEdit, RemovesMembersWherever) {
    const std::string three = "{\n  \"a\": 1,\n  \"b\": 2,\n  \"c\": 3\n}\n";
    const auto remove = [](std::string text, const clipal::app::setup::key_path& path) {
        auto d = parsed(std::move(text));
        if (auto e = d.remove(path)) ADD_FAILURE() << e->to_string();
        return d.text();
    };
    EXPECT_EQ(remove(three, {"a"}), "{\n  \"b\": 2,\n  \"c\": 3\n}\n");
    EXPECT_EQ(remove(three, {"b"}), "{\n  \"a\": 1,\n  \"c\": 3\n}\n");
    EXPECT_EQ(remove(three, {"c"}), "{\n  \"a\": 1,\n  \"b\": 2\n}\n");
    EXPECT_EQ(remove("{\"env\": {\"A\": \"1\"}}", {"env", "A"}), "{\"env\": {}}");
    EXPECT_EQ(remove("{\"a\": 1}", {"missing", "x"}), "{\"a\": 1}");
    auto d = parsed("{\"env\": {}}");
    EXPECT_TRUE(d.empty_object({"env"}));
    EXPECT_FALSE(d.empty_object({"nope"}));
}

TEST(SetupJsonEdit, SetThenRemoveGivesTheOriginalBack) {
    const std::string before = "{\n  \"permissions\": {\n    \"allow\": []\n  }\n}\n";
    auto d = parsed(before);
    ASSERT_FALSE(d.set({"env", "ANTHROPIC_BASE_URL"}, "u"));
    ASSERT_FALSE(d.set({"env", "ANTHROPIC_AUTH_TOKEN"}, "t"));
    ASSERT_FALSE(d.remove({"env", "ANTHROPIC_AUTH_TOKEN"}));
    ASSERT_FALSE(d.remove({"env", "ANTHROPIC_BASE_URL"}));
    ASSERT_FALSE(d.remove({"env"}));
    EXPECT_EQ(d.text(), before);
}

TEST(SetupJsonEdit, GetTellsStringsFromOtherValues) {
    auto d = parsed("{\"a\": {\"b\": \"x\", \"n\": 3}}");
    EXPECT_EQ(d.get({"a", "b"}).kind, json_lookup::string);
    EXPECT_EQ(d.get({"a", "n"}).kind, json_lookup::other);
    EXPECT_EQ(d.get({"a", "z"}).kind, json_lookup::absent);
    EXPECT_EQ(d.get({"a", "b", "c"}).kind, json_lookup::absent);
}

} // namespace
