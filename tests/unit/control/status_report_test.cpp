#include "supervisor/status_report.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>

namespace json = boost::json;
using clipal::supervisor::format_status;
using clipal::supervisor::format_uptime;
using clipal::supervisor::format_watch;

namespace {

// Times print in local time; the tests pin the zone.
class StatusReport : public ::testing::Test {
protected:
    void SetUp() override {
        const char* tz = std::getenv("TZ");
        saved_ = tz != nullptr ? std::optional<std::string>(tz) : std::nullopt;
        ::setenv("TZ", "UTC", 1);
        ::tzset();
    }
    void TearDown() override {
        if (saved_)
            ::setenv("TZ", saved_->c_str(), 1);
        else
            ::unsetenv("TZ");
        ::tzset();
    }

private:
    std::optional<std::string> saved_;
};

clipal::clock::time_point at_utc(int year, int month, int day, int hour, int minute, int second) {
    std::tm tm{};
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = minute;
    tm.tm_sec = second;
    return std::chrono::system_clock::from_time_t(::timegm(&tm));
}

const char* full_example = R"({
  "version": "0.1.0", "pid": 123, "uptime_seconds": 3723.4, "listen": "127.0.0.1:3333",
  "config_dir": "/home/u/.clipal",
  "last_reload": {"ok": true, "time": "2026-11-26T12:00:00Z", "error": null},
  "workers": [
    {"profile": "claude-code", "prefix": "/claudecode", "state": "ready", "pid": 124, "restarts": 2,
     "uptime_seconds": 11.9, "last_exit": {"code": null, "signal": "SIGSEGV", "time": "2026-11-26T12:59:00Z"},
     "providers": [
       {"name": "anthropic-direct", "state": "deactivated", "until": "2026-11-26T14:03:00Z", "reason": "auth",
        "current": false, "requests": 10, "failures": 4, "breaker": "closed", "next_try": null,
        "keys": [{"fingerprint": "…aaaa", "state": "deactivated", "until": "2026-11-26T14:03:00Z", "reason": "auth",
                  "in_use": true}]},
       {"name": "openrouter", "state": "active", "until": null, "reason": null, "current": true,
        "requests": 3, "failures": 1, "breaker": "closed", "next_try": null, "model": "claude-sonnet-4",
        "keys": [{"fingerprint": "…bbbb", "state": "deactivated", "until": "2026-11-26T14:00:00Z", "reason": "quota",
                  "in_use": false},
                 {"fingerprint": "…cccc", "state": "active", "until": null, "reason": null, "in_use": true}]},
       {"name": "backup", "state": "open", "until": "2026-11-26T13:02:07Z", "reason": "server error",
        "current": false, "requests": 0, "failures": 0, "breaker": "open", "next_try": "2026-11-26T13:02:07Z",
        "keys": [{"fingerprint": "…dddd", "state": "active", "until": null, "reason": null, "in_use": true}]}]},
    {"profile": "codex", "prefix": "/codex", "state": "stopped", "pid": null, "restarts": 0,
     "uptime_seconds": null, "last_exit": null, "providers": []},
    {"profile": "gemini", "prefix": "/gemini", "state": "config_error", "pid": null, "restarts": 0,
     "uptime_seconds": null, "last_exit": {"code": 78, "signal": null}, "error": "gemini.yaml:4: providers[0].api_key: required",
     "providers": []}
  ]
})";

} // namespace

TEST_F(StatusReport, FullExampleRendersHeaderWorkersAndProviders) {
    const auto text = format_status(json::parse(full_example), at_utc(2026, 11, 26, 13, 2, 3));
    EXPECT_EQ(text, "clipal 0.1.0 (pid 123), up 1h02m\n"
                    "  listen       127.0.0.1:3333\n"
                    "  config dir   /home/u/.clipal\n"
                    "  last reload  ok at 12:00:00\n"
                    "\n"
                    "PROFILE      STATE         PID  RESTARTS  UPTIME  LAST EXIT\n"
                    "claude-code  ready         124  2         11s     signal SIGSEGV\n"
                    "codex        stopped       -    0         -       -\n"
                    "gemini       config_error  -    0         -       exit 78\n"
                    "\n"
                    "claude-code (/claudecode)\n"
                    "     PROVIDER                            STATE                               BREAKER              "
                    "    REQUESTS  FAILURES\n"
                    "     anthropic-direct                    deactivated until 14:03:00 (auth)   closed               "
                    "    10        4\n"
                    "  *  openrouter (model claude-sonnet-4)  active                              closed               "
                    "    3         1\n"
                    "     backup                              open until 13:02:07 (server error)  open, next try "
                    "13:02:07  0         0\n"
                    "    anthropic-direct key …aaaa: deactivated until 14:03:00 (auth) (in use)\n"
                    "    openrouter key …bbbb: deactivated until 14:00:00 (quota)\n"
                    "    openrouter key …cccc: active (in use)\n"
                    "\n"
                    "codex (/codex)\n"
                    "  no providers\n"
                    "\n"
                    "gemini (/gemini)\n"
                    "  error: gemini.yaml:4: providers[0].api_key: required\n"
                    "  no providers\n");
}

TEST_F(StatusReport, AParkedWorkerSaysWhenItTriesAgain) {
    const auto v = json::parse(R"({"workers":[
        {"profile":"gemini","prefix":"/gemini","state":"failed","pid":null,"restarts":9,
         "restart_at":"2026-11-26T13:04:00Z","providers":[]},
        {"profile":"codex","prefix":"/codex","state":"backoff","pid":null,"restarts":1,
         "restart_at":"2026-11-26T13:00:01Z","providers":[]}]})");
    const auto text = format_status(v, at_utc(2026, 11, 26, 13, 0, 0));
    EXPECT_NE(text.find("gemini (/gemini)\n  parked after repeated crashes; tries again at 13:04:00 (`clipal reload` "
                        "tries now)\n"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("codex (/codex)\n  restarts at 13:00:01\n"), std::string::npos) << text;
}

TEST_F(StatusReport, FailedReloadShowsTheErrorText) {
    const auto v = json::parse(R"({"last_reload":{"ok":false,"time":"2026-11-26T12:00:00Z",
        "error":"codex.yaml:3: providers[0].base_url: must not be empty"}})");
    const auto text = format_status(v, at_utc(2026, 11, 26, 13, 0, 0));
    EXPECT_NE(text.find("last reload  FAILED at 12:00:00: codex.yaml:3: providers[0].base_url: must not be empty\n"),
              std::string::npos)
        << text;
}

TEST_F(StatusReport, JunkJsonNeverThrowsAndShowsDashes) {
    const char* junk[] = {
        "null",
        "42",
        "\"text\"",
        "[]",
        "{}",
        R"({"workers":"x"})",
        R"({"workers":[1,null,"w",[]]})",
        R"({"pid":"abc","uptime_seconds":-1,"version":7,"last_reload":{"ok":"yes","time":12}})",
        R"({"uptime_seconds":1e300,"pid":1.5,"workers":[{"profile":5,"state":null,"pid":-3,"restarts":1e30,
            "uptime_seconds":"long","last_exit":[1],"error":3,"providers":[1,null,{"name":[],"until":"garbage",
            "reason":9,"current":"yes","requests":-1,"failures":2.5}]}]})",
        R"({"last_reload":{"ok":true,"time":"2026-13-45T99:99:99Z"},"workers":[{"providers":{"a":1}}]})",
    };
    for (const char* j : junk) {
        std::string text;
        EXPECT_NO_THROW(text = format_status(json::parse(j), at_utc(2026, 11, 26, 13, 0, 0))) << j;
        EXPECT_NE(text.find("clipal - (pid -), up -"), std::string::npos) << j << "\n" << text;
        EXPECT_EQ(text.back(), '\n');
    }
}

TEST_F(StatusReport, ControlCharactersInNamesAreNeutralised) {
    const auto v = json::parse(R"({"workers":[{"profile":"codex","providers":[
        {"name":"evil\u001b[2Jname","state":"active","current":true}]}]})");
    const auto text = format_status(v, at_utc(2026, 11, 26, 13, 0, 0));
    EXPECT_EQ(text.find('\x1b'), std::string::npos);
    EXPECT_NE(text.find("evil?[2Jname"), std::string::npos) << text;
}

namespace {

// full_example with the activity a newer supervisor adds to each worker.
json::value with_activity() {
    auto v = json::parse(full_example);
    auto& workers = v.at("workers").as_array();
    workers[0].as_object()["activity"] = json::parse(R"({
      "providers": {
        "anthropic-direct": {"requests_1m": 12, "failures_1m": 12, "p50_ttfb_ms": null,
                             "tokens_today": {"input": 0, "output": 0, "cache_read": 0, "cache_write": 0}},
        "openrouter": {"requests_1m": 431, "failures_1m": 2, "p50_ttfb_ms": 1234,
                       "tokens_today": {"input": 1234567, "output": 45678, "cache_read": 9999, "cache_write": 10000}},
        "gone": {"requests_1m": 1, "failures_1m": 0, "p50_ttfb_ms": 80,
                 "tokens_today": {"input": 1, "output": 1, "cache_read": 0, "cache_write": 0}}},
      "last_switch": {"time": "2026-11-26T12:59:58Z", "from": "anthropic-direct", "to": "openrouter",
                      "reason": "auth"}})");
    workers[1].as_object()["activity"] = json::parse(R"({"providers": {}, "last_switch": null})");
    workers[2].as_object()["activity"] = json::parse(R"({"providers": {}, "last_switch":
        {"time": "2026-11-25T09:00:00Z", "from": "", "to": "g", "reason": "failback"}})");
    return v;
}

} // namespace

TEST_F(StatusReport, WatchShowsTheLastMinuteTodaysTokensAndTheLastSwitch) {
    const auto text = format_watch(with_activity(), at_utc(2026, 11, 26, 13, 2, 3));
    EXPECT_EQ(text, "clipal 0.1.0 (pid 123), up 1h02m\n"
                    "  listen       127.0.0.1:3333\n"
                    "  config dir   /home/u/.clipal\n"
                    "  last reload  ok at 12:00:00\n"
                    "\n"
                    "PROFILE      STATE         PID  RESTARTS  UPTIME  LAST EXIT\n"
                    "claude-code  ready         124  2         11s     signal SIGSEGV\n"
                    "codex        stopped       -    0         -       -\n"
                    "gemini       config_error  -    0         -       exit 78\n"
                    "\n"
                    "claude-code (/claudecode)\n"
                    "  last switch 12:59:58: anthropic-direct -> openrouter (auth)\n"
                    "     PROVIDER                            STATE                               BREAKER              "
                    "    REQ/1M  FAIL/1M  P50 TTFB  IN     OUT    CACHE R  CACHE W\n"
                    "     anthropic-direct                    deactivated until 14:03:00 (auth)   closed               "
                    "    12      12       -         0      0      0        0\n"
                    "  *  openrouter (model claude-sonnet-4)  active                              closed               "
                    "    431     2        1.2s      1.23M  45.7k  9999     10.0k\n"
                    "     backup                              open until 13:02:07 (server error)  open, next try "
                    "13:02:07  0       0        -         0      0      0        0\n"
                    "    anthropic-direct key …aaaa: deactivated until 14:03:00 (auth) (in use)\n"
                    "    openrouter key …bbbb: deactivated until 14:00:00 (quota)\n"
                    "    openrouter key …cccc: active (in use)\n"
                    "\n"
                    "codex (/codex)\n"
                    "  last switch: none\n"
                    "  no providers\n"
                    "\n"
                    "gemini (/gemini)\n"
                    "  error: gemini.yaml:4: providers[0].api_key: required\n"
                    "  last switch 2026-11-25 09:00:00: (none) -> g (failback)\n"
                    "  no providers\n"
                    "\n"
                    "REQ/1M, FAIL/1M, P50 TTFB: the last 60 s; IN, OUT, CACHE R(ead), CACHE W(rite): tokens since "
                    "midnight\n");
}

TEST_F(StatusReport, WatchWithoutActivityShowsDashesAndSaysWhy) {
    const auto text = format_watch(json::parse(full_example), at_utc(2026, 11, 26, 13, 2, 3));
    EXPECT_NE(text.find("  *  openrouter (model claude-sonnet-4)  active                              closed         "
                        "          -       -        -         -   -    -        -\n"),
              std::string::npos)
        << text;
    EXPECT_EQ(text.find("last switch"), std::string::npos) << text;
    EXPECT_NE(text.find("(the running clipal 0.1.0 reports no recent activity: it predates `status --watch`)\n"),
              std::string::npos)
        << text;
    // Everything but the provider tables reads as in the plain status.
    const auto plain = format_status(json::parse(full_example), at_utc(2026, 11, 26, 13, 2, 3));
    EXPECT_EQ(text.substr(0, text.find("claude-code (/claudecode)")),
              plain.substr(0, plain.find("claude-code (/claudecode)")));
}

TEST_F(StatusReport, WatchNumbersReadCompactly) {
    const auto v = json::parse(R"({"workers":[{"profile":"codex","prefix":"/codex","state":"ready","providers":[
        {"name":"a"},{"name":"b"},{"name":"c"},{"name":"d"},{"name":"e"}],
        "activity":{"providers":{
          "a":{"requests_1m":0,"failures_1m":0,"p50_ttfb_ms":0,"tokens_today":{"input":9999,"output":99949,
               "cache_read":99950,"cache_write":999499}},
          "b":{"requests_1m":1,"failures_1m":1,"p50_ttfb_ms":999,"tokens_today":{"input":999500,"output":1e9,
               "cache_read":18446744073709551615,"cache_write":-1}},
          "c":{"requests_1m":"x","p50_ttfb_ms":99949,"tokens_today":"none"},
          "d":{"p50_ttfb_ms":99950},
          "e":7},"last_switch":{"time":"soon","to":"a"}}}]})");
    const auto text = format_watch(v, at_utc(2026, 11, 26, 13, 2, 3));
    EXPECT_NE(text.find("  last switch soon: (none) -> a\n"), std::string::npos) << text;
    EXPECT_NE(text.find("     a         -      -        0       0        0ms       9999   99.9k  100k     999k\n"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("     b         -      -        1       1        999ms     1.00M  1.00G  18.4E    -\n"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("     c         -      -        -       -        99.9s     -      -      -        -\n"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("     d         -      -        -       -        100s      -      -      -        -\n"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("     e         -      -        -       -        -         -      -      -        -\n"),
              std::string::npos)
        << text;
}

TEST_F(StatusReport, WatchNeverThrowsOnJunkActivity) {
    const char* junk[] = {
        R"({"workers":[{"profile":"codex","providers":[{"name":"a"}],"activity":[]}]})",
        R"({"workers":[{"profile":"codex","providers":[{"name":"a"}],"activity":{"providers":[1],"last_switch":5}}]})",
        R"({"workers":[{"profile":"codex","providers":[{"name":7}],"activity":{"providers":{"":{}}}}]})",
        R"({"workers":[{"profile":"codex","providers":[{"name":"a"}],"activity":{"providers":{"a":{"tokens_today":
            {"input":1e400}}},"last_switch":{"time":1,"from":[],"to":null,"reason":{}}}}]})",
        R"({"workers":[{"profile":"codex","providers":[{"name":"a\u001b[2J"}],"activity":{"providers":{},
            "last_switch":{"from":"x\u001b[2J","to":"y\u0007","reason":"\u001b]0;t\u0007"}}}]})",
    };
    for (const char* j : junk) {
        std::string text;
        boost::system::error_code ec;
        const auto v = json::parse(j, ec);
        if (ec) continue; // 1e400 is not valid for Boost.JSON: nothing to render
        EXPECT_NO_THROW(text = format_watch(v, at_utc(2026, 11, 26, 13, 0, 0))) << j;
        EXPECT_EQ(text.find('\x1b'), std::string::npos) << text;
        EXPECT_EQ(text.find('\x07'), std::string::npos) << text;
        EXPECT_EQ(text.back(), '\n');
    }
}

TEST(StatusReportUptime, ReadableAtEveryScale) {
    EXPECT_EQ(format_uptime(0), "0s");
    EXPECT_EQ(format_uptime(59.9), "59s");
    EXPECT_EQ(format_uptime(183), "3m03s");
    EXPECT_EQ(format_uptime(7500), "2h05m");
    EXPECT_EQ(format_uptime(3 * 86400 + 4 * 3600 + 59), "3d04h");
    EXPECT_EQ(format_uptime(-1), "-");
    EXPECT_EQ(format_uptime(1e300), "-");
}
