// Command line assembly and readiness handshake for fake-upstream.
#include "support/fake_upstream_process.hpp"

#include "support/binaries.hpp"

#include <regex>
#include <stdexcept>
#include <thread>

namespace clipal::test {

fake_upstream_process::fake_upstream_process(fake_upstream_options options) : record_(dir_.path() / "record.jsonl") {
    spawn_options so;
    so.output_dir = dir_.path();
    so.stdin_pipe = true;
    so.args = {"--exit-on-stdin-eof", "--record", record_.string()};
    if (options.tls != nullptr) {
        tls_ = true;
        const auto& cert = options.tls_self_signed ? options.tls->self_signed_cert : options.tls->server_cert;
        const auto& key = options.tls_self_signed ? options.tls->self_signed_key : options.tls->server_key;
        so.args.insert(so.args.end(), {"--tls-cert", cert.string(), "--tls-key", key.string()});
    }
    for (const auto& p : options.providers) {
        so.args.insert(so.args.end(), {"--listen", "127.0.0.1:0", "--name", p.name, "--script", p.script});
        for (const auto& [match, script] : p.path_scripts)
            so.args.insert(so.args.end(), {"--path-script", match + "=" + script});
    }
    if (options.connect_proxy) {
        so.args.insert(so.args.end(), {"--connect-proxy", "127.0.0.1:0"});
        if (!options.proxy_auth.empty()) so.args.insert(so.args.end(), {"--proxy-auth", options.proxy_auth});
    }
    if (options.verbose) so.args.emplace_back("--verbose");
    so.args.insert(so.args.end(), options.extra_args.begin(), options.extra_args.end());
    process_ = std::make_unique<child_process>(fake_upstream_binary(), so);

    const std::regex line(R"(^listening (\S+) 127\.0\.0\.1:(\d+)$)");
    const std::size_t expected = options.providers.size() + (options.connect_proxy ? 1 : 0);
    for (std::size_t i = 0; i < expected; ++i) {
        const auto found = process_->wait_for_output(line, std::chrono::seconds(10), i);
        if (!found) throw std::runtime_error("fake-upstream did not start: " + process_->stderr_text());
        std::smatch m;
        std::regex_match(*found, m, line);
        const auto port = static_cast<std::uint16_t>(std::stoi(m[2].str()));
        if (m[1].str() == "proxy" && options.connect_proxy)
            proxy_port_ = port;
        else
            ports_[m[1].str()] = port;
    }
}

std::uint16_t fake_upstream_process::port(std::string_view provider) const {
    const auto it = ports_.find(provider);
    if (it == ports_.end())
        throw std::out_of_range("fake_upstream_process: no provider named " + std::string(provider));
    return it->second;
}

std::string fake_upstream_process::base_url(std::string_view provider) const {
    return std::string(tls_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(port(provider));
}

std::vector<recorded_request> fake_upstream_process::requests(std::string_view provider) const {
    auto all = read_recording(record_);
    if (provider.empty()) return all;
    std::vector<recorded_request> out;
    for (auto& r : all)
        if (r.provider == provider) out.push_back(std::move(r));
    return out;
}

bool fake_upstream_process::wait_for_requests(std::size_t n, std::chrono::milliseconds timeout,
                                              std::string_view provider) const {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        if (requests(provider).size() >= n) return true;
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

} // namespace clipal::test
