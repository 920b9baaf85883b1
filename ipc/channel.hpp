// One end of the supervisor <-> worker channel: an async, single-threaded message
// pipe over a connected AF_UNIX socket, with descriptor passing for handoffs and a
// bounded outgoing queue. The socket work is the transport's (channel_transport.hpp):
// SOCK_SEQPACKET on Linux, SOCK_STREAM in the portable build.
#pragma once

#include "ipc/messages.hpp"
#include "ipc/unique_fd.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>

namespace clipal::ipc {

namespace transport {
class reader;
struct inbound_frame;
} // namespace transport

enum class send_result {
    queued,         // will be written in order
    dropped,        // a droppable message (log_record, heartbeat) refused at the soft limit
    queue_full,     // the hard limit is reached: the peer is not reading; the caller decides
    too_large,      // a field exceeds its bound (see encode()); a caller bug or bad input
    bad_descriptor, // handoff/handoff_back without a descriptor, or another message with one
    closed,         // the channel is closed
};

std::string_view to_string(send_result r);

class channel : public std::enable_shared_from_this<channel> {
public:
    // Queue policy: below the soft limits every message is queued. At a soft limit
    // droppable messages (log records, heartbeats) are refused, so a flood of logs
    // cannot crowd out a handoff or a config ack; other messages are queued up to the
    // hard limits, beyond which send() refuses them too (queue_full). Memory per
    // channel is therefore bounded by hard_bytes plus one frame.
    struct limits {
        std::size_t soft_messages = 256;
        std::size_t soft_bytes = 1024 * 1024;
        std::size_t hard_messages = 1024;
        std::size_t hard_bytes = 8 * 1024 * 1024;
        // Reads per readiness wakeup before yielding to other work.
        std::size_t reads_per_wakeup = 16;
        // Droppable messages wait up to this long to be written, and go with anything else
        // sent in the meantime: a burst of log records costs the peer one wakeup, and a log
        // line made while a request is in flight (a failover) wakes the supervisor after
        // the answer instead of competing with it for the CPU. Zero writes at once.
        std::chrono::milliseconds droppable_delay{2};
    };

    // `fd` must be a connected socket of the transport's type (make_socket_pair/adopt_inherited).
    static std::shared_ptr<channel> create(const boost::asio::any_io_executor& ex, unique_fd fd);
    static std::shared_ptr<channel> create(const boost::asio::any_io_executor& ex, unique_fd fd, limits l);

    // Called for each decoded message; `fd` holds the descriptor of a handoff or
    // handoff_back and is empty otherwise. It is empty for a handoff or handoff_back too
    // when the descriptor was lost on the way in (this process had no free descriptor:
    // MSG_CTRUNC); the receiver then refuses that one connection. Frames of unknown type
    // are answered with `unrecognised` by the channel itself and not delivered.
    using message_handler = std::function<void(message&& m, unique_fd fd)>;
    // Called once when the channel closes by itself: peer EOF (asio::error::eof), a
    // socket error, a malformed frame or descriptor (an ipc::errc), or the end of
    // close_when_flushed (empty code on success). `why` is a sentence for the log.
    // Not called after close().
    using closed_handler = std::function<void(boost::system::error_code ec, const std::string& why)>;

    // Starts reading. Handlers run on the channel's executor and may call send() and
    // close(). Call once.
    void start(message_handler on_message, closed_handler on_closed);

    ~channel();

    // Queues `m` for sending (see limits for the policy). `fd` is the descriptor of a
    // handoff/handoff_back; it is moved from only when the result is `queued`, so on
    // failure the caller still owns it (e.g. to answer the client itself). Never throws
    // except std::bad_alloc; errors of the write itself arrive via on_closed.
    [[nodiscard]] send_result send(const message& m, unique_fd&& fd = unique_fd{});

    // Closes now: pending sends are discarded, no handler is called afterwards.
    void close();

    // Stops delivering messages, writes what is queued and then closes, calling
    // on_closed with an empty code; or with errc::channel_closed when `deadline`
    // passes first (the peer stopped reading).
    void close_when_flushed(std::chrono::milliseconds deadline);

    bool is_open() const { return !closed_; }
    // The socket, for duplicating it across a re-execution (see supervisor/upgrade_state.hpp).
    int native_handle() { return socket_.native_handle(); }
    std::size_t queued_messages() const { return queue_.size(); }
    std::size_t queued_bytes() const { return queued_bytes_; }
    // Droppable messages refused so far (for a "N log records dropped" line).
    std::uint64_t dropped() const { return dropped_; }
    // Frames of unknown type received and answered with `unrecognised`.
    std::uint64_t unrecognised_received() const { return unrecognised_received_; }

private:
    struct outgoing {
        bytes frame;
        unique_fd fd;
        std::size_t sent = 0; // bytes of `frame` written (a stream socket may take part of it)
    };

    channel(const boost::asio::any_io_executor& ex, unique_fd fd, limits l);

    void do_read_wait();
    void on_readable(const boost::system::error_code& ec);
    // One read of the transport, each frame it completes handled; false when reading must
    // stop for now.
    bool read_one();
    void handle_frame(transport::inbound_frame&& f);
    send_result enqueue(bytes frame, unique_fd&& fd, bool droppable);
    // Makes sure a write of the queue comes: now (posted) or, for droppable messages only,
    // after droppable_delay. An immediate write takes over a pending delayed one.
    void write_soon(bool delayed);
    void do_write();
    void on_writable(const boost::system::error_code& ec);
    void fail(boost::system::error_code ec, std::string why);
    void shut();

    boost::asio::posix::stream_descriptor socket_;
    boost::asio::steady_timer flush_timer_;
    boost::asio::steady_timer delay_timer_;
    limits limits_;
    message_handler on_message_;
    closed_handler on_closed_;
    std::unique_ptr<transport::reader> reader_;
    std::deque<outgoing> queue_;
    std::size_t queued_bytes_ = 0;
    bool writing_ = false; // a posted do_write, a delayed one, or a wait for writability is pending
    bool delayed_ = false; // the pending write is the delayed one (delay_timer_)
    bool started_ = false;
    bool closed_ = false;
    bool flushing_ = false; // close_when_flushed was called
    // A failure before start() (or of the constructor), reported by start().
    std::optional<std::pair<boost::system::error_code, std::string>> pending_close_;
    std::uint64_t dropped_ = 0;
    std::uint64_t unrecognised_received_ = 0;
};

// For a process about to exit after close_when_flushed: runs `ioc` (restarting it if it
// was stopped) until `ch` has closed or `limit` has passed, so the queued messages, the
// last log lines among them, reach the peer instead of dying with the process.
void run_until_closed(boost::asio::io_context& ioc, const channel& ch, std::chrono::milliseconds limit);

} // namespace clipal::ipc
