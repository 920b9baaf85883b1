// Error codes of the supervisor <-> worker channel, in their own error category so
// that frame/message decoding and the channel report failures as error_codes.
#pragma once

#include <boost/system/error_code.hpp>

#include <string_view>
#include <type_traits>

namespace clipal::ipc {

enum class errc {
    bad_magic = 1,        // the frame does not start with the IPC magic
    bad_version,          // the peer speaks another protocol version
    frame_too_large,      // declared or received frame exceeds max_frame_size
    truncated_frame,      // a datagram ended inside a frame
    trailing_bytes,       // a datagram or payload has bytes after its content
    malformed_payload,    // a known message type whose payload does not decode
    unknown_message_type, // not fatal: answered with `unrecognised`
    field_too_large,      // encoding refused: a field exceeds its bound
    descriptor_error,     // missing, unexpected or truncated SCM_RIGHTS descriptors
    queue_full,           // the outgoing queue is at its bound
    channel_closed,       // the channel is closed (by its owner or after an error)
};

const boost::system::error_category& ipc_category() noexcept;

inline boost::system::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), ipc_category()}; }

} // namespace clipal::ipc

template <>
struct boost::system::is_error_code_enum<clipal::ipc::errc> : std::true_type {};
