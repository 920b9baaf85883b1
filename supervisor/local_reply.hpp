// Answers a connection from the supervisor itself (health, unknown prefix, a profile
// that cannot serve) and closes it politely: write, shut down sending, drain briefly.
#pragma once

#include "shared/local_response.hpp"

#include <boost/asio/ip/tcp.hpp>

namespace clipal::supervisor {

// Writes `r` with Connection: close (bounded by a deadline) and closes the socket;
// `head_request`: without the body (the answer to a HEAD).
void send_and_close(boost::asio::ip::tcp::socket s, const local_response& r, bool head_request = false);

} // namespace clipal::supervisor
