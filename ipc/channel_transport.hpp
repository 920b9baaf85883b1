// How the channel moves frames and their descriptors over its socket. One interface, two
// implementations, chosen by CLIPAL_IPC_TRANSPORT (top-level CMakeLists.txt):
// channel_transport_seqpacket.cpp on Linux (AF_UNIX SOCK_SEQPACKET, one frame per datagram)
// and channel_transport_stream.cpp elsewhere (SOCK_STREAM, frames reassembled from the byte
// stream: macOS has no SOCK_SEQPACKET for AF_UNIX). channel_transport.cpp holds what both share.
#pragma once

#include "ipc/frame_codec.hpp"
#include "ipc/unique_fd.hpp"

#include <boost/system/error_code.hpp>

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace clipal::ipc::transport {

// SOCK_SEQPACKET or SOCK_STREAM: what make_socket_pair creates and adopt_inherited accepts.
int socket_type() noexcept;

// A complete frame read off the socket, with the descriptors the transport ties to it.
struct inbound_frame {
    std::uint16_t type = 0;
    byte_view payload; // valid until the frame handler returns
    std::vector<unique_fd> fds;
    // The kernel passed on fewer descriptors than were sent with it (MSG_CTRUNC).
    bool descriptors_cut = false;
};

// Takes one frame; false to stop reading (the channel closed or stopped delivering).
using frame_handler = std::function<bool(inbound_frame&& f)>;

enum class read_status {
    again,       // read and handed on what there was; more may be waiting
    would_block, // nothing to read: wait for readability
    stopped,     // the frame handler returned false
    failed,      // the socket or the peer's bytes are broken (`ec`, `why`): close the channel
};

struct read_result {
    read_status status = read_status::again;
    boost::system::error_code ec; // failed: asio::error::eof, an errno or an ipc::errc
    std::string why;              // failed: a sentence for the log
};

// The receiving half, with whatever it keeps between reads. Used from the channel's
// executor only.
class reader {
public:
    static std::unique_ptr<reader> create();
    virtual ~reader() = default;

    // One non-blocking recvmsg on `socket`, then every frame that completed goes to
    // `handle`, in order. Each received descriptor is owned at once, so it is closed on
    // every path that does not hand it on.
    virtual read_result read(int socket, const frame_handler& handle) = 0;
};

enum class write_status {
    done,        // the whole frame is written
    would_block, // the socket is full: wait for writability and call again with the same `sent`
    failed,      // errno says why
};

// Writes `frame` from byte `sent` on without blocking, advancing `sent`. `fd` (-1: none)
// goes with the frame's first byte and never again.
write_status write(int socket, byte_view frame, std::size_t& sent, int fd);

// For the two readers.

// What one recvmsg brought.
struct received {
    ssize_t n = -1; // recvmsg's result
    int error = 0;  // errno when n < 0
    std::vector<unique_fd> fds;
    bool truncated = false;       // MSG_TRUNC: a datagram longer than the buffer
    bool descriptors_cut = false; // MSG_CTRUNC
};

// One non-blocking recvmsg into `into`, with room for more descriptors than any message
// carries, so that extra ones are received (and closed) instead of cutting the control data.
received receive(int socket, std::span<std::uint8_t> into);

// The read_result for a recvmsg that failed with `error`.
read_result receive_failed(int error);

} // namespace clipal::ipc::transport
