// Argument parsing: --listen opens a provider; --name/--script/--path-script refine the
// most recent one; everything else is global.
#include "support/fake_upstream/options.hpp"

#include <charconv>
#include <stdexcept>
#include <string_view>
#include <tuple>

namespace clipal::test::fake_upstream {

const char* const usage_text = "usage: fake-upstream [--tls-cert FILE --tls-key FILE] [--record FILE] [--verbose]\n"
                               "                     [--exit-on-stdin-eof]\n"
                               "                     [--listen HOST:PORT [--name NAME] [--script SCRIPT]\n"
                               "                      [--path-script SUBSTRING=SCRIPT]...]...\n"
                               "                     [--connect-proxy HOST:PORT [--proxy-auth USER:PASS]]\n"
                               "Prints \"listening <name> <host>:<port>\" per listener once bound.\n"
                               "Scripts: comma-separated steps, the last repeats; see README.md.\n";

namespace {

std::pair<std::string, unsigned short> parse_endpoint(std::string_view text) {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos)
        throw std::invalid_argument("expected HOST:PORT, got '" + std::string(text) + "'");
    std::string host(text.substr(0, colon));
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    if (host == "localhost") host = "127.0.0.1";
    const auto port_text = text.substr(colon + 1);
    unsigned port = 0;
    const auto [p, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (host.empty() || port_text.empty() || ec != std::errc{} || p != port_text.data() + port_text.size() ||
        port > 65535)
        throw std::invalid_argument("expected HOST:PORT, got '" + std::string(text) + "'");
    return {host, static_cast<unsigned short>(port)};
}

} // namespace

options parse_options(int argc, const char* const* argv) {
    options o;
    auto value = [&](int& i) -> std::string_view {
        if (i + 1 >= argc) throw std::invalid_argument(std::string(argv[i]) + " needs a value");
        return argv[++i];
    };
    auto current = [&](std::string_view flag) -> listener_options& {
        if (o.listeners.empty()) throw std::invalid_argument(std::string(flag) + " must follow a --listen");
        return o.listeners.back();
    };
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--listen") {
            listener_options l;
            std::tie(l.host, l.port) = parse_endpoint(value(i));
            l.name = "p" + std::to_string(o.listeners.size());
            l.main_script = parse_script("ok");
            o.listeners.push_back(std::move(l));
        } else if (arg == "--name") {
            current(arg).name = std::string(value(i));
        } else if (arg == "--script") {
            auto& l = current(arg);
            l.main_script = parse_script(value(i));
        } else if (arg == "--path-script") {
            auto& l = current(arg);
            const auto v = value(i);
            const auto eq = v.find('=');
            if (eq == std::string_view::npos || eq == 0)
                throw std::invalid_argument("--path-script expects SUBSTRING=SCRIPT, got '" + std::string(v) + "'");
            l.path_scripts.emplace_back(std::string(v.substr(0, eq)), parse_script(v.substr(eq + 1)));
        } else if (arg == "--tls-cert") {
            o.tls_cert = std::string(value(i));
        } else if (arg == "--tls-key") {
            o.tls_key = std::string(value(i));
        } else if (arg == "--record") {
            o.record = std::string(value(i));
        } else if (arg == "--connect-proxy") {
            o.connect_proxy = parse_endpoint(value(i));
        } else if (arg == "--proxy-auth") {
            o.proxy_auth = std::string(value(i));
            if (o.proxy_auth.find(':') == std::string::npos)
                throw std::invalid_argument("--proxy-auth expects USER:PASS");
        } else if (arg == "--exit-on-stdin-eof") {
            o.exit_on_stdin_eof = true;
        } else if (arg == "--verbose") {
            o.verbose = true;
        } else if (arg == "--help" || arg == "-h") {
            o.help = true;
        } else {
            throw std::invalid_argument("unknown argument '" + std::string(arg) + "'");
        }
    }
    if (o.tls_cert.empty() != o.tls_key.empty()) throw std::invalid_argument("--tls-cert and --tls-key go together");
    if (!o.help && o.listeners.empty() && !o.connect_proxy)
        throw std::invalid_argument("nothing to do: give at least one --listen or --connect-proxy");
    return o;
}

} // namespace clipal::test::fake_upstream
