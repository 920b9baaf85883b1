// Runs the fake-upstream program for one test: starts it with the given providers,
// waits until every listener has printed its port, and reads back what it recorded.
// The process is stopped by PID when this object goes away (and exits on its own if
// the test process dies, via stdin EOF).
#pragma once

#include "support/child_process.hpp"
#include "support/recording.hpp"
#include "support/temp_dir.hpp"
#include "support/test_ca.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace clipal::test {

struct fake_provider {
    std::string name;
    std::string script = "ok";                                       // see tests/support/fake_upstream/README.md
    std::vector<std::pair<std::string, std::string>> path_scripts{}; // (target substring, script)
};

struct fake_upstream_options {
    std::vector<fake_provider> providers{};
    const test_pki* tls = nullptr; // serve every provider over TLS with tls->server_cert
    bool tls_self_signed = false;  // ... or with the self-signed pair (untrusted)
    bool connect_proxy = false;    // also run the CONNECT proxy
    std::string proxy_auth{};      // "user:pass" the proxy demands
    bool verbose = false;          // one stderr line per request
    std::vector<std::string> extra_args{};
};

class fake_upstream_process {
public:
    // Throws std::runtime_error (with the program's stderr) if it does not come up in 10 s.
    explicit fake_upstream_process(fake_upstream_options options);

    std::uint16_t port(std::string_view provider) const;
    // "http://127.0.0.1:<port>" (https when TLS), no trailing slash.
    std::string base_url(std::string_view provider) const;
    std::uint16_t proxy_port() const { return proxy_port_; }

    // Everything recorded so far, in arrival order; optionally only one provider's.
    std::vector<recorded_request> requests(std::string_view provider = {}) const;
    // Polls the recording until it holds at least `n` entries (of `provider`, if given).
    bool wait_for_requests(std::size_t n, std::chrono::milliseconds timeout, std::string_view provider = {}) const;

    child_process& process() { return *process_; }
    const std::filesystem::path& record_path() const { return record_; }

private:
    temp_dir dir_;
    std::filesystem::path record_;
    bool tls_ = false;
    std::map<std::string, std::uint16_t, std::less<>> ports_;
    std::uint16_t proxy_port_ = 0;
    std::unique_ptr<child_process> process_;
};

} // namespace clipal::test
