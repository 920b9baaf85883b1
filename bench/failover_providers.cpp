// M5: in-process providers A and B and the warm-failover measurement (see failover_providers.hpp).
#include "bench/failover_providers.hpp"

#include "bench/bench_common.hpp"
#include "bench/blocking_client.hpp"
#include "bench/http_wire.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <utility>

namespace clipal::bench {

flip_upstream::flip_upstream(int port) : port_(port) { reopen(); }

flip_upstream::~flip_upstream() { refuse(true); }

void flip_upstream::reopen() {
    listen_fd_ = listen_loopback(port_);
    accept_thread_ = std::thread([this, fd = listen_fd_] { accept_loop(fd); });
}

void flip_upstream::refuse(bool reset) {
    if (listen_fd_ < 0) {
        return;
    }
    // shutdown() wakes the blocked accept().
    ::shutdown(listen_fd_, SHUT_RDWR);
    accept_thread_.join();
    ::close(listen_fd_);
    listen_fd_ = -1;
    std::unique_lock lock(mutex_);
    for (int fd : conns_) {
        if (reset) {
            // SHUT_RD only wakes the serving thread; its close() then resets.
            linger abort{1, 0};
            ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
            ::shutdown(fd, SHUT_RD);
        } else {
            ::shutdown(fd, SHUT_RDWR);
        }
    }
    drained_.wait(lock, [this] { return conns_.empty(); });
}

void flip_upstream::accept_loop(int listen_fd) {
    for (;;) {
        int fd = ::accept(listen_fd, nullptr, nullptr);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) {
                continue;
            }
            return;
        }
        int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        std::lock_guard lock(mutex_);
        conns_.push_back(fd);
        std::thread([this, fd] { serve(fd); }).detach();
    }
}

void flip_upstream::serve(int fd) {
    static const std::string ok_body =
        R"({"id":"msg_bench","type":"message","role":"assistant","model":"claude-x","content":[{"type":"text","text":"ok"}],"stop_reason":"end_turn","usage":{"input_tokens":1,"output_tokens":1}})";
    static const std::string fail_body =
        R"({"type":"error","error":{"type":"api_error","message":"Service unavailable"}})";
    static const std::string ok =
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(ok_body.size()) +
        "\r\n\r\n" + ok_body;
    static const std::string fail = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                                    "request-id: req_bench\r\nContent-Length: " +
                                    std::to_string(fail_body.size()) + "\r\n\r\n" + fail_body;
    std::string in;
    while (read_request(fd, in) && send_all(fd, failing_.load() ? fail : ok)) {}
    std::lock_guard lock(mutex_);
    conns_.erase(std::find(conns_.begin(), conns_.end(), fd));
    ::close(fd);
    drained_.notify_all();
}

int run_failover_warm(const target& t, const std::string& path, const std::string& kind, int a_port, int b_port,
                      int count, bool sticky) {
    flip_upstream a(a_port);
    flip_upstream b(b_port);
    if (!poll_until_ok(t, path, steady::now(), 10000)) {
        std::fprintf(stderr, "clipal_bench: the proxy at port %d never answered 200\n", t.port);
        return 2;
    }
    blocking_client c(t);
    auto wire = post_request(path, small_body);
    for (int i = 0; i < 50; ++i) {
        c.request(wire);
    }
    flip_upstream* first = &a;
    flip_upstream* other = &b;
    std::vector<double> plain;
    std::vector<double> failover;
    int failures = 0;
    auto untimed = [&] { failures += c.request(wire) == 200 ? 0 : 1; };
    auto timed = [&](std::vector<double>& into) {
        auto t0 = steady::now();
        untimed();
        into.push_back(micros_since(t0, steady::now()));
    };
    for (int i = 0; i < count; ++i) {
        // Unmeasured: nginx opens a new upstream connection for the request after a failover;
        // this one takes it, so both timed samples start from pooled connections.
        untimed();
        timed(plain);
        if (kind == "503") {
            first->set_failing(true);
            timed(failover);
            first->set_failing(false);
            if (sticky) {
                std::swap(first, other);
            }
        } else {
            a.refuse();
            timed(failover);
            a.reopen();
            b.set_failing(true);
            untimed();
            b.set_failing(false);
        }
    }
    // Paired differences: their median drifts less with the machine's load than a difference
    // of two medians.
    std::vector<double> extra;
    for (std::size_t i = 0; i < failover.size(); ++i) {
        extra.push_back(failover[i] - plain[i]);
    }
    std::printf("%.1f %.1f %d %.1f\n", percentile(failover, 0.5), percentile(plain, 0.5), failures,
                percentile(extra, 0.5));
    return failures == 0 ? 0 : 2;
}

} // namespace clipal::bench
