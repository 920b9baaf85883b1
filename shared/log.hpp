// The logging front end every module uses: records with level, time, tag and text,
// the seed's line format, and a logger that filters by level and redacts keys before
// handing records to a backend (the file writer in the supervisor, IPC in a worker).
#pragma once

#include "shared/clock.hpp"
#include "shared/config.hpp"
#include "shared/redact.hpp"

#include <fmt/format.h>

#include <atomic>
#include <memory>
#include <string>
#include <string_view>

namespace clipal {

struct log_record {
    log_level level = log_level::info;
    clock::time_point time;
    std::string tag;     // "claudecode", or empty for process-wide lines
    std::string message; // already redacted
};

// "[WARN]  2024-01-01 12:00:06 [claudecode] message" in local time.
std::string format_log_line(const log_record& r);

class log_backend {
public:
    virtual ~log_backend() = default;
    // Called from the logging thread; implementations must not throw.
    virtual void write(const log_record& r) = 0;
};

// Not copyable; shared by reference. Level changes are atomic so a reload can apply them live.
class logger {
public:
    logger(const clock& c, log_backend& backend, log_level level = log_level::info);

    void set_level(log_level l) { level_.store(l, std::memory_order_relaxed); }
    log_level level() const { return level_.load(std::memory_order_relaxed); }
    bool enabled(log_level l) const { return l >= level(); }

    // Keys in the redactor are replaced by their fingerprints in every message.
    void set_redactor(std::shared_ptr<const redactor> r) { redactor_ = std::move(r); }

    void log(log_level l, std::string_view tag, std::string_view message);

    template <class... A>
    void debug(std::string_view tag, fmt::format_string<A...> f, A&&... a) {
        if (enabled(log_level::debug)) log(log_level::debug, tag, fmt::format(f, std::forward<A>(a)...));
    }
    template <class... A>
    void info(std::string_view tag, fmt::format_string<A...> f, A&&... a) {
        if (enabled(log_level::info)) log(log_level::info, tag, fmt::format(f, std::forward<A>(a)...));
    }
    template <class... A>
    void warn(std::string_view tag, fmt::format_string<A...> f, A&&... a) {
        if (enabled(log_level::warn)) log(log_level::warn, tag, fmt::format(f, std::forward<A>(a)...));
    }
    template <class... A>
    void error(std::string_view tag, fmt::format_string<A...> f, A&&... a) {
        if (enabled(log_level::error)) log(log_level::error, tag, fmt::format(f, std::forward<A>(a)...));
    }

private:
    const clock& clock_;
    log_backend& backend_;
    std::atomic<log_level> level_;
    std::shared_ptr<const redactor> redactor_;
};

} // namespace clipal
