// Log lines that a fault or a hostile client can repeat at full rate (refused connections,
// malformed requests, failed hand-offs), one burst at a time: per kind and tag, the first
// line of a burst is written in full, the rest of the window only counted, and when the
// window is over one summary line gives the count. Not thread-safe: one per event loop.
#pragma once

#include "shared/clock.hpp"
#include "shared/duration.hpp"
#include "shared/log.hpp"
#include "shared/log_burst.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace clipal {

class fault_log {
public:
    explicit fault_log(logger& log, clock::time_point::duration window = std::chrono::seconds(10))
        : log_(log), window_(window) {}

    // An event of `kind` (a fixed phrase naming what happened, plural: "malformed requests")
    // at `now`: its line `f` is written when it starts a burst, otherwise the event is only
    // counted. True when this event is the first one counted since the last summary: the
    // caller then arranges for flush() to run at next_summary().
    template <class... A>
    bool log(clock::time_point now, log_level level, std::string_view kind, std::string_view tag,
             fmt::format_string<A...> f, A&&... a) {
        if (!log_.enabled(level)) return false;
        auto& b = burst(kind, tag, level);
        const auto d = b.limit.note(now);
        if (!d.log) return b.limit.pending() == 1;
        auto line = fmt::format(f, std::forward<A>(a)...);
        // A summary that has not run yet (its timer fires after this event) is told here.
        if (d.suppressed > 0) line += fmt::format(" ({} more {} before this one were not logged)", d.suppressed, kind);
        log_.log(level, tag, line);
        return false;
    }

    // Writes one summary line for each burst whose window is over and that counted events.
    void flush(clock::time_point now) {
        for (auto& [key, b] : bursts_) {
            if (b.limit.pending() == 0 || now < b.limit.window_end()) continue;
            const auto n = b.limit.take_pending();
            log_.log(b.level, b.tag,
                     fmt::format("{} more {} in the {} after the line above were not logged", n, b.kind,
                                 format_duration(window_)));
        }
    }

    // When the next summary is due, if any event is counted.
    std::optional<clock::time_point> next_summary() const {
        std::optional<clock::time_point> next;
        for (const auto& [key, b] : bursts_)
            if (b.limit.pending() > 0 && (!next || b.limit.window_end() < *next)) next = b.limit.window_end();
        return next;
    }

private:
    struct entry {
        std::string kind;
        std::string tag;
        log_level level;
        log_burst limit;
    };

    entry& burst(std::string_view kind, std::string_view tag, log_level level) {
        std::string key;
        key.reserve(tag.size() + 1 + kind.size());
        key.append(tag).append(1, '\0').append(kind);
        auto it = bursts_.find(key);
        if (it == bursts_.end())
            it = bursts_.emplace(std::move(key), entry{std::string(kind), std::string(tag), level, log_burst(window_)})
                     .first;
        return it->second;
    }

    logger& log_;
    clock::time_point::duration window_;
    std::map<std::string, entry, std::less<>> bursts_; // kinds are fixed phrases, so this stays small
};

// Runs `faults.flush` when the next summary is due, on `timer` (an Asio steady timer; a
// template so this header stays free of Asio), and again while bursts keep counting. Call
// it when fault_log::log returns true. `faults`, `time` and `timer` share their owner's life.
template <class Timer>
void schedule_fault_summaries(fault_log& faults, const clock& time, Timer& timer) {
    const auto at = faults.next_summary();
    if (!at) return;
    const auto delay = std::max(*at - time.now(), clock::time_point::duration::zero());
    timer.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(delay));
    timer.async_wait([&faults, &time, &timer](const auto& ec) {
        if (ec) return;
        faults.flush(time.now());
        schedule_fault_summaries(faults, time, timer);
    });
}

} // namespace clipal
