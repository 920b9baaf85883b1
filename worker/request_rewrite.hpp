// Header rewriting between the client and an upstream (SPEC §3): hop-by-hop headers and
// the client's own credentials go, X-Forwarded-* and the provider's key come in. Works on
// header blocks only; no I/O, so it is tested without an io_context.
#pragma once

#include "shared/config.hpp"
#include "shared/profile.hpp"
#include "worker/http_types.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace clipal::worker {

struct forward_context {
    protocol proto = protocol::anthropic;
    auth_carrier forced = auth_carrier::automatic; // automatic = the profile's rule
    std::string_view api_key;
    std::string_view upstream_host; // Host value: host[:port], port omitted when default
    std::string_view client_addr;   // the client's IP, appended to X-Forwarded-For
    std::string_view client_host;   // the Host the client sent, for X-Forwarded-Host
};

// The upstream request's head as it goes on the wire: "METHOD target HTTP/1.1", then the
// client's headers in their order and with their repeats, less hop-by-hop ones (Connection
// and those it names, Keep-Alive, Proxy-Authenticate, Proxy-Authorization,
// Proxy-Connection, TE, Trailer, Transfer-Encoding, Upgrade), Host, Content-Length (given
// here) and Expect (the body is already buffered), and less the client's own credentials
// (x-api-key, Authorization, x-goog-api-key); then X-Forwarded-For (appended to the
// client's), X-Forwarded-Proto, X-Forwarded-Host and Host; the provider key in the carrier
// ctx asks for (anthropic - x-api-key, or Bearer when the client sent only Authorization;
// openai - Bearer; gemini - x-goog-api-key; ctx.forced overrides); a Content-Length when
// given; the empty line. One string, with no intermediate header container.
std::string upstream_request_head(std::string_view method, std::string_view target, const header_block& client,
                                  const forward_context& ctx, std::optional<std::uint64_t> content_length);

// How the client gets an upstream answer: the client's HTTP version, chunked framing (an
// HTTP/1.1 client and a body of unknown length) and whether its connection stays open.
struct client_framing {
    unsigned version = 11;
    bool chunked = false;
    bool keep_alive = true;
};

// The head the client gets for an upstream answer, in one pass over `h` without changing
// it: the status line in the client's version (the upstream's reason phrase or the
// standard one), the upstream's fields in order minus the hop-by-hop ones (the list
// above and those named in Connection), then `Transfer-Encoding: chunked` and the
// Connection header the client's version needs — what Beast writes after erasing those
// fields and calling chunked() and keep_alive(), at a fraction of the cost.
std::string client_response_head(const response_head& h, const client_framing& f);

} // namespace clipal::worker
