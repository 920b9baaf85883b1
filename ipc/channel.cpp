// The channel's socket work: non-blocking recvmsg/sendmsg driven by readiness waits,
// SCM_RIGHTS in both directions, and the frame/message checks on every datagram.
#include "ipc/channel.hpp"

#include "ipc/socket_pair.hpp"
#include "platform/cloexec.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <fmt/format.h>

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace clipal::ipc {
namespace {

// Room for more descriptors than any message carries, so that extra ones are
// received (and closed) instead of truncating the control data.
constexpr std::size_t max_received_fds = 4;

boost::system::error_code errno_code() { return {errno, boost::system::system_category()}; }

bool would_block() { return errno == EAGAIN || errno == EWOULDBLOCK; }

} // namespace

std::string_view to_string(send_result r) {
    switch (r) {
    case send_result::queued: return "queued";
    case send_result::dropped: return "dropped (queue above its soft limit)";
    case send_result::queue_full: return "refused (queue full: the peer is not reading)";
    case send_result::too_large: return "refused (a field exceeds its bound)";
    case send_result::bad_descriptor: return "refused (descriptor does not match the message type)";
    case send_result::closed: return "refused (channel closed)";
    }
    return "unknown";
}

std::shared_ptr<channel> channel::create(const boost::asio::any_io_executor& ex, unique_fd fd) {
    return create(ex, std::move(fd), limits{});
}

std::shared_ptr<channel> channel::create(const boost::asio::any_io_executor& ex, unique_fd fd, limits l) {
    return std::shared_ptr<channel>(new channel(ex, std::move(fd), l));
}

channel::channel(const boost::asio::any_io_executor& ex, unique_fd fd, limits l)
    : socket_(ex), flush_timer_(ex), delay_timer_(ex), limits_(l), read_buffer_(max_frame_size) {
    // A failure here only shrinks the largest frame that fits; sending one then fails
    // with EMSGSIZE, reported through on_closed.
    (void)size_buffers(fd.get());
    boost::system::error_code ec;
    socket_.assign(fd.get(), ec);
    if (ec) {
        pending_close_ = {ec, "cannot register the channel descriptor: " + ec.message()};
        closed_ = true;
        return;
    }
    fd.release();
}

void channel::start(message_handler on_message, closed_handler on_closed) {
    started_ = true;
    on_message_ = std::move(on_message);
    on_closed_ = std::move(on_closed);
    if (pending_close_) {
        // Failed before start: report it as if it happened now, but never from inside start().
        boost::asio::post(socket_.get_executor(), [self = shared_from_this()] {
            auto handler = std::move(self->on_closed_);
            self->on_message_ = nullptr;
            auto [ec, why] = std::move(*self->pending_close_);
            self->pending_close_.reset();
            if (handler) handler(ec, why);
        });
        return;
    }
    if (!closed_) do_read_wait();
}

void channel::do_read_wait() {
    socket_.async_wait(boost::asio::posix::descriptor_base::wait_read,
                       [self = shared_from_this()](const boost::system::error_code& ec) { self->on_readable(ec); });
}

void channel::on_readable(const boost::system::error_code& ec) {
    if (closed_ || flushing_) return;
    if (ec) return fail(ec, "waiting to read from the channel failed: " + ec.message());
    for (std::size_t i = 0; i < limits_.reads_per_wakeup; ++i)
        if (!read_one()) return;
    // Yield to other work; the socket is still readable, so the wait completes at once.
    do_read_wait();
}

bool channel::read_one() {
    alignas(cmsghdr) unsigned char control[CMSG_SPACE(sizeof(int) * max_received_fds)];
    iovec iov{read_buffer_.data(), read_buffer_.size()};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;

    const ssize_t n = platform::recvmsg_cloexec(socket_.native_handle(), &msg, MSG_DONTWAIT);
    if (n < 0) {
        if (errno == EINTR) return true;
        if (would_block()) {
            do_read_wait();
            return false;
        }
        const auto ec = errno_code();
        fail(ec, "reading from the channel failed: " + ec.message());
        return false;
    }

    // Own every received descriptor first, so each one is closed on any path below.
    std::vector<unique_fd> fds;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        const std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (std::size_t i = 0; i < count; ++i) {
            int fd = -1;
            std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
            fds.emplace_back(fd);
        }
    }

    if (msg.msg_flags & MSG_TRUNC) {
        fail(errc::frame_too_large, fmt::format("peer sent a datagram larger than {} bytes", max_frame_size));
        return false;
    }
    if (n == 0) {
        fail(boost::asio::error::eof, "peer closed the channel");
        return false;
    }
    handle_datagram(static_cast<std::size_t>(n), std::move(fds), (msg.msg_flags & MSG_CTRUNC) != 0);
    return !closed_ && !flushing_;
}

void channel::handle_datagram(std::size_t n, std::vector<unique_fd> fds, bool descriptors_cut) {
    const auto f = decode_frame(byte_view(read_buffer_.data(), n));
    if (f.status == decode_status::error) return fail(f.error, f.reason);
    if (f.status == decode_status::need_more)
        return fail(errc::truncated_frame,
                    fmt::format("a {}-byte datagram ends inside a frame of {} bytes", n, f.needed));
    if (f.consumed != n)
        return fail(errc::trailing_bytes,
                    fmt::format("a {}-byte datagram holds a {}-byte frame and more", n, f.consumed));

    // MSG_CTRUNC: the kernel passed on fewer descriptors than were sent. None of the one a
    // handoff carries means this process is at its descriptor limit (EMFILE while
    // receiving): only that connection is lost, so the message is delivered without it and
    // the receiver refuses it. Anything else is more descriptors than any message carries.
    const bool carries = is_known_type(f.type) && carries_descriptor(static_cast<message_type>(f.type));
    const bool lost = descriptors_cut && carries && fds.empty();
    if (descriptors_cut && !lost)
        return fail(errc::descriptor_error, "peer sent more descriptors with one message than any message carries");

    if (!is_known_type(f.type)) {
        // Envoy style: a newer peer learns what we do not understand; the channel stays up.
        ++unrecognised_received_;
        (void)send(unrecognised{f.type});
        return;
    }
    auto decoded = decode(f.type, f.payload);
    if (!decoded) return fail(decoded.error, decoded.reason);

    const auto type = static_cast<message_type>(f.type);
    const std::size_t expected = carries_descriptor(type) ? 1 : 0;
    if (!lost && fds.size() != expected)
        return fail(errc::descriptor_error,
                    fmt::format("{} arrived with {} descriptors, expected {}", to_string(type), fds.size(), expected));
    unique_fd fd = expected && !lost ? std::move(fds.front()) : unique_fd{};

    // The handler may close() the channel, which clears on_message_: keep the
    // function alive while it runs, and put it back unless it was replaced or closed.
    auto handler = std::move(on_message_);
    on_message_ = nullptr;
    if (handler) handler(std::move(*decoded.value), std::move(fd));
    if (!closed_ && !on_message_) on_message_ = std::move(handler);
}

send_result channel::send(const message& m, unique_fd&& fd) {
    if (closed_ || flushing_) return send_result::closed;
    const message_type type = type_of(m);
    if (carries_descriptor(type) != static_cast<bool>(fd)) return send_result::bad_descriptor;
    auto encoded = encode(m);
    if (!encoded) return send_result::too_large;
    const bool droppable = type == message_type::log_record || type == message_type::heartbeat;
    return enqueue(std::move(encoded.frame), std::move(fd), droppable);
}

send_result channel::enqueue(bytes frame, unique_fd&& fd, bool droppable) {
    const std::size_t size = frame.size();
    if (droppable && (queue_.size() >= limits_.soft_messages || queued_bytes_ + size > limits_.soft_bytes)) {
        ++dropped_;
        return send_result::dropped;
    }
    if (queue_.size() >= limits_.hard_messages || queued_bytes_ + size > limits_.hard_bytes)
        return send_result::queue_full;
    queue_.push_back(outgoing{std::move(frame), std::move(fd)});
    queued_bytes_ += size;
    write_soon(droppable && limits_.droppable_delay.count() > 0);
    return send_result::queued;
}

void channel::write_soon(bool delayed) {
    if (delayed_ && !delayed) {
        // An immediate write takes the delayed messages along; a late timer handler finds
        // delayed_ cleared and does nothing.
        delayed_ = false;
        delay_timer_.cancel();
        writing_ = false;
    }
    if (writing_) return;
    writing_ = true;
    if (delayed) {
        delayed_ = true;
        delay_timer_.expires_after(limits_.droppable_delay);
        delay_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
            if (ec || self->closed_ || !self->delayed_) return;
            self->delayed_ = false;
            self->do_write();
        });
        return;
    }
    // Written from the executor, never inside send(), so that a write error reaches
    // on_closed without re-entering the caller.
    boost::asio::post(socket_.get_executor(), [self = shared_from_this()] { self->do_write(); });
}

void channel::do_write() {
    if (closed_) return;
    while (!queue_.empty()) {
        outgoing& out = queue_.front();
        iovec iov{out.frame.data(), out.frame.size()};
        msghdr msg{};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        alignas(cmsghdr) unsigned char control[CMSG_SPACE(sizeof(int))];
        if (out.fd) {
            std::memset(control, 0, sizeof control);
            msg.msg_control = control;
            msg.msg_controllen = sizeof control;
            cmsghdr* c = CMSG_FIRSTHDR(&msg);
            c->cmsg_level = SOL_SOCKET;
            c->cmsg_type = SCM_RIGHTS;
            c->cmsg_len = CMSG_LEN(sizeof(int));
            const int fd = out.fd.get();
            std::memcpy(CMSG_DATA(c), &fd, sizeof fd);
        }
        // A SOCK_SEQPACKET send is all or nothing, so there are no partial writes to track.
        if (::sendmsg(socket_.native_handle(), &msg, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
            if (errno == EINTR) continue;
            if (would_block()) {
                socket_.async_wait(boost::asio::posix::descriptor_base::wait_write,
                                   [self = shared_from_this()](const boost::system::error_code& ec) {
                                       self->on_writable(ec);
                                   });
                return;
            }
            const auto ec = errno_code();
            return fail(ec, "writing to the channel failed: " + ec.message());
        }
        // The peer holds its own copy of a passed descriptor now; ours closes here.
        queued_bytes_ -= out.frame.size();
        queue_.pop_front();
    }
    writing_ = false;
    if (flushing_) fail({}, "channel closed after flushing its queue");
}

void channel::on_writable(const boost::system::error_code& ec) {
    if (closed_) return;
    if (ec) return fail(ec, "waiting to write to the channel failed: " + ec.message());
    do_write();
}

void channel::close_when_flushed(std::chrono::milliseconds deadline) {
    if (closed_ || flushing_) return;
    flushing_ = true;
    write_soon(false);
    flush_timer_.expires_after(deadline);
    flush_timer_.async_wait([self = shared_from_this(), deadline](const boost::system::error_code& ec) {
        if (ec || self->closed_) return;
        self->fail(errc::channel_closed, fmt::format("peer did not read {} queued messages within {} ms",
                                                     self->queue_.size(), deadline.count()));
    });
}

void channel::fail(boost::system::error_code ec, std::string why) {
    if (closed_) return;
    shut();
    on_message_ = nullptr;
    if (!started_) {
        // Not started yet: start() reports it.
        pending_close_ = {ec, std::move(why)};
        return;
    }
    auto handler = std::move(on_closed_);
    on_closed_ = nullptr;
    if (handler) handler(ec, why);
}

void channel::close() {
    shut();
    pending_close_.reset();
    on_message_ = nullptr;
    on_closed_ = nullptr;
}

void channel::shut() {
    closed_ = true;
    boost::system::error_code ignored;
    socket_.close(ignored);
    flush_timer_.cancel();
    delay_timer_.cancel();
    delayed_ = false;
    queue_.clear();
    queued_bytes_ = 0;
}

void run_until_closed(boost::asio::io_context& ioc, const channel& ch, std::chrono::milliseconds limit) {
    ioc.restart();
    const auto until = std::chrono::steady_clock::now() + limit;
    while (ch.is_open() && ioc.run_one_until(until) > 0) {}
}

} // namespace clipal::ipc
