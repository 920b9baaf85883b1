// Many streaming requests at once on one epoll loop (see sse_streams.hpp).
#include "bench/sse_streams.hpp"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string_view>

namespace clipal::bench {
namespace {

// Counts SSE events completed by the newest body bytes; `prev_size` is the body size before
// them, so a terminator split across two reads is still seen once.
int count_new_events(stream_state& s, std::size_t prev_size) {
    const auto& body = s.rr.body();
    int n = 0;
    std::size_t from = std::max(s.scanned, prev_size > 0 ? prev_size - 1 : 0);
    for (auto p = body.find("\n\n", from); p != std::string::npos; p = body.find("\n\n", p + 2)) {
        ++n;
        s.scanned = p + 2;
    }
    return n;
}

} // namespace

stream_run run_streams(const target& t, const std::string& path, int count, bool until_first, int timeout_s) {
    stream_run run;
    run.streams = std::vector<stream_state>(static_cast<std::size_t>(count));
    int ep = ::epoll_create1(0);
    auto wire = post_request(path, stream_body);
    auto start = steady::now();
    for (int i = 0; i < count; ++i) {
        auto& s = run.streams[static_cast<std::size_t>(i)];
        s.fd = connect_to(t, true);
        if (s.fd < 0) {
            s.failed = true;
            continue;
        }
        epoll_event ev{};
        ev.events = EPOLLOUT | EPOLLIN;
        ev.data.u32 = static_cast<std::uint32_t>(i);
        ::epoll_ctl(ep, EPOLL_CTL_ADD, s.fd, &ev);
    }
    std::vector<bool> sent(static_cast<std::size_t>(count), false);
    int open = 0;
    for (auto& s : run.streams) {
        open += s.failed ? 0 : 1;
    }
    std::vector<epoll_event> evs(1024);
    char buf[65536];
    auto deadline = start + std::chrono::seconds(timeout_s);
    while (open > 0 && steady::now() < deadline) {
        int n = ::epoll_wait(ep, evs.data(), static_cast<int>(evs.size()), 100);
        for (int k = 0; k < n; ++k) {
            auto i = evs[static_cast<std::size_t>(k)].data.u32;
            auto& s = run.streams[i];
            if (s.finished || s.failed) {
                continue;
            }
            if (!sent[i] && (evs[static_cast<std::size_t>(k)].events & EPOLLOUT)) {
                sent[i] = true;
                s.sent = steady::now();
                // Small request: fits the socket buffer of a fresh connection in one send.
                if (!send_all(s.fd, wire)) {
                    s.failed = true;
                    --open;
                    continue;
                }
                epoll_event ev{};
                ev.events = EPOLLIN;
                ev.data.u32 = i;
                ::epoll_ctl(ep, EPOLL_CTL_MOD, s.fd, &ev);
                continue;
            }
            auto r = ::recv(s.fd, buf, sizeof buf, 0);
            auto now = steady::now();
            if (r <= 0) {
                if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
                    continue;
                }
                s.finished = s.rr.done();
                s.failed = !s.finished;
                --open;
                continue;
            }
            auto prev_size = s.rr.body().size();
            if (!s.rr.feed(std::string_view(buf, static_cast<std::size_t>(r)))) {
                s.failed = true;
                --open;
                continue;
            }
            int fresh = count_new_events(s, prev_size);
            for (int e = 0; e < fresh; ++e) {
                s.arrival_us.push_back(micros_since(s.sent, now));
            }
            s.coalesced += std::max(0, fresh - 1);
            s.events += fresh;
            if (s.rr.done() || (until_first && s.events > 0)) {
                s.finished = true;
                --open;
            }
        }
    }
    run.total_ms = micros_since(start, steady::now()) / 1000.0;
    for (auto& s : run.streams) {
        if (s.failed || !s.finished) {
            ++run.failed;
        }
    }
    ::close(ep);
    return run;
}

void close_streams(stream_run& run) {
    for (auto& s : run.streams) {
        if (s.fd >= 0) {
            ::close(s.fd);
            s.fd = -1;
        }
    }
}

int run_sse(const target& t, const std::string& path, int count, int events, int interval_ms) {
    auto run = run_streams(t, path, count, false, 120);
    std::vector<double> lateness;
    int coalesced = 0;
    int short_streams = 0;
    for (auto& s : run.streams) {
        coalesced += s.coalesced;
        if (s.events != events) {
            ++short_streams;
        }
        for (std::size_t i = 0; i < s.arrival_us.size(); ++i) {
            lateness.push_back(s.arrival_us[i] - static_cast<double>(i) * interval_ms * 1000.0);
        }
    }
    close_streams(run);
    std::printf("%.1f %.1f %d %.2f %d\n", percentile(lateness, 0.5), percentile(lateness, 0.99), coalesced,
                run.total_ms, run.failed + short_streams);
    return run.failed + short_streams == 0 ? 0 : 2;
}

int run_hold(const target& t, const std::string& path, int count) {
    auto run = run_streams(t, path, count, true, 60);
    std::printf("held %d %d\n", count - run.failed, run.failed);
    std::fflush(stdout);
    char c;
    while (::read(0, &c, 1) > 0) {}
    close_streams(run);
    return 0;
}

} // namespace clipal::bench
