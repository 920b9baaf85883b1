#include "app/usage_command.hpp"
#include "supervisor/usage_store.hpp"
#include "support/temp_dir.hpp"

#include <boost/json.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>
#include <regex>
#include <set>
#include <sstream>

using clipal::usage_record;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

namespace {

constexpr std::int64_t hour_ms = 3'600'000;
constexpr std::int64_t now_ms = 1'749'988'800'000; // 2025-06-15 12:00:00 UTC

// Days and the heading's time are local: the tests pin the zone.
void utc() {
    ::setenv("TZ", "UTC", 1);
    ::tzset();
}

usage_record row(std::int64_t age_ms, std::string profile, std::string provider, std::string model, int status,
                 std::optional<std::uint64_t> in = {}, std::optional<std::uint64_t> out = {},
                 std::optional<std::uint64_t> cache_read = {}, std::optional<std::uint64_t> cache_write = {}) {
    usage_record r;
    r.time_ms = now_ms - age_ms;
    r.profile = std::move(profile);
    r.provider = std::move(provider);
    r.key_fingerprint = "sk-…abcd";
    r.model = std::move(model);
    r.status = status;
    r.attempts = 1;
    r.duration_ms = 100;
    r.input_tokens = in;
    r.output_tokens = out;
    r.cache_read_tokens = cache_read;
    r.cache_write_tokens = cache_write;
    return r;
}

// A config dir whose usage.db holds a small day of traffic, filled through usage_store.
class UsageCommand : public ::testing::Test {
protected:
    void SetUp() override {
        utc();
        auto opened = clipal::supervisor::usage_store::open(clipal::supervisor::usage_db_path(dir.path()));
        ASSERT_TRUE(opened.store) << opened.error;
        auto& s = *opened.store;
        s.add(row(1 * hour_ms, "claude-code", "primary", "model-a", 200, 1000, 200, 5000, 100));
        s.add(row(2 * hour_ms, "claude-code", "primary", "model-a", 200, 2000, 300, 0, 0));
        s.add(row(3 * hour_ms, "codex", "primary", "model-b", 503)); // failed, no tokens
        s.add(row(13 * hour_ms, "codex", "backup", "model-b", 200, 1'000'000, 500'000));
        s.add(row(4 * hour_ms, "gemini", "backup", "", 0)); // aborted, model unknown
        s.add(row(48 * hour_ms, "claude-code", "primary", "model-a", 200, 7, 7, 7, 7));
        s.add(row(8 * 24 * hour_ms, "codex", "backup", "model-b", 429, 1, 1));
        ASSERT_TRUE(s.flush().ok());
    }

    struct result {
        int code;
        std::string out, err;
    };
    result run(std::string since = "24h", std::string by = "provider", bool json = false) {
        clipal::app::usage_options o;
        o.config_dir = dir.path();
        o.since = std::move(since);
        o.by = std::move(by);
        o.json = json;
        o.now_ms = now_ms;
        std::ostringstream out, err;
        const int code = clipal::app::run_usage(o, out, err);
        return {code, out.str(), err.str()};
    }
    boost::json::object run_json(std::string since = "24h", std::string by = "provider") {
        const auto r = run(std::move(since), std::move(by), true);
        EXPECT_EQ(r.code, 0) << r.err;
        boost::system::error_code ec;
        auto v = boost::json::parse(r.out, ec);
        EXPECT_FALSE(ec) << r.out;
        return v.is_object() ? v.as_object() : boost::json::object{};
    }
    // The table's rows (after the heading and blank line), each split into its cells.
    static std::vector<std::vector<std::string>> cells(const std::string& out) {
        std::vector<std::vector<std::string>> rows;
        std::istringstream lines(out);
        std::string line;
        std::getline(lines, line);            // heading
        std::getline(lines, line);            // blank
        static const std::regex gap(" {2,}"); // cells are at least two spaces apart
        while (std::getline(lines, line) && !line.empty())
            rows.emplace_back(std::sregex_token_iterator(line.begin(), line.end(), gap, -1),
                              std::sregex_token_iterator());
        return rows;
    }
    void prices(std::string_view yaml) { dir.write("config.yaml", yaml); }

    clipal::test::temp_dir dir;
};

using row_cells = std::vector<std::string>;

} // namespace

TEST_F(UsageCommand, ByProviderBusiestFirstWithATotalAndNoCostWithoutPrices) {
    const auto r = run();
    EXPECT_EQ(r.code, 0);
    EXPECT_EQ(r.err, "");
    EXPECT_THAT(r.out, ::testing::StartsWith("usage since 2025-06-14 12:00 (last 24h) by provider, from " +
                                             (dir.path() / "usage.db").string() + "\n\n"));
    EXPECT_THAT(cells(r.out), ElementsAre(row_cells{"PROVIDER", "REQUESTS", "FAILURES", "INPUT", "OUTPUT", "CACHE READ",
                                                    "CACHE WRITE"},
                                          row_cells{"primary", "3", "1", "3,000", "500", "5,000", "100"},
                                          row_cells{"backup", "2", "1", "1,000,000", "500,000", "0", "0"},
                                          row_cells{"TOTAL", "5", "2", "1,003,000", "500,500", "5,000", "100"}));
    EXPECT_THAT(r.out, Not(HasSubstr("COST")));
    // Numbers are right-aligned: every line ends in the same column.
    std::istringstream lines(r.out.substr(r.out.find("\n\n") + 2));
    std::string line;
    std::set<std::size_t> ends;
    while (std::getline(lines, line)) ends.insert(line.size());
    EXPECT_EQ(ends.size(), 1u) << r.out;
}

TEST_F(UsageCommand, ByModelProfileAndDay) {
    EXPECT_THAT(cells(run("24h", "model").out),
                ElementsAre(row_cells{"MODEL", "REQUESTS", "FAILURES", "INPUT", "OUTPUT", "CACHE READ", "CACHE WRITE"},
                            row_cells{"model-a", "2", "0", "3,000", "500", "5,000", "100"},
                            row_cells{"model-b", "2", "1", "1,000,000", "500,000", "0", "0"},
                            row_cells{"(unknown)", "1", "1", "0", "0", "0", "0"},
                            row_cells{"TOTAL", "5", "2", "1,003,000", "500,500", "5,000", "100"}));
    EXPECT_THAT(cells(run("24h", "profile").out),
                ElementsAre(row_cells{"PROFILE", "REQUESTS", "FAILURES", "INPUT", "OUTPUT", "CACHE READ",
                                      "CACHE WRITE"},
                            row_cells{"claude-code", "2", "0", "3,000", "500", "5,000", "100"},
                            row_cells{"codex", "2", "1", "1,000,000", "500,000", "0", "0"},
                            row_cells{"gemini", "1", "1", "0", "0", "0", "0"},
                            row_cells{"TOTAL", "5", "2", "1,003,000", "500,500", "5,000", "100"}));
    // Days in calendar order (local dates; UTC here).
    EXPECT_THAT(cells(run("7d", "day").out),
                ElementsAre(row_cells{"DAY", "REQUESTS", "FAILURES", "INPUT", "OUTPUT", "CACHE READ", "CACHE WRITE"},
                            row_cells{"2025-06-13", "1", "0", "7", "7", "7", "7"},
                            row_cells{"2025-06-14", "1", "0", "1,000,000", "500,000", "0", "0"},
                            row_cells{"2025-06-15", "4", "2", "3,000", "500", "5,000", "100"},
                            row_cells{"TOTAL", "6", "2", "1,003,007", "500,507", "5,007", "107"}));
}

TEST_F(UsageCommand, SinceCountsOnlyTheWindow) {
    const auto total_requests = [&](const std::string& since) {
        const auto o = run_json(since);
        return o.contains("total") ? o.at("total").at("requests").as_int64() : -1;
    };
    EXPECT_EQ(total_requests("90m"), 1);
    EXPECT_EQ(total_requests("3h30m"), 3);
    EXPECT_EQ(total_requests("24h"), 5);
    EXPECT_EQ(total_requests("7d"), 6);
    EXPECT_EQ(total_requests("30d"), 7);
    EXPECT_THAT(run("1h30m").out, HasSubstr("usage since 2025-06-15 10:30 (last 1h30m)"));
    EXPECT_EQ(run("1ms").out, "usage since 2025-06-15 11:59 (last 1ms) by provider, from " +
                                  (dir.path() / "usage.db").string() + "\nno requests in this period\n");
}

TEST_F(UsageCommand, FailuresAreAbortsAndErrorStatuses) {
    auto opened = clipal::supervisor::usage_store::open(clipal::supervisor::usage_db_path(dir.path()));
    ASSERT_TRUE(opened.store) << opened.error;
    for (int status : {0, 101, 200, 204, 304, 399, 400, 401, 429, 500, 529})
        opened.store->add(row(60'000, "claude-code", "statuses", "m", status));
    ASSERT_TRUE(opened.store->flush().ok());
    const auto o = run_json();
    const auto& groups = o.at("groups").as_array();
    ASSERT_FALSE(groups.empty());
    EXPECT_EQ(groups[0].at("group"), "statuses");
    EXPECT_EQ(groups[0].at("requests"), 11);
    EXPECT_EQ(groups[0].at("failures"), 6);
}

TEST_F(UsageCommand, CostSumsEachModelsTokensTimesItsPrice) {
    prices("prices:\n  model-a: {input: 3, output: 15, cache_read: 0.3, cache_write: 3.75}\n"
           "  model-b: {input: 1, output: 2}\n");
    const auto r = run();
    EXPECT_EQ(r.code, 0);
    EXPECT_EQ(r.err, "");
    // primary: (3000×3 + 500×15 + 5000×0.3 + 100×3.75) / 1e6 = 0.018375 (its model-b row has no tokens)
    // backup: (1e6×1 + 5e5×2) / 1e6 = 2
    EXPECT_THAT(cells(r.out),
                ElementsAre(row_cells{"PROVIDER", "REQUESTS", "FAILURES", "INPUT", "OUTPUT", "CACHE READ",
                                      "CACHE WRITE", "COST"},
                            row_cells{"primary", "3", "1", "3,000", "500", "5,000", "100", "0.0184"},
                            row_cells{"backup", "2", "1", "1,000,000", "500,000", "0", "0", "2.0000"},
                            row_cells{"TOTAL", "5", "2", "1,003,000", "500,500", "5,000", "100", "2.0184"}));
    EXPECT_THAT(r.out, Not(HasSubstr("*")));
    const auto o = run_json();
    EXPECT_EQ(o.at("groups").at(0).at("cost").as_double(), 0.018375);
    EXPECT_EQ(o.at("groups").at(1).at("cost").to_number<double>(), 2.0);
    EXPECT_NEAR(o.at("total").at("cost").as_double(), 2.018375, 1e-12);
}

TEST_F(UsageCommand, CostIsADashWithoutAPriceAndMarkedWhenPartial) {
    prices("prices:\n  model-a: {input: 3, output: 15, cache_read: 0.3, cache_write: 3.75}\n");
    const auto r = run();
    EXPECT_THAT(cells(r.out),
                ElementsAre(row_cells{"PROVIDER", "REQUESTS", "FAILURES", "INPUT", "OUTPUT", "CACHE READ",
                                      "CACHE WRITE", "COST"},
                            row_cells{"primary", "3", "1", "3,000", "500", "5,000", "100", "0.0184"},
                            row_cells{"backup", "2", "1", "1,000,000", "500,000", "0", "0", "-"},
                            row_cells{"TOTAL", "5", "2", "1,003,000", "500,500", "5,000", "100", "0.0184*"}));
    EXPECT_THAT(r.out, HasSubstr("\n* without the tokens of models that have no price in config.yaml: model-b\n"));
    const auto o = run_json();
    EXPECT_TRUE(o.at("groups").at(1).at("cost").is_null());
    EXPECT_EQ(o.at("groups").at(1).at("unpriced_models"), boost::json::array{"model-b"});
    EXPECT_EQ(o.at("total").at("unpriced_models"), boost::json::array{"model-b"});
    EXPECT_EQ(o.at("total").at("cost").as_double(), 0.018375);

    // A price for other models only: every cost is unknown.
    prices("prices:\n  model-z: {input: 1}\n");
    EXPECT_THAT(cells(run().out).back(), ElementsAre("TOTAL", "5", "2", "1,003,000", "500,500", "5,000", "100", "-"));
    EXPECT_TRUE(run_json().at("total").at("cost").is_null());
}

TEST_F(UsageCommand, ABrokenConfigYamlMeansNoCostAndAWarning) {
    prices("prices:\n  model-a: {input: -3}\n");
    const auto r = run();
    EXPECT_EQ(r.code, 0);
    EXPECT_EQ(r.err, "clipal usage: costs are not shown: " + (dir.path() / "config.yaml").string() +
                         ":2: prices.model-a.input: must be a number of at least 0 (the price per million tokens), "
                         "got \"-3\"\n");
    EXPECT_THAT(r.out, Not(HasSubstr("COST")));
    EXPECT_THAT(r.out, HasSubstr("TOTAL"));
}

TEST_F(UsageCommand, JsonHasTheSameFiguresAsTheTable) {
    const auto o = run_json();
    EXPECT_EQ(o.at("database"), (dir.path() / "usage.db").c_str());
    EXPECT_EQ(o.at("since"), "24h");
    EXPECT_EQ(o.at("from"), "2025-06-14T12:00:00Z");
    EXPECT_EQ(o.at("to"), "2025-06-15T12:00:00Z");
    EXPECT_EQ(o.at("by"), "provider");
    const auto& groups = o.at("groups").as_array();
    ASSERT_EQ(groups.size(), 2u);
    EXPECT_EQ(groups[0], boost::json::parse(R"({"group":"primary","requests":3,"failures":1,"input_tokens":3000,
        "output_tokens":500,"cache_read_tokens":5000,"cache_write_tokens":100,"cost":null,"unpriced_models":["model-a"]})"))
        << "model-b's only row here has no tokens";
    EXPECT_EQ(groups[1].at("group"), "backup");
    EXPECT_EQ(o.at("total"), boost::json::parse(R"({"requests":5,"failures":2,"input_tokens":1003000,
        "output_tokens":500500,"cache_read_tokens":5000,"cache_write_tokens":100,"cost":null,"unpriced_models":["model-a","model-b"]})"));
    EXPECT_EQ(run_json("24h", "model").at("groups").at(2).at("group"), "") << "unknown model";
    EXPECT_EQ(run_json("7d", "day").at("groups").at(0).at("group"), "2025-06-13");
}

TEST_F(UsageCommand, NamesAreMadeSafeForTheTerminalAndForJson) {
    auto opened = clipal::supervisor::usage_store::open(clipal::supervisor::usage_db_path(dir.path()));
    ASSERT_TRUE(opened.store) << opened.error;
    opened.store->add(row(60'000, "claude-code", "p", "evil\x1b[2J\xff", 200, 1));
    ASSERT_TRUE(opened.store->flush().ok());
    const auto r = run("24h", "model");
    EXPECT_THAT(r.out, HasSubstr("evil?[2J\xff"));
    EXPECT_THAT(r.out, Not(HasSubstr("\x1b")));
    const auto o = run_json("24h", "model");
    bool found = false;
    for (const auto& g : o.at("groups").as_array()) found = found || g.at("group") == "evil\x1b[2J?";
    EXPECT_TRUE(found);
}

TEST(UsageCommandAlone, AMissingDatabaseIsNoUsageYet) {
    clipal::test::temp_dir dir;
    clipal::app::usage_options o;
    o.config_dir = dir.path();
    std::ostringstream out, err;
    EXPECT_EQ(clipal::app::run_usage(o, out, err), 0);
    EXPECT_EQ(out.str(), "no usage recorded yet in " + (dir.path() / "usage.db").string() + "\n");
    EXPECT_EQ(err.str(), "");

    // JSON stays JSON: an empty report on stdout, the words on stderr.
    o.json = true;
    o.config_dir = dir.path() / "not-created-yet";
    std::ostringstream jout, jerr;
    EXPECT_EQ(clipal::app::run_usage(o, jout, jerr), 0);
    const auto v = boost::json::parse(jout.str());
    EXPECT_EQ(v.at("groups"), boost::json::array{});
    EXPECT_EQ(v.at("total").at("requests"), 0);
    EXPECT_EQ(jerr.str(), "clipal usage: no usage recorded yet in " +
                              (dir.path() / "not-created-yet" / "usage.db").string() + "\n");
}

TEST(UsageCommandAlone, AnUnreadableDatabaseIsAnErrorSayingWhatToDo) {
    clipal::test::temp_dir dir;
    dir.write("usage.db", std::string(4096, 'x'));
    clipal::app::usage_options o;
    o.config_dir = dir.path();
    std::ostringstream out, err;
    EXPECT_EQ(clipal::app::run_usage(o, out, err), clipal::app::exit_usage_unreadable);
    EXPECT_EQ(out.str(), "");
    EXPECT_THAT(err.str(), HasSubstr("clipal usage: cannot read the usage database " +
                                     (dir.path() / "usage.db").string() + ": file is not a database"));
    EXPECT_THAT(err.str(), HasSubstr("move it aside"));
}

TEST(UsageCommandAlone, BadFlagsAreUsageErrors) {
    clipal::test::temp_dir dir;
    const auto run = [&](std::string since, std::string by) {
        clipal::app::usage_options o;
        o.config_dir = dir.path();
        o.since = std::move(since);
        o.by = std::move(by);
        std::ostringstream out, err;
        EXPECT_EQ(clipal::app::run_usage(o, out, err), 64);
        EXPECT_EQ(out.str(), "");
        return err.str();
    };
    EXPECT_EQ(run("yesterday", "provider"),
              "clipal usage: --since must be a time span such as 24h, 7d, 30d or 90m, got \"yesterday\" (try clipal "
              "--help)\n");
    EXPECT_THAT(run("0", "provider"), HasSubstr("(more than 0), got \"0\""));
    EXPECT_THAT(run("0d", "provider"), HasSubstr("(days as a whole number from 1), got \"0d\""));
    EXPECT_THAT(run("1.5d", "provider"), HasSubstr("got \"1.5d\""));
    EXPECT_THAT(run("-1h", "provider"), HasSubstr("got \"-1h\""));
    EXPECT_EQ(run("24h", "colour"),
              "clipal usage: --by must be provider, model, profile or day, got \"colour\" (try clipal --help)\n");
}

TEST(UsageCommandAlone, SinceAcceptsDaysAndGoDurations) {
    std::string error;
    EXPECT_EQ(clipal::app::parse_since("24h", error), std::chrono::hours(24));
    EXPECT_EQ(clipal::app::parse_since("7d", error), std::chrono::hours(24 * 7));
    EXPECT_EQ(clipal::app::parse_since("30d", error), std::chrono::hours(24 * 30));
    EXPECT_EQ(clipal::app::parse_since("1h30m", error), std::chrono::minutes(90));
    EXPECT_EQ(clipal::app::parse_since("250ms", error), std::chrono::milliseconds(250));
    EXPECT_EQ(error, "");
    EXPECT_FALSE(clipal::app::parse_since("d", error));
    EXPECT_FALSE(clipal::app::parse_since("", error));
}
