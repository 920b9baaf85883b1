// Load generator and stopwatch for scripts/bench: latency, SSE pacing, many held streams,
// warm failover timing, startup and worker-restart timing. Plain POSIX sockets and epoll (no Asio)
// so the client's own overhead is small and identical for every target it measures.
// Each mode prints one line of space-separated numbers that the script parses.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <spawn.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cinttypes>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

extern char** environ;

namespace {

using steady = std::chrono::steady_clock;

double micros_since(steady::time_point t0, steady::time_point t1)
{
    return std::chrono::duration<double, std::micro>(t1 - t0).count();
}

double percentile(std::vector<double> v, double p)
{
    if (v.empty()) {
        return 0;
    }
    std::sort(v.begin(), v.end());
    auto idx = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
    return v[std::min(idx, v.size() - 1)];
}

[[noreturn]] void die(const std::string& what)
{
    std::fprintf(stderr, "clipal_bench: %s: %s\n", what.c_str(), std::strerror(errno));
    std::exit(1);
}

// Incremental HTTP/1.1 response reader: status, Content-Length or chunked framing, and the
// decoded body handed out piece by piece so SSE events can be timed as they arrive.
class response_reader {
public:
    // Feeds raw bytes; appends decoded body bytes to `body_out`. Returns false on a framing error.
    bool feed(std::string_view in, std::string& body_out)
    {
        raw_.append(in);
        if (!head_done_) {
            auto end = raw_.find("\r\n\r\n");
            if (end == std::string::npos) {
                return raw_.size() < 65536;
            }
            parse_head(std::string_view(raw_).substr(0, end));
            raw_.erase(0, end + 4);
            head_done_ = true;
            if (!chunked_ && content_length_ == 0 && has_length_) {
                done_ = true;
            }
        }
        if (!chunked_) {
            body_out.append(raw_);
            received_ += raw_.size();
            raw_.clear();
            if (has_length_ && received_ >= content_length_) {
                done_ = true;
            }
            return true;
        }
        return decode_chunks(body_out);
    }

    bool done() const { return done_; }
    bool head_done() const { return head_done_; }
    int status() const { return status_; }
    bool close_after() const { return close_; }

private:
    void parse_head(std::string_view head)
    {
        if (head.size() > 12) {
            status_ = std::atoi(std::string(head.substr(9, 3)).c_str());
        }
        std::string lower(head);
        std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        if (lower.find("\r\ntransfer-encoding: chunked") != std::string::npos) {
            chunked_ = true;
        }
        if (auto p = lower.find("\r\ncontent-length:"); p != std::string::npos) {
            has_length_ = true;
            content_length_ = std::strtoull(lower.c_str() + p + 17, nullptr, 10);
        }
        close_ = lower.find("\r\nconnection: close") != std::string::npos;
    }

    bool decode_chunks(std::string& body_out)
    {
        for (;;) {
            if (chunk_left_ > 0) {
                auto n = std::min<std::size_t>(chunk_left_, raw_.size());
                body_out.append(raw_, 0, n);
                raw_.erase(0, n);
                chunk_left_ -= n;
                if (chunk_left_ > 0) {
                    return true;
                }
                need_crlf_ = true;
            }
            if (need_crlf_) {
                if (raw_.size() < 2) {
                    return true;
                }
                raw_.erase(0, 2);
                need_crlf_ = false;
            }
            auto eol = raw_.find("\r\n");
            if (eol == std::string::npos) {
                return raw_.size() < 1024;
            }
            auto size = std::strtoull(raw_.c_str(), nullptr, 16);
            if (size == 0) {
                // Last chunk; no trailers are expected from the targets measured here.
                if (raw_.size() < eol + 4) {
                    return true;
                }
                done_ = true;
                raw_.clear();
                return true;
            }
            raw_.erase(0, eol + 2);
            chunk_left_ = size;
        }
    }

    std::string raw_;
    bool head_done_ = false;
    bool chunked_ = false;
    bool has_length_ = false;
    bool done_ = false;
    bool close_ = false;
    bool need_crlf_ = false;
    int status_ = 0;
    std::size_t content_length_ = 0;
    std::size_t received_ = 0;
    std::size_t chunk_left_ = 0;
};

struct target {
    std::string host;
    int port = 0;
};

int connect_to(const target& t, bool nonblocking)
{
    int fd = ::socket(AF_INET, SOCK_STREAM | (nonblocking ? SOCK_NONBLOCK : 0), 0);
    if (fd < 0) {
        die("socket");
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<std::uint16_t>(t.port));
    ::inet_pton(AF_INET, t.host.c_str(), &sa.sin_addr);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 && errno != EINPROGRESS) {
        ::close(fd);
        return -1;
    }
    return fd;
}

std::string post_request(const std::string& path, const std::string& body)
{
    return "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
           "x-api-key: sk-bench-client\r\nanthropic-version: 2023-06-01\r\nContent-Length: "
        + std::to_string(body.size()) + "\r\n\r\n" + body;
}

const std::string small_body = R"({"model":"claude-x","max_tokens":16,"messages":[{"role":"user","content":"hi"}]})";
const std::string stream_body = R"({"model":"claude-x","max_tokens":16,"stream":true,"messages":[{"role":"user","content":"hi"}]})";

bool send_all(int fd, std::string_view data)
{
    while (!data.empty()) {
        auto n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return false;
        }
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

// Blocking keep-alive client for sequential requests; reconnects when the server closes.
class blocking_client {
public:
    explicit blocking_client(target t) : t_(std::move(t)) {}
    ~blocking_client() { reset(); }
    blocking_client(const blocking_client&) = delete;
    blocking_client& operator=(const blocking_client&) = delete;

    // One request; returns the status (0 on a transport failure) and leaves the body in body().
    int request(const std::string& wire)
    {
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
        body_.clear();
        char buf[65536];
        while (!rr.done()) {
            auto n = ::recv(fd_, buf, sizeof buf, 0);
            if (n <= 0) {
                reset();
                return rr.head_done() ? rr.status() : 0;
            }
            if (!rr.feed(std::string_view(buf, static_cast<std::size_t>(n)), body_)) {
                reset();
                return 0;
            }
        }
        if (rr.close_after()) {
            reset();
        }
        return rr.status();
    }

    void reset()
    {
        if (fd_ >= 0) {
            ::close(fd_);
            fd_ = -1;
        }
    }

private:
    target t_;
    int fd_ = -1;
    std::string body_;
};

// latency: `count` sequential small POSTs to each target (a keep-alive connection each,
// after a warm-up), in turns of `batch` requests, so every target is measured across the
// same stretch of time. This VM has slow and fast spells lasting seconds; one target
// measured after another compared a proxy in one spell with the other in the next.
// One line per target, in the order given: p50 p99 failures.
int run_latency(const std::vector<std::pair<target, std::string>>& targets, int count, int batch)
{
    struct measured {
        measured(const target& t, std::string w) : client(t), wire(std::move(w)) {}
        blocking_client client;
        std::string wire;
        std::vector<double> us;
        int failures = 0;
    };
    std::vector<std::unique_ptr<measured>> all;
    for (const auto& [t, path] : targets) {
        all.push_back(std::make_unique<measured>(t, post_request(path, small_body)));
    }
    for (auto& x : all) {
        for (int i = 0; i < 50; ++i) {
            x->client.request(x->wire);
        }
    }
    for (int done = 0; done < count; done += batch) {
        for (auto& x : all) {
            for (int i = 0; i < batch && done + i < count; ++i) {
                auto t0 = steady::now();
                int st = x->client.request(x->wire);
                auto t1 = steady::now();
                if (st != 200) {
                    ++x->failures;
                }
                x->us.push_back(micros_since(t0, t1));
            }
        }
    }
    int failures = 0;
    for (auto& x : all) {
        std::printf("%.1f %.1f %d\n", percentile(x->us, 0.5), percentile(x->us, 0.99), x->failures);
        failures += x->failures;
    }
    return failures == 0 ? 0 : 2;
}

// A listening socket on 127.0.0.1:port for an upstream inside this process. A connection of
// an earlier run may still hold the port for a moment, so a busy port is retried for 3 s.
int listen_loopback(int port)
{
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<std::uint16_t>(port));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    auto deadline = steady::now() + std::chrono::seconds(3);
    while (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
        if (errno != EADDRINUSE || steady::now() > deadline) {
            die("bind to port " + std::to_string(port));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (::listen(fd, 64) != 0) {
        die("listen on port " + std::to_string(port));
    }
    return fd;
}

// Blocks until one whole request (head and Content-Length body) is in `in` and removes it;
// false when the peer closes or fails first. For the upstreams inside this process.
bool next_request(int fd, std::string& in)
{
    char buf[8192];
    for (;;) {
        if (auto end = in.find("\r\n\r\n"); end != std::string::npos) {
            std::string head = in.substr(0, end);
            std::transform(head.begin(), head.end(), head.begin(),
                           [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
            std::size_t length = 0;
            if (auto p = head.find("\r\ncontent-length:"); p != std::string::npos) {
                length = std::strtoull(head.c_str() + p + 17, nullptr, 10);
            }
            if (in.size() >= end + 4 + length) {
                in.erase(0, end + 4 + length);
                return true;
            }
        }
        auto n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) {
            return false;
        }
        in.append(buf, static_cast<std::size_t>(n));
    }
}

// One streaming request multiplexed with others on epoll.
struct stream_state {
    int fd = -1;
    response_reader rr;
    std::string body;
    std::size_t scanned = 0;
    int events = 0;
    int coalesced = 0;
    bool finished = false;
    bool failed = false;
    steady::time_point sent;
    std::vector<double> arrival_us; // per event, since the request was sent
};

// Counts SSE events completed by the newest body bytes ("\n\n" terminators); `prev_size` is
// the body size before them, so a terminator split across two reads is still seen once.
int count_new_events(stream_state& s, std::size_t prev_size)
{
    int n = 0;
    std::size_t from = std::max(s.scanned, prev_size > 0 ? prev_size - 1 : 0);
    for (auto p = s.body.find("\n\n", from); p != std::string::npos; p = s.body.find("\n\n", p + 2)) {
        ++n;
        s.scanned = p + 2;
    }
    return n;
}

struct stream_run {
    std::vector<stream_state> streams;
    double total_ms = 0;
    int failed = 0;
};

// Opens `count` streams at once and reads them until each ends (or until `until_first` event
// when holding). Returns per-stream timings.
stream_run run_streams(const target& t, const std::string& path, int count, bool until_first, int timeout_s)
{
    stream_run run;
    run.streams.resize(static_cast<std::size_t>(count));
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
            auto prev_size = s.body.size();
            if (!s.rr.feed(std::string_view(buf, static_cast<std::size_t>(r)), s.body)) {
                s.failed = true;
                --open;
                continue;
            }
            int fresh = count_new_events(s, prev_size);
            for (int e = 0; e < fresh; ++e) {
                s.arrival_us.push_back(micros_since(s.sent, now));
            }
            // Events completed by the same recv as the previous event were coalesced.
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

void close_streams(stream_run& run)
{
    for (auto& s : run.streams) {
        if (s.fd >= 0) {
            ::close(s.fd);
            s.fd = -1;
        }
    }
}

// sse: `count` concurrent streams of `events` events `interval_ms` apart. Prints, over all
// events, the p50/p99 of lateness (arrival minus request sent minus i*interval) in µs, the
// number of coalesced events, the total wall time in ms, and failed streams.
int run_sse(const target& t, const std::string& path, int count, int events, int interval_ms)
{
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

// An SSE origin inside this process: it stamps each event when it writes it, so the client
// thread can measure each event's delay through a proxy exactly (same clock, no upstream drift).
// Events are paced from the previous send, so a late wake-up never causes a burst.
class sse_origin {
public:
    sse_origin(int port, int events, int interval_ms) : events_(events), interval_ms_(interval_ms)
    {
        listen_fd_ = listen_loopback(port);
        std::thread([this] { accept_loop(); }).detach();
    }
    sse_origin(const sse_origin&) = delete;
    sse_origin& operator=(const sse_origin&) = delete;

    // Send times (µs since `epoch`) of the last stream, once it has been written completely.
    std::vector<double> take_send_times(steady::time_point epoch)
    {
        std::lock_guard lock(mutex_);
        std::vector<double> out;
        for (auto& tp : sends_) {
            out.push_back(micros_since(epoch, tp));
        }
        sends_.clear();
        return out;
    }

private:
    void accept_loop()
    {
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

    // Serves keep-alive requests on one connection until the peer closes.
    void serve(int fd)
    {
        std::string in;
        while (next_request(fd, in) && send_stream(fd)) {
        }
        ::close(fd);
    }

    bool send_stream(int fd)
    {
        if (!send_all(fd, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
                          "Transfer-Encoding: chunked\r\n\r\n")) {
            return false;
        }
        std::vector<steady::time_point> sends;
        for (int i = 0; i < events_; ++i) {
            // Paced from the previous send, not an absolute schedule: a late wake-up must not be
            // followed by a catch-up burst, which would coalesce at any receiver.
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

    int listen_fd_ = -1;
    int events_;
    int interval_ms_;
    std::mutex mutex_;
    std::vector<steady::time_point> sends_;
};

// sse-origin: `reps` sequential streams through the proxy at PORT whose upstream is the
// in-process origin at ORIGIN_PORT. Prints per-event delay (arrival minus origin send) p50/p99
// in µs over all events, coalesced events, and failed streams.
int run_sse_origin(const target& t, int origin_port, const std::string& path, int events, int interval_ms, int reps)
{
    sse_origin origin(origin_port, events, interval_ms);
    std::vector<double> delays;
    int coalesced = 0;
    int failed = 0;
    for (int r = 0; r < reps + 1; ++r) {
        auto run = run_streams(t, path, 1, false, 30);
        auto& s = run.streams[0];
        // The origin stores its stamps before the final chunk, so they are complete here.
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

// hold: opens `count` streams, waits for the first event on each, prints "held <ok> <failed>",
// then keeps them open until stdin reaches EOF (the script measures memory meanwhile).
int run_hold(const target& t, const std::string& path, int count)
{
    auto run = run_streams(t, path, count, true, 60);
    std::printf("held %d %d\n", count - run.failed, run.failed);
    std::fflush(stdout);
    char c;
    while (::read(0, &c, 1) > 0) {
    }
    close_streams(run);
    return 0;
}

// Polls with fresh connections until a request answers 200; returns µs since t0 or nullopt.
std::optional<double> poll_until_ok(const target& t, const std::string& path, steady::time_point t0, int timeout_ms)
{
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

// startup: spawns argv, prints "<ms to first 200> <pid>" and leaves the child running.
int run_startup(const target& t, const std::string& path, char** argv)
{
    auto t0 = steady::now();
    // The child must not inherit our stdout: the script reads it to EOF while the child lives on.
    posix_spawn_file_actions_t fa;
    ::posix_spawn_file_actions_init(&fa);
    ::posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    ::posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    ::posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    pid_t pid = 0;
    int rc = ::posix_spawn(&pid, argv[0], &fa, nullptr, argv, environ);
    ::posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        errno = rc;
        die("posix_spawn");
    }
    auto us = poll_until_ok(t, path, t0, 10000);
    std::printf("%.2f %d\n", us ? *us / 1000.0 : -1.0, static_cast<int>(pid));
    return us ? 0 : 2;
}

// restart: SIGKILLs pid, prints ms until a request through the target answers 200 again.
int run_restart(const target& t, const std::string& path, pid_t pid)
{
    auto t0 = steady::now();
    if (::kill(pid, SIGKILL) != 0) {
        die("kill");
    }
    auto us = poll_until_ok(t, path, t0, 10000);
    std::printf("%.2f\n", us ? *us / 1000.0 : -1.0);
    return us ? 0 : 2;
}

// A provider stand-in inside this process for the warm failover figure. It answers 200, or 503
// with an Anthropic error body while `failing` (no Retry-After, so clipal does not cool it
// down); `refuse()` closes its listener and every open connection, as a provider that went
// away does, so the next connection attempt is refused; `reopen()` listens again.
class flip_upstream {
public:
    explicit flip_upstream(int port) : port_(port) { reopen(); }
    // Ends with resets: a FIN from this side would leave the port in TIME_WAIT, which can
    // block the next run's bind.
    ~flip_upstream() { refuse(true); }
    flip_upstream(const flip_upstream&) = delete;
    flip_upstream& operator=(const flip_upstream&) = delete;

    void set_failing(bool failing) { failing_.store(failing); }

    void reopen()
    {
        listen_fd_ = listen_loopback(port_);
        accept_thread_ = std::thread([this, fd = listen_fd_] { accept_loop(fd); });
    }

    // Connections end with a FIN, as the idle connections of a stopped server do; `reset`
    // ends them with a reset instead.
    void refuse(bool reset = false)
    {
        if (listen_fd_ < 0) {
            return;
        }
        // shutdown() wakes the blocked accept(); the listener is closed before we return, so
        // a connection attempt from now on is refused and reopen() can bind the port again.
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

private:
    void accept_loop(int listen_fd)
    {
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

    void serve(int fd)
    {
        static const std::string ok_body =
            R"({"id":"msg_bench","type":"message","role":"assistant","model":"claude-x","content":[{"type":"text","text":"ok"}],"stop_reason":"end_turn","usage":{"input_tokens":1,"output_tokens":1}})";
        static const std::string fail_body = R"({"type":"error","error":{"type":"api_error","message":"Service unavailable"}})";
        static const std::string ok = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
            + std::to_string(ok_body.size()) + "\r\n\r\n" + ok_body;
        static const std::string fail = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                                        "request-id: req_bench\r\nContent-Length: "
            + std::to_string(fail_body.size()) + "\r\n\r\n" + fail_body;
        std::string in;
        while (next_request(fd, in) && send_all(fd, failing_.load() ? fail : ok)) {
        }
        std::lock_guard lock(mutex_);
        conns_.erase(std::find(conns_.begin(), conns_.end(), fd));
        ::close(fd);
        drained_.notify_all();
    }

    int port_;
    int listen_fd_ = -1;
    std::thread accept_thread_;
    std::atomic<bool> failing_{false};
    std::mutex mutex_;
    std::condition_variable drained_;
    std::vector<int> conns_;
};

// failover-warm: M5 in steady state, the same harness for every proxy. Providers A and B run
// in this process and both answer; each failover sample makes the provider the proxy uses
// first fail, right after a plain sample on the same connection. `sticky` (clipal, whose
// failover moves its current provider, SPEC §4): the failing one is the current one, so with
// KIND 503 the samples alternate A→B and B→A. `fixed` (nginx: A primary, B backup): A fails
// every time. KIND refused: A closes its listener and every connection (the pooled ones too)
// as a provider that went away does, the request fails over to B; then A listens again, and
// one unmeasured request that B answers with 503 brings a sticky proxy back to A (both modes
// make it, so both see the same disturbance). Each plain sample follows an unmeasured plain
// request (see the loop). Polls until the proxy answers first (up to 10 s),
// so it can be started right after the proxy. Prints the p50 of the failover samples, the p50
// of the plain ones, failed requests, and the p50 of (failover − the plain sample before it).
int run_failover_warm(const target& t, const std::string& path, const std::string& kind, int a_port, int b_port,
                      int count, bool sticky)
{
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
        // Unmeasured: nginx closes the connection of a provider that answered 503, so the
        // first request after a failover opens a new one. The plain sample is the second, so
        // that both samples of a pair start from pooled connections for every proxy.
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
    // Each failover sample paired with the plain one just before it: the median of those
    // differences drifts less with the machine's load than a difference of two medians.
    std::vector<double> extra;
    for (std::size_t i = 0; i < failover.size(); ++i) {
        extra.push_back(failover[i] - plain[i]);
    }
    std::printf("%.1f %.1f %d %.1f\n", percentile(failover, 0.5), percentile(plain, 0.5), failures,
                percentile(extra, 0.5));
    return failures == 0 ? 0 : 2;
}

// tree-rss: the resident memory of a set of processes with every physical page counted once.
// A supervisor and its workers run one executable with the same libraries, so summing their
// VmRSS counts those pages once per process; the tree holds them once. Walks /proc/PID/maps and
// reads the frame number of every present page from /proc/PID/pagemap (frame numbers need
// root; without it they read as 0 and this says so). Prints KiB.
int run_tree_rss(const std::vector<std::string>& pids)
{
    const auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
    std::unordered_set<std::uint64_t> frames;
    std::vector<std::uint64_t> entries(4096);
    for (const auto& pid : pids) {
        std::ifstream maps("/proc/" + pid + "/maps");
        int pagemap = ::open(("/proc/" + pid + "/pagemap").c_str(), O_RDONLY | O_CLOEXEC);
        if (!maps || pagemap < 0) {
            continue; // the process is gone
        }
        std::string line;
        while (std::getline(maps, line)) {
            std::uint64_t start = 0;
            std::uint64_t end = 0;
            if (std::sscanf(line.c_str(), "%" SCNx64 "-%" SCNx64, &start, &end) != 2
                || line.find("[vsyscall]") != std::string::npos) {
                continue;
            }
            for (std::uint64_t vpage = start / page; vpage < end / page;) {
                const auto n = std::min<std::uint64_t>(entries.size(), end / page - vpage);
                const auto got = ::pread(pagemap, entries.data(), n * sizeof(std::uint64_t),
                                         static_cast<off_t>(vpage * sizeof(std::uint64_t)));
                if (got <= 0) {
                    break;
                }
                for (std::size_t i = 0; i < static_cast<std::size_t>(got) / sizeof(std::uint64_t); ++i) {
                    const auto e = entries[i];
                    if ((e >> 63) & 1) { // present (bit 63); frame number in bits 0-54
                        const auto frame = e & ((std::uint64_t{1} << 55) - 1);
                        if (frame == 0) {
                            std::fprintf(stderr, "clipal_bench: tree-rss needs root to read frame numbers\n");
                            ::close(pagemap);
                            std::printf("nan\n");
                            return 2;
                        }
                        frames.insert(frame);
                    }
                }
                vpage += n;
            }
        }
        ::close(pagemap);
    }
    std::printf("%llu\n", static_cast<unsigned long long>(frames.size() * page / 1024));
    return 0;
}

// free-port: a loopback port that was free a moment ago (for config files).
int run_free_port()
{
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
        die("bind");
    }
    socklen_t len = sizeof sa;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
    std::printf("%d\n", ntohs(sa.sin_port));
    ::close(fd);
    return 0;
}

int usage()
{
    std::fprintf(stderr,
                 "usage: clipal_bench free-port\n"
                 "       clipal_bench tree-rss PID...\n"
                 "       clipal_bench latency COUNT BATCH PORT PATH [PORT PATH]...\n"
                 "       clipal_bench sse PORT PATH STREAMS EVENTS INTERVAL_MS\n"
                 "       clipal_bench sse-origin PORT ORIGIN_PORT PATH EVENTS INTERVAL_MS REPS\n"
                 "       clipal_bench hold PORT PATH STREAMS\n"
                 "       clipal_bench failover-warm PORT PATH 503|refused A_PORT B_PORT COUNT sticky|fixed\n"
                 "       clipal_bench startup PORT PATH -- PROGRAM ARGS...\n"
                 "       clipal_bench restart PORT PATH PID\n"
                 "All targets are on 127.0.0.1.\n");
    return 64;
}

} // namespace

int main(int argc, char** argv)
{
    std::vector<std::string> a(argv + 1, argv + argc);
    if (a.empty()) {
        return usage();
    }
    if (a[0] == "free-port") {
        return run_free_port();
    }
    if (a[0] == "tree-rss" && a.size() >= 2) {
        return run_tree_rss(std::vector<std::string>(a.begin() + 1, a.end()));
    }
    if (a[0] == "latency" && a.size() >= 5 && a.size() % 2 == 1) {
        std::vector<std::pair<target, std::string>> targets;
        for (std::size_t i = 3; i + 1 < a.size(); i += 2) {
            targets.emplace_back(target{"127.0.0.1", std::atoi(a[i].c_str())}, a[i + 1]);
        }
        return run_latency(targets, std::atoi(a[1].c_str()), std::max(1, std::atoi(a[2].c_str())));
    }
    if (a.size() < 3) {
        return usage();
    }
    target t{"127.0.0.1", std::atoi(a[1].c_str())};
    const auto& path = a[2];
    if (a[0] == "sse" && a.size() == 6) {
        return run_sse(t, path, std::atoi(a[3].c_str()), std::atoi(a[4].c_str()), std::atoi(a[5].c_str()));
    }
    if (a[0] == "sse-origin" && a.size() == 7) {
        return run_sse_origin(t, std::atoi(a[2].c_str()), a[3], std::atoi(a[4].c_str()), std::atoi(a[5].c_str()),
                              std::atoi(a[6].c_str()));
    }
    if (a[0] == "hold" && a.size() == 4) {
        return run_hold(t, path, std::atoi(a[3].c_str()));
    }
    if (a[0] == "failover-warm" && a.size() == 8 && (a[7] == "sticky" || a[7] == "fixed")) {
        return run_failover_warm(t, path, a[3], std::atoi(a[4].c_str()), std::atoi(a[5].c_str()),
                                 std::atoi(a[6].c_str()), a[7] == "sticky");
    }
    if (a[0] == "startup" && a.size() >= 5 && a[3] == "--") {
        return run_startup(t, path, argv + 5);
    }
    if (a[0] == "restart" && a.size() == 4) {
        return run_restart(t, path, static_cast<pid_t>(std::atoi(a[3].c_str())));
    }
    return usage();
}
