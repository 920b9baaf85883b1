// Command line of the fake-upstream program (see README.md beside this file).
#pragma once

#include "support/fake_upstream/script.hpp"

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace clipal::test::fake_upstream {

struct listener_options {
    std::string name; // default p0, p1, ... in order of --listen
    std::string host; // numeric address; "localhost" means 127.0.0.1
    unsigned short port = 0;
    script main_script; // default "ok"
    std::vector<std::pair<std::string, script>> path_scripts;
};

struct options {
    std::vector<listener_options> listeners;
    std::string tls_cert; // both set: every provider listener speaks TLS
    std::string tls_key;
    std::string record; // empty: no recording
    std::optional<std::pair<std::string, unsigned short>> connect_proxy;
    std::string proxy_auth; // "user:pass"; empty: no Proxy-Authorization required
    bool exit_on_stdin_eof = false;
    bool verbose = false;
    bool help = false;
};

// Parses argv; throws std::invalid_argument with a message fit for the user.
options parse_options(int argc, const char* const* argv);

extern const char* const usage_text;

} // namespace clipal::test::fake_upstream
