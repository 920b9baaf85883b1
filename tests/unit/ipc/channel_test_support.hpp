// What the channel tests share: a recorder for what a channel delivers, a bounded run of
// the event loop, and a raw peer that writes (and reads) the socket the way a broken or
// hostile one would. Works over either transport.
#pragma once

#include "ipc/channel.hpp"
#include "ipc/socket_pair.hpp"
#include "platform/cloexec.hpp"

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace clipal::test {

struct received {
    std::vector<ipc::message> messages;
    std::vector<ipc::unique_fd> fds;
    bool closed = false;
    boost::system::error_code ec;
    std::string why;
};

// Starts `ch`, recording everything into `r`; stops `ioc` once `done(r)` holds.
inline void record(const std::shared_ptr<ipc::channel>& ch, received& r, boost::asio::io_context& ioc,
                   std::function<bool(const received&)> done) {
    ch->start(
        [&r, &ioc, done](ipc::message&& m, ipc::unique_fd fd) {
            r.messages.push_back(std::move(m));
            r.fds.push_back(std::move(fd));
            if (done(r)) ioc.stop();
        },
        [&r, &ioc, done](boost::system::error_code ec, const std::string& why) {
            r.closed = true;
            r.ec = ec;
            r.why = why;
            if (done(r)) ioc.stop();
        });
}

inline bool closed(const received& r) { return r.closed; }

// Runs until stopped, at most 10 s: a hang fails the test instead of blocking CI.
inline void run(boost::asio::io_context& ioc) {
    using namespace std::chrono_literals;
    ioc.restart();
    ioc.run_for(10s);
}

inline ipc::socket_pair make_pair() {
    auto p = ipc::make_socket_pair();
    if (!p) throw std::runtime_error("socketpair: " + p.error().message());
    return std::move(*p);
}

// Sends raw bytes (and optionally one descriptor) in one sendmsg, the way a broken peer would.
// Sends `data` in one sendmsg with `fds` as SCM_RIGHTS descriptors (none: a plain send).
inline void raw_send(int sock, const ipc::bytes& data, std::span<const int> fds) {
    iovec iov{const_cast<std::uint8_t*>(data.data()), data.size()};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    std::vector<unsigned char> control(CMSG_SPACE(fds.size_bytes()));
    if (!fds.empty()) {
        msg.msg_control = control.data();
        msg.msg_controllen = control.size();
        cmsghdr* c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(fds.size_bytes());
        std::memcpy(CMSG_DATA(c), fds.data(), fds.size_bytes());
    }
    ASSERT_EQ(::sendmsg(sock, &msg, MSG_NOSIGNAL), static_cast<ssize_t>(data.size())) << std::strerror(errno);
}

inline void raw_send(int sock, const ipc::bytes& data, int fd = -1) {
    raw_send(sock, data, fd >= 0 ? std::span<const int>(&fd, 1) : std::span<const int>());
}

inline ipc::bytes encoded(const ipc::message& m) { return ipc::encode(m).frame; }

struct pipe_fds {
    ipc::unique_fd read_end, write_end;
};

inline pipe_fds make_pipe() {
    int p[2];
    if (platform::pipe_cloexec(p) != 0) throw std::runtime_error("pipe failed");
    return {ipc::unique_fd(p[0]), ipc::unique_fd(p[1])};
}

// The next frame waiting on `sock`, decoded and taken off the socket; nullopt when none is
// there. Peeks first and then takes exactly that frame, so it reads one frame off a byte
// stream as well as one datagram.
inline std::optional<ipc::message> take_waiting(int sock) {
    std::uint8_t buf[4096];
    const auto n = ::recv(sock, buf, sizeof buf, MSG_DONTWAIT | MSG_PEEK);
    if (n <= 0) return std::nullopt;
    const auto f = ipc::decode_frame(ipc::byte_view(buf, static_cast<std::size_t>(n)));
    if (f.status != ipc::decode_status::frame) return std::nullopt;
    auto d = ipc::decode(f.type, f.payload);
    if (!d) return std::nullopt;
    if (::recv(sock, buf, f.consumed, MSG_DONTWAIT) != static_cast<ssize_t>(f.consumed)) return std::nullopt;
    return std::move(*d.value);
}

} // namespace clipal::test
