// A client that sends its request head slowly, as a slowloris attack does, to check that
// clipal bounds the time a head may take (issue 13, "Bounded heads").
#pragma once

#include "support/http_probe.hpp"

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace clipal::test {

// Sends `pieces` one a second (the first at once) until the peer closes the connection;
// true when it did so within `bound` of the first piece. Bounded by `bound` plus a second.
inline bool closed_while_trickling(http_probe& c, const std::vector<std::string>& pieces, std::chrono::seconds bound) {
    const auto start = std::chrono::steady_clock::now();
    const auto in_bound = [&] { return std::chrono::steady_clock::now() - start <= bound; };
    for (std::size_t i = 0; i < pieces.size(); ++i) {
        if (i > 0 && c.wait_peer_closed(std::chrono::seconds(1))) return in_bound();
        if (!in_bound()) return false;
        if (!c.send(pieces[i])) return in_bound(); // reset by the peer
    }
    return c.wait_peer_closed(std::chrono::seconds(1)) && in_bound();
}

// `bytes` as pieces of one byte each, after `first`.
inline std::vector<std::string> byte_by_byte(std::string first, std::string_view bytes) {
    std::vector<std::string> out{std::move(first)};
    for (const char ch : bytes) out.emplace_back(1, ch);
    return out;
}

} // namespace clipal::test
