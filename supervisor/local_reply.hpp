// Answers a connection from the supervisor itself (health, unknown prefix, a profile
// that cannot serve) and closes it politely: write, shut down sending, drain briefly.
#pragma once

#include "shared/profile.hpp"

#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace clipal::supervisor {

// A complete HTTP/1.1 response with Connection: close and a JSON body.
std::string json_response(int status, std::string_view reason, std::string_view body,
                          std::optional<std::chrono::seconds> retry_after = {});

// The protocol's JSON error as a complete response.
std::string error_response(protocol p, int status, std::string_view message,
                           std::optional<std::chrono::seconds> retry_after = {});

// Writes `response` (bounded by a deadline) and closes the socket.
void send_and_close(boost::asio::ip::tcp::socket s, std::string response);

} // namespace clipal::supervisor
