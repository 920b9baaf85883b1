// JSON-lines request log of the fake upstream.
#include "support/fake_upstream/recorder.hpp"

#include <boost/json/serialize.hpp>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace clipal::test::fake_upstream {

recorder::recorder(const std::string& path) : file_(std::fopen(path.c_str(), "ae")) {
    if (file_ == nullptr) throw std::runtime_error("cannot open record file " + path + ": " + std::strerror(errno));
}

recorder::~recorder() { std::fclose(file_); }

void recorder::write(const boost::json::object& line) {
    std::string text = boost::json::serialize(line);
    text += '\n';
    std::fwrite(text.data(), 1, text.size(), file_);
    std::fflush(file_);
}

} // namespace clipal::test::fake_upstream
