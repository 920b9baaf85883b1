// One fake provider: its name, its scripts with their request counters, and every
// response it can send prepared in advance. Shared by all connections of one listener
// (the program is single-threaded, so no locking).
#pragma once

#include "support/fake_upstream/canned_responses.hpp"
#include "support/fake_upstream/script.hpp"

#include <array>
#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace clipal::test::fake_upstream {

class provider {
public:
    // `path_scripts`: (substring, script) pairs; a request whose target contains the
    // substring follows that script (first match wins) instead of `main`, with its own counter.
    provider(std::string name, script main, std::vector<std::pair<std::string, script>> path_scripts);
    provider(const provider&) = delete;
    provider& operator=(const provider&) = delete;

    const std::string& name() const { return name_; }
    // The success answers naming the default model.
    const canned_responses& canned() const { return *canned_; }
    // The success answers naming `model` (see requested_model; empty: the default), built
    // on first use and kept. Hold the pointer while writing from it: the cache may be
    // emptied when it grows past a few hundred models.
    std::shared_ptr<const canned_responses> canned_for(std::string_view model);

    // The step that answers the next request for `target`, arriving at `now`; advances
    // that script's position (;for= windows count from this provider's first request).
    const step& next_step(std::string_view target, std::chrono::steady_clock::time_point now);
    // Prepared bytes for a `status` step of this provider's scripts.
    const std::string& status_bytes(const step& st, family f) const;
    // The 1 MiB-header response of huge-headers steps.
    const std::string& huge_headers_response() const { return huge_headers_; }
    // SHA-256 of the first n pattern bytes, computed once per n.
    const std::string& pattern_sha(std::size_t n);

    std::size_t next_connection_id() { return connections_++; }

    // What "refuse" does to this provider's listener (stop accepting).
    void on_refuse(std::function<void()> f) { refuse_ = std::move(f); }
    void refuse() {
        if (refuse_) refuse_();
    }

private:
    struct counted_script {
        std::string match; // empty for the main script
        script steps;
        script_position position{};
    };

    std::string name_;
    std::shared_ptr<const canned_responses> canned_;
    std::map<std::string, std::shared_ptr<const canned_responses>, std::less<>> by_model_;
    std::optional<std::chrono::steady_clock::time_point> first_request_;
    std::vector<counted_script> scripts_; // path scripts first, main script last
    std::unordered_map<const step*, std::array<std::string, 3>> status_;
    std::string huge_headers_;
    std::map<std::size_t, std::string> pattern_sha_;
    std::size_t connections_ = 0;
    std::function<void()> refuse_;
};

} // namespace clipal::test::fake_upstream
