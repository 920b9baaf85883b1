#include "shared/log_writer.hpp"

#include "shared/daily_file_sink.hpp"

#include <spdlog/logger.h>
#include <spdlog/sinks/stdout_sinks.h>

namespace clipal {

log_writer::log_writer() : out_(std::make_shared<spdlog::logger>("clipal")) {
    out_->set_pattern("%v");
    out_->set_level(spdlog::level::trace);
}

log_writer::~log_writer() = default;

void log_writer::configure(const std::string& log_dir, int retention_days, bool to_stdout) {
    if (log_dir == dir_ && retention_days == retention_days_ && to_stdout == stdout_) return;
    auto& sinks = out_->sinks();
    sinks.clear();
    if (to_stdout) sinks.push_back(std::make_shared<spdlog::sinks::stdout_sink_mt>());
    if (log_dir.empty()) {
        files_.reset();
    } else if (!files_ || log_dir != dir_ || retention_days != retention_days_) {
        files_ = std::make_shared<daily_file_sink>(log_dir, retention_days);
    }
    if (files_) sinks.push_back(files_);
    // The pattern is applied per sink, so it is set again after the sinks change.
    out_->set_pattern("%v");
    dir_ = log_dir;
    retention_days_ = retention_days;
    stdout_ = to_stdout;
}

void log_writer::write(const log_record& r) {
    const std::string line = format_log_line(r);
    try {
        out_->log(r.time, spdlog::source_loc{}, spdlog::level::info, line);
        out_->flush();
    } catch (...) {
        // A full disk or closed stdout must not take the proxy down; the line is lost.
    }
}

} // namespace clipal
