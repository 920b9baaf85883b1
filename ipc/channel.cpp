// The channel's event handling: readiness waits driving the transport's reads and writes,
// the send queue and its policy, and the message and descriptor checks on every frame.
#include "ipc/channel.hpp"

#include "ipc/channel_transport.hpp"
#include "ipc/socket_pair.hpp"

#include <boost/asio/post.hpp>
#include <fmt/format.h>

#include <cerrno>

namespace clipal::ipc {
namespace {

boost::system::error_code errno_code() { return {errno, boost::system::system_category()}; }

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
    : socket_(ex), flush_timer_(ex), delay_timer_(ex), limits_(l), reader_(transport::reader::create()) {
    // A failure here only shrinks the buffers: on SOCK_SEQPACKET the largest frame that
    // fits (sending a larger one fails with EMSGSIZE, reported through on_closed), on
    // SOCK_STREAM how much one write takes.
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

channel::~channel() = default;

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
    auto r = reader_->read(socket_.native_handle(), [this](transport::inbound_frame&& f) {
        handle_frame(std::move(f));
        return !closed_ && !flushing_;
    });
    switch (r.status) {
    case transport::read_status::again: return true;
    case transport::read_status::would_block: do_read_wait(); return false;
    case transport::read_status::stopped: return false;
    case transport::read_status::failed: fail(r.ec, std::move(r.why)); return false;
    }
    return false;
}

void channel::handle_frame(transport::inbound_frame&& f) {
    // MSG_CTRUNC: the kernel passed on fewer descriptors than were sent. None of the one a
    // handoff carries means this process is at its descriptor limit (EMFILE while
    // receiving): only that connection is lost, so the message is delivered without it and
    // the receiver refuses it. Anything else is more descriptors than any message carries.
    const bool carries = is_known_type(f.type) && carries_descriptor(static_cast<message_type>(f.type));
    const bool lost = f.descriptors_cut && carries && f.fds.empty();
    if (f.descriptors_cut && !lost)
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
    if (!lost && f.fds.size() != expected)
        return fail(errc::descriptor_error, fmt::format("{} arrived with {} descriptors, expected {}", to_string(type),
                                                        f.fds.size(), expected));
    unique_fd fd = expected && !lost ? std::move(f.fds.front()) : unique_fd{};

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
        switch (transport::write(socket_.native_handle(), out.frame, out.sent, out.fd.get())) {
        case transport::write_status::done: break;
        case transport::write_status::would_block:
            socket_.async_wait(boost::asio::posix::descriptor_base::wait_write,
                               [self = shared_from_this()](const boost::system::error_code& ec) {
                                   self->on_writable(ec);
                               });
            return;
        case transport::write_status::failed: {
            const auto ec = errno_code();
            return fail(ec, "writing to the channel failed: " + ec.message());
        }
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
