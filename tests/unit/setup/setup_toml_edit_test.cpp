#include "app/setup_toml_edit.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

using clipal::app::setup::edit_error;
using clipal::app::setup::key_path;
using clipal::app::setup::toml_document;
using clipal::app::setup::toml_lookup;
using ::testing::HasSubstr;

namespace {

toml_document parsed(std::string text) {
    auto r = toml_document::parse(std::move(text));
    if (auto* e = std::get_if<edit_error>(&r)) ADD_FAILURE() << "parse failed: " << e->to_string();
    return std::get<toml_document>(std::move(r));
}

// What `clipal setup codex` sets, in its order.
void point_at_clipal(toml_document& d) {
    for (const auto& [path, value] :
         std::vector<std::pair<key_path, std::string>>{{{"model_provider"}, "clipal"},
                                                       {{"model_providers", "clipal", "name"}, "clipal"},
                                                       {{"model_providers", "clipal", "base_url"},
                                                        "http://127.0.0.1:3333/codex"},
                                                       {{"model_providers", "clipal", "wire_api"}, "responses"}})
        if (auto e = d.set(path, value)) ADD_FAILURE() << e->to_string();
}

TEST(SetupTomlEdit, MergesIntoAFileWithCommentsKeepingEveryByteAroundTheEdits) {
    const std::string before = "# Codex settings\n"
                               "\n"
                               "model = \"gpt-5\"  # my favourite\n"
                               "approval_policy = \"on-request\"\n"
                               "\n"
                               "# providers I use\n"
                               "[model_providers.ollama]\n"
                               "name = \"Ollama\"   # local\n"
                               "base_url = \"http://localhost:11434/v1\"\n"
                               "\n"
                               "[profiles.fast]\n"
                               "model = \"o4-mini\"\n";
    auto d = parsed(before);
    point_at_clipal(d);
    EXPECT_EQ(d.text(), "# Codex settings\n"
                        "\n"
                        "model = \"gpt-5\"  # my favourite\n"
                        "approval_policy = \"on-request\"\n"
                        "model_provider = \"clipal\"\n"
                        "\n"
                        "# providers I use\n"
                        "[model_providers.ollama]\n"
                        "name = \"Ollama\"   # local\n"
                        "base_url = \"http://localhost:11434/v1\"\n"
                        "\n"
                        "[profiles.fast]\n"
                        "model = \"o4-mini\"\n"
                        "\n"
                        "[model_providers.clipal]\n"
                        "name = \"clipal\"\n"
                        "base_url = \"http://127.0.0.1:3333/codex\"\n"
                        "wire_api = \"responses\"\n");
}

TEST(SetupTomlEdit, ReplacesValuesInPlaceAndAddsMissingKeysToAnExistingTable) {
    const std::string before = "model_provider = 'openai' # was\n"
                               "[model_providers.clipal]\n"
                               "base_url = \"\"\"\n"
                               "http://old\"\"\"  # multi-line\n"
                               "env_key = \"X\"\n"
                               "[other]\n"
                               "a = 1\n";
    auto d = parsed(before);
    point_at_clipal(d);
    EXPECT_EQ(d.text(), "model_provider = \"clipal\" # was\n"
                        "[model_providers.clipal]\n"
                        "base_url = \"http://127.0.0.1:3333/codex\"  # multi-line\n"
                        "env_key = \"X\"\n"
                        "name = \"clipal\"\n"
                        "wire_api = \"responses\"\n"
                        "[other]\n"
                        "a = 1\n");
}

TEST(SetupTomlEdit, RootKeyGoesOnTopWhenTheFileHasNoneAndBelowAFileComment) {
    auto d = parsed("[features]\nplugins = false\n");
    ASSERT_FALSE(d.set({"model_provider"}, "clipal"));
    EXPECT_EQ(d.text(), "model_provider = \"clipal\"\n\n[features]\nplugins = false\n");
    auto c = parsed("# my config\n\n[features]\nplugins = false");
    ASSERT_FALSE(c.set({"model_provider"}, "clipal"));
    ASSERT_FALSE(c.set({"features", "x"}, "y"));
    EXPECT_EQ(c.text(), "# my config\n\nmodel_provider = \"clipal\"\n\n[features]\nplugins = false\nx = \"y\"\n");
}

TEST(SetupTomlEdit, EmptyAndCrLfFiles) {
    auto d = parsed("");
    point_at_clipal(d);
    EXPECT_EQ(d.text(), "model_provider = \"clipal\"\n\n[model_providers.clipal]\nname = \"clipal\"\n"
                        "base_url = \"http://127.0.0.1:3333/codex\"\nwire_api = \"responses\"\n");
    auto w = parsed("a = 1\r\n[t]\r\nb = 2\r\n");
    ASSERT_FALSE(w.set({"t", "c"}, "3"));
    ASSERT_FALSE(w.set({"z"}, "4"));
    EXPECT_EQ(w.text(), "a = 1\r\nz = \"4\"\r\n[t]\r\nb = 2\r\nc = \"3\"\r\n");
}

TEST(SetupTomlEdit, ColumnsAreCodePointsNotBytes) {
    auto u = parsed("\"n\xc3\xa4m\xc3\xa9\" = \"gr\xc3\xbc\xc3\x9f\" # \xc3\xa9\n");
    ASSERT_FALSE(u.set({"n\xc3\xa4m\xc3\xa9"}, "new"));
    EXPECT_EQ(u.text(), "\"n\xc3\xa4m\xc3\xa9\" = \"new\" # \xc3\xa9\n");
}

TEST(SetupTomlEdit, AByteOrderMarkAndIndentedKeys) {
    auto d = parsed("\xEF\xBB\xBFmodel_provider = \"openai\"\n[ model_providers . \"clipal\" ] # mine\n  name = 'c'\n");
    point_at_clipal(d);
    EXPECT_EQ(d.text(),
              "\xEF\xBB\xBFmodel_provider = \"clipal\"\n[ model_providers . \"clipal\" ] # mine\n  name = \"clipal\"\n"
              "  base_url = \"http://127.0.0.1:3333/codex\"\n  wire_api = \"responses\"\n");
}

TEST(SetupTomlEdit, MultiLineStringsThatLookLikeHeadersAreNotHeaders) {
    auto d = parsed("x = \"\"\"\n[not a header]\n\"\"\"\n[t]\n");
    ASSERT_FALSE(d.set({"y"}, "1"));
    ASSERT_FALSE(d.set({"t", "a"}, "2"));
    EXPECT_EQ(d.text(), "x = \"\"\"\n[not a header]\n\"\"\"\ny = \"1\"\n[t]\na = \"2\"\n");
}

TEST(SetupTomlEdit, SectionEndsBeforeTheNextHeaderEvenWithArraysOfTables) {
    auto d =
        parsed("[model_providers.clipal]\nname = \"c\"\narr = [\n  1,\n  2,\n]\n\n[[mcp]]\nx = 1\n[[mcp]]\nx = 2\n");
    ASSERT_FALSE(d.set({"model_providers", "clipal", "base_url"}, "u"));
    EXPECT_EQ(d.text(),
              "[model_providers.clipal]\nname = \"c\"\narr = [\n  1,\n  2,\n]\nbase_url = \"u\"\n\n[[mcp]]\nx = 1\n"
              "[[mcp]]\nx = 2\n");
}

TEST(SetupTomlEdit, RefusesInlineTablesDottedKeysAndNonStrings) {
    const std::string inline_table = "model_providers = { clipal = { name = \"c\" } }\n";
    auto a = parsed(inline_table);
    auto e = a.set({"model_providers", "clipal", "base_url"}, "u");
    ASSERT_TRUE(e);
    EXPECT_THAT(e->to_string(), HasSubstr("inline table"));
    EXPECT_EQ(a.text(), inline_table);

    auto b = parsed("[model_providers]\nclipal.name = \"c\"\n");
    e = b.set({"model_providers", "clipal", "base_url"}, "u");
    ASSERT_TRUE(e);
    EXPECT_THAT(e->to_string(), HasSubstr("not defined by a [model_providers.clipal] header"));

    auto c = parsed("model_providers = 3\n[t]\nv = [1]\n");
    EXPECT_THAT(c.set({"model_providers", "clipal", "x"}, "u")->to_string(), HasSubstr("is not a table"));
    EXPECT_THAT(c.set({"t", "v"}, "u")->to_string(), HasSubstr("t.v is a array"));
}

TEST(SetupTomlEdit, ParseErrorsSayWhere) {
    auto r = toml_document::parse("a = 1\nb = = 2\n");
    ASSERT_TRUE(std::holds_alternative<edit_error>(r));
    EXPECT_EQ(std::get<edit_error>(r).line, 2);
    EXPECT_EQ(std::get<edit_error>(r).column, 5);
}

TEST(SetupTomlEdit, RemovingWhatWasAddedGivesTheOriginalBack) {
    for (const std::string& before : {std::string("# c\nmodel = \"x\"\n\n[features]\nplugins = false\n"),
                                      std::string(""), std::string("[features]\nplugins = false")}) {
        auto d = parsed(before);
        point_at_clipal(d);
        for (const auto& k : {"wire_api", "base_url", "name"}) ASSERT_FALSE(d.remove({"model_providers", "clipal", k}));
        EXPECT_TRUE(d.empty_table({"model_providers", "clipal"}));
        ASSERT_FALSE(d.remove_empty_table({"model_providers", "clipal"}));
        ASSERT_FALSE(d.remove({"model_provider"}));
        const auto expected = before.ends_with("false") ? before : before; // unchanged
        if (before == "[features]\nplugins = false") {
            // Its last line had no newline; the appended section added one.
            EXPECT_EQ(d.text(), "\n[features]\nplugins = false\n");
        } else {
            EXPECT_EQ(d.text(), expected);
        }
    }
}

TEST(SetupTomlEdit, GetTellsStringsFromOtherValues) {
    auto d = parsed("a = \"x\"\nn = 1\n[t]\ns = 'y'\n");
    EXPECT_EQ(d.get({"a"}).kind, toml_lookup::string);
    EXPECT_EQ(d.get({"t", "s"}).value, "y");
    EXPECT_EQ(d.get({"n"}).kind, toml_lookup::other);
    EXPECT_EQ(d.get({"t"}).kind, toml_lookup::other);
    EXPECT_EQ(d.get({"missing", "x"}).kind, toml_lookup::absent);
}

} // namespace

// A value with every control character, DEL, quotes and backslashes: written as a TOML basic
// string, read back by toml++ unchanged, and the file still parses.
TEST(SetupTomlEdit, AValueWithControlCharactersQuotesAndBackslashesReadsBackUnchanged) {
    auto parsed = toml_document::parse("model = \"x\"\n");
    ASSERT_TRUE(std::holds_alternative<toml_document>(parsed));
    auto& d = std::get<toml_document>(parsed);
    std::string hostile;
    for (int c = 1; c < 0x20; ++c) hostile += static_cast<char>(c);
    hostile += "\x7f\"'\\ ]\n[evil]\nkey = 1";
    ASSERT_FALSE(d.set({"model_providers", "clipal", "name"}, hostile));
    auto again = toml_document::parse(d.text());
    ASSERT_TRUE(std::holds_alternative<toml_document>(again)) << d.text();
    const auto got = std::get<toml_document>(again).get({"model_providers", "clipal", "name"});
    EXPECT_EQ(got.kind, clipal::app::setup::toml_lookup::string);
    EXPECT_EQ(got.value, hostile);
    EXPECT_EQ(std::get<toml_document>(again).get({"evil", "key"}).kind, clipal::app::setup::toml_lookup::absent);
}
