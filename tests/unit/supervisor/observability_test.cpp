// What the supervisor does with a worker report that is not one (a worker of another build,
// a bug, a hostile process on the channel): one warning, its counts left out, nothing else
// lost — a good report before and after still counts.
#include "supervisor/observability.hpp"

#include "shared/metrics_report.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include <string>
#include <vector>

namespace {

using namespace clipal;

struct capture_backend final : log_backend {
    std::vector<log_record> records;
    void write(const log_record& r) override { records.push_back(r); }
};

// One request of provider "a", counted and with its usage row, as a worker reports it.
struct report {
    std::string json;
    std::string rows;
};

report one_request_report(const clipal::clock& clk) {
    worker_metrics m({"a"});
    m.on_request_done(0, 200, std::nullopt, std::chrono::milliseconds(5), {});
    usage_record row;
    row.time_ms = std::chrono::duration_cast<std::chrono::milliseconds>(clk.now().time_since_epoch()).count();
    row.provider = "a";
    row.status = 200;
    m.add_usage(row);
    return {to_json(m.take_report()), m.take_usage_rows()};
}

TEST(Observability, AReportThatIsNotOneIsOneWarningAndLosesNothingElse) {
    boost::asio::io_context ioc;
    manual_clock clock;
    capture_backend lines;
    logger log(clock, lines, log_level::debug);
    test::temp_dir dir;
    supervisor::observability obs(ioc, clock, log, dir.path());

    const auto good = one_request_report(clock);
    ASSERT_FALSE(good.rows.empty());
    obs.on_report(profile::claude_code, good.json, good.rows);
    // Bad JSON with good rows, and good JSON with rows that are not a block: neither half counts.
    for (const std::string& bad : {std::string("not json"), std::string(R"({"v":99})"),
                                   std::string(R"({"v":1,"providers":[{"name":7}]})"), std::string(5 << 20, '[')})
        obs.on_report(profile::claude_code, bad, good.rows);
    for (const std::string& bad : {std::string(good.rows.substr(0, good.rows.size() - 1)),
                                   std::string("\x09\x01\x00", 3), good.rows + "x", std::string(300 * 1024, '\x01')})
        obs.on_report(profile::claude_code, good.json, bad);
    obs.on_report(profile::claude_code, good.json, good.rows);

    std::size_t warnings = 0;
    for (const auto& r : lines.records)
        if (r.level == log_level::warn && r.message.find("worker report could not be read") != std::string::npos)
            ++warnings;
    EXPECT_EQ(warnings, 1u) << "one line for a stream of bad reports";
    const auto text = obs.registry().exposition();
    EXPECT_NE(text.find(R"(clipal_requests_total{profile="claude-code",provider="a",status_class="2xx"} 2)"),
              std::string::npos)
        << text;
    EXPECT_EQ(obs.activity(profile::claude_code).at("providers").at("a").at("requests_1m"), 2)
        << "only the good reports' rows";
}

} // namespace
