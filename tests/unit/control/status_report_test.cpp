#include "supervisor/status_report.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>

namespace json = boost::json;
using clipal::supervisor::format_status;
using clipal::supervisor::format_uptime;

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

TEST(StatusReportUptime, ReadableAtEveryScale) {
    EXPECT_EQ(format_uptime(0), "0s");
    EXPECT_EQ(format_uptime(59.9), "59s");
    EXPECT_EQ(format_uptime(183), "3m03s");
    EXPECT_EQ(format_uptime(7500), "2h05m");
    EXPECT_EQ(format_uptime(3 * 86400 + 4 * 3600 + 59), "3d04h");
    EXPECT_EQ(format_uptime(-1), "-");
    EXPECT_EQ(format_uptime(1e300), "-");
}
