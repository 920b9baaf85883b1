// Frame header encoding and the incremental frame decoder.
#include "ipc/frame_codec.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace clipal::ipc {
namespace {

std::uint32_t load_u32(const std::uint8_t* p) {
    return std::uint32_t{p[0]} | std::uint32_t{p[1]} << 8 | std::uint32_t{p[2]} << 16 | std::uint32_t{p[3]} << 24;
}

std::uint16_t load_u16(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] | p[1] << 8); }

frame_decode_result fail(errc e, std::string reason) {
    frame_decode_result r;
    r.status = decode_status::error;
    r.error = e;
    r.reason = std::move(reason);
    return r;
}

} // namespace

frame_decode_result decode_frame(byte_view input) {
    const auto magic = encode_frame_header(0, 0);
    const std::size_t magic_present = std::min<std::size_t>(input.size(), 4);
    if (!std::equal(input.begin(), input.begin() + static_cast<std::ptrdiff_t>(magic_present), magic.begin()))
        return fail(errc::bad_magic, "frame does not start with the IPC magic \"CLPI\"");

    if (input.size() < frame_header_size) {
        frame_decode_result r;
        r.needed = frame_header_size;
        return r;
    }

    const std::uint16_t version = load_u16(input.data() + 4);
    const std::uint16_t type = load_u16(input.data() + 6);
    const std::uint32_t length = load_u32(input.data() + 8);
    if (version != protocol_version)
        return fail(errc::bad_version, fmt::format("peer speaks IPC protocol version {}, this build speaks {}", version,
                                                   protocol_version));
    if (length > max_payload_size)
        return fail(errc::frame_too_large, fmt::format("frame of type {} declares a {}-byte payload, the limit is {}",
                                                       type, length, max_payload_size));

    const std::size_t total = frame_header_size + length;
    frame_decode_result r;
    if (input.size() < total) {
        r.needed = total;
        return r;
    }
    r.status = decode_status::frame;
    r.type = type;
    r.payload = input.subspan(frame_header_size, length);
    r.consumed = total;
    return r;
}

std::array<std::uint8_t, frame_header_size> encode_frame_header(std::uint16_t type, std::uint32_t payload_size) {
    std::array<std::uint8_t, frame_header_size> h{};
    const auto put = [&h](std::size_t at, std::uint64_t v, std::size_t width) {
        for (std::size_t i = 0; i < width; ++i) h[at + i] = static_cast<std::uint8_t>(v >> (8 * i));
    };
    put(0, frame_magic, 4);
    put(4, protocol_version, 2);
    put(6, type, 2);
    put(8, payload_size, 4);
    return h;
}

std::optional<bytes> encode_frame(std::uint16_t type, byte_view payload) {
    if (payload.size() > max_payload_size) return std::nullopt;
    const auto header = encode_frame_header(type, static_cast<std::uint32_t>(payload.size()));
    bytes out;
    out.reserve(frame_header_size + payload.size());
    out.insert(out.end(), header.begin(), header.end());
    out.insert(out.end(), payload.begin(), payload.end());
    return out;
}

} // namespace clipal::ipc
