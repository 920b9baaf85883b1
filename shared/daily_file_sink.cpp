#include "shared/daily_file_sink.hpp"

#include <fmt/format.h>

#include <cstdio>
#include <ctime>

namespace clipal {
namespace {

std::chrono::year_month_day local_day(std::chrono::system_clock::time_point t) {
    const std::time_t tt = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    localtime_r(&tt, &tm);
    return std::chrono::year_month_day{std::chrono::year{tm.tm_year + 1900},
                                       std::chrono::month{static_cast<unsigned>(tm.tm_mon + 1)},
                                       std::chrono::day{static_cast<unsigned>(tm.tm_mday)}};
}

// Parses "clipal-YYYY-MM-DD.log"; anything else is not ours and is left alone.
std::optional<std::chrono::year_month_day> day_of(const std::string& name) {
    int y = 0;
    unsigned m = 0, d = 0;
    char tail[8] = {};
    if (name.size() != 21 || std::sscanf(name.c_str(), "clipal-%4d-%2u-%2u%4s", &y, &m, &d, tail) != 4 ||
        std::string_view(tail) != ".log")
        return std::nullopt;
    std::chrono::year_month_day ymd{std::chrono::year{y}, std::chrono::month{m}, std::chrono::day{d}};
    if (!ymd.ok()) return std::nullopt;
    return ymd;
}

} // namespace

daily_file_sink::daily_file_sink(std::filesystem::path dir, int retention_days)
    : dir_(std::move(dir)), retention_days_(retention_days) {
    // Creating the directory and the file, and the first use of this code, take ~0.5 ms.
    // Done here, at start, the first line written does not pay it: that line is often a
    // failover warning, written while the request that failed over is still in flight.
    // The day and the purge still follow the first message's time (rotate_to).
    try {
        open_for(local_day(std::chrono::system_clock::now()));
    } catch (const spdlog::spdlog_ex&) {
        // Not writable now: the first line tries again (and is lost if it still fails).
    }
}

std::string daily_file_sink::file_name_for(std::chrono::year_month_day day) {
    return fmt::format("clipal-{:04d}-{:02d}-{:02d}.log", static_cast<int>(day.year()),
                       static_cast<unsigned>(day.month()), static_cast<unsigned>(day.day()));
}

void daily_file_sink::sink_it_(const spdlog::details::log_msg& msg) {
    const auto today = local_day(msg.time);
    if (!day_ || *day_ != today) rotate_to(today);
    spdlog::memory_buf_t line;
    line.append(msg.payload.data(), msg.payload.data() + msg.payload.size());
    line.push_back('\n');
    file_.write(line);
    // Lines are few and precious when something goes wrong: never leave them in a buffer.
    file_.flush();
}

void daily_file_sink::flush_() { file_.flush(); }

void daily_file_sink::rotate_to(std::chrono::year_month_day day) {
    open_for(day);
    day_ = day;
    purge(day);
}

void daily_file_sink::open_for(std::chrono::year_month_day day) {
    std::error_code ec;
    std::filesystem::create_directories(dir_, ec);
    std::filesystem::permissions(dir_, std::filesystem::perms::owner_all, ec);
    file_.close();
    file_.open((dir_ / file_name_for(day)).string(), false);
}

void daily_file_sink::purge(std::chrono::year_month_day today) {
    if (retention_days_ <= 0) return;
    const auto oldest_kept = std::chrono::sys_days{today} - std::chrono::days{retention_days_};
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
        auto d = day_of(entry.path().filename().string());
        if (d && std::chrono::sys_days{*d} < oldest_kept) std::filesystem::remove(entry.path(), ec);
    }
}

} // namespace clipal
