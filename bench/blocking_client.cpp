// A blocking keep-alive HTTP client for sequential requests (see blocking_client.hpp).
#include "bench/blocking_client.hpp"

#include "bench/http_wire.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <string_view>
#include <thread>
#include <utility>

namespace clipal::bench {

blocking_client::blocking_client(target t) : t_(std::move(t)) {}

blocking_client::~blocking_client() { reset(); }

int blocking_client::request(const std::string& wire) {
    if (fd_ < 0) {
        fd_ = connect_to(t_, false);
        if (fd_ < 0) {
            return 0;
        }
        timeval tv{5, 0};
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    }
    if (!send_all(fd_, wire)) {
        reset();
        return 0;
    }
    response_reader rr;
    char buf[65536];
    while (!rr.done()) {
        auto n = ::recv(fd_, buf, sizeof buf, 0);
        if (n <= 0) {
            reset();
            return rr.head_done() ? rr.status() : 0;
        }
        if (!rr.feed(std::string_view(buf, static_cast<std::size_t>(n)))) {
            reset();
            return 0;
        }
    }
    if (rr.close_after()) {
        reset();
    }
    return rr.status();
}

void blocking_client::reset() {
    if (fd_ >= 0) {
        ::close(fd_);
        fd_ = -1;
    }
}

std::optional<double> poll_until_ok(const target& t, const std::string& path, steady::time_point t0, int timeout_ms) {
    auto wire = post_request(path, small_body);
    auto deadline = t0 + std::chrono::milliseconds(timeout_ms);
    while (steady::now() < deadline) {
        blocking_client c(t);
        if (c.request(wire) == 200) {
            return micros_since(t0, steady::now());
        }
        // Connection refused before the listener exists: retry quickly, this is the measurement.
        std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
    return std::nullopt;
}

} // namespace clipal::bench
