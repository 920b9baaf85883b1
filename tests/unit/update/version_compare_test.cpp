// Version precedence for `clipal update`: numeric fields, pre-releases, malformed tags.
#include "app/version_compare.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using clipal::app::parse_semver;

namespace {

// -1, 0 or 1 for a <=> b; 99 when either does not parse.
int order(const char* a, const char* b) {
    const auto x = parse_semver(a);
    const auto y = parse_semver(b);
    if (!x || !y) return 99;
    const auto c = *x <=> *y;
    return c < 0 ? -1 : c > 0 ? 1 : 0;
}

} // namespace

TEST(VersionCompare, OrdersByPrecedenceTable) {
    struct row {
        const char* a;
        const char* b;
        int expected;
    };
    const std::vector<row> table{
        {"v1.2.10", "v1.2.9", 1}, // numeric, not lexical
        {"1.10.0", "1.9.9", 1},
        {"2.0.0", "1.99.99", 1},
        {"v1.2.3", "1.2.3", 0},      // the 'v' is decoration
        {"1.3.0-rc.1", "1.3.0", -1}, // a pre-release precedes its release
        {"1.3.0-rc.1", "1.2.9", 1},  // but follows the previous release
        {"1.0.0-alpha", "1.0.0-alpha.1", -1},
        {"1.0.0-alpha.1", "1.0.0-alpha.beta", -1}, // numeric identifiers sort below alphanumeric
        {"1.0.0-alpha.beta", "1.0.0-beta", -1},
        {"1.0.0-beta", "1.0.0-beta.2", -1},
        {"1.0.0-beta.2", "1.0.0-beta.11", -1}, // numerically
        {"1.0.0-beta.11", "1.0.0-rc.1", -1},
        {"1.0.0-rc.1", "1.0.0", -1},
        {"1.0.0+build.5", "1.0.0+build.7", 0}, // build metadata is ignored
        {"1.0.0-rc.1+x", "1.0.0-rc.1", 0},
        {"18446744073709551615.0.0", "18446744073709551614.9.9", 1},
    };
    for (const auto& r : table) {
        EXPECT_EQ(order(r.a, r.b), r.expected) << r.a << " vs " << r.b;
        EXPECT_EQ(order(r.b, r.a), r.expected == 99 ? 99 : -r.expected) << r.b << " vs " << r.a;
    }
}

TEST(VersionCompare, RejectsMalformedVersions) {
    for (const char* bad :
         {"", "v", "1", "1.2", "1.2.3.4", "01.2.3", "1.02.3", "1.2.3-", "1.2.3-rc..1", "1.2.3-rc.01", "1.2.3+",
          "1.2.3-rc_1", "latest", "1.2.x", " 1.2.3", "1.2.3 ", "18446744073709551616.0.0", "-1.2.3"}) {
        EXPECT_FALSE(parse_semver(bad).has_value()) << '"' << bad << '"';
    }
}

TEST(VersionCompare, ParsesFieldsAndPrintsWithoutV) {
    const auto v = parse_semver("v1.20.3-rc.1+linux.amd64");
    ASSERT_TRUE(v);
    EXPECT_EQ(v->major, 1u);
    EXPECT_EQ(v->minor, 20u);
    EXPECT_EQ(v->patch, 3u);
    EXPECT_EQ(v->prerelease, (std::vector<std::string>{"rc", "1"}));
    EXPECT_EQ(v->build, "linux.amd64");
    EXPECT_TRUE(v->is_prerelease());
    EXPECT_EQ(v->to_string(), "1.20.3-rc.1+linux.amd64");
    EXPECT_FALSE(parse_semver("1.2.3")->is_prerelease());
}
