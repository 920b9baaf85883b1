// The process that owns the log files (the supervisor, or a standalone worker) writes
// records here: stdout when log_stdout is on, and the daily files in log_dir.
#pragma once

#include "shared/config.hpp"
#include "shared/log.hpp"

#include <memory>

namespace spdlog {
class logger;
}

namespace clipal {

class daily_file_sink;

class log_writer final : public log_backend {
public:
    log_writer();
    ~log_writer() override;

    // Applies log_dir, log_retention_days and log_stdout; may be called again on reload.
    // An empty log_dir writes no files (used by one-shot commands and tests).
    void configure(const std::string& log_dir, int retention_days, bool to_stdout);

    void write(const log_record& r) override;

private:
    std::shared_ptr<spdlog::logger> out_;
    std::shared_ptr<daily_file_sink> files_;
    std::string dir_;
    int retention_days_ = -1;
    bool stdout_ = false;
};

} // namespace clipal
