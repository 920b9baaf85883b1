// A small blocking HTTPS GET for `clipal update`: follows redirects (https only), checks the
// server certificate against the system trust store and the host name, bounds every step
// with a deadline, and streams the body to a callback so large assets never sit in memory.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace clipal::app {

struct https_limits {
    std::chrono::milliseconds connect_timeout{15000}; // DNS, TCP connect
    std::chrono::milliseconds io_timeout{30000};      // TLS handshake, and each read or write without progress
    std::chrono::milliseconds total_timeout{600000};  // the whole fetch, redirects included
    int max_redirects = 5;
};

struct https_result {
    bool ok = false;
    int status = 0;          // the last HTTP status received, 0 when none arrived
    std::string error;       // a sentence naming the URL and what failed, when !ok
    std::uint64_t bytes = 0; // body bytes handed to the sink
};

// GETs `url` and passes the body of its 200 answer to `sink` chunk by chunk; `sink`
// returning false stops the transfer (the result says "stopped by the receiver").
// Fails, with a specific error, on: a URL that is not https://, DNS/connect/TLS errors
// (trust: OpenSSL's default paths, so SSL_CERT_FILE / SSL_CERT_DIR apply), any status
// but 200 after redirects (the server's message is quoted, shortened), a body over
// `max_body`, a connection closed before Content-Length was reached, and timeouts.
// Blocking; runs its own io_context, so it is safe from any thread that has none.
https_result https_get(std::string_view url, std::string_view accept, std::uint64_t max_body,
                       const std::function<bool(std::string_view)>& sink, const https_limits& limits = {});

// The same, collecting the body into `out` (cleared first).
https_result https_get_text(std::string_view url, std::string_view accept, std::uint64_t max_body, std::string& out,
                            const https_limits& limits = {});

} // namespace clipal::app
