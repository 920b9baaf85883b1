// Who may spend the user's keys (SPEC §10, issue 13): a request must name this machine in
// its Host (so a DNS-rebound name cannot reach clipal), carry no browser Origin that the
// user did not allow (so a web page cannot post to it), and present the access_token when
// one is configured. Pure functions over header values, so they are tested and fuzzed
// without an event loop.
#pragma once

#include "shared/profile.hpp"

#include <boost/container/small_vector.hpp>

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace clipal {

struct guard_settings {
    std::string_view listen_addr;
    std::span<const std::string> allowed_hosts;   // as canonical_host() returns them
    std::span<const std::string> allowed_origins; // as normalize_origin() returns them
    std::string_view access_token;                // empty: no token is required
};

// Every occurrence of the header fields the guard reads (a repeated field counts each time).
// A request has one of each, or none; more is rare and allowed (and checked, every one).
using header_values = boost::container::small_vector<std::string_view, 2>;
struct guard_input {
    protocol proto = protocol::anthropic;
    header_values host;
    header_values origin;
    header_values x_api_key;
    header_values authorization;
    header_values x_goog_api_key;
    std::string_view target; // for Gemini's ?key=
};

struct guard_refusal {
    int status = 403;    // 403 for Host/Origin, 401 for the access token
    std::string message; // for the client's error body: what was refused and what to do
    std::string log;     // for the warn line: names the Host or Origin, never a credential
};

// nullopt when the request may proceed. Checks, in order: every Host names a loopback
// address, "localhost", listen_addr (any IP literal when listen_addr is 0.0.0.0 or ::) or an
// allowed host, the port ignored; no Origin unless it is allowed; then the access token in
// the protocol's carrier (anthropic: x-api-key or Authorization: Bearer; openai: Bearer;
// gemini: x-goog-api-key or ?key=), compared in constant time. A request without Host is
// not refused here (the session answers it 400).
std::optional<guard_refusal> check_request(const guard_input& in, const guard_settings& s);

// The host of a Host header value or of an allowed_hosts entry, lower case, without port
// and brackets; an IP address in its canonical text form ("[0:0::1]:80" -> "::1"). nullopt
// when the value is not host[:port] (a bare IPv6 address counts as a host).
std::optional<std::string> canonical_host(std::string_view host_port);

// An allowed_origins entry as browsers send it: "scheme://host[:port]" in lower case, the
// scheme's default port dropped, no trailing '/'. Returns the error (empty when fine).
std::string normalize_origin(std::string& origin);

// True when a and b are equal, in time that depends on neither's content.
bool constant_time_equal(std::string_view a, std::string_view b);

} // namespace clipal
