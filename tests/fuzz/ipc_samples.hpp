// One or more valid instances of every IPC message, shared by the codec unit tests and
// the fuzz seed corpus, so that the corpus covers exactly what the tests round-trip.
#pragma once

#include "ipc/config_codec.hpp"
#include "ipc/messages.hpp"

#include <chrono>
#include <string>
#include <vector>

namespace clipal::test {

// A block of two usage rows (shared/usage_rows_codec.hpp), as a worker report carries it.
inline std::string sample_usage_rows() {
    usage_rows_encoder e;
    usage_record r;
    r.time_ms = 1'704'110'406'000;
    r.provider = "primary";
    r.key_fingerprint = "sk-…cdef";
    r.model = "gpt-test-model";
    r.status = 200;
    r.attempts = 1;
    r.ttfb_ms = 120;
    r.duration_ms = 900;
    r.input_tokens = 1000;
    r.output_tokens = 20;
    e.add(r);
    r.time_ms += 15;
    r.status = 503;
    r.attempts = 2;
    r.ttfb_ms.reset();
    r.input_tokens.reset();
    r.output_tokens.reset();
    e.add(r);
    return e.take();
}

inline ipc::worker_config sample_worker_config() {
    using namespace std::chrono_literals;
    ipc::worker_config c;
    c.profile.id = profile::codex;
    c.profile.providers = {
        {"primary",
         "https://api.example.com/v1",
         {"sk-primary-0123456789abcdef", "sk-primary-second-0123456789", "sk-primary-third-0123456789"},
         0,
         true,
         auth_carrier::automatic,
         "gpt-test-model"},
        {"backup", "http://127.0.0.1:9000/v1", {"sk-backup-0123456789abcdef"}, 5, true, auth_carrier::bearer, ""},
    };
    c.profile.disabled = {
        {"old", "https://old.example.com", {"k-old"}, 1, false, auth_carrier::x_goog_api_key, "vendor/model:free"}};
    c.keep_state = true;
    c.global.listen_addr = "127.0.0.1";
    c.global.port = 4444;
    c.global.level = log_level::debug;
    c.global.reactivate_after = 90min;
    c.global.upstream_idle_timeout = 250ms;
    c.global.response_header_timeout = 0ns;
    c.global.stream_first_byte_timeout = 7s;
    c.global.retries_per_provider = 5;
    c.global.max_inline_wait = 0ns;
    c.global.failback = false;
    c.global.max_request_body_bytes = 1;
    c.global.request_body_budget_bytes = 1ull << 40;
    c.global.log_dir = "/tmp/clipal logs/\xC3\xA9";
    c.global.log_retention_days = 0;
    c.global.log_stdout = false;
    c.global.ignore_count_tokens_failover = true;
    c.global.max_connections = 3;
    c.global.allowed_hosts = {"clipal.lan", "fe80::1"};
    c.global.allowed_origins = {"http://localhost:8080"};
    c.global.access_token = "clipal-token-0123456789abcdef";
    return c;
}

inline std::vector<ipc::message> sample_messages() {
    using namespace ipc;
    return {
        hello{protocol_version, "claude-code", 4242, "0.1.0"},
        config_push{7, to_json(sample_worker_config())},
        config_ack{7, true, ""},
        config_ack{8, false, "providers[0].base_url is missing"},
        ready{7},
        heartbeat{0},
        heartbeat{~std::uint64_t{0}},
        status_request{3},
        status_reply{3, R"({"providers":[{"name":"primary","state":"active"}]})"},
        ipc::log_record{log_level::warn, 1704110406000000000, "claudecode",
                        "anthropic-direct failed: 503, switching to openrouter"},
        ipc::log_record{log_level::error, -1, "", std::string("bin\0ary\xFF", 8)},
        drain{30000},
        handoff{99, "POST /codex/v1/responses HTTP/1.1\r\nHost: 127.0.0.1:3333\r\n\r\n{", "127.0.0.1:51234"},
        handoff_back{99, "GET /gemini/v1beta/models HTTP/1.1\r\n\r\n", "[::1]:40000"},
        unrecognised{999},
        handoff_ack{99},
        handoff_refused{100, "its worker has no free file descriptor"},
        worker_report{R"({"v":1,"providers":[],"open_connections":0})", ""},
        worker_report{R"({"v":1,"providers":[{"name":"primary","requests":{"2xx":2}}],"open_connections":1})",
                      sample_usage_rows()},
    };
}

} // namespace clipal::test
