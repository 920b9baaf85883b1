// Header rewriting between the client and an upstream (SPEC §3): hop-by-hop headers and
// the client's own credentials go, X-Forwarded-* and the provider's key come in. Works on
// header blocks only; no I/O, so it is tested without an io_context.
#pragma once

#include "shared/config.hpp"
#include "shared/profile.hpp"
#include "worker/http_types.hpp"

#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/message.hpp>

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

// Fills `upstream` (normally empty) from the client's headers, keeping their order and
// repeats: drops hop-by-hop headers (Connection and those it names, Keep-Alive,
// Proxy-Authenticate, Proxy-Authorization, Proxy-Connection, TE, Trailer,
// Transfer-Encoding, Upgrade), Host, Content-Length (the forwarder sets the length) and
// Expect (the body is already buffered); removes x-api-key, Authorization and
// x-goog-api-key; sets X-Forwarded-For (appending to the client's), X-Forwarded-Proto,
// X-Forwarded-Host and Host; adds the provider key in the carrier ctx asks for:
// anthropic - x-api-key, or Bearer when the client sent only Authorization;
// openai - Bearer; gemini - x-goog-api-key; ctx.forced overrides.
void rewrite_request_headers(const header_block& client, boost::beast::http::fields& upstream,
                             const forward_context& ctx);

// The upstream request's head as it goes on the wire: "METHOD target HTTP/1.1", the
// headers rewrite_request_headers would produce in the same order (one per line), a
// Content-Length when given, then the empty line. Builds one string directly, with no
// intermediate header container (Beast's fields and serializer cost several times more
// per request).
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
