#include "app/setup_dotenv_edit.hpp"
#include "app/setup_text.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

using clipal::app::setup::dotenv_document;
using clipal::app::setup::edit_error;
using clipal::app::setup::mask_secrets;
using clipal::app::setup::unified_diff;
using ::testing::HasSubstr;

namespace {

dotenv_document parsed(std::string text) {
    auto r = dotenv_document::parse(std::move(text));
    if (auto* e = std::get_if<edit_error>(&r)) ADD_FAILURE() << "parse failed: " << e->to_string();
    return std::get<dotenv_document>(std::move(r));
}

TEST(SetupDotenv, ReadsWhatDotenvReads) {
    auto d = parsed("# comment\n"
                    "export A=1\n"
                    "B = \"two words\" # note\n"
                    "C='single # not a comment'\n"
                    "D=bare value # comment\n"
                    "E: colon\n"
                    "M=\"line1\\nline2\"\n"
                    "N=\"spans\n"
                    "lines\"\n"
                    "A=last wins\n"
                    "EMPTY=\n");
    EXPECT_EQ(d.get("A"), "last wins");
    EXPECT_EQ(d.get("B"), "two words");
    EXPECT_EQ(d.get("C"), "single # not a comment");
    EXPECT_EQ(d.get("D"), "bare value");
    EXPECT_EQ(d.get("E"), "colon");
    EXPECT_EQ(d.get("M"), "line1\nline2");
    EXPECT_EQ(d.get("N"), "spans\nlines");
    EXPECT_EQ(d.get("EMPTY"), "");
    EXPECT_EQ(d.get("Z"), std::nullopt);
}

TEST(SetupDotenv, SetReplacesOnlyTheValueOrAppends) {
    auto d = parsed("# mine\nexport GOOGLE_GEMINI_BASE_URL=\"https://old\"  # proxy\nOTHER=x");
    ASSERT_FALSE(d.set("GOOGLE_GEMINI_BASE_URL", "http://127.0.0.1:3333/gemini"));
    ASSERT_FALSE(d.set("GEMINI_API_KEY", "clipal-placeholder"));
    EXPECT_EQ(d.text(), "# mine\nexport GOOGLE_GEMINI_BASE_URL=http://127.0.0.1:3333/gemini  # proxy\nOTHER=x\n"
                        "GEMINI_API_KEY=clipal-placeholder\n");
    ASSERT_FALSE(d.set("SPACED", "a b#c"));
    EXPECT_EQ(d.get("SPACED"), "a b#c");
    ASSERT_FALSE(d.remove("SPACED"));
    ASSERT_FALSE(d.remove("GEMINI_API_KEY"));
    EXPECT_EQ(d.text(), "# mine\nexport GOOGLE_GEMINI_BASE_URL=http://127.0.0.1:3333/gemini  # proxy\nOTHER=x\n");
    auto crlf = parsed("A=1\r\n");
    ASSERT_FALSE(crlf.set("B", "2"));
    EXPECT_EQ(crlf.text(), "A=1\r\nB=2\r\n");
    EXPECT_EQ(crlf.get("A"), "1");
}

TEST(SetupDotenv, RefusesLinesItCannotRead) {
    for (const auto* bad : {"just words\n", "A=1\nB \"x\"\n", "Q=\"unterminated\n", "R='x' trailing\n"}) {
        auto r = dotenv_document::parse(bad);
        EXPECT_TRUE(std::holds_alternative<edit_error>(r)) << bad;
    }
    auto r = dotenv_document::parse("A=1\n\nB \"x\"\n");
    ASSERT_TRUE(std::holds_alternative<edit_error>(r));
    EXPECT_EQ(std::get<edit_error>(r).line, 3);
    EXPECT_THAT(std::get<edit_error>(r).to_string(), HasSubstr("expected '=' after B"));
}

TEST(SetupText, UnifiedDiffHasHunksWithContext) {
    std::string a;
    std::string b;
    for (int i = 1; i <= 20; ++i) {
        a += "line " + std::to_string(i) + "\n";
        b += (i == 5    ? std::string("changed 5")
              : i == 18 ? std::string("changed 18")
                        : "line " + std::to_string(i)) +
             "\n";
    }
    b += "added\n";
    EXPECT_EQ(unified_diff(a, b, "old", "new"), "--- old\n+++ new\n"
                                                "@@ -2,7 +2,7 @@\n line 2\n line 3\n line 4\n-line 5\n+changed 5\n"
                                                " line 6\n line 7\n line 8\n"
                                                "@@ -15,6 +15,7 @@\n line 15\n line 16\n line 17\n-line 18\n"
                                                "+changed 18\n line 19\n line 20\n+added\n");
    EXPECT_EQ(unified_diff(a, a, "x", "y"), "");
    EXPECT_EQ(unified_diff("", "x\n", "/dev/null", "f"), "--- /dev/null\n+++ f\n@@ -0,0 +1 @@\n+x\n");
    EXPECT_EQ(unified_diff("x", "", "f", "/dev/null"), "--- f\n+++ /dev/null\n@@ -1 +0,0 @@\n-x\n"
                                                       "\\ No newline at end of file\n");
}

TEST(SetupText, CredentialsAreMaskedInPrintedLines) {
    EXPECT_EQ(mask_secrets(R"(    "ANTHROPIC_AUTH_TOKEN": "sk-secret",)"), R"(    "ANTHROPIC_AUTH_TOKEN": "****",)");
    EXPECT_EQ(mask_secrets("GEMINI_API_KEY=AIzaSecret # note"), "GEMINI_API_KEY=**** # note");
    EXPECT_EQ(mask_secrets("experimental_bearer_token = \"tok\""), "experimental_bearer_token = \"****\"");
    EXPECT_EQ(mask_secrets("GEMINI_API_KEY=clipal-placeholder", {"clipal-placeholder"}),
              "GEMINI_API_KEY=clipal-placeholder");
    EXPECT_EQ(mask_secrets("env_key = \"CLIPAL_KEY\""), "env_key = \"CLIPAL_KEY\"");
    EXPECT_EQ(mask_secrets(R"("ANTHROPIC_BASE_URL": "http://127.0.0.1:3333/claudecode")"),
              R"("ANTHROPIC_BASE_URL": "http://127.0.0.1:3333/claudecode")");
    EXPECT_EQ(mask_secrets("max_tokens = 5"), "max_tokens = 5");
}

} // namespace
