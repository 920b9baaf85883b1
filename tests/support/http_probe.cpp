// Blocking loopback HTTP/1.1 client for tests: non-blocking socket + poll() deadlines, an
// incremental response parser (Content-Length, chunked, close-delimited) that timestamps
// every recv() so tests can see streaming pace.
#include "support/http_probe.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>

namespace clipal::test {
namespace {

using clock_type = std::chrono::steady_clock;

constexpr std::size_t max_head_bytes = 8u << 20; // fake-upstream's huge-headers sends 1 MiB
constexpr std::size_t max_chunk_line = 4096;

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
    return s;
}

int poll_ms(clock_type::time_point deadline) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - clock_type::now()).count();
    return static_cast<int>(std::clamp<long long>(left, 0, 60'000));
}

// Parses the status line and header fields of `head` (without the final CRLFCRLF).
bool parse_head(std::string_view head, http_response& r) {
    auto eol = head.find("\r\n");
    std::string_view line = head.substr(0, eol);
    if (line.size() < 12 || line.substr(0, 7) != "HTTP/1." || line[8] != ' ') return false;
    int status = 0;
    const auto [p, ec] = std::from_chars(line.data() + 9, line.data() + 12, status);
    if (ec != std::errc{} || p != line.data() + 12 || status < 100 || status > 999) return false;
    r.status = status;
    r.reason = std::string(trim(line.substr(12)));
    r.headers.clear();
    while (eol != std::string_view::npos) {
        const auto start = eol + 2;
        eol = head.find("\r\n", start);
        line = head.substr(start, eol == std::string_view::npos ? std::string_view::npos : eol - start);
        const auto colon = line.find(':');
        if (colon == 0 || colon == std::string_view::npos) return false;
        r.headers.emplace_back(std::string(line.substr(0, colon)), std::string(trim(line.substr(colon + 1))));
    }
    return true;
}

// Incremental body decoder over the receive buffer; consumes from `buf` at `pos`.
class body_decoder {
public:
    enum class kind { none, length, chunked, until_close };
    enum class result { more, done, bad };

    body_decoder(kind k, std::size_t length) : kind_(k), remaining_(length) {}

    result feed(const std::string& buf, std::size_t& pos, std::string& body) {
        switch (kind_) {
        case kind::none: return result::done;
        case kind::until_close:
            body.append(buf, pos, std::string::npos);
            pos = buf.size();
            return result::more;
        case kind::length: {
            const auto n = std::min(remaining_, buf.size() - pos);
            body.append(buf, pos, n);
            pos += n;
            remaining_ -= n;
            return remaining_ == 0 ? result::done : result::more;
        }
        case kind::chunked: return feed_chunked(buf, pos, body);
        }
        return result::bad;
    }

private:
    enum class chunk_state { size_line, data, data_crlf, trailer };

    result feed_chunked(const std::string& buf, std::size_t& pos, std::string& body) {
        for (;;) {
            switch (state_) {
            case chunk_state::size_line: {
                const auto eol = buf.find("\r\n", pos);
                if (eol == std::string::npos) return buf.size() - pos > max_chunk_line ? result::bad : result::more;
                std::string_view line(buf.data() + pos, eol - pos);
                line = trim(line.substr(0, line.find(';')));
                std::size_t size = 0;
                const auto [p, ec] = std::from_chars(line.data(), line.data() + line.size(), size, 16);
                if (line.empty() || ec != std::errc{} || p != line.data() + line.size()) return result::bad;
                pos = eol + 2;
                remaining_ = size;
                state_ = size == 0 ? chunk_state::trailer : chunk_state::data;
                break;
            }
            case chunk_state::data: {
                const auto n = std::min(remaining_, buf.size() - pos);
                body.append(buf, pos, n);
                pos += n;
                remaining_ -= n;
                if (remaining_ != 0) return result::more;
                state_ = chunk_state::data_crlf;
                break;
            }
            case chunk_state::data_crlf:
                if (buf.size() - pos < 2) return result::more;
                if (buf.compare(pos, 2, "\r\n") != 0) return result::bad;
                pos += 2;
                state_ = chunk_state::size_line;
                break;
            case chunk_state::trailer: {
                const auto eol = buf.find("\r\n", pos);
                if (eol == std::string::npos) return buf.size() - pos > max_chunk_line ? result::bad : result::more;
                const bool last = eol == pos;
                pos = eol + 2;
                if (last) return result::done;
                break;
            }
            }
        }
    }

    kind kind_;
    std::size_t remaining_;
    chunk_state state_ = chunk_state::size_line;
};

} // namespace

const char* to_string(end_kind k) {
    switch (k) {
    case end_kind::complete: return "complete";
    case end_kind::closed_early: return "closed_early";
    case end_kind::reset: return "reset";
    case end_kind::timed_out: return "timed_out";
    case end_kind::malformed: return "malformed";
    case end_kind::not_connected: return "not_connected";
    }
    return "?";
}

std::optional<std::string> http_response::header(std::string_view name) const {
    for (const auto& [k, v] : headers)
        if (iequals(k, name)) return v;
    return std::nullopt;
}

std::size_t http_response::header_count(std::string_view name) const {
    return static_cast<std::size_t>(
        std::count_if(headers.begin(), headers.end(), [&](const auto& h) { return iequals(h.first, name); }));
}

std::vector<http_response::time_point> http_response::arrival_times_of(std::string_view needle) const {
    std::vector<time_point> out;
    if (needle.empty()) return out;
    auto it = arrivals.begin();
    for (auto at = body.find(needle); at != std::string::npos; at = body.find(needle, at + needle.size())) {
        const auto end = at + needle.size();
        while (it != arrivals.end() && it->first < end) ++it;
        if (it == arrivals.end()) break;
        out.push_back(it->second);
    }
    return out;
}

http_probe::http_probe(const std::string& host, std::uint16_t port, std::chrono::milliseconds timeout) {
    connect(host, port, timeout);
}

http_probe::~http_probe() { close(); }

http_probe::http_probe(http_probe&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      host_(std::move(other.host_)),
      port_(other.port_),
      error_(std::move(other.error_)),
      pending_(std::move(other.pending_)),
      peer_closed_(other.peer_closed_) {}

http_probe& http_probe::operator=(http_probe&& other) noexcept {
    if (this != &other) {
        close();
        fd_ = std::exchange(other.fd_, -1);
        host_ = std::move(other.host_);
        port_ = other.port_;
        error_ = std::move(other.error_);
        pending_ = std::move(other.pending_);
        peer_closed_ = other.peer_closed_;
    }
    return *this;
}

bool http_probe::connect(const std::string& host, std::uint16_t port, std::chrono::milliseconds timeout) {
    close();
    host_ = host;
    port_ = port;
    pending_.clear();
    peer_closed_ = false;
    addrinfo hints{};
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    if (const int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res); rc != 0) {
        error_ = std::string("getaddrinfo: ") + ::gai_strerror(rc);
        return false;
    }
    const int fd = ::socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        error_ = std::string("socket: ") + std::strerror(errno);
        ::freeaddrinfo(res);
        return false;
    }
    int rc = ::connect(fd, res->ai_addr, res->ai_addrlen);
    ::freeaddrinfo(res);
    if (rc != 0 && errno == EINPROGRESS) {
        pollfd p{fd, POLLOUT, 0};
        rc = ::poll(&p, 1, poll_ms(clock_type::now() + timeout));
        if (rc == 0) {
            ::close(fd);
            error_ = "connect: timed out";
            return false;
        }
        int err = 0;
        socklen_t len = sizeof err;
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        errno = err;
        rc = err == 0 ? 0 : -1;
    }
    if (rc != 0) {
        error_ = std::string("connect: ") + std::strerror(errno);
        ::close(fd);
        return false;
    }
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fd_ = fd;
    error_.clear();
    return true;
}

bool http_probe::send(std::string_view bytes, std::chrono::milliseconds timeout) {
    if (fd_ < 0) {
        error_ = "send: not connected";
        return false;
    }
    const auto deadline = clock_type::now() + timeout;
    while (!bytes.empty()) {
        const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (n > 0) {
            bytes.remove_prefix(static_cast<std::size_t>(n));
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            pollfd p{fd_, POLLOUT, 0};
            if (::poll(&p, 1, poll_ms(deadline)) == 0) {
                error_ = "send: timed out";
                return false;
            }
            continue;
        }
        error_ = std::string("send: ") + std::strerror(errno);
        return false;
    }
    return true;
}

http_probe::io http_probe::recv_some(clock_type::time_point deadline, std::string& out) {
    if (fd_ < 0) return io::error;
    char buf[65536];
    for (;;) {
        const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
        if (n > 0) {
            out.append(buf, static_cast<std::size_t>(n));
            return io::data;
        }
        if (n == 0) {
            peer_closed_ = true;
            return io::eof;
        }
        if (errno == EINTR) continue;
        if (errno == ECONNRESET || errno == EPIPE) {
            peer_closed_ = true;
            return io::reset;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            error_ = std::string("recv: ") + std::strerror(errno);
            return io::error;
        }
        pollfd p{fd_, POLLIN, 0};
        const int ms = poll_ms(deadline);
        if (ms == 0 || ::poll(&p, 1, ms) == 0) return io::timeout;
    }
}

http_response http_probe::read_response(std::chrono::milliseconds timeout, bool bodyless) {
    return read_one(clock_type::now() + timeout, bodyless);
}

http_response http_probe::read_one(clock_type::time_point deadline, bool bodyless) {
    http_response r;
    if (fd_ < 0 && pending_.empty()) {
        r.error = "not connected";
        return r;
    }
    auto fail = [&](end_kind k, std::string what) {
        r.end = k;
        r.error = std::move(what);
        return r;
    };
    auto io_failure = [&](io result, const char* where) {
        switch (result) {
        case io::eof: return fail(end_kind::closed_early, std::string("connection closed during ") + where);
        case io::reset: return fail(end_kind::reset, std::string("connection reset during ") + where);
        case io::timeout: return fail(end_kind::timed_out, std::string("timed out during ") + where);
        default: return fail(end_kind::not_connected, error_);
        }
    };

    // Head (skipping interim 1xx responses).
    for (;;) {
        std::size_t end = pending_.find("\r\n\r\n");
        while (end == std::string::npos) {
            if (pending_.size() > max_head_bytes) return fail(end_kind::malformed, "response head too large");
            const auto before = pending_.size();
            const io result = recv_some(deadline, pending_);
            if (result != io::data) return io_failure(result, "response head");
            r.raw_bytes += pending_.size() - before;
            end = pending_.find("\r\n\r\n", before >= 3 ? before - 3 : 0);
        }
        if (!parse_head(std::string_view(pending_).substr(0, end), r))
            return fail(end_kind::malformed,
                        "bad status line or header: " + pending_.substr(0, std::min<std::size_t>(end, 200)));
        pending_.erase(0, end + 4);
        if (r.status >= 200 || r.status == 101) break;
    }
    r.head_at = clock_type::now();

    // Body framing, as RFC 9112 section 6.3 orders it.
    auto kind = body_decoder::kind::until_close;
    std::size_t length = 0;
    if (bodyless || r.status < 200 || r.status == 204 || r.status == 304) {
        kind = body_decoder::kind::none;
    } else if (auto te = r.header("Transfer-Encoding")) {
        std::string lower(*te);
        std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
        if (lower.size() < 7 || lower.compare(lower.size() - 7, 7, "chunked") != 0)
            kind = body_decoder::kind::until_close;
        else
            kind = body_decoder::kind::chunked;
    } else if (auto cl = r.header("Content-Length")) {
        for (const auto& [k, v] : r.headers)
            if (iequals(k, "Content-Length") && v != *cl)
                return fail(end_kind::malformed, "conflicting Content-Length");
        const auto [p, ec] = std::from_chars(cl->data(), cl->data() + cl->size(), length);
        if (cl->empty() || ec != std::errc{} || p != cl->data() + cl->size())
            return fail(end_kind::malformed, "bad Content-Length: " + *cl);
        kind = body_decoder::kind::length;
    }
    body_decoder decoder(kind, length);
    if (kind == body_decoder::kind::none || (kind == body_decoder::kind::length && length == 0)) {
        r.end = end_kind::complete;
        return r;
    }

    std::size_t pos = 0;
    auto time = r.head_at;
    for (;;) {
        const auto body_before = r.body.size();
        const auto res = decoder.feed(pending_, pos, r.body);
        if (r.body.size() != body_before) r.arrivals.emplace_back(r.body.size(), time);
        pending_.erase(0, pos);
        pos = 0;
        if (res == body_decoder::result::done) {
            r.end = end_kind::complete;
            return r;
        }
        if (res == body_decoder::result::bad) return fail(end_kind::malformed, "bad chunked framing");
        const auto before = pending_.size();
        const io result = recv_some(deadline, pending_);
        time = clock_type::now();
        if (result == io::data) {
            r.raw_bytes += pending_.size() - before;
            continue;
        }
        if (result == io::eof && kind == body_decoder::kind::until_close) {
            r.end = end_kind::complete;
            return r;
        }
        return io_failure(result, "response body");
    }
}

http_response http_probe::request(std::string_view method, std::string_view target, const header_list& headers,
                                  std::string_view body, std::chrono::milliseconds timeout) {
    const auto deadline = clock_type::now() + timeout;
    auto has = [&](std::string_view name) {
        return std::any_of(headers.begin(), headers.end(), [&](const auto& h) { return iequals(h.first, name); });
    };
    std::string req;
    req.reserve(256 + body.size());
    req.append(method).append(" ").append(target).append(" HTTP/1.1\r\n");
    if (!has("Host")) {
        const bool v6 = host_.find(':') != std::string::npos;
        req.append("Host: ")
            .append(v6 ? "[" + host_ + "]" : host_)
            .append(":")
            .append(std::to_string(port_))
            .append("\r\n");
    }
    for (const auto& [k, v] : headers) req.append(k).append(": ").append(v).append("\r\n");
    if (!has("Content-Length") && !has("Transfer-Encoding") && (!body.empty() || method == "POST" || method == "PUT"))
        req.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
    req.append("\r\n").append(body);

    if (!send(req, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now()))) {
        http_response r;
        r.error = error_;
        return r;
    }
    const auto sent = clock_type::now();
    auto r = read_one(deadline, method == "HEAD");
    r.sent_at = sent;
    return r;
}

std::string http_probe::read_some(std::chrono::milliseconds timeout) {
    std::string out;
    if (!pending_.empty()) {
        out.swap(pending_);
        return out;
    }
    recv_some(clock_type::now() + timeout, out);
    return out;
}

std::string http_probe::read_until(std::string_view needle, std::chrono::milliseconds timeout) {
    const auto deadline = clock_type::now() + timeout;
    std::string out;
    out.swap(pending_);
    while (out.find(needle) == std::string::npos) {
        if (recv_some(deadline, out) != io::data) break;
    }
    return out;
}

bool http_probe::wait_peer_closed(std::chrono::milliseconds timeout) {
    const auto deadline = clock_type::now() + timeout;
    pending_.clear();
    for (;;) {
        std::string discard;
        const io result = recv_some(deadline, discard);
        if (result == io::eof || result == io::reset) return true;
        if (result != io::data) return false;
    }
}

void http_probe::shutdown_write() {
    if (fd_ >= 0) ::shutdown(fd_, SHUT_WR);
}

void http_probe::abort() {
    if (fd_ < 0) return;
    const linger lg{1, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close();
}

void http_probe::close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
}

std::uint16_t unused_loopback_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return 0;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    std::uint16_t port = 0;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
        port = ntohs(addr.sin_port);
    ::close(fd);
    return port;
}

} // namespace clipal::test
