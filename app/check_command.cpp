#include "app/check_command.hpp"

#include "shared/exit_codes.hpp"
#include "shared/redact.hpp"

#include <fmt/format.h>
#include <fmt/ostream.h>
#include <fmt/ranges.h>

#include <ostream>
#include <string>
#include <vector>

namespace clipal::app {

int run_check(const std::filesystem::path& dir, const config_overrides& overrides, std::ostream& out) {
    const auto result = load_config(dir, overrides);
    fmt::print(out, "config dir: {}\n", dir.string());
    for (const auto& w : result.warnings) fmt::print(out, "warning: {}\n", w.to_string());
    if (!result.cfg) {
        for (const auto& e : result.errors) fmt::print(out, "error: {}\n", e.to_string());
        fmt::print(out, "configuration has {} error{}\n", result.errors.size(), result.errors.size() == 1 ? "" : "s");
        return exit_config;
    }
    const auto& c = *result.cfg;
    const auto& g = c.global;
    fmt::print(out, "listen: {}:{}\n", g.listen_addr, g.port);
    fmt::print(out, "access: token {}, allowed_hosts [{}], allowed_origins [{}]\n",
               g.access_token.empty() ? "none" : key_fingerprint(g.access_token), fmt::join(g.allowed_hosts, ", "),
               fmt::join(g.allowed_origins, ", "));
    fmt::print(out,
               "log: level {}, dir {}, keep {} days, stdout {}\n"
               "timeouts: response_header {}, stream_first_byte {}, upstream_idle {}, reactivate_after {}\n"
               "failover: retries_per_provider {}, max_inline_wait {}, failback {}\n"
               "limits: max_request_body_bytes {}, request_body_budget_bytes {}, max_connections {}\n"
               "ignore_count_tokens_failover: {}\n",
               to_string(g.level), g.log_dir, g.log_retention_days, g.log_stdout ? "on" : "off",
               format_duration(g.response_header_timeout),
               g.stream_first_byte_timeout == duration::zero() ? std::string("0 (response_header applies)")
                                                               : format_duration(g.stream_first_byte_timeout),
               format_duration(g.upstream_idle_timeout), format_duration(g.reactivate_after), g.retries_per_provider,
               format_duration(g.max_inline_wait), g.failback ? "on" : "off", g.max_request_body_bytes,
               g.request_body_budget_bytes, g.max_connections, g.ignore_count_tokens_failover);
    for (const auto& p : all_profiles) {
        const auto& pc = c.of(p.id);
        if (pc.providers.empty())
            fmt::print(out, "{} ({}): no enabled providers, requests get 503\n", p.name, p.prefix);
        else
            fmt::print(out, "{} ({}): {} provider{}\n", p.name, p.prefix, pc.providers.size(),
                       pc.providers.size() == 1 ? "" : "s");
        int n = 1;
        for (const auto& pr : pc.providers) {
            std::vector<std::string> keys;
            for (const auto& k : pr.api_keys) keys.push_back(key_fingerprint(k));
            fmt::print(out, "  {}. {}  {}  priority {}  key{} {}{}{}\n", n++, pr.name, pr.base_url, pr.priority,
                       keys.size() == 1 ? "" : "s", fmt::join(keys, ", "),
                       pr.auth_header == auth_carrier::automatic
                           ? ""
                           : fmt::format("  auth_header {}", to_string(pr.auth_header)),
                       pr.model.empty() ? "" : fmt::format("  model {}", pr.model));
        }
        for (const auto& pr : pc.disabled) fmt::print(out, "  -  {}  {}  (disabled)\n", pr.name, pr.base_url);
    }
    fmt::print(out, "configuration ok\n");
    return exit_ok;
}

} // namespace clipal::app
