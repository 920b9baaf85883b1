// Reading fake-upstream's --record file: one JSON object per request (or CONNECT) that
// reached a fake provider or the fake proxy, in arrival order.
#pragma once

#include "support/http_probe.hpp"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace clipal::test {

struct recorded_request {
    std::string provider; // listener name, or "proxy"
    std::string method;
    std::string target;
    header_list headers; // as received, in order
    std::size_t body_length = 0;
    std::string body_sha256;
    std::string body;     // present when < 64 KiB and UTF-8
    std::size_t conn = 0; // connection number on that listener (0-based)
    std::size_t seq = 0;  // request number on that connection (0-based)
    bool tls = false;
    std::string step; // script step that answered ("ok", "status", "websocket-refusal"...)
    int status = 0;   // proxy records: the status answered to CONNECT
    // When the request had arrived (read in full; proxy: when the CONNECT was answered), in
    // milliseconds since fake-upstream started (steady clock): comparable across providers.
    std::int64_t t_ms = -1; // -1: not recorded

    std::optional<std::string> header(std::string_view name) const; // case-insensitive, first
    std::size_t header_count(std::string_view name) const;
};

// Parses every complete line; a torn last line (still being written) is skipped.
std::vector<recorded_request> read_recording(const std::filesystem::path& file);

} // namespace clipal::test
