// Appends one JSON object per line to the --record file and flushes it at once, so a
// test can read what arrived while the program is still running.
#pragma once

#include <boost/json/object.hpp>

#include <cstdio>
#include <string>

namespace clipal::test::fake_upstream {

class recorder {
public:
    // Opens `path` for appending; throws std::runtime_error if it cannot.
    explicit recorder(const std::string& path);
    ~recorder();
    recorder(const recorder&) = delete;
    recorder& operator=(const recorder&) = delete;

    void write(const boost::json::object& line);

private:
    std::FILE* file_ = nullptr;
};

} // namespace clipal::test::fake_upstream
