#include "shared/log.hpp"

#include <ctime>

namespace clipal {

std::string format_log_line(const log_record& r) {
    const char* label = "[INFO]  ";
    switch (r.level) {
    case log_level::debug: label = "[DEBUG] "; break;
    case log_level::info: label = "[INFO]  "; break;
    case log_level::warn: label = "[WARN]  "; break;
    case log_level::error: label = "[ERROR] "; break;
    }
    const std::time_t t = std::chrono::system_clock::to_time_t(r.time);
    std::tm tm{};
    localtime_r(&t, &tm);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &tm);
    std::string line;
    line.reserve(32 + r.tag.size() + r.message.size());
    line += label;
    line += stamp;
    line += ' ';
    if (!r.tag.empty()) {
        line += '[';
        line += r.tag;
        line += "] ";
    }
    line += r.message;
    return line;
}

logger::logger(const clock& c, log_backend& backend, log_level level) : clock_(c), backend_(backend), level_(level) {}

void logger::log(log_level l, std::string_view tag, std::string_view message) {
    if (!enabled(l)) return;
    log_record r{l, clock_.now(), std::string(tag), redactor_ ? redactor_->redact(message) : std::string(message)};
    backend_.write(r);
}

} // namespace clipal
