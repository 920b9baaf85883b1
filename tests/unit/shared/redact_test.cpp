#include "shared/redact.hpp"

#include <gtest/gtest.h>

TEST(Redact, FingerprintShowsOnlyEnds) {
    EXPECT_EQ(clipal::key_fingerprint("sk-ant-fake-0123-abcd"), "sk-…abcd");
    EXPECT_EQ(clipal::key_fingerprint("short-key-1234"), "…1234");
    EXPECT_EQ(clipal::key_fingerprint("tiny"), "…");
}

TEST(Redact, EveryOccurrenceOfEveryKeyIsReplaced) {
    clipal::redactor r({"sk-secret-0123456789", "AIzaSecretGeminiKey000"});
    const auto out = r.redact("a sk-secret-0123456789 b sk-secret-0123456789 c AIzaSecretGeminiKey000");
    EXPECT_EQ(out.find("sk-secret-0123456789"), std::string::npos);
    EXPECT_EQ(out.find("AIzaSecretGeminiKey000"), std::string::npos);
    EXPECT_EQ(out, "a sk-…6789 b sk-…6789 c AIz…y000");
}

TEST(Redact, LongerKeyContainingShorterIsReplacedWhole) {
    clipal::redactor r({"abcd1234", "abcd1234-extended-key"});
    EXPECT_EQ(r.redact("x abcd1234-extended-key y"), "x abc…-key y");
}

TEST(Redact, TextWithoutKeysIsUnchanged) {
    clipal::redactor r({"sk-secret-0123456789"});
    EXPECT_EQ(r.redact("nothing to see"), "nothing to see");
}

TEST(Redact, TargetKeyParameterIsFingerprinted) {
    EXPECT_EQ(clipal::redact_target("/gemini/v1beta/models/m:streamGenerateContent?alt=sse&key=AIzaClientKey0000wxyz"),
              "/gemini/v1beta/models/m:streamGenerateContent?alt=sse&key=AIz…wxyz");
    EXPECT_EQ(clipal::redact_target("/gemini/x?key=AIzaClientKey0000wxyz&alt=sse&KEY=short&k%65y=AIzaOther00001234"),
              "/gemini/x?key=AIz…wxyz&alt=sse&KEY=…&k%65y=AIz…1234");
}

TEST(Redact, TargetWithoutKeyIsUnchanged) {
    for (const char* t : {"/gemini/x", "/gemini/x?", "/gemini/x?alt=sse&monkey=1&keys=2&key", "/x?a=1&&b=2"})
        EXPECT_EQ(clipal::redact_target(t), t);
}
