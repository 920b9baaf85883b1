// spdlog sink writing clipal-YYYY-MM-DD.log files, one per local day, and deleting
// files older than the retention period. The day is taken from each message's time,
// which the logger sets from the injectable clock, so rotation is testable.
#pragma once

#include <spdlog/details/file_helper.h>
#include <spdlog/sinks/base_sink.h>

#include <chrono>
#include <filesystem>
#include <mutex>
#include <optional>

namespace clipal {

class daily_file_sink final : public spdlog::sinks::base_sink<std::mutex> {
public:
    // retention_days == 0 keeps every file.
    daily_file_sink(std::filesystem::path dir, int retention_days);

    static std::string file_name_for(std::chrono::year_month_day day);
    const std::filesystem::path& dir() const { return dir_; }

protected:
    void sink_it_(const spdlog::details::log_msg& msg) override;
    void flush_() override;

private:
    void rotate_to(std::chrono::year_month_day day);
    void open_for(std::chrono::year_month_day day);
    void purge(std::chrono::year_month_day today);

    std::filesystem::path dir_;
    int retention_days_;
    std::optional<std::chrono::year_month_day> day_;
    spdlog::details::file_helper file_;
};

} // namespace clipal
