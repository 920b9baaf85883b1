// M3's single-stream figure: the in-process SSE origin and its client (see sse_origin.hpp).
#include "bench/sse_origin.hpp"

#include "bench/http_wire.hpp"
#include "bench/sse_streams.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <thread>

namespace clipal::bench {

sse_origin::sse_origin(int port, int events, int interval_ms) : events_(events), interval_ms_(interval_ms) {
    listen_fd_ = listen_loopback(port);
    std::thread([this] { accept_loop(); }).detach();
}

std::vector<double> sse_origin::take_send_times(steady::time_point epoch) {
    std::lock_guard lock(mutex_);
    std::vector<double> out;
    for (auto& tp : sends_) {
        out.push_back(micros_since(epoch, tp));
    }
    sends_.clear();
    return out;
}

void sse_origin::accept_loop() {
    for (;;) {
        int fd = ::accept(listen_fd_, nullptr, nullptr);
        if (fd < 0) {
            continue;
        }
        int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        std::thread([this, fd] { serve(fd); }).detach();
    }
}

void sse_origin::serve(int fd) {
    std::string in;
    while (read_request(fd, in) && send_stream(fd)) {}
    ::close(fd);
}

bool sse_origin::send_stream(int fd) {
    if (!send_all(fd, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
                      "Transfer-Encoding: chunked\r\n\r\n")) {
        return false;
    }
    std::vector<steady::time_point> sends;
    for (int i = 0; i < events_; ++i) {
        if (i > 0) {
            std::this_thread::sleep_until(sends.back() + std::chrono::milliseconds(interval_ms_));
        }
        auto data = "event: tick\ndata: {\"seq\":" + std::to_string(i) + "}\n\n";
        char size[16];
        std::snprintf(size, sizeof size, "%zx\r\n", data.size());
        auto chunk = std::string(size) + data + "\r\n";
        sends.push_back(steady::now());
        if (!send_all(fd, chunk)) {
            return false;
        }
    }
    std::lock_guard lock(mutex_);
    sends_ = std::move(sends);
    return send_all(fd, "0\r\n\r\n");
}

int run_sse_origin(const target& t, int origin_port, const std::string& path, int events, int interval_ms, int reps) {
    sse_origin origin(origin_port, events, interval_ms);
    std::vector<double> delays;
    int coalesced = 0;
    int failed = 0;
    for (int r = 0; r < reps + 1; ++r) {
        auto run = run_streams(t, path, 1, false, 30);
        auto& s = run.streams[0];
        auto sends = origin.take_send_times(s.sent);
        close_streams(run);
        if (run.failed > 0 || s.events != events || sends.size() != s.arrival_us.size()) {
            ++failed;
            continue;
        }
        if (r == 0) {
            continue; // warm-up: first connection to the origin, first use of the proxy's pool
        }
        coalesced += s.coalesced;
        for (std::size_t i = 0; i < sends.size(); ++i) {
            delays.push_back(s.arrival_us[i] - sends[i]);
        }
    }
    std::printf("%.1f %.1f %d %d\n", percentile(delays, 0.5), percentile(delays, 0.99), coalesced, failed);
    return failed == 0 ? 0 : 2;
}

} // namespace clipal::bench
