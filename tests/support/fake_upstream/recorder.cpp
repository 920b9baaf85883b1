// JSON-lines request log of the fake upstream.
#include "support/fake_upstream/recorder.hpp"

#include <boost/json/serialize.hpp>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace clipal::test::fake_upstream {

recorder::recorder(const std::string& path, std::chrono::steady_clock::time_point started)
    : started_(started), file_(std::fopen(path.c_str(), "ae")) {
    if (file_ == nullptr) throw std::runtime_error("cannot open record file " + path + ": " + std::strerror(errno));
}

recorder::~recorder() { std::fclose(file_); }

void recorder::write(boost::json::object line) {
    if (!line.contains("t_ms")) line["t_ms"] = ms_since_start(std::chrono::steady_clock::now());
    std::string text = boost::json::serialize(line);
    text += '\n';
    std::fwrite(text.data(), 1, text.size(), file_);
    std::fflush(file_);
}

} // namespace clipal::test::fake_upstream
