// The framing of every supervisor <-> worker message: a fixed 12-byte little-endian
// header (magic, protocol version, message type, payload length) and a bounded payload.
// Pure functions over bytes, no I/O: the decoder is unit-tested and fuzzed directly.
#pragma once

#include "ipc/errc.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace clipal::ipc {

using bytes = std::vector<std::uint8_t>;
using byte_view = std::span<const std::uint8_t>;

inline constexpr std::uint32_t frame_magic = 0x49504c43; // the bytes "CLPI" on the wire
inline constexpr std::uint16_t protocol_version = 1;     // bump on any incompatible change
inline constexpr std::size_t frame_header_size = 12;
inline constexpr std::size_t max_frame_size = 256 * 1024; // header included
inline constexpr std::size_t max_payload_size = max_frame_size - frame_header_size;

enum class decode_status { need_more, frame, error };

struct frame_decode_result {
    decode_status status = decode_status::need_more;
    std::uint16_t type = 0;   // frame: the message type, possibly one this build does not know
    byte_view payload;        // frame: a view into the input passed to decode_frame
    std::size_t consumed = 0; // frame: header + payload, the bytes to drop from the input
    std::size_t needed = 0;   // need_more: the input must hold at least this many bytes
    errc error{};             // error: bad_magic, bad_version or frame_too_large
    std::string reason;       // error: a sentence for the log
};

// Decodes the frame at the start of `input`, which may hold less than one frame
// (need_more), exactly one, or more (only the first is decoded; see `consumed`).
// A header is rejected as soon as the bytes present prove it wrong: a bad magic
// after its first differing byte, a bad version or oversize length once the header
// is complete, so a peer can never make the caller wait for or buffer a bad frame.
// Never throws; any input is acceptable.
frame_decode_result decode_frame(byte_view input);

// The 12 header bytes for a frame of `type` with `payload_size` bytes of payload.
std::array<std::uint8_t, frame_header_size> encode_frame_header(std::uint16_t type, std::uint32_t payload_size);

// Header + payload as one buffer; nullopt when the payload exceeds max_payload_size.
std::optional<bytes> encode_frame(std::uint16_t type, byte_view payload);

} // namespace clipal::ipc
