// Appends one JSON object per line to the --record file and flushes it at once, so a
// test can read what arrived while the program is still running.
#pragma once

#include <boost/json/object.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace clipal::test::fake_upstream {

class recorder {
public:
    // Opens `path` for appending; throws std::runtime_error if it cannot. `started`: when
    // the program started, the origin of the lines' "t_ms".
    recorder(const std::string& path, std::chrono::steady_clock::time_point started);
    ~recorder();
    recorder(const recorder&) = delete;
    recorder& operator=(const recorder&) = delete;

    // Writes `line`, adding "t_ms" (milliseconds since the start, steady clock) as of now
    // unless the line has it.
    void write(boost::json::object line);
    std::int64_t ms_since_start(std::chrono::steady_clock::time_point t) const {
        return std::chrono::duration_cast<std::chrono::milliseconds>(t - started_).count();
    }

private:
    std::chrono::steady_clock::time_point started_;
    std::FILE* file_ = nullptr;
};

} // namespace clipal::test::fake_upstream
